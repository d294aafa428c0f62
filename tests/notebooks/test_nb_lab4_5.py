"""lab4_5 quick run (tiny generated image set): outputs exist and the numbers are sane (issue 7).

The notebook itself asserts, in quick mode, the image shapes, that every candidate of the space
builds and runs a forward pass, and that supernet training lowered the loss; a failed assertion
fails the quick report run.
"""

import pandas as pd

from tests.helpers import summary_of


def test_lab4_5_outputs(quick_report):
    s = summary_of(quick_report, "lab4_5")
    n = s["numbers"]
    assert s["synthetic"] and "SYNTHETIC" in s["dataset"]  # quick mode's generated images say so
    for fig in ("lab4_5_supernet_training.png", "lab4_5_accuracy_vs_macs.png"):
        assert fig in s["figures"] and (quick_report / "figures" / fig).stat().st_size > 1000
    for k in ("best_val_accuracy_supernet", "best_test_accuracy", "best_test_accuracy_int8"):
        assert 0.0 <= n[k] <= 1.0, (k, n[k])
    channels = n["best_channels"]
    assert len(channels) == 6 and channels == sorted(channels)  # non-decreasing, as the space requires
    trials = pd.read_csv(quick_report / "results" / "lab4_5" / "trials.csv")
    assert len(trials) == n["n_trials"]
    for ch in trials["channels"]:
        widths = [int(v) for v in ch.strip("()").split(",")]
        assert widths == sorted(widths)
    assert (trials["macs"] > 0).all() and trials["accuracy"].between(0, 1).all()
    assert n["report_accuracy"] == 0.11
