"""lab3_4 (TPE against brute force): the sample-efficiency study: the spaces the samplers are compared on and what the notebook reads off them.

How it works: :func:`build_space` gets a search-engine space from the engine's own constructor
(:func:`lab_utils.search.space.build_context`) on a model and data already in memory, and
:func:`three_layer_space_config` writes the per-layer space's config; the tables the samplers replay
are computed from such a space by :mod:`lab_utils.search.tables`. :func:`target_epsilon` sets
the target "within ε of the best" no finer than the evaluation resolves; the ``claim_*`` functions and
:func:`check_first_trials` turn replayed studies into tested conclusions (Mann–Whitney U, Fisher exact), and
:func:`check_random_order_law` is the replay's implementation check (chi-square goodness of fit to the exact
random-order law); :func:`exact_target` and :func:`startup_reach` give the exact-optimum target and how often a
target falls inside TPE's random start-up; :func:`ecdf_data` and
:func:`best_so_far_curves` are what the figures draw.

May import every layer below ``labs``. Figures: :mod:`lab_utils.report.plots.lab3_4`; tests:
``tests/labs/test_lab3_4.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from lab_utils.analysis import claims
from lab_utils.analysis import stats as S
from lab_utils.errors import LabError
from lab_utils.search.config import SearchConfig, load_config, parse_config
from lab_utils.search.replay import (
    censored_trials,
    exact_first_hit_test,
    expected_best,
    first_hit_survival,
    good_count,
)
from lab_utils.search.space import build_context


def three_layer_space_config(weight_widths=(2, 4, 8), weight_fracs=(2, 4, 6), data_in_widths=(4, 8),
                             nodes=("seq_blocks_2", "seq_blocks_4", "seq_blocks_6"),
                             eval_samples: int | None = None) -> dict:
    """A by-name ``mixed_precision_ptq`` search config (the TOML schema, as a dict) for per-layer
    widths of jsc-three-linear-layers: per Linear, ``weight_width × weight_frac_width ×
    data_in_width`` with ``data_in_frac_width = "NA"`` (MASE's ``width // 2``) and bias (8, 4).
    ``eval_samples`` evaluates the first N samples of the split (MASE's ``num_samples``)."""
    seed = {"default": {"config": {"name": ["NA"]}}}
    for node in nodes:
        seed[node] = {"config": {"name": ["integer"], "data_in_width": list(data_in_widths),
                                 "data_in_frac_width": ["NA"], "weight_width": list(weight_widths),
                                 "weight_frac_width": list(weight_fracs), "bias_width": [8], "bias_frac_width": [4]}}
    return {"model": "jsc-three-linear-layers", "dataset": "jsc-sim",
            "search": {"search_space": {"name": "graph/quantize/mixed_precision_ptq", "setup": {"by": "name"},
                                        "seed": seed},
                       "strategy": {"setup": {"sampler": "brute-force", "n_trials": 10**6},
                                    "sw_runner": {"basic_evaluation": {"num_samples": eval_samples}},
                                    "metrics": {"accuracy": {"scale": 1.0, "direction": "maximize"}}}}}


def build_space(config, model, splits, checkpoint=None, metrics=None):
    """The search engine's space for a config (a TOML path, a parsed ``SearchConfig`` or a raw dict,
    validated by the engine's parser), on a model and splits already in memory (no data reload),
    built by the engine's own :func:`lab_utils.search.space.build_context`; returns ``(space, cfg)``.
    ``metrics`` overrides which metrics ``evaluate`` measures (default: the config's)."""
    if isinstance(config, SearchConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = parse_config(config)
    else:
        cfg = load_config(config)
    space, _ = build_context(cfg, model=model, splits=splits, checkpoint=checkpoint, metrics=metrics)
    return space, cfg


# ----------------------------------------------------------------------------- sample efficiency (lab3_4)
SE_MULTIPLE = 1.0  # the target's tolerance is at least this many binomial standard errors of the accuracy


def target_epsilon(tolerance: float, optimum: float, n_eval: int) -> dict:
    """The target "within ε of the best" in percentage points: ``ε = max(tolerance, one jet,
    SE_MULTIPLE · binomial SE)``, so that ε is never finer than what the evaluation can tell apart.

    One jet is ``100 / n_eval`` points (the accuracy's resolution); the binomial standard error of
    an accuracy ``p`` measured on ``n_eval`` samples is ``100·sqrt(p(1 − p)/n_eval)`` points.
    Returns ``eps``, ``jet``, ``se``, ``target`` (``optimum − eps``) and ``n_eval``."""
    if n_eval < 1:
        raise LabError(f"n_eval must be >= 1, got {n_eval}")
    p = min(max(optimum / 100.0, 0.0), 1.0)
    jet, se = 100.0 / n_eval, 100.0 * math.sqrt(p * (1.0 - p) / n_eval)
    eps = max(float(tolerance), jet, SE_MULTIPLE * se)
    return {"eps": eps, "jet": jet, "se": se, "target": optimum - eps, "n_eval": int(n_eval)}


def evaluated_samples(space) -> int:
    """How many samples one ``space.evaluate`` measures accuracy on (the split, cut at ``eval_samples``)."""
    n = int(space.ctx.splits.split(space.ctx.eval_split)[0].shape[0])
    return n if space.ctx.eval_samples is None else min(n, int(space.ctx.eval_samples))


def trials_by_sampler(study, target: float) -> dict:
    """Per sampler, the trials each run needs to reach ``target`` (never: budget + 1)."""
    return {s: censored_trials(study.best(s), target, study.table.maximize) for s in study.values}


def ecdf_data(studies: dict) -> dict:
    """What :func:`lab_utils.report.plots.lab3_4.reach_ecdf_figure` draws, per space (``title -> (study,
    target)``): per sampler the censored trials-to-target, the budget, and the exact share of
    uniformly random orders that have reached the target by trial ``t`` (``1 − P(T > t)``)."""
    out = {}
    for title, (st, target) in studies.items():
        m = good_count(st.table, target)
        t = np.arange(0, st.n_trials + 1)
        out[title] = {"trials": trials_by_sampler(st, target), "budget": st.n_trials, "n": st.table.n,
                      "good": m, "exact_t": t, "exact_cdf": 1.0 - first_hit_survival(st.table.n, m, t)}
    return out


# z(1 − α) + z(0.80): a one-sided test at α detects an effect this many standard errors away with 80 % power


def exact_target(table) -> dict:
    """The target "the exact optimum of the table" (``eps`` 0), in :func:`target_epsilon`'s shape plus
    ``good``, the configurations that reach it (ties at the optimum). The replayed table is fixed, so
    the target is well defined for comparing samplers on it, even where which configuration is best is
    decided by a few validation samples."""
    opt = float(table.optimum())
    return {"eps": 0.0, "target": opt, "good": good_count(table, opt)}


def startup_reach(trials, n_startup: int, n: int, m: int) -> dict:
    """How often a target is reached inside TPE's random start-up: ``runs`` and ``reached`` (trials-to-
    target ≤ ``n_startup``) of the observed runs, their ``share``, and ``exact``, the probability that
    ``n_startup`` independent uniform draws of ``n`` configurations (TPE's start-up over a product
    space) include one of the ``m`` good ones, ``1 − (1 − m/n)^n_startup``. A target most runs reach
    there is one on which TPE cannot beat random draws: the comparison is null by design."""
    t = np.asarray(trials, float)
    k = int((t <= n_startup).sum())
    return {"runs": len(t), "reached": k, "share": k / len(t) if len(t) else float("nan"),
            "exact": 1.0 - (1.0 - m / n) ** n_startup, "n_startup": int(n_startup)}


def claim_fewer_trials(key: str, space: str, trials_a, trials_b, budget: int, a: str = "tpe", b: str = "brute-force",
                       alpha: float = S.ALPHA, startup: dict | None = None) -> claims.Claim:
    """"``a`` reaches the target in fewer trials than ``b``": Mann–Whitney U on the trials-to-target of
    all runs (never reached = budget + 1, a tie at the top; scipy's tie-corrected asymptotic p).
    Unpaired: the same seed number does not couple two samplers' draws.

    Holds when the one-sided test (``a`` sooner) rejects at ``alpha``; refuted when the two-sided test
    rejects with ``a`` later (``P(a sooner) < 0.5``); not shown otherwise, and then the evidence gives
    the smallest ``P(a sooner)`` (ties a half) the one-sided test detects with 80 % power at these run
    counts (null variance ``(n_a + n_b + 1)/(12 n_a n_b)``, the normal approximation). ``startup``
    (:func:`startup_reach` of ``a``'s runs) adds how many runs reached the target inside TPE's random
    start-up; when that is most of them the evidence says the comparison is null by design."""
    x, y = np.asarray(trials_a, float), np.asarray(trials_b, float)
    res = stats.mannwhitneyu(x, y, alternative="less", method="asymptotic")
    p_two = float(stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic").pvalue)
    sooner = 1.0 - float(res.statistic) / (len(x) * len(y))  # P(a < b) + P(a = b) / 2
    holds = True if res.pvalue < alpha else (False if p_two < alpha and sooner < 0.5 else None)
    ev = (f"median {np.median(x):g} vs {np.median(y):g} trials (never reached counted as {budget + 1}); "
          f"reached {int((x <= budget).sum())}/{len(x)} vs {int((y <= budget).sum())}/{len(y)}; "
          f"P({a} sooner) = {sooner:.2f}; Mann–Whitney U = {res.statistic:.0f}, one-sided {claims.fmt_p(res.pvalue)} "
          f"(two-sided {claims.fmt_p(p_two)}), n = {len(x)} + {len(y)}")
    numbers = {"p": float(res.pvalue), "p_two_sided": p_two, "u": float(res.statistic),
               "p_sooner": claims.rounded(sooner), "median_a": float(np.median(x)), "median_b": float(np.median(y)),
               "n_a": len(x), "n_b": len(y)}
    if holds is None:
        detect = 0.5 + S.detectable(math.sqrt((len(x) + len(y) + 1) / (12.0 * len(x) * len(y))), alpha=alpha, sides=1)
        numbers["detectable_p_sooner"] = claims.rounded(detect)
        ev += (f"; not shown at α = {alpha:g}: with these runs the test detects (80 % power) P({a} sooner) "
               f"of about {detect:.2f} or more")
    if startup is not None:
        null = bool(startup["share"] >= 0.5)
        numbers.update(startup_reached=startup["reached"], startup_share=claims.rounded(startup["share"]),
                       startup_exact=claims.rounded(startup["exact"]), null_by_design=null)
        ev += (f"; {startup['reached']} of {startup['runs']} {a} runs ({100 * startup['share']:.0f} %) reach the target "
               f"inside the {startup['n_startup']} random start-up trials (random draws: {100 * startup['exact']:.0f} %)")
        if null:
            ev += ", before TPE models anything: on this target the comparison is null by design"
    return claims.claim(key, f"{a} reaches the target in fewer trials than {b} on {space}", holds, ev,
                        test="Mann–Whitney U, one-sided (refuted: two-sided, the other way)", **numbers)


def claim_reaches_more_often(key: str, space: str, trials_a, trials_b, budget: int, a: str = "tpe",
                             b: str = "brute-force", alpha: float = S.ALPHA) -> claims.Claim:
    """"``a`` reaches the target within the budget in more runs than ``b``": Fisher exact test on the
    2×2 table (reached or not × sampler), with Clopper–Pearson intervals of each rate. Holds when the
    one-sided test rejects at ``alpha``; refuted when the two-sided test rejects with ``a``'s rate lower;
    not shown otherwise, with the smallest rate difference the run could detect (80 % power, pooled
    normal approximation)."""
    x, y = np.asarray(trials_a, float), np.asarray(trials_b, float)
    ka, kb = int((x <= budget).sum()), int((y <= budget).sum())
    tab = [[ka, len(x) - ka], [kb, len(y) - kb]]
    p = float(stats.fisher_exact(tab, alternative="greater").pvalue)
    p_two = float(stats.fisher_exact(tab, alternative="two-sided").pvalue)
    (ra, la, ha), (rb, lb, hb) = S.proportion_ci(ka, len(x)), S.proportion_ci(kb, len(y))
    holds = True if p < alpha else (False if p_two < alpha and ra < rb else None)
    ev = (f"{ka}/{len(x)} = {100 * ra:.1f} % [{100 * la:.1f}, {100 * ha:.1f}] vs {kb}/{len(y)} = {100 * rb:.1f} % "
          f"[{100 * lb:.1f}, {100 * hb:.1f}] (95 % Clopper–Pearson); Fisher exact, one-sided {claims.fmt_p(p)} "
          f"(two-sided {claims.fmt_p(p_two)})")
    numbers = {"p": p, "p_two_sided": p_two, "reached_a": ka, "reached_b": kb, "n_a": len(x), "n_b": len(y)}
    pooled = (ka + kb) / (len(x) + len(y))
    if holds is None and 0.0 < pooled < 1.0:
        d = S.detectable(math.sqrt(pooled * (1 - pooled) * (1 / len(x) + 1 / len(y))), alpha=alpha, sides=1)
        numbers["detectable_points"] = claims.rounded(100 * d)
        ev += f"; not shown at α = {alpha:g}: the run detects (80 % power) a difference of about {100 * d:.0f} points or more"
    return claims.claim(key, f"{a} reaches the target within {budget} trials in more runs than {b} on {space}",
                        holds, ev, test="Fisher exact, one-sided (refuted: two-sided, the other way)", **numbers)


# A statistical check of an implementation law: a correct implementation fails it in a share alpha of
# seeded replays, so checks use a far smaller alpha than findings (three such checks per run: a correct
# replay fails one of them in about 0.3 % of seeds instead of 14 %).
CHECK_ALPHA = 0.001


def check_random_order_law(key: str, space: str, trials, n: int, m: int, budget: int,
                           alpha: float = CHECK_ALPHA) -> claims.Claim:
    """Implementation check: "brute force's trials-to-target follow the uniform-random-order law".
    Brute force enqueues every configuration once in a seeded random order, so its trials-to-target
    must lie in ``1 .. n − m + 1`` (a run without repeats cannot miss ``m`` good ones longer) and follow
    the exact law of the first of ``m`` good configurations in a uniformly random order of ``n``:
    chi-square goodness of fit (:func:`lab_utils.search.replay.exact_first_hit_test`), not rejected at
    ``alpha`` (:data:`CHECK_ALPHA`, 0.001: a check, not a finding). Where too few runs are expected to reach the target for two bins (a budget far below the
    space), the exact binomial test of the runs that reach it within the budget against the law's
    ``P(T ≤ budget)`` takes the chi-square's place. A correct replay fails the test part in a share
    ``alpha`` of runs by chance."""
    t = np.asarray(trials, float)
    last = min(n - m + 1, budget)
    in_range = bool(((t >= 1) & ((t <= last) | ((t == budget + 1) & (budget < n - m + 1)))).all())
    res = exact_first_hit_test(t, n, m, budget)
    ev = (f"{m} of {n} configurations reach the target; every run within 1..{last} trials"
          + ("" if budget >= n - m + 1 else " or never within the budget") + f": {'yes' if in_range else 'NO'}; ")
    chance = f"(null: a uniformly random order; rejected at α = {alpha:g} by chance in {100 * alpha:g} % of correct replays)"
    if math.isfinite(res["p"]):
        p, test = res["p"], "range + chi-square goodness of fit to the exact law"
        ev += (f"chi-square = {res['statistic']:.1f}, dof = {res['dof']}, {claims.fmt_p(p)}, n = {res['n']} runs "
               f"{chance}")
    else:  # one bin: the runs reaching the target within the budget against the law's P(T <= budget)
        p0 = float(1.0 - first_hit_survival(n, m, [budget])[0])
        k = int((t <= budget).sum())
        p, test = S.binomial_p(k, len(t), p0), "range + exact binomial test of the reach count against the exact law"
        res.update(reached=k, p_reach=claims.rounded(p0), p_binomial=p)
        ev += (f"too few runs expected to reach it for a chi-square ({res['n']} runs, one bin): {k} reached within "
               f"{budget} trials, {len(t) * p0:.1f} expected (P = {p0:.3f}), exact binomial test {claims.fmt_p(p)} {chance}")
    passed = in_range and p >= alpha
    return claims.check(key, f"brute force's trials-to-target on {space} follow the uniform-random-order law", passed,
                        ev, test=test, in_range=in_range, **res)


def check_first_trials(study, ks=(1, 2, 3, 4, 5), a: str = "tpe", b: str = "brute-force",
                       alpha: float = S.ALPHA) -> claims.ReportCheck:
    """The lab report's check: with 1 to 5 trials TPE found a better configuration than brute force.
    Per ``k``, the best of the first ``k`` trials over all seeds, two-sided Mann–Whitney U, the
    smallest p over the ``k`` Bonferroni-adjusted; agrees only if that is significant and ``a`` is higher."""
    rows, tests = [], []
    for k in ks:
        x, y = study.best(a)[:, k - 1], study.best(b)[:, k - 1]
        p = float(stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic").pvalue)
        a_higher = bool(np.median(x) > np.median(y)) if np.median(x) != np.median(y) else bool(x.mean() > y.mean())
        tests.append((min(1.0, p * len(ks)), a_higher))
        rows.append(f"k={k}: {np.median(x):.2f} vs {np.median(y):.2f}")
    best = min(tests, key=lambda t: t[0])
    agrees = bool(best[0] < alpha and best[1])
    shows = (f"median best accuracy of the first k trials, {a} vs {b} ({len(study.seeds)} seeds each): "
             f"{'; '.join(rows)}; smallest Bonferroni-adjusted Mann–Whitney {claims.fmt_p(best[0])}")
    return claims.report_check("TPE vs brute force at 1–5 trials",
                               "with one trial, TPE's best accuracy was much higher than brute force's, so TPE is "
                               "far more sample-efficient", shows, agrees)


def reach_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The reach table as the notebook prints it (fits a page): counts as integers, rates and their
    95 % interval in %, trials-to-target quartiles over all runs (never reached = budget + 1)."""
    out = pd.DataFrame({"sampler": frame["sampler"], "runs": frame["runs"].astype("Int64"),
                        "reached": frame["reached"].astype("Int64")})
    for src, dst in (("reach_rate", "reached %"), ("reach_ci_low", "CI low %"), ("reach_ci_high", "CI high %")):
        out[dst] = (100 * frame[src].astype(float)).round(1)
    for src, dst in (("trials_q25", "trials q25"), ("trials_median", "median"), ("trials_q75", "q75")):
        out[dst] = frame[src].astype(float).round(1)
    out["unique configs"] = frame["unique_configs_mean"].astype(float).round(1)
    return out


def sampler_numbers(tables: dict, eps: dict) -> dict:
    """lab3_4's summary numbers: per space (``label -> reach_table``) the target and, per sampler, the
    reach rate and the median trials-to-target (never reached = budget + 1)."""
    out = {}
    for label, frame in tables.items():
        out[f"{label}: target tolerance (points)"] = round(eps[label]["eps"], 3)
        out[f"{label}: configurations within the target"] = int(frame.attrs["configs_at_target"])
        for _, r in frame.iterrows():
            if r["sampler"] == "random order (exact)":
                out[f"{label}: random order (exact) median trials"] = int(r["trials_median"])
                continue
            out[f"{label}: {r['sampler']} reach rate"] = round(float(r["reach_rate"]), 4)
            out[f"{label}: {r['sampler']} median trials"] = float(r["trials_median"])
    return out


# ----------------------------------------------------------------------------- the best-so-far curves
def best_so_far_curves(studies: dict) -> dict:
    """What :func:`lab_utils.report.plots.lab3_4.curves_figure` draws, per study (``title -> SamplerStudy``):
    the trial numbers, per sampler the mean and 95 % band of the best-so-far over seeds, the exact
    expected curve of a random order, and the table's values, optimum, direction and name."""
    out = {}
    for title, st in studies.items():
        exact, _ = expected_best(st.table.values, st.table.maximize, k_max=st.n_trials)
        out[title] = {"trials": np.arange(1, st.n_trials + 1), "n_seeds": len(st.seeds),
                      "samplers": {s: S.t_band(st.best(s)) for s in st.values}, "exact": exact,
                      "values": st.table.values, "optimum": st.table.optimum(), "maximize": st.table.maximize,
                      "name": st.table.name, "n": st.table.n}
    return out


def tpe_startup(study, target: float, sampler: str = "tpe") -> dict:
    """:func:`startup_reach` of ``sampler``'s runs in ``study`` for ``target``: how many reach it inside
    the study's ``n_startup_trials`` random start-up trials, against the random-draw probability."""
    t = censored_trials(study.best(sampler), target, study.table.maximize)
    return startup_reach(t, study.n_startup_trials, study.table.n, good_count(study.table, target))
