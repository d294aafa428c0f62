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
    fixed = ["in 16/8, w 16/8 (fixed)", "in 8/4, w 4/2 (fixed)"]
    assert list(ptq.config) == ["float32", "all w16", "all w8", "all w4", *fixed, *[f"{k} w4" for k in layers]]
    assert (ptq.n == 100).all() and n["float_test_accuracy"] == round(ptq.accuracy[0], 4)
    assert n["float_test_accuracy"] > 0.2  # the tiny CNN learned something (chance: 0.1)
    qat = pd.read_csv(results / "qat.csv")
    runs = qat.groupby("config").seed.count().to_dict()
    assert runs == {"all w4": 2, "all w8": 2, fixed[1]: 2, **{f"{k} w4": 1 for k in layers}}
    assert n["qat_runs"] == len(qat) == 15 and n["ptq_in_8_4_w_4_2_fixed_accuracy"] == round(acc_of(ptq, fixed[1]), 4)
    assert n["qat_all_w4_accuracy"] == round(qat[qat.config == "all w4"].accuracy.mean(), 4)
    claims = {c["statement"]: c for c in s["claims"]}
    assert len(claims) == 13 and all(c["evidence"] and c["test"] for c in claims.values())
    assert all(c["kind"] == "finding" and c["verdict"] in ("holds", "refuted", "not shown", "not applicable")
               for c in claims.values())
    int8 = next(c for t, c in claims.items() if t.startswith("8-bit PTQ"))
    acc = ptq.set_index("config").accuracy
    assert int8["numbers"]["diff"] == pytest.approx(acc["float32"] - acc["all w8"], abs=1e-6)
    jets = next(c for c in s["claims"] if c["key"] == "jet_conclusions_hold")
    table = pd.read_csv(results / "jet_conclusions.csv")
    assert len(table) == 4 and sum(jets["numbers"].values()) == 4 and set(table["format here"]) == set(fixed)
    assert jets["verdict"] == ("holds" if (table.here == "holds").all() else
                               "refuted" if (table.here == "refuted").any() else "not shown")  # the intersection
    qat_w4 = next(c for c in s["claims"] if c["key"] == "qat_w4")
    assert "fine-tuned 8-bit control" in qat_w4["statement"]


def acc_of(ptq: pd.DataFrame, config: str) -> float:
    return float(ptq.set_index("config").accuracy[config])
