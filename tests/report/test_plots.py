"""Every figure of report.plots draws from small hand-made tables (and the heatmap shows the right cell)."""

import numpy as np
import pandas as pd
import pytest

from lab_utils.report import plots


@pytest.fixture
def agg():
    rows = [{"a": a, "c": c, "multiplier": a, "params": 100 * a * c, "bitops": 3200 * a * c,
             "val_mean": 0.5 + 0.01 * a + 0.02 * c, "val_min": 0.49, "val_max": 0.6, "val_std": 0.01,
             "test_mean": 0.5, "test_std": 0.02} for a in (1, 2) for c in (1, 2, 4)]
    return pd.DataFrame(rows)


def test_heatmap_and_width_figures(agg, tmp_path):
    fig = plots.heatmap(agg, mark=(2, 4))
    assert np.isclose(fig.axes[0].images[0].get_array()[1, 2], 0.5 + 0.02 + 0.08)  # row a=2, column c=4
    plots.accuracy_vs_cost(agg).savefig(tmp_path / "p.png")
    plots.multiplier_accuracy(agg[agg["a"] == agg["c"]]).savefig(tmp_path / "m.png")
    one = pd.DataFrame({"number": [1, 0, 2], "state": ["COMPLETE", "COMPLETE", "FAIL"], "accuracy": [0.6, 0.5, 0.9]})
    trials = {"tpe": one, "brute-force": one}
    fig = plots.search_best_so_far(trials, 0.6, seed=0)
    assert fig.axes[0].lines[0].get_ydata().tolist() == [0.5, 0.6]  # by trial number, failed trial left out


def test_lab3_figures(tmp_path):
    table = pd.DataFrame({"config": ["float32", "a", "b"], "float": [True, False, False], "accuracy": [0.7, 0.69, 0.6],
                          "macro_accuracy": [0.6, 0.6, 0.5], "loss": [0.8, 0.81, 0.9], "latency_ms": [1.0, 1.2, 1.1],
                          "latency_iqr_ms": [0.1, 0.1, 0.1], "size_bytes": [400.0, 200.0, 100.0],
                          "bitops": [10, 5, 2], "average_bitwidth": [32, 8, 4], "flops": [7, 7, 7]})
    assert len(plots.metric_panels(table).axes) == 8
    plots.pareto_panels(table).savefig(tmp_path / "p.png")
    plots.scatter_pair(table).savefig(tmp_path / "s.png")
    trials = table.iloc[1:]
    fig = plots.brute_force_scatter(trials, trials.iloc[:1], 0.7)
    assert fig.axes[0].get_legend_handles_labels()[1][0] == "all 2 configurations"
    k = np.arange(1, 4)
    curves = {"t": {"trials": k, "n_seeds": 2, "samplers": {"tpe": (k * 1.0, k - 0.5, k + 0.5)},
                    "exact": k * 0.9, "values": np.array([1.0, 2.0, 3.0, 3.0]), "optimum": 3.0, "maximize": True,
                    "name": "accuracy x 100", "n": 4}}
    fig = plots.curves_figure(curves, tolerance=0.5)
    assert fig.axes[0].get_title() == "t: 4 configurations, budget 3"


def test_lab0_and_vgg_figures(tmp_path):
    plots.training_curves({"m": {"epochs": [{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": 0.6}]}})
    plots.confusion_matrices({"m": [[3, 1], [0, 4]]}, ["q", "g"]).savefig(tmp_path / "c.png")
    assert plots.top_confusions([[5, 1, 0], [3, 5, 0], [0, 1, 5]], ["q", "g", "w"], k=1) == ["q<->g"]
    plots.supernet_curve([{"epoch": 1, "loss_largest": 2.0, "loss_smallest": 2.1},
                          {"epoch": 2, "loss_largest": 1.5, "loss_smallest": 1.9}]).savefig(tmp_path / "s.png")
    cands = pd.DataFrame({"channels": [(4,), (8,), (6,)], "macs": [1e6, 3e6, 2e6], "accuracy": [0.2, 0.4, 0.1]})
    retrained = cands.iloc[:1].assign(scratch_val_accuracy=[0.25])
    fig = plots.accuracy_vs_macs(cands, retrained, report_accuracy=0.11)
    front = fig.axes[0].lines[0]
    assert front.get_xdata().tolist() == [1.0, 3.0]  # (2e6, 0.1) is dominated by (1e6, 0.2)
