"""lab3_4 (the samplers' sample efficiency) against oracles: scipy's tests on the same numbers, exact random-order laws, and
constructed inputs that make every claim come out both ways (its tables: ``tests/search/test_tables.py``)."""

import math

import numpy as np
import pytest
from scipy import stats

from lab_utils.errors import LabError
from lab_utils.labs import lab3_4
from lab_utils.search import replay
from tests.helpers import BlobSplits, trained_on_blobs
from tests.oracles import clopper_pearson, fisher_greater, mann_whitney


def test_build_space_of_the_per_layer_config_and_its_evaluated_samples(blobs):
    model = trained_on_blobs("jsc-three-linear-layers", blobs)
    raw = lab3_4.three_layer_space_config(weight_widths=(2, 8), weight_fracs=(1, 4), data_in_widths=(4,),
                                                 nodes=("seq_blocks_2", "seq_blocks_6"))
    space, cfg = lab3_4.build_space(raw, model, BlobSplits(blobs), metrics=("accuracy",))
    assert space.by == "name" and cfg.model == "jsc-three-linear-layers"
    assert sorted({k.split("/")[0] for k in space.variable()}) == ["seq_blocks_2", "seq_blocks_6"]
    assert lab3_4.evaluated_samples(space) == blobs.split("val")[0].shape[0] == 1000
    raw["search"]["strategy"]["sw_runner"]["basic_evaluation"]["num_samples"] = 300
    assert lab3_4.evaluated_samples(lab3_4.build_space(raw, model, BlobSplits(blobs))[0]) == 300


def test_target_epsilon_is_never_finer_than_the_evaluation():
    e = lab3_4.target_epsilon(0.5, 73.0, 66_400)
    assert e["jet"] == pytest.approx(100 / 66_400)
    assert e["se"] == pytest.approx(100 * math.sqrt(0.73 * 0.27 / 66_400))
    assert e["eps"] == 0.5 and e["target"] == pytest.approx(72.5)  # the requested tolerance is coarser
    small = lab3_4.target_epsilon(0.01, 50.0, 1000)  # 1,000 samples: SE 1.58 points
    assert small["eps"] == pytest.approx(100 * math.sqrt(0.25 / 1000)) and small["eps"] > small["jet"]
    assert lab3_4.target_epsilon(0.0, 100.0, 10)["eps"] == pytest.approx(10.0)  # SE 0: one jet
    with pytest.raises(LabError, match="n_eval"):
        lab3_4.target_epsilon(0.5, 70.0, 0)


def test_claim_fewer_trials_both_ways_and_against_scipy():
    fast, slow = np.arange(1, 41, dtype=float), np.arange(20, 60, dtype=float)
    c = lab3_4.claim_fewer_trials("k", "s", fast, slow, budget=50)
    assert c.holds is True and "n = 40 + 40" in c.evidence and "reached 40/40 vs 31/40" in c.evidence
    # the never-reached runs (>= 51 -> 51) enter as budget + 1; the p is scipy's on those values
    p = stats.mannwhitneyu(fast, slow, alternative="less", method="asymptotic").pvalue
    assert c.numbers["p"] == pytest.approx(p)
    assert lab3_4.claim_fewer_trials("k", "s", slow, fast, budget=50).holds is False
    same = lab3_4.claim_fewer_trials("k", "s", fast, fast.copy(), budget=50)
    assert same.holds is False and same.numbers["p"] > 0.4


def test_claim_fewer_trials_evidence_numbers_by_hand():
    # 1..40 against 21..60: U counts the pairs where the first is larger, ties a half: sum over x = 22..40 of
    # x - 21 (190) plus 20 ties (10) = 200; the p is the normal approximation written out (tests/oracles.py)
    fast, slow = np.arange(1, 41, dtype=float), np.arange(21, 61, dtype=float)
    c = lab3_4.claim_fewer_trials("tpe_fewer.space", "s", fast, slow, budget=50)
    u, p = mann_whitney(list(fast), list(slow), "less")
    assert u == 200 and c.key == "tpe_fewer.space"
    assert c.numbers == pytest.approx({"p": p, "u": 200.0, "median_a": 20.5, "median_b": 40.5, "n_a": 40, "n_b": 40})
    assert c.evidence == ("median 20.5 vs 40.5 trials (never reached counted as 51); reached 40/40 vs 30/40; "
                          "Mann–Whitney U = 200, one-sided p < 0.001, n = 40 + 40")
    # the other way round, unequal sizes: 21..60 against 1..30 gives 20 * 40 + (39 + ... + 30) + 10 / 2 = 1150
    back = lab3_4.claim_fewer_trials("k", "s", slow, fast[:30], budget=50)
    u, p = mann_whitney(list(slow), list(fast[:30]), "less")
    assert (back.numbers["u"], back.numbers["n_a"], back.numbers["n_b"]) == (u, 40, 30) and u == 1150
    assert back.numbers["p"] == pytest.approx(p) and back.holds is False


def test_claim_reaches_more_often_both_ways():
    a = np.r_[np.full(45, 10.0), np.full(5, 151.0)]
    b = np.r_[np.full(20, 10.0), np.full(30, 151.0)]
    c = lab3_4.claim_reaches_more_often("k", "s", a, b, budget=150)
    assert c.holds is True and c.numbers["reached_a"] == 45 and c.numbers["reached_b"] == 20
    # Fisher one-sided: P(at least 45 of the 65 runs that reached are a's), hypergeometric terms summed by hand
    assert c.numbers["p"] == pytest.approx(fisher_greater(45, 50, 20, 50), rel=1e-9)
    assert c.numbers["n_a"] == c.numbers["n_b"] == 50
    (la, ha), (lb, hb) = clopper_pearson(45, 50), clopper_pearson(20, 50)
    assert c.evidence == (f"45/50 = 90.0 % [{100 * la:.1f}, {100 * ha:.1f}] vs 20/50 = 40.0 % [{100 * lb:.1f}, "
                          f"{100 * hb:.1f}] (95 % Clopper–Pearson); Fisher exact, one-sided p < 0.001")
    back = lab3_4.claim_reaches_more_often("k", "s", b, a[:40], budget=150)
    assert back.holds is False and (back.numbers["reached_a"], back.numbers["reached_b"]) == (20, 40)
    assert back.numbers["p"] == pytest.approx(fisher_greater(20, 50, 40, 40))


def test_claim_random_order_law_on_real_replays_and_on_a_biased_order():
    rng = np.random.default_rng(2)
    table = replay.ReplayTable({"a": tuple(range(8)), "b": tuple(range(6))}, rng.normal(size=48).round(1))
    study = replay.sampler_study(table, ("brute-force",), seeds=range(120))
    target = np.sort(table.values)[-4]
    m = replay.good_count(table, target)
    t = lab3_4.trials_by_sampler(study, target)["brute-force"]
    c = lab3_4.claim_random_order_law("k", "s", t, table.n, m, table.n)
    assert c.holds is True and c.numbers["bins"] >= 3
    biased = np.minimum(t, 2.0)  # an order that always finds a good one by the second trial
    assert lab3_4.claim_random_order_law("k", "s", biased, table.n, m, table.n).holds is False
    assert lab3_4.claim_random_order_law("k", "s", t[:3], table.n, m, table.n).holds is None  # one bin: no test


def test_claim_random_order_law_chi_square_by_hand():
    # 2 good of 4 in a random order: P(T = 1) = 1/2, P(T = 2) = 1/2 - C(2,2)/C(4,2) = 1/3, P(T = 3) = 1/6; of 60 runs
    # 30, 20 and 10 expected, each at least 5: three bins. Observed 33, 18, 9: chi-square 9/30 + 4/20 + 1/10 = 0.6
    # on 2 dof, whose survival function is exp(-x / 2)
    t = np.r_[np.ones(33), np.full(18, 2.0), np.full(9, 3.0)]
    c = lab3_4.claim_random_order_law("random_order.space", "s", t, n=4, m=2, budget=3)
    assert c.key == "random_order.space" and c.holds is True
    assert c.numbers == pytest.approx({"statistic": 0.6, "dof": 2, "p": math.exp(-0.3), "bins": 3, "n": 60})
    assert c.evidence == ("2 of 4 configurations reach the target; chi-square = 0.6, dof = 2, p = 0.741, n = 60 runs "
                          "(null: a uniformly random order)")
    # budget 2: the third bin is "never within the budget" (T = budget + 1), with the same 1/6
    assert lab3_4.claim_random_order_law("k", "s", t, n=4, m=2, budget=2).numbers == c.numbers
    # 54, 6, 0: 576/30 + 196/20 + 100/10 = 39
    biased = lab3_4.claim_random_order_law("k", "s", np.r_[np.ones(54), np.full(6, 2.0)], n=4, m=2, budget=3)
    assert biased.holds is False
    assert (biased.numbers["statistic"], biased.numbers["p"]) == pytest.approx((39.0, math.exp(-19.5)))


def _study_with(first_a, first_b, n_seeds=60):
    table = replay.ReplayTable({"x": tuple(range(10))}, np.arange(10, dtype=float))
    st = replay.SamplerStudy(table, 5, list(range(n_seeds)), 10)
    st.values["tpe"] = np.column_stack([first_a] + [np.zeros(n_seeds)] * 4)
    st.values["brute-force"] = np.column_stack([first_b] + [np.zeros(n_seeds)] * 4)
    return st


def test_check_first_trials_both_ways():
    rng = np.random.default_rng(0)
    better = _study_with(rng.uniform(5, 9, 60), rng.uniform(0, 4, 60))
    chk = lab3_4.check_first_trials(better)
    assert chk.verdict == "agrees" and "k=1" in chk.run_shows and "k=5" in chk.run_shows
    same = _study_with(rng.uniform(0, 9, 60), rng.uniform(0, 9, 60))
    assert lab3_4.check_first_trials(same).verdict == "disagrees"
    worse = _study_with(rng.uniform(0, 4, 60), rng.uniform(5, 9, 60))
    assert lab3_4.check_first_trials(worse).verdict == "disagrees"  # significant, but the other way


def test_check_first_trials_bonferroni_by_hand():
    # the best of the first k trials is the first trial's value for every k (the later ones are 0): 0..59 shifted
    # by 8 or 10 against 0..59; two-sided p written out, times 5 for the five k
    y = np.arange(60, dtype=float)
    shown = []
    for shift in (8, 10):
        _, p = mann_whitney(list(y + shift), list(y), "two-sided")
        chk = lab3_4.check_first_trials(_study_with(y + shift, y))
        rows = "; ".join(f"k={k}: {29.5 + shift:.2f} vs 29.50" for k in range(1, 6))
        assert chk.run_shows == (f"median best accuracy of the first k trials, tpe vs brute-force (60 seeds each): "
                                 f"{rows}; smallest Bonferroni-adjusted Mann–Whitney p = {5 * p:.3f}")
        shown.append((round(p, 4), chk.verdict))
    # shift 8: p about 0.019 alone, 0.094 over the five k; shift 10: about 0.004 and 0.020
    assert shown[0][0] < 0.05 < 5 * shown[0][0] and 5 * shown[1][0] < 0.05
    assert [v for _, v in shown] == ["disagrees", "agrees"]


def test_sampler_tables_ecdf_and_curves():
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    table = replay.ReplayTable({"x": [0, 1, 2], "y": [0, 1]}, values, "maximize", "acc")
    study = replay.sampler_study(table, ("brute-force", "random"), seeds=range(3), n_startup_trials=2)
    reach = replay.reach_table(study, 5.0)
    eps = {"t": {"eps": 1.0}}
    nums = lab3_4.sampler_numbers({"t": reach}, eps)
    assert nums["t: configurations within the target"] == 2 and nums["t: brute-force reach rate"] == 1.0
    assert nums["t: random order (exact) median trials"] == 2  # P(T <= 2) = 1 - C(4,2)/C(6,2) = 0.6
    shown = lab3_4.reach_columns(reach)
    assert shown.set_index("sampler").loc["brute-force", "reached %"] == 100.0
    assert shown["runs"].tolist()[1:] == [3, 3] and str(shown["runs"].dtype) == "Int64"
    data = lab3_4.ecdf_data({"t": (study, 5.0)})["t"]
    assert data["good"] == 2 and data["budget"] == 6
    assert np.array_equal(data["trials"]["brute-force"], replay.censored_trials(study.best("brute-force"), 5.0))
    assert data["exact_cdf"][0] == 0.0 and data["exact_cdf"][-1] == pytest.approx(1.0)
    curves = lab3_4.best_so_far_curves({"t": study})["t"]
    assert curves["trials"].tolist() == [1, 2, 3, 4, 5, 6] and curves["optimum"] == 6.0 and curves["n_seeds"] == 3
    mean, lo, hi = curves["samplers"]["brute-force"]
    assert mean[-1] == 6.0 and (lo <= mean).all() and (mean <= hi).all()
