"""report.plots.lab4_5 draws the supernet figures; its error bars are the claims' Clopper-Pearson intervals."""

import numpy as np
import pandas as pd

from lab_utils.report import plots


def test_vgg_figures(tmp_path):
    plots.lab4_5.supernet_curve([{"epoch": 1, "loss_largest": 2.0, "loss_smallest": 2.1},
                                 {"epoch": 2, "loss_largest": 1.5, "loss_smallest": 1.9}]).savefig(tmp_path / "s.png")
    cands = pd.DataFrame({"channels": [(4,), (8,), (6,)], "macs": [1e6, 3e6, 2e6], "accuracy": [0.2, 0.4, 0.1]})
    runs = pd.DataFrame({"role": ["searched", "widest", "random 1"], "macs": [1e6, 3e6, 2e6],
                         "test_accuracy": [1.0, 0.6, 0.4],
                         "correct": [np.ones(100, bool), np.arange(100) < 60, np.arange(100) < 40]})
    fig = plots.lab4_5.accuracy_vs_macs(cands, runs, report_accuracy=0.11, searched=(4,))
    front = fig.axes[0].lines[0]
    assert front.get_xdata().tolist() == [1.0, 3.0]  # (2e6, 0.1) is dominated by (1e6, 0.2)
    assert front.get_drawstyle() == "steps-post" and front.get_ydata().tolist() == [20.0, 40.0]  # staircase, in %
    assert len(fig.axes[1].get_legend().get_texts()) == 4  # searched, widest, random, the report's line
    # 100 of 100 right: Clopper-Pearson 95 % interval [0.025^(1/100), 1], so the bar reaches 3.62 points below, 0 above
    segments = fig.axes[1].collections[0].get_segments()[0]
    assert np.allclose(segments[:, 1], [100 * 0.025 ** (1 / 100), 100.0])
    fig.savefig(tmp_path / "a.png")
    table = runs.assign(supernet_val_accuracy=[0.3, 0.35, 0.2], scratch_val_accuracy=[0.5, 0.6, 0.4])
    ax = plots.lab4_5.supernet_ranking(table).axes[0]
    assert sorted(tuple(o[0]) for c in ax.collections for o in [c.get_offsets()]) == [(20.0, 40.0), (30.0, 50.0),
                                                                                      (35.0, 60.0)]
