"""lab4_5 quick run (tiny generated image set): outputs exist, the claims and the lab report check
are computed and stored, and the numbers are consistent with the tables the notebook wrote.

The notebook itself asserts, in quick mode, the image shapes, that every candidate of the space
builds and runs a forward pass, and that supernet training lowered the loss; a failed assertion
fails the quick report run.
"""

import pandas as pd

from tests.helpers import summary_of


def test_lab4_5_outputs(quick_report):
    s = summary_of(quick_report, "lab4_5")
    n = s["numbers"]
    assert s["synthetic"] and s["dataset"].startswith("cifar10 (SYNTHETIC): ")  # quick mode's generated images say so
    sizes = (n["train_images"], n["val_images"], n["test_images"])
    assert s["dataset"].endswith(f"{sizes[0]:,} train / {sizes[1]:,} val / {sizes[2]:,} test images")
    assert sizes == (225, 75, 100)  # 30 + 10 images per class; a quarter of the training part is validation
    for fig in ("lab4_5_supernet_training.png", "lab4_5_accuracy_vs_macs.png", "lab4_5_supernet_ranking.png"):
        assert fig in s["figures"] and fig in s["captions"] and (quick_report / "figures" / fig).stat().st_size > 1000
    for k in ("searched_val_accuracy_supernet", "searched_test_accuracy", "searched_test_accuracy_int8",
              "untrained_test_accuracy"):
        assert 0.0 <= n[k] <= 1.0, (k, n[k])
    channels = n["searched_channels"]
    assert len(channels) == 6 and channels == sorted(channels)  # non-decreasing, as the space requires
    trials = pd.read_csv(quick_report / "results" / "lab4_5" / "trials.csv")
    assert len(trials) == n["n_trials"]
    for ch in trials["channels"]:
        widths = [int(v) for v in ch.strip("()").split(",")]
        assert widths == sorted(widths)
    assert (trials["macs"] > 0).all() and trials["accuracy"].between(0, 1).all()
    assert "repaired" not in trials.columns  # the ordered encoding suggests only valid architectures
    runs = pd.read_csv(quick_report / "results" / "lab4_5" / "from_scratch.csv")
    roles = ["searched", "widest", "narrowest", "random 1", "random 2", "random 3"]
    assert runs.role.tolist() == [r for r in roles for _ in range(2)] and runs.seed.tolist() == [0, 1] * 6  # 2 seeds each
    assert len(runs) == n["from_scratch_runs"] and n["seeds"] == 2
    assert n["final_train_images"] == sizes[0] + sizes[1]  # the final training sees train + val
    keys = [c["key"] for c in s["claims"]]
    assert keys == ["resolution", "beats_baselines.random", "beats_baselines.widest", "beats_baselines.narrowest",
                    "ranking.supernet", "ranking.beyond_macs", "final_accuracy", "int8"]
    assert any("beats every random" in c["statement"] for c in s["claims"])
    for c in s["claims"][4:6]:  # 6 architectures in quick mode: no ranking claim
        assert c["verdict"] == "not shown" and "fewer than 8" in c["evidence"]
    assert {c["verdict"] for c in s["claims"]} <= {"holds", "refuted", "not shown", "not applicable"}
    assert all(c["evidence"] and c["test"] for c in s["claims"])
    (check_untrained, check_trained) = s["report_checks"]
    assert "11 %" in check_untrained["report_said"] and check_untrained["verdict"] in ("agrees", "disagrees")
    assert n["report_accuracy"] == 0.11
