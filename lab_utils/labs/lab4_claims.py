"""Lab 4's width question as statistics: training failures apart from accuracy, a selection-aware
screen-then-confirm procedure, and the claims lab4_2/lab4_3 print.

A *failed* run is one that never predicts some class on the validation split (with MASE's ReLU on
the logits a class's logit can stay clamped at zero; the run then loses that class whatever its
width). Failures are counted per candidate as a rate with an exact (Clopper–Pearson) interval and
kept out of the accuracy mean, which is over the runs that trained; accuracy and failure are tested
separately. A candidate's interval uses the *pooled* within-candidate standard deviation of its model
variant (one-way ANOVA's residual, df = N − k over the N trained runs of k candidates:
:func:`lab_utils.analysis.stats.pooled_t_half_widths`): the candidates differ in width only, their runs
in seed, so one seed-to-seed spread serves them all, and 3 seeds give an interval on N − k degrees of
freedom instead of 2 (about half as wide; a candidate with one trained run gets one too).

The procedure, per model variant ("faithful": logit ReLU, the lab's model; "fixed": without it):

1. *Screen*: every candidate on the same seeds. :func:`candidate_table` summarises.
2. *Select* (:func:`select_best`): the highest mean validation accuracy of trained runs (ties: fewer
   parameters); a candidate without a trained run cannot be selected. Its failure rate is not
   part of the choice, it is tested on its own.
3. *Selection-aware test on the screen* (:func:`screen_tests`): permutation tests with the null
   "widths are exchangeable" (candidate labels shuffled over runs, seeded permutations:
   :func:`lab_utils.analysis.stats.permutation_p`): the max statistic (best candidate's mean minus the
   base's mean: picking the best of k is part of the statistic, so its p-value accounts for it),
   the between-candidate sum of squares (one-way ANOVA's F up to a monotone map: "width matters"),
   and for failures the between-candidate spread of failure rates (the chi-square statistic of the
   candidates x failed table up to a monotone map, its null by permutation as Fisher–Freeman–Halton's).
4. *Confirm* (:func:`confirm_claims`): the selected candidate, the base and (lab4_3) the lab's target
   retrained on fresh seeds and compared on the *test* split (Welch's interval of the difference of
   trained runs), so neither the seeds nor the data that chose the candidate judge it; the target is
   read as a cost–accuracy trade-off (its loss against the best, with the interval and the parameter
   ratio, against a non-inferiority margin: :func:`_target_claim`).

Verdicts (:mod:`lab_utils.analysis.claims`): a permutation p ≥ α is *not shown*, never refuted; a
failure claim with no failed run (or only failed runs) is *not applicable*.

The statistics are :mod:`lab_utils.analysis.stats` (permutation tests, intervals, ``ALPHA``); each
claim has a stable key (``screen.width_changes_accuracy.faithful``, ``confirm.beats_base.fixed``, ...)
by which lab4_4 and the report check find it. Tests: ``tests/labs/test_lab4_claims.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from lab_utils.analysis import claims
from lab_utils.analysis import stats as S
from lab_utils.analysis.stats import ALPHA, N_PERMUTATIONS, between_ss, permutation_p

CONFIRM_SEED_OFFSET = 1000  # confirmation seeds: seed + 1000, +1001, ... (never used by the screen)
MODELS = {True: "faithful", False: "fixed"}  # logit_relu -> the variant's name


def candidate_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, a, c): runs, failures (rate + exact 95 % CI), trained runs' validation
    accuracy (mean + 95 % t interval from the model variant's pooled within-candidate standard deviation,
    ``val_pooled_sd`` on ``val_pooled_df`` = N − k degrees of freedom; see the module docstring) and test
    accuracy (mean); sorted by model, then mean validation accuracy."""
    rows = []
    for model, gm in runs.groupby("model", sort=True):
        groups = list(gm.groupby(["a", "c"], sort=True))
        pooled = S.pooled_t_half_widths([g[~g["failed"]]["val_accuracy"] for _, g in groups])
        for ((a, c), g), half in zip(groups, pooled["half"]):
            n, k = len(g), int(g["failed"].sum())
            rate, f_lo, f_hi = S.proportion_ci(k, n)
            ok = g[~g["failed"]]
            m = float(ok["val_accuracy"].mean()) if len(ok) else math.nan
            rows.append({"model": model, "a": a, "c": c, "h1": int(g["h1"].iloc[0]), "h2": int(g["h2"].iloc[0]),
                         "params": int(g["params"].iloc[0]), "bitops": int(g["bitops"].iloc[0]), "runs": n,
                         "failed": k, "failure_rate": rate, "failure_low": f_lo, "failure_high": f_hi,
                         "trained": len(ok), "val_mean": m, "val_low": m - half, "val_high": m + half,
                         "val_pooled_sd": pooled["sd"], "val_pooled_df": pooled["df"],
                         "test_mean": float(ok["test_accuracy"].mean()) if len(ok) else math.nan})
    table = pd.DataFrame(rows)
    return table.sort_values(["model", "val_mean", "params"], ascending=[True, False, True],
                             na_position="last").reset_index(drop=True)


def select_best(table: pd.DataFrame, model: str):
    """The screen's choice for ``model``: highest mean validation accuracy of trained runs (ties: fewer
    parameters) among candidates with at least one trained run; None when there is none."""
    t = table[(table["model"] == model) & (table["trained"] > 0)]
    if t.empty:
        return None
    r = t.sort_values(["val_mean", "params"], ascending=[False, True]).iloc[0]
    return int(r["a"]), int(r["c"])


def _samples(runs, model, column, trained_only):
    g = runs[runs["model"] == model]
    if trained_only:
        g = g[~g["failed"]]
    keys = sorted(set(zip(g["a"], g["c"])))
    return keys, [g[(g["a"] == a) & (g["c"] == c)][column].to_numpy(float) for a, c in keys]


def screen_tests(runs: pd.DataFrame, model: str, base=(1, 1), seed: int = 0) -> dict:
    """The permutation tests of the screen for one model (see the module docstring); NaN where a test
    cannot run (fewer than two candidates with data, or no trained run of the base)."""
    out = {"model": model, "n_runs": int((runs["model"] == model).sum())}
    keys, acc = _samples(runs, model, "val_accuracy", trained_only=True)
    out["n_trained"] = int(sum(len(s) for s in acc))
    pooled = S.pooled_t_half_widths(acc)
    out["pooled_sd"], out["pooled_df"] = pooled["sd"], pooled["df"]
    out["per_candidate"] = out["n_trained"] / len(keys) if keys else math.nan
    usable = len(keys) >= 2 and out["n_trained"] > len(keys)
    out["anova_p"] = permutation_p(acc, between_ss, seed)[1] if usable else math.nan
    if usable and tuple(base) in keys:
        b = keys.index(tuple(base))

        def best_minus_base(means, sizes):
            return means.max(axis=1) - means[:, b]

        out["max_stat"], out["max_p"] = permutation_p(acc, best_minus_base, seed + 1)
    else:
        out["max_stat"], out["max_p"] = math.nan, math.nan
    fkeys, fails = _samples(runs, model, "failed", trained_only=False)
    k = int(sum(s.sum() for s in fails))
    out["n_failed"] = k
    out["failure_p"] = 1.0 if k in (0, out["n_runs"]) else permutation_p(fails, between_ss, seed + 2)[1]
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _detectable_pair(t: dict) -> str:
    """What a not-shown screen test could have detected: the difference between two candidates' means a
    two-sample comparison with the pooled within-candidate SD detects with 80 % power (normal
    approximation), at this many trained runs per candidate; "" when the SD is undefined."""
    sd, n = t.get("pooled_sd", math.nan), t.get("per_candidate", math.nan)
    if not (isinstance(sd, float) and math.isfinite(sd) and n and math.isfinite(n)):
        return ""
    d = S.detectable(sd * math.sqrt(2 / n))
    return (f"; not shown at α = {ALPHA:g}: with the pooled within-candidate SD {100 * sd:.2f} points "
            f"(df = {t['pooled_df']}) and {n:.1f} trained runs per candidate that trained, two candidates {100 * d:.2f} points apart "
            "would be told apart with 80 % power")


def screen_claims(t: dict, n_candidates: int) -> list:
    """Claims of the screen for one model: width changes trained runs' accuracy; the best of the
    screen beats the base beyond what picking the best of ``n_candidates`` explains; failures depend on width.

    Each holds when its permutation p < α and is *not shown* otherwise (a permutation test cannot show
    that widths do not matter; the evidence says what the screen could have detected). The failure
    claim is *not applicable* when no run failed, or every run did: there is no rate to compare."""
    m = t["model"]
    width_p, max_p = t["anova_p"], t["max_p"]
    out = [claims.claim(
        f"screen.width_changes_accuracy.{m}",
        f"{m} model: width changes the validation accuracy of runs that trained",
        None if math.isnan(width_p) else (True if width_p < ALPHA else None),
        (f"permutation one-way ANOVA over {n_candidates} candidates, {t['n_trained']} trained runs, {claims.fmt_p(width_p)}"
         + ("" if width_p < ALPHA else _detectable_pair(t)))
        if not math.isnan(width_p) else f"too few trained runs ({t['n_trained']}) to compare candidates",
        test="permutation test (between-candidate sum of squares)", p=width_p, n=t["n_trained"])]
    out.append(claims.claim(
        f"screen.best_beats_base.{m}",
        f"{m} model: the screen's best beats the base by more than picking the best of {n_candidates} explains",
        None if math.isnan(max_p) else (True if max_p < ALPHA else None),
        (f"max-statistic permutation test, best mean minus base mean = {100 * t['max_stat']:+.2f} points, "
         f"{claims.fmt_p(max_p)}, {N_PERMUTATIONS} permutations"
         + ("" if max_p < ALPHA else f"; not shown at α = {ALPHA:g}: the difference is within what picking the best "
            f"of {n_candidates} gives by seed luck (the confirmation on fresh seeds tests it again)"))
        if not math.isnan(max_p) else "the base has no trained run in the screen (or too few runs): no test",
        test="max-statistic permutation test", p=max_p, statistic=t["max_stat"]))
    vacuous = t["n_failed"] in (0, t["n_runs"])
    out.append(claims.claim(
        f"screen.failures_depend_on_width.{m}",
        f"{m} model: the failure rate (a class never predicted) depends on width",
        claims.NOT_APPLICABLE if vacuous else (True if t["failure_p"] < ALPHA else None),
        f"{t['n_failed']} of {t['n_runs']} runs failed"
        + (f": {'no' if t['n_failed'] == 0 else 'every'} run failed, so there is no failure rate to compare across widths"
           if vacuous else f"; permutation chi-square (Fisher–Freeman–Halton null) over {n_candidates} candidates, "
           f"{claims.fmt_p(t['failure_p'])}" + ("" if t["failure_p"] < ALPHA else
                                                 f"; not shown at α = {ALPHA:g} with {t['n_runs']} runs")),
        test="permutation chi-square test", p=t["failure_p"], failed=t["n_failed"], n=t["n_runs"]))
    return out


def logit_relu_claim(runs: pd.DataFrame) -> claims.Claim:
    """Dropping the logit ReLU lowers the failure rate (screen runs pooled over widths; Fisher's exact
    test): holds when the one-sided p (faithful fails more) < α, refuted when the opposite one-sided p
    < α (the fixed model fails more), not shown otherwise, not applicable when no run of either failed."""
    f = runs[runs["model"] == "faithful"]["failed"]
    x = runs[runs["model"] == "fixed"]["failed"]
    table = [[int(f.sum()), int((~f).sum())], [int(x.sum()), int((~x).sum())]]
    statement = "dropping the logit ReLU (fixed model) lowers the failure rate"
    counts = f"failed {table[0][0]}/{len(f)} (faithful) vs {table[1][0]}/{len(x)} (fixed)"
    if not (len(f) and len(x)):
        return claims.claim("logit_relu.failures", statement, None, f"{counts}: both models are needed for a test",
                            test="Fisher exact test", p=math.nan)
    if table[0][0] + table[1][0] == 0:
        return claims.claim("logit_relu.failures", statement, claims.NOT_APPLICABLE,
                            f"{counts}: no run of either model failed, so there is no failure rate to lower",
                            test="Fisher exact test", p=1.0)
    p = float(stats.fisher_exact(table, alternative="greater").pvalue)
    p_other = float(stats.fisher_exact(table, alternative="less").pvalue)
    holds = True if p < ALPHA else (False if p_other < ALPHA else None)
    tail = {True: "", False: f"; the fixed model fails more often (opposite one-sided {claims.fmt_p(p_other)})",
            None: f"; not shown at α = {ALPHA:g}"}[holds]
    return claims.claim("logit_relu.failures", statement, holds,
                        f"{counts}; one-sided Fisher exact test, {claims.fmt_p(p)}{tail}", test="Fisher exact test",
                        p=p, p_opposite=p_other)


def confirm_runs(selected: dict, base=(1, 1), target=None, seeds=()) -> list[tuple]:
    """``(hidden, seed, logit_relu)`` runs of the confirmation: per model, its selected candidate, the
    base and the target (when given), each on ``seeds``; every (candidate, model) once."""
    out = []
    for relu, model in MODELS.items():
        chosen = [selected.get(model), tuple(base), tuple(target) if target else None]
        for ac in dict.fromkeys(c for c in chosen if c is not None):
            out += [((16 * ac[0], 16 * ac[1]), int(s), relu) for s in seeds]
    return out


def _trained_test(confirm: pd.DataFrame, model: str, ac) -> np.ndarray:
    g = confirm[(confirm["model"] == model) & (confirm["a"] == ac[0]) & (confirm["c"] == ac[1])]
    return g[~g["failed"]]["test_accuracy"].to_numpy(float)


def _params(confirm: pd.DataFrame, model: str, ac) -> float:
    g = confirm[(confirm["model"] == model) & (confirm["a"] == ac[0]) & (confirm["c"] == ac[1])]
    return float(g["params"].iloc[0]) if len(g) and "params" in g else math.nan


def _but_interval(d: dict) -> dict:
    """Welch's numbers less ``low``/``high`` (an interval claim records them as ``interval``)."""
    return {k: v for k, v in d.items() if k not in ("low", "high")}


def _welch_text(d: dict) -> str:
    return (f"95 % CI [{100 * d['low']:+.2f}, {100 * d['high']:+.2f}], Welch, {claims.fmt_p(d['p'])}, "
            f"n = {d['n_a']} and {d['n_b']}")


def confirm_claims(confirm: pd.DataFrame, selected: dict, base=(1, 1), target=None) -> list:
    """On fresh seeds and the test split: the selected candidate beats the base (Welch's interval of the
    difference of trained runs against 0: :func:`lab_utils.analysis.claims.interval_claim`; not
    applicable when the screen's best is the base itself); and, with ``target``, the trade-off of the
    lab's target against the selected candidate (:func:`_target_claim`)."""
    out = []
    n_test = int(confirm["n_test"].iloc[0]) if "n_test" in confirm and len(confirm) else 0
    margin = 1 / math.sqrt(n_test) if n_test else math.nan
    for model in MODELS.values():
        best = selected.get(model)
        key, plain = f"confirm.beats_base.{model}", f"{model} model: the screen's best beats the base on fresh seeds"
        if best is None:
            out.append(claims.claim(key, plain, None, "no candidate had a trained run in the screen", test="Welch t-test"))
            continue
        if tuple(best) == tuple(base):
            out.append(claims.claim(key, plain, claims.NOT_APPLICABLE,
                                    f"the screen's best is the base {tuple(base)} itself: no other candidate to confirm",
                                    test="Welch t-test"))
        else:
            d = S.diff_ci(_trained_test(confirm, model, best), _trained_test(confirm, model, base))
            statement = f"{model} model: the screen's best {best} beats the base {tuple(base)} on fresh seeds"
            if math.isnan(d["low"]):
                out.append(claims.claim(key, statement, None, f"too few trained runs on fresh seeds for an interval: "
                                        f"n = {d['n_a']} ({best}) and {d['n_b']} ({tuple(base)})", test="Welch t-test", **d))
            else:
                out.append(claims.interval_claim(
                    key, statement, d["low"], d["high"],
                    f"test accuracy, trained runs on fresh seeds: {best} minus {tuple(base)} = {100 * d['diff']:+.2f} "
                    f"points, {_welch_text(d)}", test="Welch t-test", above=0.0, unit="points", scale=100, **_but_interval(d)))
        if target is not None:
            out.append(_target_claim(confirm, model, best, tuple(target), margin))
    return out


def _target_claim(confirm, model, best, target, margin) -> claims.Claim:
    """The lab's target as a cost–accuracy trade-off against the screen's best, on fresh seeds and the test
    split: "the target, with P % of the best's parameters, loses less than ``margin`` of test accuracy
    against it". A non-inferiority reading of Welch's 95 % interval of (best − target)
    (:func:`lab_utils.analysis.claims.interval_claim`, ``below=margin``): holds when the whole interval is
    below the margin, refuted when the whole interval is above it, not shown when it straddles it. The
    margin is 1/√(test jets), twice the largest binomial standard error of one test accuracy: a loss
    below it is within the resolution of the test split. The evidence gives the loss with its interval
    (its upper bound is the most the target loses at 95 %) and the parameter ratio. Not applicable when
    the target is the screen's best itself."""
    key = f"confirm.target_among_best.{model}"
    if best is None:
        return claims.claim(key, f"{model} model: the lab's target {target} loses less than the resolution of the test "
                            "split against the screen's best", None, "no candidate had a trained run in the screen",
                            test="Welch t-test, non-inferiority margin", margin=margin)
    p_best, p_target = _params(confirm, model, best), _params(confirm, model, target)
    ratio = p_target / p_best if p_best else math.nan
    share = f"at {100 * ratio:.0f} % of the parameters of" if math.isfinite(ratio) else "against"
    statement = (f"{model} model: the lab's target {target}, {share} the screen's best {best}, loses less than "
                 f"{100 * margin:.2f} points of test accuracy against it (the test split's resolution)")
    if tuple(best) == target:
        return claims.claim(key, statement, claims.NOT_APPLICABLE, "the target is the screen's best itself: no trade-off",
                            test="selection", margin=margin)
    d = S.diff_ci(_trained_test(confirm, model, best), _trained_test(confirm, model, target))
    numbers = {"margin": margin, **_but_interval(d), "params_best": p_best, "params_target": p_target,
               "params_ratio": ratio}
    if math.isnan(d["low"]):
        return claims.claim(key, statement, None, f"too few trained runs on fresh seeds for an interval: n = {d['n_a']} "
                            f"and {d['n_b']}", test="Welch t-test, non-inferiority margin", **numbers)
    sign = ("the target is less accurate (interval above 0)" if d["low"] > 0 else
            "the target is more accurate (interval below 0)" if d["high"] < 0 else "no difference shown (interval spans 0)")
    cost = (f"; parameters {p_target:,.0f} against {p_best:,.0f} ({100 * ratio:.0f} %)" if math.isfinite(ratio) else "")
    return claims.interval_claim(
        key, statement, d["low"], d["high"],
        f"test accuracy on fresh seeds, best minus target = {100 * d['diff']:+.2f} points, {_welch_text(d)}: {sign}; "
        f"at 95 % the target loses at most {100 * d['high']:.2f} points{cost}; non-inferiority margin "
        f"{100 * margin:.2f} points = 1/√{round(1 / margin ** 2):,} test jets",
        test="Welch t-test, non-inferiority margin", below=margin, unit="points", scale=100, **numbers)


def report_check(table: pd.DataFrame, confirm_list: list, topic: str, said: str, report_ac, report_acc: float):
    """The lab report's width result against the faithful model's screen: its accuracy level (inside
    the trained runs' interval of the report's candidate?) and whether its winner was confirmed."""
    t = table[(table["model"] == "faithful") & (table["a"] == report_ac[0]) & (table["c"] == report_ac[1])]
    if t.empty or math.isnan(t["val_mean"].iloc[0]):
        return claims.report_check(topic, said, f"no trained run of {tuple(report_ac)}", None)
    r = t.iloc[0]
    confirmed = [c for c in confirm_list if c.key == "confirm.beats_base.faithful" and c.holds is True]
    best = select_best(table, "faithful")
    level_agrees = r["val_low"] <= report_acc <= r["val_high"] if not math.isnan(r["val_low"]) else False
    winner = tuple(best) == tuple(report_ac) and bool(confirmed)
    shows = (f"{tuple(report_ac)}: {_pct(r['val_mean'])} mean validation accuracy of {int(r['trained'])} trained runs "
             f"({int(r['failed'])} of {int(r['runs'])} failed); the screen's best is {best}, "
             f"{'confirmed' if confirmed else 'not confirmed'} against the base on fresh seeds")
    verdict = "agrees" if (level_agrees and winner) else ("partly" if (level_agrees or winner) else "disagrees")
    return claims.report_check(topic, said, shows, verdict)
