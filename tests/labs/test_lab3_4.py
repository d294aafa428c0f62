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


def test_claim_fewer_trials_takes_every_verdict_and_agrees_with_scipy():
    fast, slow = np.arange(1, 41, dtype=float), np.arange(20, 60, dtype=float)
    c = lab3_4.claim_fewer_trials("fewer_trials.a", "s", fast, slow, budget=50)
    assert c.verdict == "holds" and "n = 40 + 40" in c.evidence and "reached 40/40 vs 31/40" in c.evidence
    # the never-reached runs (>= 51 -> 51) enter as budget + 1; the p is scipy's on those values
    p = stats.mannwhitneyu(fast, slow, alternative="less", method="asymptotic").pvalue
    assert c.numbers["p"] == pytest.approx(p) and "detectable_p_sooner" not in c.numbers
    # significantly later (two-sided): refuted
    back = lab3_4.claim_fewer_trials("fewer_trials.b", "s", slow, fast, budget=50)
    assert back.verdict == "refuted" and back.numbers["p_two_sided"] < 0.05 and back.numbers["p_sooner"] < 0.5
    # the same distribution: p about 0.5, neither way: not shown (never refuted), with the detectable effect
    same = lab3_4.claim_fewer_trials("fewer_trials.c", "s", fast, fast.copy(), budget=50)
    assert same.verdict == "not shown" and same.numbers["p"] > 0.4 and same.numbers["p_sooner"] == 0.5
    # slower but not significantly (two-sided p >= 0.05): still not shown, not refuted
    bit_slower = lab3_4.claim_fewer_trials("fewer_trials.d", "s", fast + 3, fast, budget=50)
    assert bit_slower.numbers["p_sooner"] < 0.5 and bit_slower.numbers["p_two_sided"] >= 0.05
    assert bit_slower.verdict == "not shown"


def test_claim_fewer_trials_evidence_numbers_by_hand():
    # 1..40 against 21..60: U counts the pairs where the first is larger, ties a half: sum over x = 22..40 of
    # x - 21 (190) plus 20 ties (10) = 200; the p is the normal approximation written out (tests/oracles.py)
    fast, slow = np.arange(1, 41, dtype=float), np.arange(21, 61, dtype=float)
    c = lab3_4.claim_fewer_trials("fewer_trials.space", "s", fast, slow, budget=50)
    u, p = mann_whitney(list(fast), list(slow), "less")
    _, p2 = mann_whitney(list(fast), list(slow), "two-sided")
    assert u == 200 and c.key == "fewer_trials.space" and c.verdict == "holds"
    # P(fast sooner) = 1 - U / (40 * 40) = 0.875
    assert c.numbers == pytest.approx({"p": p, "p_two_sided": p2, "u": 200.0, "p_sooner": 0.875, "median_a": 20.5,
                                       "median_b": 40.5, "n_a": 40, "n_b": 40})
    assert c.evidence == ("median 20.5 vs 40.5 trials (never reached counted as 51); reached 40/40 vs 30/40; "
                          "P(tpe sooner) = 0.88; Mann–Whitney U = 200, one-sided p < 0.001 (two-sided p < 0.001), "
                          "n = 40 + 40")
    # the other way round, unequal sizes: 21..60 against 1..30 gives 20 * 40 + (39 + ... + 30) + 10 / 2 = 1150
    back = lab3_4.claim_fewer_trials("fewer_trials.space", "s", slow, fast[:30], budget=50)
    u, p = mann_whitney(list(slow), list(fast[:30]), "less")
    assert (back.numbers["u"], back.numbers["n_a"], back.numbers["n_b"]) == (u, 40, 30) and u == 1150
    assert back.numbers["p"] == pytest.approx(p) and back.verdict == "refuted"


def test_claim_fewer_trials_not_shown_says_what_it_could_detect_and_when_the_start_up_decides():
    # 40 + 40 runs: the null sd of P(sooner) is sqrt(81 / (12 * 40 * 40)) = 0.0650; one-sided 5 % and 80 % power
    # need (1.6449 + 0.8416) sd = 0.1615 above one half
    x = np.arange(1, 41, dtype=float)
    c = lab3_4.claim_fewer_trials("fewer_trials.space", "s", x, x.copy(), budget=50)
    assert c.numbers["detectable_p_sooner"] == pytest.approx(0.5 + 2.4865 * math.sqrt(81 / 19200), abs=1e-3)
    assert c.evidence.endswith("not shown at α = 0.05: with these runs the test detects (80 % power) "
                               "P(tpe sooner) of about 0.66 or more")
    # 20 good of 144, 10 start-up draws: 1 - (124/144)^10 = 0.776; 30 of the 40 runs end by trial 10
    start = lab3_4.startup_reach(np.r_[np.arange(1, 11), np.arange(1, 11), np.arange(1, 11), np.arange(11, 21)],
                                 n_startup=10, n=144, m=20)
    assert start == pytest.approx({"runs": 40, "reached": 30, "share": 0.75, "exact": 1 - (124 / 144) ** 10,
                                   "n_startup": 10})
    null = lab3_4.claim_fewer_trials("fewer_trials.space", "s", x, x.copy(), budget=50, startup=start)
    assert null.numbers["null_by_design"] is True and null.numbers["startup_share"] == 0.75
    assert null.evidence.endswith("30 of 40 tpe runs (75 %) reach the target inside the 10 random start-up trials "
                                  "(random draws: 78 %), before TPE models anything: on this target the comparison "
                                  "is null by design")
    # one good configuration of 144: 1 - (143/144)^10 = 6.7 %; 2 of 40 runs inside the start-up: not null
    rare = lab3_4.startup_reach(np.r_[[3, 8], np.arange(11, 49)], n_startup=10, n=144, m=1)
    assert rare["exact"] == pytest.approx(1 - (143 / 144) ** 10) and rare["reached"] == 2
    c = lab3_4.claim_fewer_trials("fewer_trials.space", "s", x, x + 30, budget=80, startup=rare)
    assert c.verdict == "holds" and c.numbers["null_by_design"] is False and "null by design" not in c.evidence
    assert "2 of 40 tpe runs (5 %) reach the target inside the 10 random start-up trials (random draws: 7 %)" in c.evidence


def test_exact_target_counts_ties_at_the_optimum():
    table = replay.ReplayTable({"x": tuple(range(6))}, np.array([1.0, 3.0, 2.0, 3.0, 0.5, 2.9]))
    assert lab3_4.exact_target(table) == {"eps": 0.0, "target": 3.0, "good": 2}
    low = replay.ReplayTable({"x": tuple(range(3))}, np.array([1.0, 0.2, 0.7]), "minimize")
    assert lab3_4.exact_target(low) == {"eps": 0.0, "target": 0.2, "good": 1}


def test_claim_reaches_more_often_takes_every_verdict():
    a = np.r_[np.full(45, 10.0), np.full(5, 151.0)]
    b = np.r_[np.full(20, 10.0), np.full(30, 151.0)]
    c = lab3_4.claim_reaches_more_often("reaches_more_often.a", "s", a, b, budget=150)
    assert c.verdict == "holds" and c.numbers["reached_a"] == 45 and c.numbers["reached_b"] == 20
    # Fisher one-sided: P(at least 45 of the 65 runs that reached are a's), hypergeometric terms summed by hand
    assert c.numbers["p"] == pytest.approx(fisher_greater(45, 50, 20, 50), rel=1e-9)
    assert c.numbers["n_a"] == c.numbers["n_b"] == 50
    (la, ha), (lb, hb) = clopper_pearson(45, 50), clopper_pearson(20, 50)
    assert c.evidence == (f"45/50 = 90.0 % [{100 * la:.1f}, {100 * ha:.1f}] vs 20/50 = 40.0 % [{100 * lb:.1f}, "
                          f"{100 * hb:.1f}] (95 % Clopper–Pearson); Fisher exact, one-sided p < 0.001 "
                          f"(two-sided p < 0.001)")
    # significantly fewer (two-sided): refuted
    back = lab3_4.claim_reaches_more_often("reaches_more_often.b", "s", b, a[:40], budget=150)
    assert back.verdict == "refuted" and (back.numbers["reached_a"], back.numbers["reached_b"]) == (20, 40)
    assert back.numbers["p"] == pytest.approx(fisher_greater(20, 50, 40, 40))
    # 22 of 50 against 20 of 50: neither way; pooled rate 0.42, the detectable difference
    # (1.6449 + 0.8416) * sqrt(0.42 * 0.58 * 2 / 50) = 24.5 points
    close = lab3_4.claim_reaches_more_often("reaches_more_often.c", "s", np.r_[np.full(22, 10.0), np.full(28, 151.0)],
                                            b, budget=150)
    assert close.verdict == "not shown"
    assert close.numbers["detectable_points"] == pytest.approx(100 * 2.4865 * math.sqrt(0.42 * 0.58 * 0.04), abs=0.01)
    assert close.evidence.endswith("not shown at α = 0.05: the run detects (80 % power) a difference of about 25 points "
                                   "or more")
    # fewer, but not significantly: not shown (a p >= alpha is never a refutation)
    fewer = lab3_4.claim_reaches_more_often("reaches_more_often.d", "s", b, np.r_[np.full(24, 10.0), np.full(26, 151.0)],
                                            budget=150)
    assert fewer.verdict == "not shown" and fewer.numbers["p_two_sided"] >= 0.05


def test_check_random_order_law_on_real_replays_and_on_a_biased_order():
    rng = np.random.default_rng(2)
    table = replay.ReplayTable({"a": tuple(range(8)), "b": tuple(range(6))}, rng.normal(size=48).round(1))
    study = replay.sampler_study(table, ("brute-force",), seeds=range(120))
    target = np.sort(table.values)[-4]
    m = replay.good_count(table, target)
    t = lab3_4.trials_by_sampler(study, target)["brute-force"]
    c = lab3_4.check_random_order_law("random_order_law.a", "s", t, table.n, m, table.n)
    assert c.kind == "check" and c.verdict == "check passed" and c.numbers["bins"] >= 3 and c.numbers["in_range"]
    biased = np.minimum(t, 2.0)  # an order that always finds a good one by the second trial
    assert lab3_4.check_random_order_law("random_order_law.a", "s", biased, table.n, m, table.n).verdict == "check failed"
    # three runs: one bin, no chi-square; the whole space is the budget, so every run reaches the target (P = 1)
    few = lab3_4.check_random_order_law("random_order_law.a", "s", t[:3], table.n, m, table.n)
    assert few.verdict == "check passed" and "3 runs, one bin" in few.evidence and few.numbers["p_reach"] == 1.0
    # a run later than n - m + 1 cannot happen without repeats: the range part fails even with no test
    late = lab3_4.check_random_order_law("random_order_law.a", "s", np.r_[t[:2], table.n - m + 2], table.n, m, table.n)
    assert late.verdict == "check failed" and late.numbers["in_range"] is False


def test_check_random_order_law_chi_square_by_hand():
    # 2 good of 4 in a random order: P(T = 1) = 1/2, P(T = 2) = 1/2 - C(2,2)/C(4,2) = 1/3, P(T = 3) = 1/6; of 60 runs
    # 30, 20 and 10 expected, each at least 5: three bins. Observed 33, 18, 9: chi-square 9/30 + 4/20 + 1/10 = 0.6
    # on 2 dof, whose survival function is exp(-x / 2)
    t = np.r_[np.ones(33), np.full(18, 2.0), np.full(9, 3.0)]
    c = lab3_4.check_random_order_law("random_order.space", "s", t, n=4, m=2, budget=3)
    assert c.key == "random_order.space" and c.verdict == "check passed"
    assert c.numbers == pytest.approx({"statistic": 0.6, "dof": 2, "p": math.exp(-0.3), "bins": 3, "n": 60,
                                       "in_range": True})
    assert c.evidence == ("2 of 4 configurations reach the target; every run within 1..3 trials: yes; chi-square = 0.6, "
                          "dof = 2, p = 0.741, n = 60 runs (null: a uniformly random order; rejected at α = 0.001 by "
                          "chance in 0.1 % of correct replays)")
    # budget 2: the third bin is "never within the budget" (T = budget + 1), with the same 1/6
    two = lab3_4.check_random_order_law("k", "s", t, n=4, m=2, budget=2)
    assert two.numbers == c.numbers and "within 1..2 trials or never within the budget: yes" in two.evidence
    # one bin (a budget far below the space): the reach count against P(T <= budget) = 1 - C(N - m, B)/C(N, B), exact
    # binomial: 3 good of 1,000, budget 20: P = 1 - (997 * ... * 978)/(1000 * ... * 981) = 0.0588; 20 runs
    p0 = 1 - math.prod((997 - i) / (1000 - i) for i in range(20))
    for k, verdict in ((1, "check passed"), (8, "check failed")):
        runs = np.r_[np.full(k, 7.0), np.full(20 - k, 21.0)]
        c = lab3_4.check_random_order_law("k", "s", runs, n=1000, m=3, budget=20)
        assert c.numbers["bins"] == 1 and c.numbers["p_reach"] == pytest.approx(p0, rel=1e-5)
        assert c.numbers["p_binomial"] == pytest.approx(stats.binomtest(k, 20, p0).pvalue) and c.verdict == verdict
        assert f"{k} reached within 20 trials, {20 * p0:.1f} expected (P = {p0:.3f}), exact binomial test" in c.evidence
    # 54, 6, 0: 576/30 + 196/20 + 100/10 = 39
    biased = lab3_4.check_random_order_law("k", "s", np.r_[np.ones(54), np.full(6, 2.0)], n=4, m=2, budget=3)
    assert biased.verdict == "check failed"
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
