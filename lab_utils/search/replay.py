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
   over seeds (:func:`mean_band`), the trials each run needs to reach the optimum or come within a
   tolerance of it (:func:`trials_to_reach`), and the exact references of a uniformly random order
   without repeats (brute force in random order):

   - :func:`expected_best` — the expected best of the first ``k`` trials of a random permutation of
     the ``n`` table values. With the values sorted ascending ``v_(1) <= ... <= v_(n)``, the best
     of ``k`` is ``v_(i)`` exactly when item ``i`` is drawn and the other ``k - 1`` come from the
     ``i - 1`` below it, so ``E[max of k] = Σ_i v_(i) · C(i-1, k-1) / C(n, k)`` (ties do not
     matter: tied values are interchangeable). The second moment is the same sum over ``v²``,
     which gives the standard deviation of one run and hence the band a mean over ``S`` seeds
     should fall in.
   - :func:`expected_trials_to_hit` — the expected position of the first of ``m`` "good" items in a
     random permutation of ``n``: ``(n + 1) / (m + 1)``.

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

from lab_utils.errors import LabError
from lab_utils.progress import progress_bar
from lab_utils.search.samplers import DIRECTIONS, SAMPLERS, brute_force_order, make_sampler


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


def sampler_study(table: ReplayTable, samplers=("brute-force", "tpe", "random", "qmc"), seeds=range(20),
                  n_trials: int | None = None, n_startup_trials: int = 10, progress: bool = False) -> SamplerStudy:
    """:func:`replay` every sampler with every seed over the same budget."""
    seeds = list(seeds)
    if not seeds:
        raise LabError("seeds: give at least one seed")
    n_trials = table.n if n_trials is None else int(n_trials)
    out = SamplerStudy(table, n_trials, seeds, n_startup_trials)
    bar = progress_bar(total=len(samplers) * len(seeds), desc="replay", progress=progress, leave=False)
    for s in samplers:
        t0 = time.perf_counter()
        traces = []
        for seed in seeds:
            traces.append(replay(table, s, seed, n_trials, n_startup_trials))
            bar.update(1)
        out.values[s] = np.stack([t.values for t in traces])
        out.configs[s] = np.stack([t.configs for t in traces])
        out.seconds[s] = time.perf_counter() - t0
    bar.close()
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


def mean_band(curves, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs (axis 0) with a Student-t confidence band of the mean at ``level``."""
    c = np.asarray(curves, dtype=float)
    mean = c.mean(axis=0)
    if c.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    half = stats.t.ppf(0.5 + level / 2, c.shape[0] - 1) * c.std(axis=0, ddof=1) / np.sqrt(c.shape[0])
    return mean, mean - half, mean + half


def trials_to_reach(curves, target: float, maximize: bool = True) -> np.ndarray:
    """Per run, the first 1-based trial whose best-so-far reaches ``target`` (NaN if never)."""
    c = np.atleast_2d(np.asarray(curves, dtype=float))
    hit = c >= target if maximize else c <= target
    first = np.argmax(hit, axis=1).astype(float) + 1
    first[~hit.any(axis=1)] = np.nan
    return first


def efficiency_table(study: SamplerStudy, tolerance: float = 0.5):
    """Per sampler: trials to the optimum and to within ``tolerance`` of it (mean, median, 5–95 %,
    share of runs that got there within the budget), and unique configurations tried.

    A first row ``random order (exact)`` gives the exact expected trials of a uniformly random order
    without repeats, :func:`expected_trials_to_hit`, as the reference brute force should match.
    """
    table = study.table
    opt = table.optimum()
    near = opt - tolerance if table.maximize else opt + tolerance
    good = lambda t: table.values >= t if table.maximize else table.values <= t  # noqa: E731
    m_opt, m_near = int(good(opt).sum()), int(good(near).sum())
    rows = [{"sampler": "random order (exact)", "seeds": None, "budget": study.n_trials,
             "trials_to_optimum_mean": expected_trials_to_hit(table.n, m_opt),
             "trials_to_within_tol_mean": expected_trials_to_hit(table.n, m_near),
             "unique_configs_mean": float(study.n_trials)}]
    for s in study.values:
        best = study.best(s)
        row = {"sampler": s, "seeds": len(study.seeds), "budget": study.n_trials}
        for key, target in (("optimum", opt), ("within_tol", near)):
            t = trials_to_reach(best, target, table.maximize)
            ok = t[~np.isnan(t)]
            row[f"trials_to_{key}_mean"] = float(ok.mean()) if len(ok) else np.nan
            row[f"trials_to_{key}_median"] = float(np.median(ok)) if len(ok) else np.nan
            row[f"trials_to_{key}_p5"] = float(np.percentile(ok, 5)) if len(ok) else np.nan
            row[f"trials_to_{key}_p95"] = float(np.percentile(ok, 95)) if len(ok) else np.nan
            row[f"reached_{key}"] = float(len(ok) / len(t))
        uniq = np.array([len(np.unique(c)) for c in study.configs[s]])
        row["unique_configs_mean"] = float(uniq.mean())
        row["repeat_share"] = float(1 - uniq.mean() / study.n_trials)
        row["replay_seconds"] = round(study.seconds.get(s, float("nan")), 2)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update({"optimum": opt, "tolerance": tolerance, "configs_at_optimum": m_opt,
                      "configs_within_tol": m_near, "n_configurations": table.n})
    return out


def random_order_band(values, maximize: bool, n_seeds: int, k_max: int, level: float = 0.99,
                      n_sim: int = 2000, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise ``level`` band of the MEAN best-so-far over ``n_seeds`` uniformly random orders.

    Simulated (``n_sim`` batches of ``n_seeds`` random permutations of the table), because the
    Gaussian band ``exact mean ± z·sd/√seeds`` is wrong in the tail: late in the run the best-so-far
    is the optimum except in rare runs that missed it, a very skewed distribution (one unlucky seed
    in 20 gave |z| = 17 on the 144-configuration table while the simulated band held it).
    """
    v = np.asarray(values, dtype=float)
    sign = 1.0 if maximize else -1.0
    rng = np.random.default_rng(seed)
    means = np.empty((n_sim, k_max))
    chunk = max(1, 2_000_000 // (n_seeds * len(v)))
    for start in range(0, n_sim, chunk):
        b = min(chunk, n_sim - start)
        keys = rng.random((b * n_seeds, len(v)))
        first = np.argpartition(keys, k_max - 1, axis=1)[:, :k_max] if k_max < len(v) else np.arange(len(v))[None].repeat(b * n_seeds, 0)
        order = np.take_along_axis(first, np.argsort(np.take_along_axis(keys, first, axis=1), axis=1), axis=1)
        best = np.maximum.accumulate(sign * v[order], axis=1) * sign
        means[start:start + b] = best.reshape(b, n_seeds, k_max).mean(axis=1)
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail], axis=0)
    return lo, hi


def exact_band_check(study: SamplerStudy, sampler: str = "brute-force", level: float = 0.99) -> dict:
    """How the replayed mean best-so-far of a random-order sampler sits against the exact curve.

    ``share_within_band``: the share of trial numbers whose replayed mean lies inside the simulated
    ``level`` band of a uniformly random order (:func:`random_order_band`); ``max_abs_gap``: the
    largest distance of the replayed mean from the exact expected curve (:func:`expected_best`).
    """
    mean, _ = expected_best(study.table.values, study.table.maximize, k_max=study.n_trials)
    replayed = study.best(sampler).mean(axis=0)
    lo, hi = random_order_band(study.table.values, study.table.maximize, len(study.seeds), study.n_trials, level)
    eps = 1e-9 * max(1.0, float(np.abs(mean).max()))
    inside = (replayed >= lo - eps) & (replayed <= hi + eps)
    return {"share_within_band": float(inside.mean()), "band_level": level,
            "max_abs_gap": float(np.abs(replayed - mean).max())}
