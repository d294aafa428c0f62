"""Sample efficiency of search samplers, measured by replaying a table of objectives.

How it works
------------
1. **The table.** Every unique configuration of a finite space is evaluated ONCE (by the search
   engine's ``space.evaluate`` or the passes directly) and stored in a :class:`ReplayTable`: the
   choices per parameter (index ``i`` of a parameter is its ``i``-th choice, exactly as the search
   engine's ``trial.suggest_int(key, 0, len - 1)``) and the objective of each configuration in
   product (C) order.
2. **Replay.** :func:`replay` runs a real Optuna sampler on an in-memory study whose objective only
   looks the configuration up in the table, so a study measures the sampler, never evaluation
   noise, and nothing is re-evaluated. The samplers come from
   :func:`lab_utils.search.samplers.make_sampler`, as the search engine's do. ``brute-force`` is
   what the search engine does: every unique configuration enqueued in the seeded order of
   :func:`lab_utils.search.samplers.brute_force_order`, the order in which
   ``lab_utils.search.strategy.fill_queue`` fills the engine's queue. ``grid`` is Optuna's
   ``GridSampler`` over the choice indices (each configuration once, in its own seeded order).
   ``tpe`` / ``random`` / ``qmc`` / ``nsgaii`` are Optuna's samplers with that seed; they may repeat
   a configuration, and a repeat costs a trial.
3. **Statistics.** Best-so-far curves (:func:`best_so_far`), their mean with a 95 % confidence band
   over seeds (:func:`lab_utils.analysis.stats.t_band`), the trials each run needs to reach a target
   (:func:`trials_to_reach`; :func:`censored_trials` counts a run that never reaches it as
   budget + 1 instead of dropping it), per sampler the reach rate with its exact interval and the
   trials as a distribution (:func:`reach_table`), and the exact references of a uniformly random
   order without repeats (brute force in random order):

   - :func:`expected_best` — the expected best of the first ``k`` trials of a random permutation of
     the ``n`` table values. With the values sorted ascending ``v_(1) <= ... <= v_(n)``, the best
     of ``k`` is ``v_(i)`` exactly when item ``i`` is drawn and the other ``k - 1`` come from the
     ``i - 1`` below it, so ``E[max of k] = Σ_i v_(i) · C(i-1, k-1) / C(n, k)`` (ties do not
     matter: tied values are interchangeable). The second moment is the same sum over ``v²``.
   - :func:`first_hit_survival` — the law of the position ``T`` of the first of ``m`` "good" items
     in a random permutation of ``n``: ``P(T > t) = C(n-m, t) / C(n, t)``, with mean
     :func:`expected_trials_to_hit` ``(n + 1) / (m + 1)``; :func:`exact_first_hit_test` tests
     observed trials-to-target against it (chi-square goodness of fit, censoring included).

   Runs are independent given (table, sampler, seed), so :func:`sampler_study` can spread them over
   processes and get the same numbers as one process.

   The figure of these curves is drawn in the report layer (``lab_utils.report.plots``); nothing
   here draws.

Everything here is written by hand because Optuna has no replay or sample-efficiency tooling.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import optuna
import pandas as pd
from scipy import stats
from scipy.special import gammaln

from lab_utils.analysis.stats import proportion_ci
from lab_utils.errors import LabError
from lab_utils.progress import progress_bar
from lab_utils.search.samplers import DIRECTIONS, SAMPLERS, brute_force_order, make_sampler
from lab_utils.training import slots


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class ReplayTable:
    """Objective of every unique configuration of a finite product space.

    ``choices`` maps each parameter to its tuple of unique choices; ``values[j]`` is the objective
    of configuration ``j`` in product order (the last parameter varies fastest, as
    ``itertools.product`` and ``SearchSpace.configurations()``).
    """

    choices: dict
    values: np.ndarray
    direction: str = "maximize"
    name: str = "objective"

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise LabError(f"direction must be maximize or minimize, got {self.direction!r}")
        if not self.choices or any(len(v) < 1 for v in self.choices.values()):
            raise LabError("choices: give at least one parameter, each with at least one choice")
        values = np.asarray(self.values, dtype=float)
        if values.shape != (self.n,):
            raise LabError(f"values: expected one objective per configuration ({self.n}), got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise LabError("values: every objective must be a finite number")
        object.__setattr__(self, "values", values)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.choices.values())

    @property
    def n(self) -> int:
        return math.prod(self.shape)

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def optimum(self) -> float:
        return float(self.values.max() if self.maximize else self.values.min())

    def flat_index(self, indices: dict) -> int:
        """Optuna params (parameter -> choice index) -> configuration number."""
        return int(np.ravel_multi_index(tuple(indices[k] for k in self.choices), self.shape))

    def indices(self, j: int) -> dict:
        return dict(zip(self.choices, (int(i) for i in np.unravel_index(j, self.shape))))

    def config(self, j: int) -> dict:
        return {k: self.choices[k][i] for k, i in self.indices(j).items()}

    @classmethod
    def build(cls, choices: dict, evaluate, direction: str = "maximize", name: str = "objective",
              progress: bool = False) -> ReplayTable:
        """Evaluate ``evaluate(config) -> float`` once per unique configuration, in product order."""
        choices = {k: tuple(v) for k, v in choices.items()}
        n = math.prod(len(v) for v in choices.values())
        keys = list(choices)
        values = np.empty(n)
        for j in progress_bar(range(n), desc=f"evaluate {n} configurations", progress=progress, leave=False):
            idx = np.unravel_index(j, tuple(len(choices[k]) for k in keys))
            values[j] = float(evaluate({k: choices[k][i] for k, i in zip(keys, idx)}))
        return cls(choices, values, direction, name)


# ----------------------------------------------------------------------------- replay
@dataclass
class Trace:
    """One replayed run: the objective and configuration number of every trial, in order."""
    sampler: str
    seed: int
    values: np.ndarray
    configs: np.ndarray

    @property
    def unique(self) -> int:
        return int(len(np.unique(self.configs)))


def replay(table: ReplayTable, sampler: str, seed: int, n_trials: int | None = None,
           n_startup_trials: int = 10) -> Trace:
    """Run ``sampler`` for ``n_trials`` (default: the number of unique configurations) on ``table``.

    The study is Optuna's, in memory; the objective only looks values up (no evaluation). Every
    parameter with more than one choice is suggested as ``suggest_int(key, 0, len - 1)``, the
    search engine's encoding; single-choice parameters are fixed.
    """
    if sampler not in SAMPLERS:
        raise LabError(f"sampler: unknown sampler {sampler!r}; choose one of: {', '.join(SAMPLERS)}")
    n_trials = table.n if n_trials is None else int(n_trials)
    if n_trials < 1:
        raise LabError(f"n_trials must be >= 1, got {n_trials}")
    if sampler == "brute-force" and n_trials > table.n:
        raise LabError(f"n_trials: brute force covers {table.n} configurations; got {n_trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    variable = {k: len(v) for k, v in table.choices.items() if len(v) > 1}
    fixed = {k: 0 for k, v in table.choices.items() if len(v) == 1}
    study = optuna.create_study(direction=table.direction, sampler=make_sampler(
        sampler, seed, table.choices, n_startup_trials=n_startup_trials, replay=True))
    if sampler == "brute-force":
        for j in brute_force_order(table.n, seed)[:n_trials]:
            idx = table.indices(j)
            study.enqueue_trial({k: idx[k] for k in variable})
    values, configs = np.empty(n_trials), np.empty(n_trials, dtype=np.int64)

    def objective(trial):
        idx = {k: trial.suggest_int(k, 0, m - 1) for k, m in variable.items()}
        j = table.flat_index({**fixed, **idx})
        configs[trial.number] = j
        values[trial.number] = table.values[j]
        return float(table.values[j])

    study.optimize(objective, n_trials=n_trials)
    return Trace(sampler, int(seed), values, configs)


@dataclass
class SamplerStudy:
    """Replays of several samplers over several seeds: ``values[sampler]`` is (seeds, trials)."""
    table: ReplayTable
    n_trials: int
    seeds: list
    n_startup_trials: int
    values: dict = field(default_factory=dict)
    configs: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    def best(self, sampler: str) -> np.ndarray:
        return best_so_far(self.values[sampler], self.table.maximize)


def _replay_many(table: ReplayTable, sampler: str, seeds: list, n_trials: int, n_startup_trials: int):
    """Worker task: :func:`replay` one sampler over several seeds; returns ``(values, configs)`` stacked
    and the task's seconds."""
    t0 = time.perf_counter()
    traces = [replay(table, sampler, seed, n_trials, n_startup_trials) for seed in seeds]
    return np.stack([t.values for t in traces]), np.stack([t.configs for t in traces]), time.perf_counter() - t0


def sampler_study(table: ReplayTable, samplers=("brute-force", "tpe", "random", "qmc"), seeds=range(20),
                  n_trials: int | None = None, n_startup_trials: int = 10, workers: int = 1,
                  progress: bool = False) -> SamplerStudy:
    """:func:`replay` every sampler with every seed over the same budget.

    ``workers > 1`` spreads (sampler, block of seeds) tasks over that many spawned processes
    (:func:`lab_utils.training.slots.run_jobs`: a clean interpreter, no forked torch/OpenMP state).
    Each replay depends only on (table, sampler, seed, budget), so the
    result is identical to ``workers=1`` (the tests check it); ``seconds`` is then the wall time of
    the whole study, per sampler the sum of its tasks' times.
    """
    seeds = list(seeds)
    if not seeds:
        raise LabError("seeds: give at least one seed")
    if workers < 1:
        raise LabError(f"workers must be >= 1, got {workers}")
    n_trials = table.n if n_trials is None else int(n_trials)
    out = SamplerStudy(table, n_trials, seeds, n_startup_trials)
    # blocks of seed POSITIONS (interleaved, so the slow late seeds do not all land in one task)
    n_blocks = min(len(seeds), 2 * workers) if workers > 1 else 1
    blocks = [tuple(range(i, len(seeds), n_blocks)) for i in range(n_blocks)]
    tasks = [(s, blk) for s in samplers for blk in blocks]
    bar = progress_bar(total=len(tasks), desc="replay", progress=progress, leave=False)
    results = {}
    t0 = time.perf_counter()
    jobs = [(table, s, [seeds[i] for i in blk], n_trials, n_startup_trials) for s, blk in tasks]
    for i, (values, configs, seconds) in slots.run_jobs(_replay_many, jobs, workers):
        results[tasks[i]] = values, configs
        out.seconds[tasks[i][0]] = out.seconds.get(tasks[i][0], 0.0) + seconds
        bar.update(1)
    if workers > 1:
        out.seconds["all (wall)"] = time.perf_counter() - t0
    bar.close()
    position = np.concatenate(blocks)  # row r of the concatenated blocks is seed position position[r]
    for s in samplers:
        out.values[s], out.configs[s] = np.empty((len(seeds), n_trials)), np.empty((len(seeds), n_trials), np.int64)
        out.values[s][position] = np.concatenate([results[(s, blk)][0] for blk in blocks])
        out.configs[s][position] = np.concatenate([results[(s, blk)][1] for blk in blocks])
    return out


# ----------------------------------------------------------------------------- statistics
def best_so_far(values, maximize: bool = True) -> np.ndarray:
    """Running best along the last axis (trial order)."""
    v = np.asarray(values, dtype=float)
    return np.maximum.accumulate(v, axis=-1) if maximize else np.minimum.accumulate(v, axis=-1)


def _log_comb(n, k):
    """``log C(n, k)`` elementwise, through ``gammaln`` (no overflow for large ``n``)."""
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def expected_best(values, maximize: bool = True, k_max: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and standard deviation of the best of the first ``k`` trials, ``k = 1..k_max``
    (default ``n``), of a
    uniformly random order of ``values`` without repeats (see the module docstring).

    The weights ``C(i-1, k-1) / C(n, k)`` are computed in log space (``gammaln``), so ``n`` in the
    thousands does not overflow.
    """
    v = np.sort(np.asarray(values, dtype=float))
    if not maximize:
        v = -v[::-1]  # the minimum of v is minus the maximum of -v
    n = len(v)
    if n == 0:
        raise LabError("expected_best: no values")
    k_max = n if k_max is None else max(1, min(int(k_max), n))
    i = np.arange(1, n + 1)
    mean, second = np.empty(k_max), np.empty(k_max)
    for k in range(1, k_max + 1):
        ii = i[k - 1:]
        w = np.exp(_log_comb(ii - 1, k - 1) - _log_comb(n, k))
        mean[k - 1] = np.dot(w, v[k - 1:])
        second[k - 1] = np.dot(w, v[k - 1:] ** 2)
    sd = np.sqrt(np.clip(second - mean**2, 0.0, None))
    return (mean, sd) if maximize else (-mean, sd)


def expected_trials_to_hit(n: int, m: int) -> float:
    """Expected 1-based position of the first of ``m`` marked items in a random order of ``n``."""
    if not 1 <= m <= n:
        raise LabError(f"expected_trials_to_hit: need 1 <= m <= n, got m={m}, n={n}")
    return (n + 1) / (m + 1)


def trials_to_reach(curves, target: float, maximize: bool = True) -> np.ndarray:
    """Per run, the first 1-based trial whose best-so-far reaches ``target`` (NaN if never)."""
    c = np.atleast_2d(np.asarray(curves, dtype=float))
    hit = c >= target if maximize else c <= target
    first = np.argmax(hit, axis=1).astype(float) + 1
    first[~hit.any(axis=1)] = np.nan
    return first


def censored_trials(curves, target: float, maximize: bool = True) -> np.ndarray:
    """Per run, the trials to reach ``target``; a run that never reaches it counts as budget + 1
    (right-censored at the budget, and ranked after every run that got there)."""
    c = np.atleast_2d(np.asarray(curves, dtype=float))
    t = trials_to_reach(c, target, maximize)
    t[np.isnan(t)] = c.shape[1] + 1
    return t


def first_hit_survival(n: int, m: int, t) -> np.ndarray:
    """Exact ``P(T > t)`` for ``T`` the 1-based position of the first of ``m`` good items in a
    uniformly random order of ``n`` (brute force in random order): the first ``t`` draws all miss,
    ``C(n - m, t) / C(n, t)`` (zero once ``t > n - m``)."""
    if not 1 <= m <= n:
        raise LabError(f"first_hit_survival: need 1 <= m <= n, got m={m}, n={n}")
    t = np.asarray(t, dtype=float)
    out = np.zeros_like(t)
    ok = t <= n - m
    out[ok] = np.exp(_log_comb(n - m, t[ok]) - _log_comb(n, t[ok]))
    return out


def exact_first_hit_test(trials, n: int, m: int, budget: int, min_expected: float = 5.0) -> dict:
    """Chi-square goodness of fit of observed trials-to-target (censored at ``budget + 1``) to the
    exact law of :func:`first_hit_survival`. Null: the runs are uniformly random orders.

    Bins of consecutive trial numbers are merged from the left until each expects at least
    ``min_expected`` runs (the chi-square approximation's usual condition); the last bin is
    "later than its start, or never within the budget". ``scipy.stats.chisquare`` with no fitted
    parameter (dof = bins - 1)."""
    x = np.asarray(trials, dtype=float)
    n_runs = len(x)
    edges_t = np.arange(0, budget + 1)
    cdf = 1.0 - first_hit_survival(n, m, edges_t)  # P(T <= t), t = 0..budget
    pmf = np.append(np.diff(cdf), 1.0 - cdf[-1])  # P(T = t) for t = 1..budget, then P(T > budget)
    starts, acc = [1], 0.0
    for t in range(1, budget + 1):
        acc += pmf[t - 1] * n_runs
        if acc >= min_expected and (1.0 - cdf[t]) * n_runs >= min_expected:
            starts.append(t + 1)
            acc = 0.0
    lo = np.array(starts)
    hi = np.append(lo[1:] - 1, budget + 1)  # inclusive; budget + 1 is "never"
    expected = np.array([(cdf[min(h, budget)] if h <= budget else 1.0) - cdf[lo_ - 1] for lo_, h in zip(lo, hi)])
    observed = np.array([((x >= lo_) & (x <= h)).sum() for lo_, h in zip(lo, hi)])
    if len(lo) < 2:
        return {"statistic": float("nan"), "dof": 0, "p": float("nan"), "bins": len(lo), "n": n_runs}
    res = stats.chisquare(observed, expected * n_runs)
    return {"statistic": float(res.statistic), "dof": len(lo) - 1, "p": float(res.pvalue), "bins": len(lo),
            "n": n_runs}


def good_count(table: ReplayTable, target: float) -> int:
    """How many configurations of the table reach ``target``."""
    return int((table.values >= target).sum() if table.maximize else (table.values <= target).sum())


def reach_table(study: SamplerStudy, target: float) -> pd.DataFrame:
    """Per sampler: runs that reach ``target`` within the budget (count, share, Clopper–Pearson 95 %
    interval), trials to the target as a distribution over ALL runs (runs that never reach it
    counted at budget + 1: median and quartiles, so failures are not dropped), and the unique
    configurations tried. A first row ``random order (exact)`` gives the exact law of a uniformly
    random order (:func:`first_hit_survival`)."""
    table, budget = study.table, study.n_trials
    m = good_count(table, target)
    surv = first_hit_survival(table.n, m, np.arange(0, budget + 1))
    q = [int(np.argmax(1.0 - surv >= p)) if (1.0 - surv[-1]) >= p else budget + 1 for p in (0.25, 0.5, 0.75)]
    rows = [{"sampler": "random order (exact)", "runs": None, "reached": None, "reach_rate": 1.0 - surv[-1],
             "reach_ci_low": None, "reach_ci_high": None, "trials_q25": q[0], "trials_median": q[1],
             "trials_q75": q[2], "unique_configs_mean": float(budget)}]
    for s in study.values:
        t = censored_trials(study.best(s), target, table.maximize)
        k = int((t <= budget).sum())
        rate, lo, hi = proportion_ci(k, len(t))
        uniq = np.array([len(np.unique(c)) for c in study.configs[s]])
        rows.append({"sampler": s, "runs": len(t), "reached": k, "reach_rate": rate, "reach_ci_low": lo,
                     "reach_ci_high": hi, "trials_q25": float(np.percentile(t, 25)),
                     "trials_median": float(np.median(t)), "trials_q75": float(np.percentile(t, 75)),
                     "unique_configs_mean": float(uniq.mean())})
    out = pd.DataFrame(rows)
    out.attrs.update({"target": target, "configs_at_target": m, "n_configurations": table.n, "budget": budget})
    return out
