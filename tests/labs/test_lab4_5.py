"""lab4_5's helpers: Pareto front (against a naive loop), the baselines picked, and every claim on
constructed inputs that make it hold and fail (oracles: hand counts, scipy's exact tests)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lab_utils.analysis.pareto import pareto_mask
from lab_utils.labs import lab4_5 as L
from lab_utils.training import supernet as S
from tests.oracles import (
    agresti_min,
    binom_upper,
    clopper_pearson,
    inversions,
    kendall_greater_p,
    mcnemar_two_sided,
    ranks,
)


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


def _right(*ranges, n=100):
    """Correctness on ``n`` images: right on the half-open ``ranges``, wrong elsewhere."""
    c = np.zeros(n, bool)
    for a, b in ranges:
        c[a:b] = True
    return c


def _fixed_runs(widest):
    """Two searched seeds right on images 0-69 of 100; the narrowest right on 0-49 (20 lost by it, none gained),
    random 1 on 0-64 and 70-72 (5 and 3), random 2 on 0-59 (10 and 0), the widest on ``widest``."""
    rows = [("searched", (1,), _right((0, 70))), ("searched", (1,), _right((0, 70))), ("widest", (3,), widest),
            ("narrowest", (0,), _right((0, 50))), ("random 1", (2,), _right((0, 65), (70, 73))),
            ("random 2", (4,), _right((0, 60)))]
    return pd.DataFrame([{"role": r, "channels": ch, "seed": i, "correct": c} for i, (r, ch, c) in enumerate(rows)])


def test_claim_beats_baselines_numbers_by_hand():
    # one-sided exact McNemar per pair (P(X >= n10), X ~ Bin(n10 + n01, 1/2)), each pair twice (two searched seeds):
    # narrowest 2^-20, widest and random 2 2^-10, random 1 P(X >= 5 | 8) = 93/256. Holm over the 8 pairs, sorted:
    # 8 and 7 x 2^-20 -> 8 x 2^-20; 6, 5, 4, 3 x 2^-10 -> 6 x 2^-10; 2 and 1 x 93/256 -> 2 x 93/256
    random, widest, narrowest = L.claim_beats_baselines(_fixed_runs(_right((0, 60))))
    assert binom_upper(5, 8) == pytest.approx(93 / 256)
    assert [c.key for c in (random, widest, narrowest)] == ["beats_baselines.random", "beats_baselines.widest",
                                                            "beats_baselines.narrowest"]
    assert random.numbers == pytest.approx({"smallest_gain": 0.02, "pairs": 4, "max_p_holm": 2 * 93 / 256}, rel=1e-5)
    assert widest.numbers == pytest.approx({"smallest_gain": 0.10, "pairs": 2, "max_p_holm": 6 / 2**10}, rel=1e-5)
    assert narrowest.numbers == pytest.approx({"smallest_gain": 0.20, "pairs": 2, "max_p_holm": 8 / 2**20}, rel=1e-5)
    assert [c.holds for c in (random, widest, narrowest)] == [None, True, True]
    am = agresti_min(5, 3, 100)  # random 1, the smallest gain
    assert random.evidence == (f"smallest gain +2.00 points (95 % CI {100 * am['low']:+.2f} to {100 * am['high']:+.2f}) "
                               "over 4 pair(s); exact McNemar one-sided, Holm over 8 pairs: largest adjusted p = 0.727; "
                               "n = 100 test images; 2 seed(s) of the searched architecture, 1 per baseline (its seed "
                               "spread is not tested)")
    # the widest now right on 0-79: it beats the searched one by 10 images to 0; one-sided the other way,
    # P(X <= 0 | 10) = 2^-10 twice, Holm 8 x 2^-10 < 0.05: the claim does not hold
    _, widest, _ = L.claim_beats_baselines(_fixed_runs(_right((0, 80))))
    assert widest.holds is False and widest.numbers == pytest.approx({"smallest_gain": -0.10, "pairs": 2,
                                                                      "max_p_holm": 1.0})


def test_claim_ranking_both_ways():
    x = np.arange(8) / 10
    yes = L.claim_ranking(x, x + 0.05)
    assert yes.holds is True and yes.numbers["tau"] == 1.0
    assert yes.numbers["p"] == pytest.approx(1 / 40320)  # exact: one ordering of 8! is as concordant
    assert L.claim_ranking(x, -x).holds is False
    assert L.claim_ranking(x[:5], x[:5]).holds is None  # too few architectures: no claim
    noisy = L.claim_ranking(x, [0.3, 0.1, 0.4, 0.2, 0.0, 0.6, 0.5, 0.35])
    assert noisy.holds is None and noisy.numbers["rho_low"] < 0 < noisy.numbers["rho_high"]


def test_claim_ranking_numbers_by_hand():
    # scratch ranks 4, 2, 6, 3, 1, 8, 7, 5 against 1..8: 11 inversions, tau = (17 - 11) / 28, exact one-sided p =
    # share of the 8! orders with at most 11 inversions; rho = 1 - 6 * 48 / (8 * 63)
    x, y = np.arange(8) / 10, [0.3, 0.1, 0.4, 0.2, 0.0, 0.6, 0.5, 0.35]
    c = L.claim_ranking(x, y, n_boot=200, seed=3)
    assert inversions(ranks(y)) == 11
    # the bootstrap written as a loop: the same seeded resamples of the 8 pairs, scipy's rho on each non-constant one
    idx = np.random.default_rng(3).integers(0, 8, size=(200, 8))
    ya = np.asarray(y)
    boot = [stats.spearmanr(x[i], ya[i]).statistic for i in idx if np.ptp(x[i]) > 0 and np.ptp(ya[i]) > 0]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    assert c.key == "ranking" and c.holds is None
    assert c.numbers == pytest.approx({"tau": 6 / 28, "p": kendall_greater_p(8, 11), "rho": 3 / 7, "rho_low": lo,
                                       "rho_high": hi, "n": 8}, rel=1e-5)
    assert c.evidence == (f"Kendall tau = 0.21 (exact one-sided p = {kendall_greater_p(8, 11):.3f}), Spearman rho = 0.43 "
                          f"(bootstrap 95 % CI {lo:.2f} to {hi:.2f}, 200 resamples); n = 8 architectures")
    few = L.claim_ranking(x[:5], x[:5])
    assert few.numbers == {"n": 5} and few.evidence == "only 5 architectures (fewer than 8): no ranking claim"


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


def test_claim_resolution_numbers_by_hand():
    # of 100 validation images the best is right on 0-69, the runner-up on 0-59 and 70-74: 10 against 5 discordant
    best, second = _right((0, 70)), _right((0, 60), (70, 75))
    c = L.claim_resolution(_scores(best), _scores(second), span=0.05)
    am, se = agresti_min(10, 5, 100), math.sqrt(0.7 * 0.3 / 100)
    assert c.key == "resolution" and c.holds is False  # McNemar 2 * P(X <= 5 | 15) = 0.30
    assert c.numbers == pytest.approx({"diff": 0.05, "paired_se": am["se"], "se_candidate": se,
                                       "p": mcnemar_two_sided(10, 5), "span": 0.05, "n": 100}, rel=1e-5)
    assert c.evidence == (f"difference +5.00 points, paired SE {100 * am['se']:.2f}, exact McNemar p = 0.302; SE of one "
                          "candidate's accuracy 4.58 points, scores span 5.00 points; n = 100 validation images")
    far = L.claim_resolution(_scores(_right((0, 70), n=1000)), _scores(_right((0, 45), (70, 75), n=1000)), span=0.1)
    assert far.holds is True and far.numbers["p"] == pytest.approx(mcnemar_two_sided(25, 5), rel=1e-5)


def test_claim_int8_both_ways():
    rng = np.random.default_rng(2)
    f = rng.random(10000) < 0.6
    assert L.claim_int8(f, f).holds is True
    assert L.claim_int8(f, f & (rng.random(10000) < 0.8)).holds is False  # about 12 points lost
    few = f[:200].copy()
    few_q = few.copy()
    few_q[:6] = ~few_q[:6]
    assert L.claim_int8(few, few_q).holds is None  # 200 images cannot decide within 1 point


def test_claim_int8_numbers_by_hand():
    # float right on 0-5999 of 10,000; int8 loses 0-29 and gains 6000-6009: drop (30 - 10) / 10,000
    f = _right((0, 6000), n=10_000)
    q = _right((30, 6010), n=10_000)
    c = L.claim_int8(f, q)
    am = agresti_min(30, 10, 10_000)
    assert c.key == "int8" and c.holds is True
    assert c.numbers == pytest.approx({"drop": 0.002, "low": am["low"], "high": am["high"], "n": 10_000}, rel=1e-5)
    assert c.evidence == (f"drop +0.20 points (95 % CI {100 * am['low']:+.2f} to {100 * am['high']:+.2f}, paired over "
                          "n = 10,000 test images); tolerance 1 point(s)")
    back = L.claim_int8(q, f)  # the other way round: a gain of 0.2 points, the interval mirrored
    assert back.numbers["drop"] == pytest.approx(-0.002) and back.numbers["low"] == pytest.approx(-am["high"], rel=1e-5)


def test_report_checks_agree_for_chance_and_disagree_for_trained():
    untrained = _scores(np.arange(10000) % 10 == 0)  # 10 %
    trained = _scores(np.arange(10000) % 10 < 6)  # 60 %
    u, t = L.report_checks(untrained, trained)
    assert (u.verdict, t.verdict) == ("agrees", "disagrees")
    assert "10.00 %" in u.run_shows and "60.00 %" in t.run_shows
    (ul, uh), (tl, th) = clopper_pearson(1000, 10_000), clopper_pearson(6000, 10_000)
    assert (u.topic, t.topic) == ("VGG search accuracy (untrained candidate)", "VGG search accuracy (trained candidate)")
    assert u.report_said == "VGG channel search: the candidates scored about 11 % (untrained candidates)"
    assert u.run_shows == (f"the searched architecture, untrained, scores 10.00 % (95 % CI {100 * ul:.2f}-{100 * uh:.2f}) "
                           "on 10,000 test images")
    assert t.run_shows == (f"the searched architecture, trained from scratch, scores 60.00 % (95 % CI {100 * tl:.2f}-"
                           f"{100 * th:.2f}) on 10,000 test images")
    # within 3 points of the report's 11 %: 13.9 % agrees, 14.1 % does not
    near, far = (L.report_checks(_scores(np.arange(1000) < k), trained)[0].verdict for k in (139, 141))
    assert (near, far) == ("agrees", "disagrees")


def test_ranking_table_pairs_the_two_scores():
    archs = pd.DataFrame({"role": ["searched", "widest", "random 1"], "channels": [(1,), (2,), (1,)], "macs": [1, 2, 1]})
    runs = pd.DataFrame({"channels": [(1,), (1,), (2,)], "val_accuracy": [0.5, 0.7, 0.6]})
    t = L.ranking_table(archs, runs, [{"accuracy": 0.4}, {"accuracy": 0.45}, {"accuracy": 0.4}])
    assert t.role.tolist() == ["searched", "widest"] and t.scratch_val_accuracy.tolist() == [0.5, 0.6]
    assert t.supernet_val_accuracy.tolist() == [0.4, 0.45]
