"""lab3_6 quick run (tiny generated image set, tiny CNN): outputs exist, every configuration ran with
PTQ and the planned ones with QAT, the claims are computed and stored, and their numbers agree with
the tables the notebook wrote."""

import pandas as pd
import pytest

from tests.helpers import summary_of


def test_lab3_6_outputs(quick_report):
    s = summary_of(quick_report, "lab3_6")
    n = s["numbers"]
    assert s["synthetic"] and s["dataset"] == "cifar10 (SYNTHETIC): 270 train / 30 val / 100 test images"
    assert (n["train_images"], n["val_images"], n["test_images"]) == (270, 30, 100)
    for fig in ("lab3_6_training.png", "lab3_6_ptq_vs_qat.png"):
        assert fig in s["figures"] and fig in s["captions"] and (quick_report / "figures" / fig).stat().st_size > 1000
    results = quick_report / "results" / "lab3_6"
    ptq = pd.read_csv(results / "ptq.csv")
    layers = ["conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "fc1", "fc2", "fc3"]
    assert list(ptq.config) == ["float32", "all w16", "all w8", "all w4", *[f"{k} w4" for k in layers]]
    assert (ptq.n == 100).all() and n["float_test_accuracy"] == round(ptq.accuracy[0], 4)
    assert n["float_test_accuracy"] > 0.2  # the tiny CNN learned something (chance: 0.1)
    qat = pd.read_csv(results / "qat.csv")
    runs = qat.groupby("config").seed.count().to_dict()
    assert runs == {"all w4": 2, "all w8": 2, **{f"{k} w4": 1 for k in layers}} and n["qat_runs"] == len(qat) == 13
    assert n["qat_all_w4_accuracy"] == round(qat[qat.config == "all w4"].accuracy.mean(), 4)
    claims = {c["statement"]: c for c in s["claims"]}
    assert len(claims) == 9 and all(c["evidence"] and c["test"] for c in claims.values())
    int8 = next(c for t, c in claims.items() if t.startswith("8-bit PTQ"))
    acc = ptq.set_index("config").accuracy
    assert int8["numbers"]["diff"] == pytest.approx(acc["float32"] - acc["all w8"], abs=1e-6)
    jets = next(c for t, c in claims.items() if "simulated-jet" in t)
    table = pd.read_csv(results / "jet_conclusions.csv")
    assert len(table) == 5 and sum(jets["numbers"].values()) == 5
    verdicts = {True: "holds", False: "does not hold", None: "undetermined"}
    assert jets["verdict"] == verdicts[True if (table.here == "holds").all() else
                                       False if (table.here == "does not hold").any() else None]
