"""report.plots.lab0 draws from small hand-made tables."""

import pandas as pd

from lab_utils.report import plots


def test_confusion_matrices_and_logit_relu_pairs(tmp_path):
    plots.lab0.confusion_matrices({"m": [[3, 1], [0, 4]]}, ["q", "g"]).savefig(tmp_path / "c.png")
    study = pd.DataFrame({"model": ["m"] * 4, "seed": [0, 0, 1, 1], "logit_relu": [True, False, True, False],
                          "test_accuracy": [0.5, 0.7, 0.2, 0.69], "classes_never_predicted": [0, 0, 2, 0]})
    fig = plots.lab0.logit_relu_pairs(study)
    ax = fig.axes[0]
    assert [ln.get_ydata().tolist() for ln in ax.lines] == [[50.0, 70.0], [20.0, 69.0]]  # one line per seed, in %
    assert ax.collections[0].get_offsets().tolist() == [[0.0, 20.0]]  # the failed run (with the ReLU) circled
