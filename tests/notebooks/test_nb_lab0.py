"""lab0 quick run: sane numbers, the logit-ReLU study over seeds, claims stored, synthetic data flagged."""

import json

import pandas as pd

from tests.helpers import summary_of


def test_lab0_quick_outputs(quick_report):
    s = summary_of(quick_report, "lab0")
    nums = s["numbers"]
    assert s["synthetic"] and "SYNTHETIC" in s["dataset"]
    for k in ("jsc-tiny test accuracy", "jsc-tiny test accuracy without logit ReLU",
              "jsc-tiny test accuracy, report recipe", "jsc-three-linear-layers test accuracy"):
        assert 0.0 < nums[k] <= 1.0, (k, nums[k])
    assert nums["jsc-mlp (16-64-32-32-5) test accuracy"] > 0.5
    meta = json.loads((quick_report / "results" / "lab0" / "variants.meta.json").read_text())
    assert meta["synthetic"] is True
    study = pd.read_csv(quick_report / "results" / "lab0" / "logit_relu_study.csv")
    n = nums["logit-ReLU study seeds"]
    assert len(study) == 2 * 2 * n and study.groupby(["model", "logit_relu"]).size().eq(n).all()
    # one claim per model of the study, each with its seeds and test named; the others follow
    relu = [c for c in s["claims"] if c["statement"].startswith("dropping MASE's logit ReLU")]
    assert len(relu) == 2 and all(f"n = {n} seeds" in c["evidence"] and c["test"] for c in relu)
    fails = [c for c in s["claims"] if "fails to train" in c["statement"]]
    assert len(fails) == 2 and all("Fisher" in c["evidence"] for c in fails)
    assert all(c["kind"] == "finding" and c["verdict"] in ("holds", "refuted", "not shown", "not applicable")
               for c in s["claims"])
    for c in relu:  # an interval against 0: recorded, and the detectable effect named where not shown
        assert c["numbers"]["rule"] == {"above": 0.0} and len(c["numbers"]["interval"]) == 2
        assert (c["verdict"] == "not shown") == ("could detect (80 % power)" in c["evidence"])
    assert [c["verdict"] for c in s["report_checks"]] == ["not comparable"]  # synthetic data
    assert {"lab0_confusion.png", "lab0_logit_relu.png"} <= set(s["figures"]) and s["captions"]
