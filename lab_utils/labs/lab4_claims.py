"""Lab 4's width question as statistics: training failures apart from accuracy, a selection-aware
screen-then-confirm procedure, and the claims lab4_2/lab4_3 print.

A *failed* run is one that never predicts some class on the validation split (with MASE's ReLU on
the logits a class's logit can stay clamped at zero; the run then loses that class whatever its
width). Failures are counted per candidate as a rate with an exact (Clopper–Pearson) interval and
kept out of the accuracy mean, which is over the runs that trained (mean and Student-t interval);
accuracy and failure are tested separately.

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
   trained runs), so neither the seeds nor the data that chose the candidate judge it.

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
    accuracy (mean + t 95 % CI) and test accuracy (mean); sorted by model, then mean validation accuracy."""
    rows = []
    for (model, a, c), g in runs.groupby(["model", "a", "c"], sort=True):
        n, k = len(g), int(g["failed"].sum())
        rate, f_lo, f_hi = S.proportion_ci(k, n)
        ok = g[~g["failed"]]
        m, lo, hi = S.mean_ci(ok["val_accuracy"]) if len(ok) else (math.nan,) * 3
        rows.append({"model": model, "a": a, "c": c, "h1": int(g["h1"].iloc[0]), "h2": int(g["h2"].iloc[0]),
                     "params": int(g["params"].iloc[0]), "bitops": int(g["bitops"].iloc[0]), "runs": n,
                     "failed": k, "failure_rate": rate, "failure_low": f_lo, "failure_high": f_hi,
                     "trained": len(ok), "val_mean": m, "val_low": lo, "val_high": hi,
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


def screen_claims(t: dict, n_candidates: int) -> list:
    """Claims of the screen for one model: width changes trained runs' accuracy; the best of the
    screen beats the base beyond what picking the best of ``n_candidates`` explains; failures depend on width."""
    m = t["model"]
    out = [claims.claim(
        f"screen.width_changes_accuracy.{m}",
        f"{m} model: width changes the validation accuracy of runs that trained",
        None if math.isnan(t["anova_p"]) else t["anova_p"] < ALPHA,
        f"permutation one-way ANOVA over {n_candidates} candidates, {t['n_trained']} trained runs, {claims.fmt_p(t['anova_p'])}"
        if not math.isnan(t["anova_p"]) else f"too few trained runs ({t['n_trained']}) to compare candidates",
        test="permutation test (between-candidate sum of squares)", p=t["anova_p"], n=t["n_trained"])]
    out.append(claims.claim(
        f"screen.best_beats_base.{m}",
        f"{m} model: the screen's best beats the base by more than picking the best of {n_candidates} explains",
        None if math.isnan(t["max_p"]) else t["max_p"] < ALPHA,
        f"max-statistic permutation test, best mean minus base mean = {100 * t['max_stat']:+.2f} points, "
        f"{claims.fmt_p(t['max_p'])}, {N_PERMUTATIONS} permutations"
        if not math.isnan(t["max_p"]) else "the base has no trained run in the screen (or too few runs): no test",
        test="max-statistic permutation test", p=t["max_p"], statistic=t["max_stat"]))
    out.append(claims.claim(
        f"screen.failures_depend_on_width.{m}",
        f"{m} model: the failure rate (a class never predicted) depends on width",
        t["failure_p"] < ALPHA,
        f"{t['n_failed']} of {t['n_runs']} runs failed; permutation chi-square (Fisher–Freeman–Halton null) "
        f"over {n_candidates} candidates, {claims.fmt_p(t['failure_p'])}",
        test="permutation chi-square test", p=t["failure_p"], failed=t["n_failed"], n=t["n_runs"]))
    return out


def logit_relu_claim(runs: pd.DataFrame) -> claims.Claim:
    """Dropping the logit ReLU lowers the failure rate (screen runs pooled over widths; Fisher's exact test)."""
    f = runs[runs["model"] == "faithful"]["failed"]
    x = runs[runs["model"] == "fixed"]["failed"]
    table = [[int(f.sum()), int((~f).sum())], [int(x.sum()), int((~x).sum())]]
    p = float(stats.fisher_exact(table, alternative="greater").pvalue) if len(f) and len(x) else math.nan
    holds = None if math.isnan(p) else p < ALPHA
    return claims.claim("logit_relu.failures", "dropping the logit ReLU (fixed model) lowers the failure rate", holds,
                        f"failed {table[0][0]}/{len(f)} (faithful) vs {table[1][0]}/{len(x)} (fixed); "
                        f"one-sided Fisher exact test, {claims.fmt_p(p)}", test="Fisher exact test", p=p)


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


def confirm_claims(confirm: pd.DataFrame, selected: dict, base=(1, 1), target=None) -> list:
    """On fresh seeds and the test split: the selected candidate beats the base (Welch interval of
    the difference excludes 0, positive); and, with ``target``, the target is as good as the selected
    one: the difference's interval lies within ± the margin (1/sqrt(n_test): twice the largest binomial
    standard error of an accuracy on the test split, the evaluation's resolution); it is not when
    the interval lies above 0; undetermined otherwise."""
    out = []
    n_test = int(confirm["n_test"].iloc[0]) if "n_test" in confirm and len(confirm) else 0
    margin = 1 / math.sqrt(n_test) if n_test else math.nan
    for model in MODELS.values():
        best = selected.get(model)
        if best is None:
            out.append(claims.claim(f"confirm.beats_base.{model}", f"{model} model: the screen's best beats the base "
                                    "on fresh seeds", None, "no candidate had a trained run in the screen",
                                    test="Welch t-test"))
            continue
        d = S.diff_ci(_trained_test(confirm, model, best), _trained_test(confirm, model, base))
        ev = (f"test accuracy, trained runs on fresh seeds: {best} minus {tuple(base)} = {100 * d['diff']:+.2f} points, "
              f"95 % CI [{100 * d['low']:+.2f}, {100 * d['high']:+.2f}], Welch, {claims.fmt_p(d['p'])}, "
              f"n = {d['n_a']} and {d['n_b']}") if not math.isnan(d["low"]) else (
              f"too few trained runs on fresh seeds for an interval: n = {d['n_a']} ({best}) and {d['n_b']} ({tuple(base)})")
        if tuple(best) == tuple(base):
            out.append(claims.claim(f"confirm.beats_base.{model}", f"{model} model: the screen's best beats the base "
                                    "on fresh seeds", False,
                                    f"the screen's best is the base {tuple(base)} itself", test="Welch t-test"))
        else:
            holds = None if math.isnan(d["low"]) else d["low"] > 0
            out.append(claims.claim(f"confirm.beats_base.{model}", f"{model} model: the screen's best {best} beats the base {tuple(base)} on fresh seeds",
                                    holds, ev, test="Welch t-test", **d))
        if target is not None:
            out.append(_target_claim(confirm, model, best, tuple(target), margin))
    return out


def _target_claim(confirm, model, best, target, margin) -> claims.Claim:
    statement = f"{model} model: the lab's target {target} is among the best (as good as the screen's best {best})"
    key = f"confirm.target_among_best.{model}"
    if tuple(best) == target:
        return claims.claim(key, statement, True, "the target is the screen's best", test="selection")
    d = S.diff_ci(_trained_test(confirm, model, best), _trained_test(confirm, model, target))
    # not as good when the best is surely better; as good when the difference is inside the margin
    worse = S.interval_verdict(d["low"], d["high"], above=0) is True
    holds = False if worse else (S.interval_verdict(d["low"], d["high"], within=margin) or None)
    if math.isnan(d["low"]):
        return claims.claim(key, statement, None, f"too few trained runs on fresh seeds for an interval: n = {d['n_a']} "
                            f"and {d['n_b']}", test="Welch t-test with equivalence margin", margin=margin, **d)
    return claims.claim(key, statement, holds,
                        f"test accuracy on fresh seeds, best minus target = {100 * d['diff']:+.2f} points, 95 % CI "
                        f"[{100 * d['low']:+.2f}, {100 * d['high']:+.2f}] against an equivalence margin of "
                        f"±{100 * margin:.2f} points, Welch, n = {d['n_a']} and {d['n_b']}",
                        test="Welch t-test with equivalence margin", margin=margin, **d)


def report_check(table: pd.DataFrame, confirm_list: list, topic: str, said: str, report_ac, report_acc: float):
    """The lab report's width result against the faithful model's screen: its accuracy level (inside
    the trained runs' interval of the report's candidate?) and whether its winner was confirmed."""
    t = table[(table["model"] == "faithful") & (table["a"] == report_ac[0]) & (table["c"] == report_ac[1])]
    if t.empty or math.isnan(t["val_mean"].iloc[0]):
        return claims.report_check(topic, said, f"no trained run of {tuple(report_ac)}", None)
    r = t.iloc[0]
    confirmed = [c for c in confirm_list if c.key == "confirm.beats_base.faithful" and c.holds]
    best = select_best(table, "faithful")
    level_agrees = r["val_low"] <= report_acc <= r["val_high"] if not math.isnan(r["val_low"]) else False
    winner = tuple(best) == tuple(report_ac) and bool(confirmed)
    shows = (f"{tuple(report_ac)}: {_pct(r['val_mean'])} mean validation accuracy of {int(r['trained'])} trained runs "
             f"({int(r['failed'])} of {int(r['runs'])} failed); the screen's best is {best}, "
             f"{'confirmed' if confirmed else 'not confirmed'} against the base on fresh seeds")
    verdict = "agrees" if (level_agrees and winner) else ("partly" if (level_agrees or winner) else "disagrees")
    return claims.report_check(topic, said, shows, verdict)
