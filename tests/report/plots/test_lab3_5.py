"""report.plots.lab3_5: the epochs figure's bars are Student-t 95 % intervals over seeds (t table values)."""

import math

import numpy as np
import pandas as pd

from lab_utils.report import plots


def test_epochs_figure_bars_are_t_intervals_over_seeds():
    # one configuration, 1 and 2 epochs, 3 seeds each: mean 0.80, sd 0.01 -> half-width t(0.975, 2) * 0.01 / sqrt(3)
    ep = pd.DataFrame({"model": "m", "config": "c", "epochs": [1, 1, 1, 2, 2, 2], "seed": [0, 1, 2] * 2,
                       "test_accuracy": [0.79, 0.80, 0.81, 0.70, 0.70, 0.70]})
    table = pd.DataFrame({"model": ["m"], "config": ["c"], "ptq": [0.5], "float": [0.85]})
    fig = plots.lab3_5.epochs_figure(ep, table)
    bars = [c for c in fig.axes[0].collections if c.get_segments()]
    seg = bars[0].get_segments()
    half = [(s[1, 1] - s[0, 1]) / 2 for s in seg]
    assert np.allclose(half, [100 * 4.302653 * 0.01 / math.sqrt(3), 0.0], rtol=1e-5)  # no spread: no bar
