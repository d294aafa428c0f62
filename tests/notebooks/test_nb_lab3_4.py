"""lab3_4 quick run: every claim is computed and stored with its test; reach tables consistent with the
summary; brute force covers the lab space; the figures exist with captions."""

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
    statements = [c["statement"] for c in s["claims"]]
    assert any("fewer trials" in t and "lab space" in t for t in statements)
    assert any("uniform-random-order law" in t for t in statements)
    assert all(c["evidence"] and c["test"] for c in s["claims"])
    assert [r["topic"] for r in s["report_checks"]] == ["TPE vs brute force at 1–5 trials"]
    res = quick_report / "results" / "lab3_4"
    small = pd.read_csv(res / "reach_small.csv").set_index("sampler")
    # brute force's budget is the whole lab space: every run reaches the target
    assert small.loc["brute-force", "reached %"] == 100.0
    assert small.loc["brute-force", "unique configs"] == 144
    assert small.loc["tpe", "unique configs"] <= 144
    assert small.loc["brute-force", "runs"] == n["lab space runs per sampler"]
    assert n["lab space: brute-force median trials"] == small.loc["brute-force", "median"]
    large = pd.read_csv(res / "reach_large.csv").set_index("sampler")
    assert abs(n["per-layer space: tpe reach rate"] * 100 - large.loc["tpe", "reached %"]) <= 0.05
