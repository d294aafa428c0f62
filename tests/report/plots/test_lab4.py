"""report.plots.lab4 draws from a hand-made width table (and the heatmap shows the right cell)."""

import numpy as np
import pandas as pd

from lab_utils.report import plots


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
    fig = plots.lab4.heatmap(t, mark=(2, 4))
    assert np.isclose(fig.axes[0].images[0].get_array()[1, 3], 100 * (0.5 + 0.02 + 0.08))  # a=2, c=4, in %
    assert "(%)" in fig.axes[1].get_ylabel() or "(%)" in fig.axes[-1].get_ylabel()  # colour bar in %
    fig = plots.lab4.accuracy_vs_cost(t)
    assert any(line.get_drawstyle() == "steps-post" for line in fig.axes[0].lines)  # the front is a staircase
    fig.savefig(tmp_path / "p.png")
    plots.lab4.multiplier_accuracy(t[t["a"] == t["c"]]).savefig(tmp_path / "m.png")
