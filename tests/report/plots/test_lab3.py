"""report.plots.lab3 draws from small hand-made tables."""

import pandas as pd
import pytest

from lab_utils.report import plots


def test_lab3_figures(tmp_path):
    table = pd.DataFrame({"config": ["float32", "a", "b"], "float": [True, False, False], "accuracy": [0.7, 0.69, 0.6],
                          "macro_accuracy": [0.6, 0.6, 0.5], "loss": [0.8, 0.81, 0.9], "latency_ms": [1.0, 1.2, 1.1],
                          "latency_iqr_ms": [0.1, 0.1, 0.1], "size_bytes": [400.0, 200.0, 100.0],
                          "bitops": [10, 5, 2], "average_bitwidth": [32, 8, 4], "flops": [7, 7, 7]})
    assert len(plots.lab3.metric_panels(table).axes) == 8
    plots.lab3.pareto_panels(table).savefig(tmp_path / "p.png")
    hw = table.assign(data_in_width=[32, 8, 8], weight_width=[32, 8, 4], lut_equivalent=[900, 400, 100],
                      latency_cycles=[6, 6, 5], ebops=[50, 20, 10])
    panels = plots.lab3.metric_panels(hw)
    titles = [ax.get_title() for ax in panels.axes if ax.axison]
    assert len(titles) == 11 and "lut_equivalent (estimated, LUT + 55·DSP)" in titles
    assert "latency_ms (this CPU, measured: median ± IQR/2, per batch)" in titles
    fig = plots.lab3.pareto_panels(hw, "accuracy", ("bitops", "size_bytes", "lut_equivalent", "latency_cycles"))
    axes = [ax for ax in fig.axes if ax.axison]
    assert len(axes) == 4 and axes[2].get_xscale() == "log" and axes[3].get_xscale() == "linear"
    # every series drawn (3 width pairs + the front); the two configurations at 6 cycles spread sideways
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 4
    lat = [c.get_offsets()[:, 0].tolist() for c in axes[3].collections[:3]]
    assert sorted(x for xs in lat for x in xs) == pytest.approx([5, 6 - 0.3, 6 + 0.3])
    assert "spread sideways" in axes[3].get_xlabel() and "spread" not in axes[2].get_xlabel()
    fig.savefig(tmp_path / "hw.png")
    plots.lab3.scatter_pair(table).savefig(tmp_path / "s.png")
    trials = table.iloc[1:]
    fig = plots.lab3.brute_force_scatter(trials, trials.iloc[:1], 0.7)
    assert fig.axes[0].get_legend_handles_labels()[1][0] == "all 2 configurations"


def test_dodge_spreads_only_shared_discrete_values():
    assert plots.lab3.dodge([5, 6, 6, 6, 8]).tolist() == pytest.approx([0, -0.3, 0, 0.3, 0])
    assert plots.lab3.dodge([3, 3]).tolist() == pytest.approx([-0.3, 0.3])  # one value: gap 1
    assert not plots.lab3.dodge([0.5, 0.5, 1.0]).any()  # not whole numbers: a continuous cost
    assert not plots.lab3.dodge(list(range(11)) + [3]).any()  # more than 10 distinct values
