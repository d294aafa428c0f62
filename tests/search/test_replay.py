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
    tab = eff.reach_table(study, table.optimum()).set_index("sampler")
    naive = np.mean([len(set(row.tolist())) for row in study.configs["tpe"]])
    assert tab.loc["tpe", "unique_configs_mean"] == pytest.approx(naive)
    assert naive < 24  # TPE on 24 points in 24 trials repeats some (it exploits)
    assert tab.loc["brute-force", "unique_configs_mean"] == 24


@pytest.mark.slow  # spawns two worker processes: the replays take 0.2 s, the processes' start 3 s or more
def test_parallel_study_equals_sequential():
    table, _, _ = _counting_table()
    kw = dict(samplers=("brute-force", "tpe", "random", "nsgaii"), seeds=[5, 1, 9, 3, 7], n_trials=20, n_startup_trials=4)
    one = eff.sampler_study(table, **kw)
    two = eff.sampler_study(table, workers=2, **kw)
    for s in kw["samplers"]:
        assert np.array_equal(one.values[s], two.values[s]) and np.array_equal(one.configs[s], two.configs[s])
        for row, seed in zip(two.configs[s], kw["seeds"]):  # rows stay in the order of the seeds given
            assert np.array_equal(row, eff.replay(table, s, seed, 20, 4).configs)
    with pytest.raises(LabError, match="workers"):
        eff.sampler_study(table, workers=0, **kw)


def test_trials_to_reach_and_censoring_by_hand():
    curves = np.array([[1.0, 3.0, 5.0], [5.0, 5.0, 5.0], [1.0, 2.0, 2.0]])
    assert np.array_equal(eff.trials_to_reach(curves, 5.0), [3.0, 1.0, np.nan], equal_nan=True)
    assert np.array_equal(eff.trials_to_reach(-curves, -2.0, maximize=False), [2.0, 1.0, 2.0])
    assert eff.censored_trials(curves, 5.0).tolist() == [3.0, 1.0, 4.0]  # never reached: budget + 1


def test_first_hit_survival_matches_enumeration():
    n, m = 6, 2
    firsts = np.array([min(p.index(0), p.index(1)) + 1 for p in itertools.permutations(range(n))])
    t = np.arange(0, n + 1)
    assert np.allclose(eff.first_hit_survival(n, m, t), [(firsts > k).mean() for k in t])
    assert eff.first_hit_survival(n, m, [0])[0] == 1.0 and eff.first_hit_survival(n, m, [n - m + 1])[0] == 0.0
    # the mean of the law is (n + 1) / (m + 1)
    assert eff.first_hit_survival(n, m, t).sum() == pytest.approx(eff.expected_trials_to_hit(n, m))
    with pytest.raises(LabError, match="m <= n"):
        eff.first_hit_survival(3, 0, [1])


def _random_order_firsts(rng, n, m, runs, budget):
    t = np.array([np.argmax(rng.permutation(n) < m) + 1 for _ in range(runs)], dtype=float)
    return np.where(t > budget, budget + 1, t)


def test_exact_first_hit_test_accepts_random_orders_and_rejects_others():
    rng = np.random.default_rng(3)
    ps = [eff.exact_first_hit_test(_random_order_firsts(rng, 144, 4, 100, 144), 144, 4, 144)["p"] for _ in range(200)]
    assert 0.01 < np.mean(np.array(ps) < 0.05) < 0.12  # about 5 % false rejections under the null
    censored = _random_order_firsts(rng, 500, 3, 200, 60)  # a budget below the space: censoring
    res = eff.exact_first_hit_test(censored, 500, 3, 60)
    assert res["p"] > 0.001 and res["bins"] >= 3 and res["n"] == 200
    assert eff.exact_first_hit_test(np.ones(100), 144, 4, 144)["p"] < 1e-6  # always first: not random
    fast = _random_order_firsts(rng, 144, 12, 100, 144)  # drawn as if 12 were good, tested against 4
    assert eff.exact_first_hit_test(fast, 144, 4, 144)["p"] < 1e-3


def test_reach_table_by_hand():
    table = eff.ReplayTable({"x": (0, 1, 2, 3)}, np.array([1.0, 4.6, 5.0, 2.0]))
    study = eff.SamplerStudy(table, 2, [0, 1, 2], 10)
    study.values["s"] = np.array([[1.0, 4.6], [5.0, 1.0], [2.0, 1.0]])
    study.configs["s"] = np.array([[0, 1], [2, 0], [3, 0]])
    row = eff.reach_table(study, 4.5).set_index("sampler")
    assert row.loc["s", "reached"] == 2 and row.loc["s", "reach_rate"] == pytest.approx(2 / 3)
    assert row.loc["s", "trials_median"] == 2.0  # trials 2, 1 and 3 (never: budget + 1)
    from scipy import stats

    ci = stats.binomtest(2, 3).proportion_ci(0.95, method="exact")
    assert (row.loc["s", "reach_ci_low"], row.loc["s", "reach_ci_high"]) == pytest.approx((ci.low, ci.high))
    assert row.loc["s", "unique_configs_mean"] == 2.0
    # exact: 2 good of 4, budget 2: P(reached) = 1 - C(2,2)/C(4,2) = 5/6
    assert row.loc["random order (exact)", "reach_rate"] == pytest.approx(5 / 6)
    assert eff.good_count(table, 4.5) == 2


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
