"""lab_utils.analysis.stats against independent oracles: printed quantile tables, closed forms, sums of
binomial terms counted by hand, a textbook table, exact permutation counts and scipy's own procedures
where the module only adapts their input."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from lab_utils.analysis import stats

T975 = {2: 4.302653, 9: 2.262157}  # Student-t 97.5 % quantiles by degrees of freedom (printed tables)
Z975 = 1.959964


def test_t_quantile_matches_the_printed_table_and_is_nan_below_two():
    assert math.isclose(stats.t_quantile(3), T975[2], rel_tol=1e-6)
    q = stats.t_quantile([1, 3, 10])
    assert math.isnan(q[0]) and np.allclose(q[1:], [T975[2], T975[9]], rtol=1e-6)


def test_mean_ci_hand_computed():
    # values 1, 2, 3: mean 2, sd 1, half-width t(0.975, 2) / sqrt(3)
    m, lo, hi = stats.mean_ci([1, 2, 3])
    assert m == 2 and math.isclose(hi - 2, T975[2] / math.sqrt(3), rel_tol=1e-6) and math.isclose(lo, 4 - hi)
    assert math.isnan(stats.mean_ci([5])[1]) and math.isnan(stats.mean_ci([])[0])


def test_t_band_per_column_and_one_run_is_the_curve():
    curves = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0]])
    mean, lo, hi = stats.t_band(curves)
    assert np.allclose(mean, [2, 10]) and np.allclose(hi - mean, [T975[2] / math.sqrt(3), 0.0], rtol=1e-6)
    assert np.allclose(lo, 2 * mean - hi)
    one = stats.t_band(np.array([[4.0, 5.0]]))
    assert all(np.array_equal(x, [4.0, 5.0]) for x in one)


def test_t_half_widths_zero_below_two_values():
    half = stats.t_half_widths([5.0, 1.0, np.nan], [1, 3, 1])
    assert np.allclose(half, [0.0, T975[2] / math.sqrt(3), 0.0], rtol=1e-6)


def test_normal_mean_ci_hand_computed():
    d = stats.normal_mean_ci([0, 0, 1, 1])  # mean 0.5, sd sqrt(1/3), se sqrt(1/3)/2
    se = math.sqrt(1 / 3) / 2
    assert d["diff"] == 0.5 and d["n"] == 4 and math.isclose(d["se"], se)
    assert math.isclose(d["high"] - 0.5, Z975 * se, rel_tol=1e-6) and math.isclose(d["low"], 1 - d["high"])
    wide = stats.normal_mean_ci([0, 0, 1, 1], level=1 - 0.05 / 4)  # Bonferroni over 4: z(1 - 0.025/4) = 2.497705
    assert math.isclose(wide["high"] - 0.5, 2.497705 * se, rel_tol=1e-6)


def test_diff_ci_contains_difference_and_separates():
    d = stats.diff_ci([10, 11, 12, 13], [0, 1, 2, 3])
    assert d["diff"] == 10 and d["low"] > 0 and d["p"] < 0.001 and (d["n_a"], d["n_b"]) == (4, 4)
    same = stats.diff_ci([1, 2, 3, 4], [1, 2, 3, 4])
    assert same["diff"] == 0 and same["low"] < 0 < same["high"] and same["p"] == 1.0
    assert math.isnan(stats.diff_ci([1], [1, 2])["low"])


def test_proportion_ci_clopper_pearson_closed_forms():
    share, lo, hi = stats.proportion_ci(0, 10)
    assert share == 0 and lo == 0 and math.isclose(hi, 1 - 0.025 ** (1 / 10), rel_tol=1e-9)
    share, lo, hi = stats.proportion_ci(10, 10)
    assert share == 1 and hi == 1 and math.isclose(lo, 0.025 ** (1 / 10), rel_tol=1e-9)
    assert math.isnan(stats.proportion_ci(0, 0)[0])


def test_discordant_counts_first_argument_first():
    first = [True, True, True, False, False, True]
    second = [True, False, False, True, False, True]
    assert stats.discordant(first, second) == (2, 1)
    assert stats.discordant(second, first) == (1, 2)
    with pytest.raises(ValueError):
        stats.discordant([True], [True, False])


def test_paired_binary_exact_mcnemar_from_binomial_sums():
    # 6 discordant items for the first, 2 for the second, of 8 discordant: P(X = k) = C(8, k) / 256
    two = stats.paired_binary(6, 2, 100)
    assert math.isclose(two["p"], 2 * (1 + 8 + 28) / 256)
    assert math.isclose(stats.paired_binary(6, 2, 100, alternative="greater")["p"], (28 + 8 + 1) / 256)
    assert math.isclose(stats.paired_binary(6, 2, 100, alternative="less")["p"], 1 - (8 + 1) / 256)
    assert two["diff"] == 0.04 and (two["n10"], two["n01"], two["n"]) == (6, 2, 100)
    assert stats.paired_binary(0, 0, 10)["p"] == 1.0


def test_paired_binary_agresti_min_on_agresti_s_approval_table():
    # Agresti, Categorical Data Analysis (2002), Table 10.1: approval of the prime minister in two surveys of
    # the same 1,600 people: 794 approve/approve, 150 approve/disapprove, 86 disapprove/approve, 570 both no.
    # The difference of the marginal approval rates is 0.04 with the 95 % interval (0.021, 0.059) quoted there;
    # with n = 1,600 Agresti-Min's adjustment (1/2 per cell) moves it by less than 0.001.
    d = stats.paired_binary(150, 86, 1600)
    assert math.isclose(d["diff"], 0.04)
    assert abs(d["low"] - 0.021) < 1e-3 and abs(d["high"] - 0.059) < 1e-3
    # the formula of Agresti and Min (2005) written out: cells + 1/2, n + 2
    p10, p01 = 150.5 / 1602, 86.5 / 1602
    se = math.sqrt((p10 + p01 - (p10 - p01) ** 2) / 1602)
    assert math.isclose(d["se"], se) and math.isclose(d["high"], p10 - p01 + Z975 * se, rel_tol=1e-6)


def test_paired_binary_never_zero_width_and_mirrors_when_swapped():
    nothing = stats.paired_binary(0, 0, 10)
    assert nothing["low"] < 0 < nothing["high"] and nothing["high"] - nothing["low"] > 0.25
    a, b = stats.paired_binary(7, 3, 50), stats.paired_binary(3, 7, 50)
    assert math.isclose(a["diff"], -b["diff"]) and math.isclose(a["low"], -b["high"]) and a["p"] == b["p"]
    assert a["alternative"] == "two-sided"
    for bad in ((5, 6, 10), (-1, 0, 10), (0, 0, 0)):
        with pytest.raises(ValueError):
            stats.paired_binary(*bad)
    with pytest.raises(ValueError):
        stats.paired_binary(1, 1, 10, alternative="both")


def test_paired_binary_covers_the_true_difference():
    # 2,000 simulated paired samples of 60 items with P(10) = 0.15, P(01) = 0.05: the 95 % interval should cover
    # the true difference 0.10 in about 95 % of them (Agresti-Min's coverage is close to nominal at this n).
    rng = np.random.default_rng(7)
    cells = rng.multinomial(60, [0.15, 0.05, 0.8], size=2000)
    cover = np.mean([(lambda d: d["low"] <= 0.10 <= d["high"])(stats.paired_binary(c[0], c[1], 60)) for c in cells])
    assert 0.93 <= cover <= 0.975


def test_holm_hand_computed():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01, 2 x 0.03, 1 x 0.04, made monotone: 0.03, 0.06, 0.06
    assert np.allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert np.allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])


def test_permutation_p_exact_count_for_two_separated_groups():
    # groups {0,0,0} and {1,1,1}: of the C(6,3) = 20 labelings, 2 give the observed between-group sum of squares
    # (either complete separation), so the exact p is 0.1; 9,999 seeded permutations estimate it within 0.01
    stat, p = stats.permutation_p([np.zeros(3), np.ones(3)], stats.between_ss, seed=0)
    assert math.isclose(stat, 3 * 0 + 3 * 1.0) and abs(p - 0.1) < 0.01
    again = stats.permutation_p([np.zeros(3), np.ones(3)], stats.between_ss, seed=0)
    assert again == (stat, p)  # seeded: the same p every time


def test_permutation_p_agrees_with_scipy_permutation_test():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.0, 1.0, 8), rng.normal(0.8, 1.0, 9)
    _, p = stats.permutation_p([a, b], lambda means, sizes: means[:, 1] - means[:, 0], seed=1)
    ref = sps.permutation_test((b, a), lambda x, y: x.mean() - y.mean(), alternative="greater",
                               n_resamples=9999, rng=np.random.default_rng(2)).pvalue
    assert abs(p - ref) < 0.02


def test_spearman_hand_computed_and_undefined_cases():
    rho, p = stats.spearman([1, 2, 3, 4], [1, 3, 2, 4])  # 1 - 6 * 2 / (4 * 15)
    assert math.isclose(rho, 0.8) and 0 < p < 1
    assert all(math.isnan(v) for v in stats.spearman([1, 1, 1], [1, 2, 3]))
    assert all(math.isnan(v) for v in stats.spearman([1, 2], [2, 1]))


def test_kendall_exact_p_from_inversion_counts():
    # y = 1 3 2 4 has one inversion: tau = (5 - 1) / 6; permutations of 4 by inversions: 1, 3, 5, 6, 5, 3, 1 of 24,
    # so P(at most one inversion) = 4 / 24
    tau, p = stats.kendall([1, 2, 3, 4], [1, 3, 2, 4], alternative="greater")
    assert math.isclose(tau, 4 / 6) and math.isclose(p, 4 / 24)


def test_spearman_bootstrap_ci_seeded_and_sane():
    x = np.arange(10.0)
    assert stats.spearman_bootstrap_ci(x, 2 * x + 1) == (1.0, 1.0)
    rng = np.random.default_rng(0)
    y = x + rng.normal(0, 3, 10)
    lo, hi = stats.spearman_bootstrap_ci(x, y, seed=4)
    assert (lo, hi) == stats.spearman_bootstrap_ci(x, y, seed=4)
    assert -1 <= lo < stats.spearman(x, y)[0] < hi <= 1


@pytest.mark.parametrize(("low", "high", "side", "expected"), [
    (0.1, 0.4, {"below": 0.5}, True), (0.6, 0.9, {"below": 0.5}, False), (0.4, 0.6, {"below": 0.5}, None),
    (0.6, 0.9, {"above": 0.5}, True), (0.1, 0.4, {"above": 0.5}, False), (0.4, 0.6, {"above": 0.5}, None),
    (-0.2, 0.3, {"within": 0.5}, True), (0.6, 0.9, {"within": 0.5}, False), (-0.9, -0.6, {"within": 0.5}, False),
    (0.2, 0.7, {"within": 0.5}, None), (1.5, 1.8, {"within": (1.0, 2.0)}, True), (2.1, 2.2, {"within": (1.0, 2.0)}, False),
    (float("nan"), 0.1, {"below": 0.5}, None), (0.1, float("nan"), {"within": 0.5}, None),
])
def test_interval_verdict(low, high, side, expected):
    assert stats.interval_verdict(low, high, **side) is expected


def test_interval_verdict_needs_exactly_one_side():
    with pytest.raises(ValueError):
        stats.interval_verdict(0, 1)
    with pytest.raises(ValueError):
        stats.interval_verdict(0, 1, below=1, above=0)


def test_all_hold_is_intersection_union():
    assert stats.all_hold([True, True]) is True
    assert stats.all_hold([True, None, False]) is False
    assert stats.all_hold([True, None]) is None
    assert stats.all_hold([]) is None


def test_binomial_p_from_binomial_sums():
    # 9 of 10 against 1/2: P(X >= 9) = (C(10, 9) + C(10, 10)) / 2^10
    assert math.isclose(stats.binomial_p(9, 10, 0.5, alternative="greater"), 11 / 1024)
    assert stats.binomial_p(3, 10, 1.5, alternative="greater") == 1.0  # p0 clipped to 1: nothing is above it


def test_normal_quantile_interval_and_detectable_effect_against_printed_tables():
    assert stats.z_quantile() == pytest.approx(1.959964, abs=1e-6)
    assert stats.z_quantile(0.90) == pytest.approx(1.644854, abs=1e-6)
    assert stats.normal_interval(0.5, 0.1) == pytest.approx((0.5 - 0.1959964, 0.5 + 0.1959964), abs=1e-7)
    # (z(0.975) + z(0.80))·se, one-sided (z(0.95) + z(0.80))·se, and Student's t on 8 df: t(0.975, 8) = 2.306004,
    # t(0.80, 8) = 0.888889 (printed t tables)
    assert stats.detectable(1.0) == pytest.approx(1.959964 + 0.841621, abs=1e-5)
    assert stats.detectable(2.0, sides=1) == pytest.approx(2 * (1.644854 + 0.841621), abs=1e-5)
    assert stats.detectable(1.0, df=8) == pytest.approx(2.306004 + 0.888889, abs=1e-5)
    assert math.isnan(stats.detectable(1.0, df=0)) and math.isnan(stats.detectable(float("nan")))
