"""lab3_4 quick run: every claim is computed and stored with its test, in the verdict vocabulary (the random-order
law a check, apart from the findings); the exact-optimum comparison is there with its start-up share; the per-layer
space's baseline predicts every class; reach tables consistent with the summary; brute force covers the lab space;
the figures exist with captions."""

import pandas as pd

from tests.helpers import summary_of


def test_lab3_4_outputs(quick_report):
    s = summary_of(quick_report, "lab3_4")
    n = s["numbers"]
    assert {"lab3_4_best_so_far.png", "lab3_4_reach_ecdf.png"} <= set(s["figures"])
    assert n["lab space configurations"] == 144
    assert 0.0 < n["lab space best (%)"] <= 100.0 and 0.0 < n["per-layer space best (%)"] <= 100.0
    # the target is never finer than one binomial standard error of the quick validation set
    assert n["lab space: target tolerance (points)"] >= 0.5
    by_key = {c["key"]: c for c in s["claims"]}
    assert set(by_key) == {"fewer_trials.lab", "fewer_trials.lab_fine", "fewer_trials.lab_optimum",
                           "fewer_trials.per_layer", "reaches_more_often.per_layer", "random_order_law.lab",
                           "random_order_law.lab_optimum", "random_order_law.per_layer"}
    assert all(c["evidence"] and c["test"] for c in s["claims"])
    for key, c in by_key.items():
        if key.startswith("random_order_law."):
            assert c["kind"] == "check" and c["verdict"] in ("check passed", "check failed")
        else:
            assert c["kind"] == "finding" and c["verdict"] in ("holds", "refuted", "not shown", "not applicable")
            assert "start-up" in c["evidence"] or key.startswith("reaches_more_often.")
            if c["verdict"] == "not shown":
                assert "could" in c["evidence"] or "detects (80 % power)" in c["evidence"]
    # the exact optimum: the target the random start-up reaches only by luck, with its own reach table
    opt = by_key["fewer_trials.lab_optimum"]
    assert "exact optimum" in opt["statement"] and opt["numbers"]["startup_share"] <= 0.5
    assert n["lab space, exact optimum: target tolerance (points)"] == 0.0
    assert 1 <= n["lab space, exact optimum: configurations within the target"] < n[
        "lab space: configurations within the target"]
    # the per-layer space's network trained: every class predicted
    assert n["per-layer baseline"] == "jsc-three-linear-layers, no logit ReLU"
    assert n["per-layer baseline classes never predicted"] == 0
    assert [r["topic"] for r in s["report_checks"]] == ["TPE vs brute force at 1–5 trials"]
    res = quick_report / "results" / "lab3_4"
    small = pd.read_csv(res / "reach_small.csv").set_index("sampler")
    # brute force's budget is the whole lab space: every run reaches the target
    assert small.loc["brute-force", "reached %"] == 100.0
    assert small.loc["brute-force", "unique configs"] == 144
    assert small.loc["tpe", "unique configs"] <= 144
    assert small.loc["brute-force", "runs"] == n["lab space runs per sampler"]
    assert n["lab space: brute-force median trials"] == small.loc["brute-force", "median"]
    optimum = pd.read_csv(res / "reach_small_optimum.csv").set_index("sampler")
    assert optimum.loc["brute-force", "reached %"] == 100.0
    assert abs(n["lab space, exact optimum: tpe reach rate"] * 100 - optimum.loc["tpe", "reached %"]) <= 0.05
    large = pd.read_csv(res / "reach_large.csv").set_index("sampler")
    assert abs(n["per-layer space: tpe reach rate"] * 100 - large.loc["tpe", "reached %"]) <= 0.05
