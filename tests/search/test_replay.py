"""Sample-efficiency tools against independent oracles: brute-force enumeration of permutations,
Monte-Carlo averages, a naive O(n^2) Pareto check, and counting what the replay touches."""

import itertools
import math

import numpy as np
import pytest

from lab_utils.errors import LabError
from lab_utils.search import replay as eff
from lab_utils.search.samplers import brute_force_order


def _enumerated_best(values, maximize=True):
    """Mean best-of-first-k over ALL permutations (the definition, by enumeration)."""
    n = len(values)
    sums = np.zeros(n)
    count = 0
    for perm in itertools.permutations(values):
        run = np.maximum.accumulate(perm) if maximize else np.minimum.accumulate(perm)
        sums += run
        count += 1
    return sums / count


@pytest.mark.parametrize("values", [[3.0, 1.0, 4.0, 1.0, 5.0, 9.0], [2.0, 2.0, 2.0, 7.0], [0.5], [1.0, 0.0, -1.0, 6.0, 6.0]])
@pytest.mark.parametrize("maximize", [True, False])
def test_expected_best_matches_enumeration(values, maximize):
    mean, sd = eff.expected_best(values, maximize)
    assert np.allclose(mean, _enumerated_best(values, maximize), atol=1e-12)
    # k = n: the best of everything, with no spread
    assert mean[-1] == pytest.approx(max(values) if maximize else min(values))
    assert sd[-1] == pytest.approx(0.0, abs=1e-9)


def test_expected_best_hand_counted():
    # values 1,2,3: best of 1 is the mean 2; best of 2 is max over the 3 pairs (2,3,3) -> 8/3
    mean, sd = eff.expected_best([3.0, 1.0, 2.0])
    assert mean == pytest.approx([2.0, 8 / 3, 3.0])
    assert sd[0] == pytest.approx(math.sqrt(2 / 3))  # sd of a uniform pick from {1,2,3}


def test_expected_best_matches_monte_carlo_for_a_large_table():
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(size=300), 2)  # ties included
    mean, sd = eff.expected_best(values, k_max=60)
    runs = np.stack([np.maximum.accumulate(rng.permutation(values)[:60]) for _ in range(4000)])
    mc = runs.mean(axis=0)
    assert np.all(np.abs(mc - mean) <= 5 * sd / math.sqrt(4000) + 1e-12)
    assert np.allclose(runs.std(axis=0), sd, rtol=0.08, atol=1e-3)


def test_expected_trials_to_hit():
    # one good item among n: uniform position, mean (n+1)/2; enumeration for n=5, m=2
    assert eff.expected_trials_to_hit(9, 1) == 5.0
    positions = [min(p.index(0), p.index(1)) + 1 for p in itertools.permutations(range(5))]
    assert eff.expected_trials_to_hit(5, 2) == pytest.approx(np.mean(positions))
    with pytest.raises(LabError, match="m <= n"):
        eff.expected_trials_to_hit(3, 0)


def _counting_table():
    choices = {"a": (1, 2, 3), "b": (10, 20), "c": (0,), "d": (5, 6, 7, 8)}
    calls = []

    def evaluate(cfg):
        calls.append(dict(cfg))
        return cfg["a"] * 100 + cfg["b"] + cfg["d"] * 0.5

    table = eff.ReplayTable.build(choices, evaluate)
    return table, calls, evaluate


def test_table_build_evaluates_each_configuration_once_in_product_order():
    table, calls, evaluate = _counting_table()
    assert table.n == 24 and len(calls) == 24
    assert len({tuple(sorted(c.items())) for c in calls}) == 24
    for j in range(table.n):
        assert table.values[j] == evaluate(table.config(j))
        assert table.flat_index(table.indices(j)) == j
    assert calls[1] == {"a": 1, "b": 10, "c": 0, "d": 6}  # last parameter fastest, like itertools.product


@pytest.mark.parametrize("sampler", ["brute-force", "tpe", "random", "qmc", "nsgaii", "grid"])
def test_replay_never_evaluates_and_reports_table_values(sampler):
    table, calls, evaluate = _counting_table()
    before = len(calls)
    trace = eff.replay(table, sampler, seed=3, n_trials=24, n_startup_trials=5)
    assert len(calls) == before  # replay only looks values up
    assert len(trace.values) == 24
    for v, j in zip(trace.values, trace.configs):
        assert v == evaluate(table.config(int(j)))


def test_brute_force_replay_is_the_seeded_search_order_and_covers_everything():
    table, _, _ = _counting_table()
    trace = eff.replay(table, "brute-force", seed=7)
    assert sorted(trace.configs.tolist()) == list(range(table.n))
    assert trace.configs.tolist() == brute_force_order(table.n, 7)
    assert trace.unique == table.n
    again = eff.replay(table, "brute-force", seed=7)
    assert np.array_equal(again.configs, trace.configs)


def test_grid_replay_covers_everything_once():
    table, _, _ = _counting_table()
    trace = eff.replay(table, "grid", seed=7)
    assert sorted(trace.configs.tolist()) == list(range(table.n)) and trace.unique == table.n


def test_tpe_repeats_are_counted():
    table, _, _ = _counting_table()
    study = eff.sampler_study(table, samplers=("tpe", "brute-force"), seeds=range(3), n_trials=24, n_startup_trials=4)
    tab = eff.efficiency_table(study).set_index("sampler")
    naive = np.mean([len(set(row.tolist())) for row in study.configs["tpe"]])
    assert tab.loc["tpe", "unique_configs_mean"] == pytest.approx(naive)
    assert naive < 24  # TPE on 24 points in 24 trials repeats some (it exploits)
    assert tab.loc["tpe", "repeat_share"] == pytest.approx(1 - naive / 24)
    assert tab.loc["brute-force", "unique_configs_mean"] == 24
    assert tab.loc["brute-force", "repeat_share"] == 0


def test_trials_to_reach_and_efficiency_table_by_hand():
    curves = np.array([[1.0, 3.0, 5.0], [5.0, 5.0, 5.0], [1.0, 2.0, 2.0]])
    assert np.array_equal(eff.trials_to_reach(curves, 5.0), [3.0, 1.0, np.nan], equal_nan=True)
    assert np.array_equal(eff.trials_to_reach(-curves, -2.0, maximize=False), [2.0, 1.0, 2.0])
    table = eff.ReplayTable({"x": (0, 1, 2, 3)}, np.array([1.0, 4.6, 5.0, 2.0]))
    study = eff.SamplerStudy(table, 4, [0, 1], 10)
    study.values["s"] = np.array([[1.0, 4.6, 2.0, 5.0], [5.0, 1.0, 4.6, 2.0]])
    study.configs["s"] = np.array([[0, 1, 3, 2], [2, 0, 1, 3]])
    row = eff.efficiency_table(study, tolerance=0.5).set_index("sampler")
    assert row.loc["s", "trials_to_optimum_mean"] == 2.5  # 4 and 1
    assert row.loc["s", "trials_to_within_tol_mean"] == 1.5  # 2 and 1 (4.6 is within 0.5 of 5)
    assert row.loc["random order (exact)", "trials_to_optimum_mean"] == 2.5  # (4+1)/(1+1)
    assert row.loc["random order (exact)", "trials_to_within_tol_mean"] == pytest.approx(5 / 3)


def test_random_order_replay_agrees_with_exact_curve():
    rng = np.random.default_rng(1)
    table = eff.ReplayTable({"a": tuple(range(8)), "b": tuple(range(6))}, rng.normal(size=48).round(1))
    study = eff.sampler_study(table, samplers=("brute-force",), seeds=range(30))
    check = eff.exact_band_check(study)
    assert check["share_within_band"] >= 0.9 and check["max_abs_gap"] < 0.5 * (study.table.values.max() - study.table.values.min())


def test_mean_band_matches_scipy_interval():
    from scipy import stats

    c = np.array([[1.0, 2.0], [2.0, 4.0], [4.0, 9.0]])
    mean, lo, hi = eff.mean_band(c)
    for j in range(2):
        a, b = stats.t.interval(0.95, 2, loc=c[:, j].mean(), scale=stats.sem(c[:, j]))
        assert (lo[j], hi[j]) == pytest.approx((a, b))
    assert mean.tolist() == pytest.approx([7 / 3, 5.0])


def test_bad_inputs_are_lab_errors():
    with pytest.raises(LabError, match="values"):
        eff.ReplayTable({"a": (1, 2)}, np.array([1.0]))
    with pytest.raises(LabError, match="direction"):
        eff.ReplayTable({"a": (1,)}, np.array([1.0]), direction="up")
    table = eff.ReplayTable({"a": (1, 2)}, np.array([1.0, 2.0]))
    with pytest.raises(LabError, match="sampler"):
        eff.replay(table, "grid-ish", 0)
    with pytest.raises(LabError, match="n_trials"):
        eff.replay(table, "brute-force", 0, n_trials=3)


def test_random_order_band_against_exact_moments():
    values = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0])
    mean, sd = eff.expected_best(values, True)
    lo, hi = eff.random_order_band(values, True, n_seeds=20, k_max=len(values), level=0.99, n_sim=4000)
    assert np.all(lo <= mean + 1e-12) and np.all(mean <= hi + 1e-12)  # the exact mean is inside
    assert lo[-1] == hi[-1] == 9.0  # after every item, the best is the maximum in every run
    assert lo[0] < mean[0] < hi[0]
    # a band for the mean of 20 runs is far narrower than one run's spread, and not wider than ±4 sd/√20
    assert np.all(hi - lo <= 2 * 4 * sd / np.sqrt(20) + 1e-12)
    # partial orders (k_max < n) give the same band as full permutations cut at k_max
    lo5, hi5 = eff.random_order_band(values, True, n_seeds=20, k_max=5, level=0.99, n_sim=4000)
    assert np.allclose(lo5, lo[:5], atol=0.25) and np.allclose(hi5, hi[:5], atol=0.25)
