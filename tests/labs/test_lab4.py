"""Width-search results: aggregation, seed-spread verdict and Pareto front against hand-worked numbers."""

import numpy as np
import pandas as pd
import pytest

from lab_utils.labs import lab4 as width_results


def _runs(rows):
    return pd.DataFrame([{"a": a, "c": c, "h1": 16 * a, "h2": 16 * c, "params": p, "macs": p, "bitops": 1024 * p,
                          "seed": s, "val_accuracy": v, "test_accuracy": t} for a, c, p, s, v, t in rows])


def test_by_candidate_and_verdict_by_hand():
    runs = _runs([(1, 1, 661, 0, 0.70, 0.69), (1, 1, 661, 1, 0.72, 0.71), (1, 1, 661, 2, 0.71, 0.70),
                  (2, 4, 3013, 0, 0.75, 0.74), (2, 4, 3013, 1, 0.74, 0.73), (2, 4, 3013, 2, 0.76, 0.75)])
    agg = width_results.by_candidate(runs)
    assert list(zip(agg["a"], agg["c"])) == [(2, 4), (1, 1)]  # sorted by mean val accuracy
    assert agg["val_mean"].tolist() == pytest.approx([0.75, 0.71])
    assert agg["val_std"].tolist() == pytest.approx([0.01, 0.01])  # sample std of (0.74, 0.75, 0.76)
    assert agg["val_range"].tolist() == pytest.approx([0.02, 0.02])
    v = width_results.spread_verdict(agg)
    assert v["best"] == (2, 4) and v["difference"] == pytest.approx(0.04) and v["seed_spread"] == pytest.approx(0.02)
    assert v["beats_base_beyond_spread"] and "beats the base by more" in v["verdict"]


def test_verdict_within_spread_and_single_seed():
    runs = _runs([(1, 1, 661, 0, 0.70, 0.7), (1, 1, 661, 1, 0.74, 0.7), (3, 3, 2000, 0, 0.73, 0.7),
                  (3, 3, 2000, 1, 0.73, 0.7)])
    v = width_results.spread_verdict(width_results.by_candidate(runs))
    assert v["best"] == (3, 3) and v["difference"] == pytest.approx(0.01) and v["seed_spread"] == pytest.approx(0.04)
    assert not v["beats_base_beyond_spread"] and "does NOT" in v["verdict"]
    one = width_results.spread_verdict(width_results.by_candidate(runs[runs["seed"] == 0]))
    assert not one["beats_base_beyond_spread"] and one["verdict"].startswith("undetermined")


def test_pareto_front_by_hand():
    cost = [1, 2, 3, 4, 2, 5]
    acc = [0.5, 0.6, 0.6, 0.8, 0.55, 0.8]
    # (2, .6) beats (3, .6) and (2, .55); (4, .8) beats (5, .8)
    assert width_results.pareto_front(cost, acc).tolist() == [True, True, False, True, False, False]
    assert width_results.pareto_front([1], [0.1]).tolist() == [True]


def test_results_table_counts_params_and_accuracy(blobs):
    from lab_utils.training.batched import seeded_init

    model = seeded_init((32, 64), 0).eval()
    table = width_results.results_table([{"hidden": (32, 64), "seed": 0, "model": model, "cached": True,
                                          "history": {"best_epoch": 3}}], blobs)
    row = table.iloc[0]
    assert (row["a"], row["c"], row["params"]) == (2, 4, 3013)
    assert row["macs"] == 16 * 32 + 32 * 64 + 64 * 5
    pred = model(blobs.x_val).argmax(1)
    assert row["val_accuracy"] == pytest.approx(float((pred == blobs.y_val).float().mean()))
    assert row["best_epoch"] == 3 and bool(row["cached"])


def test_figures_draw(tmp_path):
    runs = _runs([(a, c, 100 * a * c, 0, 0.5 + 0.01 * a + 0.02 * c, 0.5) for a in (1, 2) for c in (1, 2, 4)])
    agg = width_results.by_candidate(runs)
    fig = width_results.heatmap(agg, mark=(2, 4))
    assert np.isclose(fig.axes[0].images[0].get_array()[1, 2], 0.5 + 0.02 + 0.08)  # row a=2, column c=4
    width_results.accuracy_vs_cost(agg).savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
