"""Lab 4's statistics on constructed runs: failure rates apart from accuracy, permutation tests that
come out both ways, the selection, the confirmation and the target's equivalence claim."""

import math

import numpy as np
import pandas as pd
import pytest

from lab_utils.analysis import claims
from lab_utils.labs import lab4, lab4_claims


def _runs(spec, model="fixed", phase="screen"):
    """``spec``: {(a, c): [val accuracies; None = a failed run]} -> a runs table like results_table's."""
    rows = []
    for (a, c), accs in spec.items():
        for s, v in enumerate(accs):
            rows.append({"model": model, "a": a, "c": c, "h1": 16 * a, "h2": 16 * c, "seed": s, "phase": phase,
                         "params": 100 * a * c, "bitops": 3200 * a * c, "val_accuracy": 0.6 if v is None else v,
                         "test_accuracy": 0.6 if v is None else v, "failed": v is None, "n_test": 166000})
    return pd.DataFrame(rows)


def test_candidate_table_separates_failures_from_accuracy():
    t = lab4_claims.candidate_table(_runs({(1, 1): [0.70, None, 0.72, None], (2, 4): [0.75, 0.76, 0.74, 0.75]}))
    base = t[(t["a"] == 1)].iloc[0]
    assert (base["runs"], base["failed"], base["trained"]) == (4, 2, 2)
    assert base["val_mean"] == pytest.approx(0.71)  # the failed runs' 0.6 is not averaged in
    assert base["failure_rate"] == 0.5 and base["failure_low"] < 0.5 < base["failure_high"]
    assert list(zip(t["a"], t["c"])) == [(2, 4), (1, 1)]  # sorted by trained runs' mean
    assert lab4_claims.select_best(t, "fixed") == (2, 4)
    assert lab4_claims.select_best(t, "faithful") is None


def test_select_best_ignores_candidates_without_trained_runs():
    t = lab4_claims.candidate_table(_runs({(1, 1): [0.70, 0.71], (5, 5): [None, None]}))
    assert lab4_claims.select_best(t, "fixed") == (1, 1) and math.isnan(t.iloc[1]["val_mean"])


def _grid(rng, effect, n_seeds=4, fail=None):
    spec = {}
    for a in (1, 2, 3):
        for c in (1, 2, 3):
            accs = list(0.76 + (effect if (a, c) == (3, 3) else 0.0) + 0.001 * rng.standard_normal(n_seeds))
            if fail is not None and fail(a, c):
                accs = [None] * (n_seeds - 1) + accs[-1:]
            spec[(a, c)] = accs
    return _runs(spec)


def test_screen_tests_detect_a_real_width_effect_and_not_noise():
    rng = np.random.default_rng(0)
    real = lab4_claims.screen_tests(_grid(rng, effect=0.01), "fixed", seed=0)
    assert real["anova_p"] < 0.01 and real["max_p"] < 0.01 and real["max_stat"] > 0.008
    noise = lab4_claims.screen_tests(_grid(rng, effect=0.0), "fixed", seed=0)
    assert noise["anova_p"] > 0.05 and noise["max_p"] > 0.05
    claims = lab4_claims.screen_claims(real, 9)
    assert [c.holds for c in claims[:2]] == [True, True]
    assert [c.holds for c in lab4_claims.screen_claims(noise, 9)[:2]] == [False, False]


def test_max_statistic_accounts_for_selection():
    """Among 9 equal candidates the screen's best beats the base in every replicate (selection bias),
    yet the max-statistic test's p-values stay spread as under the null (few below 0.05)."""
    diffs, ps = [], []
    for s in range(20):
        runs = _grid(np.random.default_rng(100 + s), effect=0.0, n_seeds=3)
        t = lab4_claims.candidate_table(runs).set_index(["a", "c"])
        best = lab4_claims.select_best(t.reset_index(), "fixed")
        diffs.append(t.loc[best, "val_mean"] - t.loc[(1, 1), "val_mean"])
        ps.append(lab4_claims.screen_tests(runs, "fixed", seed=s)["max_p"])
    assert min(diffs) >= 0 and np.mean(diffs) > 0.0005  # picking the best inflates its difference
    assert sum(p < 0.05 for p in ps) <= 2 and 0.2 < np.mean(ps) < 0.8


def test_failure_rate_test_both_ways():
    rng = np.random.default_rng(1)
    wide_fail = lab4_claims.screen_tests(_grid(rng, 0.0, n_seeds=8, fail=lambda a, c: a == 3), "fixed", seed=0)
    assert wide_fail["failure_p"] < 0.01
    assert lab4_claims.screen_claims(wide_fail, 9)[2].holds is True
    none = lab4_claims.screen_tests(_grid(rng, 0.0), "fixed", seed=0)
    assert none["n_failed"] == 0 and none["failure_p"] == 1.0
    assert lab4_claims.screen_claims(none, 9)[2].holds is False


def test_logit_relu_claim_both_ways():
    faithful = _runs({(1, 1): [None, None, None, 0.7, None, None]}, model="faithful")
    fixed = _runs({(1, 1): [0.7] * 6}, model="fixed")
    assert lab4_claims.logit_relu_claim(pd.concat([faithful, fixed])).holds is True
    same = _runs({(1, 1): [0.7] * 6}, model="faithful")
    assert lab4_claims.logit_relu_claim(pd.concat([same, fixed])).holds is False


def test_confirm_runs_and_claims_both_ways():
    plan = lab4_claims.confirm_runs({"faithful": (1, 1), "fixed": (2, 4)}, base=(1, 1), target=(2, 4), seeds=[1000, 1001])
    assert plan.count(((16, 16), 1000, True)) == 1 and plan.count(((32, 64), 1001, False)) == 1
    assert len(plan) == 2 * 2 + 2 * 2  # faithful: base and target; fixed: best (= target) and base
    up = pd.concat([_runs({(2, 4): [0.770, 0.771, 0.772, 0.771], (1, 1): [0.760, 0.761, 0.759, 0.760]}, model=m,
                          phase="confirm") for m in ("faithful", "fixed")])
    out = lab4_claims.confirm_claims(up, {"faithful": (2, 4), "fixed": (2, 4)}, base=(1, 1), target=(2, 4))
    beats = [c for c in out if c.key.startswith("confirm.beats_base.")]
    assert [c.holds for c in beats] == [True, True] and all(c.numbers["low"] > 0 for c in beats)
    flat = pd.concat([_runs({(2, 4): [0.760, 0.762, 0.759, 0.761], (1, 1): [0.761, 0.760, 0.762, 0.759]}, model=m,
                            phase="confirm") for m in ("faithful", "fixed")])
    out = lab4_claims.confirm_claims(flat, {"faithful": (2, 4), "fixed": (1, 1)}, base=(1, 1))
    assert [c.holds for c in out] == [False, False]
    assert "itself" in out[1].evidence


def test_target_claim_equivalent_worse_and_undetermined():
    def conf(best, target):
        return _runs({(3, 3): best, (2, 4): target, (1, 1): [0.75, 0.751]}, phase="confirm")

    margin_ok = conf([0.7600, 0.7601, 0.7599, 0.7600], [0.7600, 0.7599, 0.7601, 0.7600])
    worse = conf([0.770, 0.771, 0.769, 0.770], [0.760, 0.761, 0.759, 0.760])
    wide = conf([0.70, 0.80, 0.75], [0.72, 0.78, 0.76])
    got = []
    for c in (margin_ok, worse, wide):
        claim = claims.find(lab4_claims.confirm_claims(c, {"fixed": (3, 3)}, base=(1, 1), target=(2, 4)),
                            "confirm.target_among_best.fixed")
        got.append(claim.holds)
    assert got == [True, False, None]


def test_report_check_verdicts():
    t = lab4_claims.candidate_table(_runs({(5, 5): [0.235, 0.236, 0.234], (1, 1): [0.20, 0.21, 0.20]}, model="faithful"))
    assert lab4.report_checks("lab4_2", t, [])[0].verdict == "partly"  # level matches, winner not confirmed
    t2 = lab4_claims.candidate_table(_runs({(5, 5): [0.76, 0.761, 0.759], (1, 1): [0.76, 0.761, 0.76]}, model="faithful"))
    assert lab4.report_checks("lab4_2", t2, [])[0].verdict == "disagrees"
