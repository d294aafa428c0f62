"""report.plots.lab3 draws from small hand-made tables."""

import pandas as pd

from lab_utils.report import plots


def test_lab3_figures(tmp_path):
    table = pd.DataFrame({"config": ["float32", "a", "b"], "float": [True, False, False], "accuracy": [0.7, 0.69, 0.6],
                          "macro_accuracy": [0.6, 0.6, 0.5], "loss": [0.8, 0.81, 0.9], "latency_ms": [1.0, 1.2, 1.1],
                          "latency_iqr_ms": [0.1, 0.1, 0.1], "size_bytes": [400.0, 200.0, 100.0],
                          "bitops": [10, 5, 2], "average_bitwidth": [32, 8, 4], "flops": [7, 7, 7]})
    assert len(plots.lab3.metric_panels(table).axes) == 8
    plots.lab3.pareto_panels(table).savefig(tmp_path / "p.png")
    plots.lab3.scatter_pair(table).savefig(tmp_path / "s.png")
    trials = table.iloc[1:]
    fig = plots.lab3.brute_force_scatter(trials, trials.iloc[:1], 0.7)
    assert fig.axes[0].get_legend_handles_labels()[1][0] == "all 2 configurations"
