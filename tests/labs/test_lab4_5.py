"""lab4_5's helpers: Pareto front (against a naive loop), the baselines picked, and every claim on
constructed inputs that make it hold and fail (oracles: hand counts, scipy's exact tests)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lab_utils.analysis.pareto import pareto_mask
from lab_utils.labs import lab4_5 as L
from lab_utils.training import supernet as S


def test_pareto_mask_against_a_naive_loop():
    rng = np.random.default_rng(0)
    acc = rng.integers(0, 6, 40) / 10  # ties on purpose
    macs = rng.integers(1, 8, 40) * 1000
    naive = [not any(acc[j] >= acc[i] and macs[j] <= macs[i] and (acc[j] > acc[i] or macs[j] < macs[i])
                     for j in range(40)) for i in range(40)]
    frame = pd.DataFrame({"accuracy": acc, "macs": macs})
    assert pareto_mask(frame[["accuracy", "macs"]].to_numpy(float), maximize=(True, False)).tolist() == naive


def test_unique_candidates_one_row_per_architecture():
    df = pd.DataFrame({"channels": [(4, 8), (4, 4), (4, 8)], "macs": [20, 10, 20], "accuracy": [0.3, 0.2, 0.3]})
    u = L.unique_candidates(df)
    assert u["channels"].tolist() == [(4, 4), (4, 8)] and u.index.tolist() == [0, 1]


def test_pick_architectures_extremes_and_seeded_random_valid_ones():
    choices = (16, 32, 48, 64)
    searched = (16, 32, 32, 48, 64, 64)
    a = L.pick_architectures(choices, searched, 5, seed=0)
    assert a.role.tolist() == ["searched", "widest", "narrowest"] + [f"random {i}" for i in range(1, 6)]
    assert a.channels[1] == (64,) * 6 and a.channels[2] == (16,) * 6
    assert len(set(a.channels)) == 8 and all(c in S.all_candidates(choices) for c in a.channels)
    assert a.equals(L.pick_architectures(choices, searched, 5, seed=0))  # seeded
    assert a.channels[3:].tolist() != L.pick_architectures(choices, searched, 5, seed=1).channels[3:].tolist()
    assert len(L.pick_architectures((4, 8), (4, 4, 4, 4, 4, 4), 9)) == 3 + 5  # the pool runs out: 7 - 2 fixed


def test_compare_counts_and_exact_mcnemar():
    a = np.array([1, 1, 1, 1, 0, 0, 1, 0], bool)
    b = np.array([1, 0, 0, 0, 0, 1, 1, 0], bool)  # a right alone on 3 images, b alone on 1
    r = L.compare(a, b)
    assert r["diff"] == pytest.approx(2 / 8)
    assert r["p_greater"] == pytest.approx(stats.binom.sf(2, 4, 0.5))  # P(X >= 3), X ~ Bin(4, 1/2) = 5/16
    assert r["p_less"] == pytest.approx(stats.binom.cdf(3, 4, 0.5))


def _runs(searched_acc, baseline_acc, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for role, acc, ch in (("searched", searched_acc, (1,)), ("searched", searched_acc, (1,)),
                          ("widest", baseline_acc, (3,)), ("narrowest", baseline_acc, (0,)),
                          ("random 1", baseline_acc, (2,)), ("random 2", baseline_acc, (4,))):
        rows.append({"role": role, "channels": ch, "seed": len(rows), "correct": rng.random(n) < acc})
    return pd.DataFrame(rows)


def test_claim_beats_baselines_both_ways():
    holds = L.claim_beats_baselines(_runs(0.75, 0.6))
    assert [c.holds for c in holds] == [True, True, True]
    assert "Holm over 8 pairs" in holds[0].evidence and "2 seed(s)" in holds[0].evidence
    assert [c.holds for c in L.claim_beats_baselines(_runs(0.6, 0.75))] == [False, False, False]
    assert [c.holds for c in L.claim_beats_baselines(_runs(0.6, 0.6, n=200))] == [None, None, None]
    same = _runs(0.7, 0.6)
    same.at[int(same.index[same.role == "widest"][0]), "channels"] = (1,)  # the search chose the widest itself
    assert L.claim_beats_baselines(same)[1].holds is None


def test_claim_ranking_both_ways():
    x = np.arange(8) / 10
    yes = L.claim_ranking(x, x + 0.05)
    assert yes.holds is True and yes.numbers["tau"] == 1.0
    assert yes.numbers["p"] == pytest.approx(1 / 40320)  # exact: one ordering of 8! is as concordant
    assert L.claim_ranking(x, -x).holds is False
    assert L.claim_ranking(x[:5], x[:5]).holds is None  # too few architectures: no claim
    noisy = L.claim_ranking(x, [0.3, 0.1, 0.4, 0.2, 0.0, 0.6, 0.5, 0.35])
    assert noisy.holds is None and noisy.numbers["rho_low"] < 0 < noisy.numbers["rho_high"]


def _scores(correct):
    c = np.asarray(correct, bool)
    return {"accuracy": c.mean(), "correct": c}


def test_claim_resolution_both_ways():
    rng = np.random.default_rng(1)
    base = rng.random(2500) < 0.6
    better = base | (rng.random(2500) < 0.2)
    c = L.claim_resolution(_scores(better), _scores(base), span=0.05)
    assert c.holds is True and c.numbers["n"] == 2500
    assert c.numbers["se_candidate"] == pytest.approx(np.sqrt(better.mean() * (1 - better.mean()) / 2500), abs=1e-6)
    assert L.claim_resolution(_scores(base), _scores(base), span=0.0).holds is False


def test_claim_int8_both_ways():
    rng = np.random.default_rng(2)
    f = rng.random(10000) < 0.6
    assert L.claim_int8(f, f).holds is True
    assert L.claim_int8(f, f & (rng.random(10000) < 0.8)).holds is False  # about 12 points lost
    few = f[:200].copy()
    few_q = few.copy()
    few_q[:6] = ~few_q[:6]
    assert L.claim_int8(few, few_q).holds is None  # 200 images cannot decide within 1 point


def test_report_checks_agree_for_chance_and_disagree_for_trained():
    untrained = _scores(np.arange(10000) % 10 == 0)  # 10 %
    trained = _scores(np.arange(10000) % 10 < 6)  # 60 %
    u, t = L.report_checks(untrained, trained)
    assert (u.verdict, t.verdict) == ("agrees", "disagrees")
    assert "10.00 %" in u.run_shows and "60.00 %" in t.run_shows


def test_ranking_table_pairs_the_two_scores():
    archs = pd.DataFrame({"role": ["searched", "widest", "random 1"], "channels": [(1,), (2,), (1,)], "macs": [1, 2, 1]})
    runs = pd.DataFrame({"channels": [(1,), (1,), (2,)], "val_accuracy": [0.5, 0.7, 0.6]})
    t = L.ranking_table(archs, runs, [{"accuracy": 0.4}, {"accuracy": 0.45}, {"accuracy": 0.4}])
    assert t.role.tolist() == ["searched", "widest"] and t.scratch_val_accuracy.tolist() == [0.5, 0.6]
    assert t.supernet_val_accuracy.tolist() == [0.4, 0.45]
