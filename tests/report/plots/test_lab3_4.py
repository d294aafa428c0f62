"""report.plots.lab3_4 draws the curves it is handed."""

import numpy as np

from lab_utils.report import plots


def test_curves_figure_titles_and_band():
    k = np.arange(1, 4)
    curves = {"t": {"trials": k, "n_seeds": 2, "samplers": {"tpe": (k * 1.0, k - 0.5, k + 0.5)},
                    "exact": k * 0.9, "values": np.array([1.0, 2.0, 3.0, 3.0]), "optimum": 3.0, "maximize": True,
                    "name": "accuracy x 100", "n": 4}}
    fig = plots.lab3_4.curves_figure(curves, tolerance=0.5)
    assert fig.axes[0].get_title() == "t: 4 configurations, budget 3"
