"""lab3_4 (TPE against brute force): the sample-efficiency study: the spaces the samplers are compared on and what the notebook reads off them.

How it works: :func:`build_space` gets a search-engine space from the engine's own constructor
(:func:`lab_utils.search.space.build_context`) on a model and data already in memory, and
:func:`three_layer_space_config` writes the per-layer space's config; the tables the samplers replay
are computed from such a space by :mod:`lab_utils.search.tables`. :func:`target_epsilon` sets
the target "within ε of the best" no finer than the evaluation resolves; the ``claim_*`` functions and
:func:`check_first_trials` turn replayed studies into tested conclusions (Mann–Whitney U, Fisher exact,
chi-square goodness of fit to the exact random-order law); :func:`ecdf_data` and
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


def claim_fewer_trials(key: str, space: str, trials_a, trials_b, budget: int, a: str = "tpe", b: str = "brute-force",
                       alpha: float = S.ALPHA) -> claims.Claim:
    """"``a`` reaches the target in fewer trials than ``b``": one-sided Mann–Whitney U on the
    trials-to-target of all runs (never reached = budget + 1, a tie at the top; scipy's tie-corrected
    asymptotic p). Unpaired: the same seed number does not couple two samplers' draws."""
    x, y = np.asarray(trials_a, float), np.asarray(trials_b, float)
    res = stats.mannwhitneyu(x, y, alternative="less", method="asymptotic")
    holds = bool(res.pvalue < alpha)
    ev = (f"median {np.median(x):g} vs {np.median(y):g} trials (never reached counted as {budget + 1}); "
          f"reached {int((x <= budget).sum())}/{len(x)} vs {int((y <= budget).sum())}/{len(y)}; "
          f"Mann–Whitney U = {res.statistic:.0f}, one-sided {claims.fmt_p(res.pvalue)}, n = {len(x)} + {len(y)}")
    return claims.claim(key, f"{a} reaches the target in fewer trials than {b} on {space}", holds, ev,
                        test="Mann–Whitney U, one-sided", p=float(res.pvalue), u=float(res.statistic),
                        median_a=float(np.median(x)), median_b=float(np.median(y)), n_a=len(x), n_b=len(y))


def claim_reaches_more_often(key: str, space: str, trials_a, trials_b, budget: int, a: str = "tpe",
                             b: str = "brute-force", alpha: float = S.ALPHA) -> claims.Claim:
    """"``a`` reaches the target within the budget in more runs than ``b``": one-sided Fisher exact
    test on the 2×2 table (reached or not × sampler), with Clopper–Pearson intervals of each rate."""
    x, y = np.asarray(trials_a, float), np.asarray(trials_b, float)
    ka, kb = int((x <= budget).sum()), int((y <= budget).sum())
    res = stats.fisher_exact([[ka, len(x) - ka], [kb, len(y) - kb]], alternative="greater")
    (ra, la, ha), (rb, lb, hb) = S.proportion_ci(ka, len(x)), S.proportion_ci(kb, len(y))
    ev = (f"{ka}/{len(x)} = {100 * ra:.1f} % [{100 * la:.1f}, {100 * ha:.1f}] vs {kb}/{len(y)} = {100 * rb:.1f} % "
          f"[{100 * lb:.1f}, {100 * hb:.1f}] (95 % Clopper–Pearson); Fisher exact, one-sided {claims.fmt_p(res.pvalue)}")
    return claims.claim(key, f"{a} reaches the target within {budget} trials in more runs than {b} on {space}",
                        bool(res.pvalue < alpha), ev, test="Fisher exact, one-sided", p=float(res.pvalue),
                        reached_a=ka, reached_b=kb, n_a=len(x), n_b=len(y))


def claim_random_order_law(key: str, space: str, trials, n: int, m: int, budget: int,
                           alpha: float = S.ALPHA) -> claims.Claim:
    """"Brute force's trials-to-target follow the uniform-random-order law": chi-square goodness of
    fit against the exact distribution of the first of ``m`` good configurations in a uniformly
    random order of ``n`` (:func:`lab_utils.search.replay.exact_first_hit_test`). Holds when the
    test does not reject at ``alpha`` (no evidence against the law)."""
    res = exact_first_hit_test(trials, n, m, budget)
    holds = None if not math.isfinite(res["p"]) else bool(res["p"] >= alpha)
    ev = (f"{m} of {n} configurations reach the target; chi-square = {res['statistic']:.1f}, dof = {res['dof']}, "
          f"{claims.fmt_p(res['p'])}, n = {res['n']} runs (null: a uniformly random order)")
    return claims.claim(key, f"brute force's trials-to-target on {space} follow the uniform-random-order law", holds, ev,
                        test="chi-square goodness of fit to the exact law", **res)


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
