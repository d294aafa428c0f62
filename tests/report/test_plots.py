"""Every figure of report.plots draws from small hand-made tables (and the heatmap shows the right cell)."""

import numpy as np
import pandas as pd

from lab_utils.report import plots, plots_lab3, plots_lab4


def _width_table():
    rows = []
    for model in ("faithful", "fixed"):
        for a in range(1, 4):
            for c in range(1, 5):
                m = 0.5 + 0.01 * a + 0.02 * c
                rows.append({"model": model, "a": a, "c": c, "params": 100 * a * c, "bitops": 3200 * a * c,
                             "runs": 3, "failed": 1, "failure_rate": 1 / 3, "failure_low": 0.01, "failure_high": 0.9,
                             "trained": 2, "val_mean": m, "val_low": m - 0.01, "val_high": m + 0.01})
    return pd.DataFrame(rows)


def test_heatmap_and_width_figures(tmp_path):
    t = _width_table()
    fig = plots_lab4.heatmap(t, mark=(2, 4))
    assert np.isclose(fig.axes[0].images[0].get_array()[1, 3], 100 * (0.5 + 0.02 + 0.08))  # a=2, c=4, in %
    assert "(%)" in fig.axes[1].get_ylabel() or "(%)" in fig.axes[-1].get_ylabel()  # colour bar in %
    fig = plots_lab4.accuracy_vs_cost(t)
    assert any(line.get_drawstyle() == "steps-post" for line in fig.axes[0].lines)  # the front is a staircase
    fig.savefig(tmp_path / "p.png")
    plots_lab4.multiplier_accuracy(t[t["a"] == t["c"]]).savefig(tmp_path / "m.png")
    one = pd.DataFrame({"number": [1, 0, 2], "state": ["COMPLETE", "COMPLETE", "FAIL"], "accuracy": [0.6, 0.5, 0.9]})
    fig = plots_lab4.search_best_so_far({"tpe": one, "brute-force": one}, 0.6, seed=0)
    assert fig.axes[0].lines[0].get_ydata().tolist() == [50.0, 60.0]  # %, by trial number, failed trial left out


def test_lab3_figures(tmp_path):
    table = pd.DataFrame({"config": ["float32", "a", "b"], "float": [True, False, False], "accuracy": [0.7, 0.69, 0.6],
                          "macro_accuracy": [0.6, 0.6, 0.5], "loss": [0.8, 0.81, 0.9], "latency_ms": [1.0, 1.2, 1.1],
                          "latency_iqr_ms": [0.1, 0.1, 0.1], "size_bytes": [400.0, 200.0, 100.0],
                          "bitops": [10, 5, 2], "average_bitwidth": [32, 8, 4], "flops": [7, 7, 7]})
    assert len(plots_lab3.metric_panels(table).axes) == 8
    plots_lab3.pareto_panels(table).savefig(tmp_path / "p.png")
    plots_lab3.scatter_pair(table).savefig(tmp_path / "s.png")
    trials = table.iloc[1:]
    fig = plots_lab3.brute_force_scatter(trials, trials.iloc[:1], 0.7)
    assert fig.axes[0].get_legend_handles_labels()[1][0] == "all 2 configurations"
    k = np.arange(1, 4)
    curves = {"t": {"trials": k, "n_seeds": 2, "samplers": {"tpe": (k * 1.0, k - 0.5, k + 0.5)},
                    "exact": k * 0.9, "values": np.array([1.0, 2.0, 3.0, 3.0]), "optimum": 3.0, "maximize": True,
                    "name": "accuracy x 100", "n": 4}}
    fig = plots_lab3.curves_figure(curves, tolerance=0.5)
    assert fig.axes[0].get_title() == "t: 4 configurations, budget 3"


def test_lab0_and_vgg_figures(tmp_path):
    plots.training_curves({"m": {"epochs": [{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": 0.6}]}})
    plots.confusion_matrices({"m": [[3, 1], [0, 4]]}, ["q", "g"]).savefig(tmp_path / "c.png")
    assert plots.top_confusions([[5, 1, 0], [3, 5, 0], [0, 1, 5]], ["q", "g", "w"], k=1) == ["q<->g"]
    plots_lab4.supernet_curve([{"epoch": 1, "loss_largest": 2.0, "loss_smallest": 2.1},
                          {"epoch": 2, "loss_largest": 1.5, "loss_smallest": 1.9}]).savefig(tmp_path / "s.png")
    cands = pd.DataFrame({"channels": [(4,), (8,), (6,)], "macs": [1e6, 3e6, 2e6], "accuracy": [0.2, 0.4, 0.1]})
    runs = pd.DataFrame({"role": ["searched", "widest", "random 1"], "macs": [1e6, 3e6, 2e6],
                         "test_accuracy": [0.5, 0.6, 0.4], "correct": [np.ones(100, bool)] * 3})
    fig = plots_lab4.accuracy_vs_macs(cands, runs, report_accuracy=0.11, searched=(4,))
    front = fig.axes[0].lines[0]
    assert front.get_xdata().tolist() == [1.0, 3.0]  # (2e6, 0.1) is dominated by (1e6, 0.2)
    assert front.get_drawstyle() == "steps-post" and front.get_ydata().tolist() == [20.0, 40.0]  # staircase, in %
    assert len(fig.axes[1].get_legend().get_texts()) == 4  # searched, widest, random, the report's line
    fig.savefig(tmp_path / "a.png")
    table = runs.assign(supernet_val_accuracy=[0.3, 0.35, 0.2], scratch_val_accuracy=[0.5, 0.6, 0.4])
    ax = plots_lab4.supernet_ranking(table).axes[0]
    assert sorted(tuple(o[0]) for c in ax.collections for o in [c.get_offsets()]) == [(20.0, 40.0), (30.0, 50.0),
                                                                                      (35.0, 60.0)]
