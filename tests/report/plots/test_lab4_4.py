"""report.plots.lab4_4 draws the searches' trials by number."""

import pandas as pd

from lab_utils.report import plots


def test_search_best_so_far_in_percent_by_trial_number():
    one = pd.DataFrame({"number": [1, 0, 2], "state": ["COMPLETE", "COMPLETE", "FAIL"], "accuracy": [0.6, 0.5, 0.9]})
    fig = plots.lab4_4.search_best_so_far({"tpe": one, "brute-force": one}, 0.6, seed=0)
    assert fig.axes[0].lines[0].get_ydata().tolist() == [50.0, 60.0]  # %, by trial number, failed trial left out
