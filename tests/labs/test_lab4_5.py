"""lab4_5's helpers: Pareto front (against a naive loop), the baselines picked, the final training's
data, and every claim on constructed inputs that give each of its verdicts (oracles: hand counts,
scipy's exact tests, a regression-residual partial correlation)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from lab_utils.analysis.pareto import pareto_mask
from lab_utils.data.splits import Splits
from lab_utils.errors import LabError
from lab_utils.labs import lab4_5 as L
from lab_utils.training import supernet as S
from lab_utils.training.train import Recipe
from tests.oracles import (
    agresti_min,
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
    # the search chose the widest: one more random architecture keeps 3 + n_random distinct ones
    w = L.pick_architectures(choices, (64,) * 6, 5, seed=0)
    assert len(w) == 9 and len(set(w.channels)) == 8 and w.role.tolist()[-1] == "random 6"


def test_compare_counts_and_exact_mcnemar():
    a = np.array([1, 1, 1, 1, 0, 0, 1, 0], bool)
    b = np.array([1, 0, 0, 0, 0, 1, 1, 0], bool)  # a right alone on 3 images, b alone on 1
    r = L.compare(a, b)
    assert r["diff"] == pytest.approx(2 / 8)
    assert r["p_greater"] == pytest.approx(stats.binom.sf(2, 4, 0.5))  # P(X >= 3), X ~ Bin(4, 1/2) = 5/16
    assert r["p_less"] == pytest.approx(stats.binom.cdf(3, 4, 0.5))


def _seed_runs(searched, widest, narrowest, randoms):
    """Per-seed test accuracies by role (lists), as train_architectures' rows (correct arrays unused here)."""
    rows = []
    for role, ch, accs in (("searched", (1,), searched), ("widest", (3,), widest), ("narrowest", (0,), narrowest),
                           *((f"random {i + 1}", (10 + i,), a) for i, a in enumerate(randoms))):
        rows += [{"role": role, "channels": ch, "seed": s, "test_accuracy": a} for s, a in enumerate(accs)]
    return pd.DataFrame(rows)


def test_seed_comparisons_pooled_variance_by_hand():
    # searched 0.70, 0.72 (var 2e-4); widest 0.66, 0.70 (var 8e-4); narrowest 0.50, 0.50 (0); random 0.60, 0.64
    # (8e-4): pooled s^2 = (2 + 8 + 0 + 8)e-4 / 4 = 4.5e-4, df 4; SE = sqrt(4.5e-4 * (1/2 + 1/2))
    runs = _seed_runs([0.70, 0.72], [0.66, 0.70], [0.50, 0.50], [[0.60, 0.64]])
    c = L.seed_comparisons(runs).set_index("baseline")
    se, t, t80 = math.sqrt(4.5e-4), stats.t.ppf(0.975, 4), stats.t.ppf(0.8, 4)
    assert c["diff"].to_dict() == pytest.approx({"widest": 0.03, "narrowest": 0.21, "random 1": 0.09})
    assert c.se.tolist() == pytest.approx([se] * 3) and (c.df == 4).all()
    assert c.pooled_sd.iloc[0] == pytest.approx(math.sqrt(4.5e-4))
    assert c.loc["widest", "low"] == pytest.approx(0.03 - t * se) and c.loc["widest", "high"] == pytest.approx(0.03 + t * se)
    assert c.loc["widest", "detectable"] == pytest.approx((t + t80) * se)
    one = L.seed_comparisons(_seed_runs([0.7], [0.6], [0.5], [[0.55]]))  # one seed each: no seed variance at all
    assert one["diff"].tolist() == pytest.approx([0.1, 0.2, 0.15]) and one["low"].isna().all()


def test_claim_beats_baselines_every_verdict():
    # searched clearly above the widest and narrowest, and above one random architecture but not the other
    r = L.claim_beats_baselines(_seed_runs([0.70, 0.72], [0.60, 0.61], [0.50, 0.51], [[0.60, 0.62], [0.69, 0.71]]))
    assert [c.key for c in r] == ["beats_baselines.random", "beats_baselines.widest", "beats_baselines.narrowest"]
    assert [c.verdict for c in r] == ["not shown", "holds", "holds"]
    assert r[0].numbers["above"] == 1 and r[0].numbers["below"] == 0 and "no multiplicity correction" in r[0].evidence
    # every random architecture beaten, each at the full level (no Holm): holds
    every = L.claim_beats_baselines(_seed_runs([0.70, 0.72], [0.60, 0.61], [0.50, 0.51], [[0.60, 0.62], [0.62, 0.63]]))
    assert every[0].verdict == "holds" and every[0].numbers["pairs"] == 2
    # one random architecture clearly better than the searched one: refuted; the widest too
    worse = L.claim_beats_baselines(_seed_runs([0.60, 0.61], [0.70, 0.72], [0.50, 0.51], [[0.55, 0.56], [0.70, 0.71]]))
    assert [c.verdict for c in worse] == ["refuted", "refuted", "holds"]
    # one seed each: no seed variance, nothing is shown
    assert [c.verdict for c in L.claim_beats_baselines(_seed_runs([0.7], [0.6], [0.5], [[0.55]]))] == ["not shown"] * 3
    same = _seed_runs([0.70, 0.72], [0.60, 0.61], [0.50, 0.51], [[0.60, 0.62]])
    same["channels"] = [(1,) if r == "widest" else c for r, c in zip(same.role, same.channels)]  # search chose the widest
    assert L.claim_beats_baselines(same)[1].verdict == "not applicable"
    # the widest's rows repeat the searched runs: counted once (2 seeds, df = 1 + 1 + 1), not twice
    c = L.seed_comparisons(same)
    assert c.baseline.tolist() == ["narrowest", "random 1"] and (c.n_searched == 2).all() and (c.df == 3).all()


def test_claim_beats_baselines_evidence_by_hand():
    runs = _seed_runs([0.70, 0.72], [0.66, 0.70], [0.50, 0.50], [[0.60, 0.64]])
    _, widest, _ = L.claim_beats_baselines(runs)
    se, t = math.sqrt(4.5e-4), stats.t.ppf(0.975, 4)
    assert widest.verdict == "not shown" and widest.numbers["interval"] == pytest.approx([0.03 - t * se, 0.03 + t * se])
    assert widest.evidence.startswith(f"gain +3.00 points (95 % CI {100 * (0.03 - t * se):+.2f} to "
                                      f"{100 * (0.03 + t * se):+.2f}; pooled seed SD 2.12 points, df = 4); 2 seed(s) of "
                                      "the searched architecture, 2 of the baseline; detectable with 80 % power: ")


def _right(*ranges, n=100):
    """Correctness on ``n`` images: right on the half-open ``ranges``, wrong elsewhere."""
    c = np.zeros(n, bool)
    for a, b in ranges:
        c[a:b] = True
    return c


def test_partial_rank_correlation_against_residuals():
    # oracle: Pearson correlation of the residuals of the ranks of x and y regressed on the ranks of z
    rng = np.random.default_rng(4)
    x, y, z = rng.random(12), rng.random(12), rng.random(12)
    rx, ry, rz = (stats.rankdata(v) for v in (x, y, z))
    res = [a - np.polyval(np.polyfit(rz, a, 1), rz) for a in (rx, ry)]
    assert L.partial_rank_correlation(x, y, z) == pytest.approx(np.corrcoef(*res)[0, 1])
    assert math.isnan(L.partial_rank_correlation(x, y, x))  # x ranked exactly as z: undefined


def test_claim_ranking_every_verdict():
    x = np.arange(8) / 10
    macs = np.arange(1, 9)
    trained = np.array([1, 3, 2, 5, 4, 7, 6, 8]) / 10  # follows MACs up to swapped neighbours
    sup, beyond = L.claim_ranking(trained + 0.01, trained, macs)  # the supernet ranks exactly as training
    assert (sup.key, beyond.key) == ("ranking.supernet", "ranking.beyond_macs")
    assert sup.verdict == "holds" and sup.numbers["tau"] == 1.0 and sup.numbers["p"] == pytest.approx(1 / 40320)
    assert beyond.verdict == "holds" and beyond.numbers["partial"] > 0.9  # it knows the swaps MACs cannot
    # the supernet ranks exactly as MACs: its tau holds, but nothing beyond MACs can be shown
    sup, beyond = L.claim_ranking(x, trained, macs)
    assert sup.verdict == "holds" and math.isnan(beyond.numbers["partial"]) and beyond.verdict == "not shown"
    # the supernet is high where training falls below what MACs predict: beyond MACs refuted
    rng = np.random.default_rng(0)
    m = np.arange(20.0)
    acc = m + rng.normal(0, 3, 20)
    anti = m - 2.0 * (acc - m) + rng.normal(0, 1, 20)
    assert L.claim_ranking(anti, acc, m)[1].verdict == "refuted"
    assert L.claim_ranking(x, -x, macs)[0].verdict == "refuted"  # the supernet ranks backwards
    few = L.claim_ranking(x[:5], x[:5], macs[:5])
    assert [c.verdict for c in few] == ["not shown", "not shown"] and few[0].evidence.startswith("only 5 architectures")
    assert L.claim_ranking(x, [0.3, 0.1, 0.4, 0.2, 0.0, 0.6, 0.5, 0.35], macs)[0].verdict == "not shown"


def test_claim_ranking_numbers_by_hand():
    # scratch ranks 4, 2, 6, 3, 1, 8, 7, 5 against 1..8: 11 inversions, tau = (17 - 11) / 28, exact one-sided p =
    # share of the 8! orders with at most 11 inversions; MACs ranked backwards: tau_macs = -tau (17 inversions)
    x, y = np.arange(8) / 10, [0.3, 0.1, 0.4, 0.2, 0.0, 0.6, 0.5, 0.35]
    macs = np.arange(8, 0, -1)
    sup, beyond = L.claim_ranking(x, y, macs)
    assert inversions(ranks(y)) == 11
    p_macs = kendall_greater_p(8, 17)
    assert sup.numbers == pytest.approx({"tau": 6 / 28, "p": kendall_greater_p(8, 11), "tau_macs": -6 / 28,
                                         "p_macs": p_macs, "n": 8}, rel=1e-5)
    assert sup.verdict == "not shown"
    assert sup.evidence == (f"Kendall tau = 0.21 (exact one-sided p = {kendall_greater_p(8, 11):.3f}); MACs alone: "
                            f"tau = -0.21 (p = {p_macs:.3f}); n = 8 architectures")
    assert math.isnan(beyond.numbers["partial"])  # the supernet is MACs reversed: no partial correlation
    z = np.array([1, 3, 2, 4, 6, 5, 8, 7])  # Fisher z: SE = 1 / sqrt(8 - 4) = 1/2
    pr = L.partial_rank_correlation(x, y, z)
    _, b = L.claim_ranking(x, y, z)
    assert b.numbers["interval"] == pytest.approx([math.tanh(math.atanh(pr) - 1.959964 / 2),
                                                   math.tanh(math.atanh(pr) + 1.959964 / 2)], rel=1e-5)
    assert b.numbers["partial"] == pytest.approx(pr, rel=1e-5)


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
    same = L.claim_resolution(_scores(base), _scores(base), span=0.0)
    assert same.holds is None and same.verdict == "not shown" and "could detect" in same.evidence


def test_claim_resolution_numbers_by_hand():
    # of 100 validation images the best is right on 0-69, the runner-up on 0-59 and 70-74: 10 against 5 discordant
    best, second = _right((0, 70)), _right((0, 60), (70, 75))
    c = L.claim_resolution(_scores(best), _scores(second), span=0.05)
    am, se = agresti_min(10, 5, 100), math.sqrt(0.7 * 0.3 / 100)
    assert c.key == "resolution" and c.verdict == "not shown"  # McNemar 2 * P(X <= 5 | 15) = 0.30: not refuted
    detect = (1.959964 + 0.841621) * am["se"]
    assert c.numbers == pytest.approx({"diff": 0.05, "paired_se": am["se"], "se_candidate": se,
                                       "p": mcnemar_two_sided(10, 5), "span": 0.05, "n": 100, "detectable": detect},
                                      rel=1e-5)
    assert c.evidence == (f"difference +5.00 points, paired SE {100 * am['se']:.2f}, exact McNemar p = 0.302; SE of one "
                          "candidate's accuracy 4.58 points, scores span 5.00 points; n = 100 validation images; not "
                          f"shown: the images could detect (80 % power) a difference of about {100 * detect:.1f} points")
    far = L.claim_resolution(_scores(_right((0, 70), n=1000)), _scores(_right((0, 45), (70, 75), n=1000)), span=0.1)
    assert far.holds is True and far.numbers["p"] == pytest.approx(mcnemar_two_sided(25, 5), rel=1e-5)


def test_claim_int8_both_ways():
    rng = np.random.default_rng(2)
    f = rng.random(10000) < 0.6
    assert L.claim_int8(f, f).holds is True
    assert L.claim_int8(f, f & (rng.random(10000) < 0.8)).verdict == "refuted"  # about 12 points lost
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
    assert c.numbers["interval"] == pytest.approx([am["low"], am["high"]], rel=1e-5)
    assert c.numbers["drop"] == pytest.approx(0.002) and c.numbers["n"] == 10_000
    assert c.evidence == (f"drop +0.20 points (95 % CI {100 * am['low']:+.2f} to {100 * am['high']:+.2f}, paired over "
                          "n = 10,000 test images); tolerance 1 point(s)")
    back = L.claim_int8(q, f)  # the other way round: a gain of 0.2 points, the interval mirrored
    assert back.numbers["drop"] == pytest.approx(-0.002) and back.numbers["interval"][0] == pytest.approx(-am["high"], rel=1e-5)


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


def test_claim_final_every_verdict():
    assert L.claim_final(np.arange(10_000) % 100 < 75).verdict == "holds"  # 75 % of 10,000
    assert L.claim_final(np.arange(10_000) % 100 < 65).verdict == "refuted"
    near = L.claim_final(np.arange(10_000) % 100 < 70)
    lo, hi = clopper_pearson(7000, 10_000)
    assert near.verdict == "not shown" and near.numbers["interval"] == pytest.approx([lo, hi])
    assert "one training seed" in near.evidence and near.numbers["accuracy"] == 0.7


def test_all_training_images_joins_train_and_val():
    x = torch.arange(20 * 3 * 4, dtype=torch.float32).reshape(20, 3, 2, 2)
    y = torch.arange(20) % 10
    sp = Splits(name="cifar10", version="t", synthetic=True, feature_names=(), class_names=tuple("abcdefghij"),
                x_train=x[:10], y_train=y[:10], x_val=x[10:15], y_val=y[10:15], x_test=x[15:], y_test=y[15:])
    a = L.all_training_images(sp, n_monitor=2)
    assert torch.equal(a.x_train, x[:15]) and torch.equal(a.y_train, y[:15])
    assert torch.equal(a.x_val, x[10:12]) and torch.equal(a.x_test, x[15:])
    with pytest.raises(LabError, match="keep='last'"):
        L.train_final((4,) * 6, sp, Recipe(epochs=1), fc=16)


def test_report_space_counts():
    t = L.report_space().set_index("space")
    assert t.candidates.tolist() == [84, 84]
    assert t.loc["lab report", "narrowest_macs"] == S.vgg_macs((64,) * 6, 1024)
    assert t.loc["this notebook", "widest_macs"] == S.vgg_macs((64,) * 6, 256)


def test_ranking_table_pairs_the_two_scores():
    archs = pd.DataFrame({"role": ["searched", "widest", "random 1"], "channels": [(1,), (2,), (1,)], "macs": [1, 2, 1]})
    runs = pd.DataFrame({"channels": [(1,), (1,), (2,)], "val_accuracy": [0.5, 0.7, 0.6]})
    t = L.ranking_table(archs, runs, [{"accuracy": 0.4}, {"accuracy": 0.45}, {"accuracy": 0.4}])
    assert t.role.tolist() == ["searched", "widest"]
    assert t.scratch_val_accuracy.tolist() == pytest.approx([0.6, 0.6])  # the mean over the seeds
    assert t.supernet_val_accuracy.tolist() == [0.4, 0.45]
