"""report.plots.common draws from hand-made histories."""

from lab_utils.report import plots


def test_training_curves_one_line_per_run_in_percent():
    fig = plots.common.training_curves({"m": {"epochs": [{"epoch": 1, "val_accuracy": 0.5},
                                                         {"epoch": 2, "val_accuracy": 0.6}]},
                                        "n": {"epochs": [{"epoch": 1, "val_accuracy": 0.4}]}})
    lines = fig.axes[0].lines
    assert [ln.get_label() for ln in lines] == ["m", "n"] and lines[0].get_ydata().tolist() == [50.0, 60.0]
