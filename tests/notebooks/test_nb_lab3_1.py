"""lab3_1 quick run: outputs exist, the numbers are sane, the claims and report checks are stored."""

import pandas as pd

from tests.helpers import summary_of


def test_lab3_1_outputs(quick_report):
    s = summary_of(quick_report, "lab3_1")
    n = s["numbers"]
    assert s["synthetic"] and "lab3_1_metrics.png" in s["figures"]
    assert (quick_report / "figures" / "lab3_1_metrics.png").stat().st_size > 1000
    for k in ("float accuracy", "float macro accuracy", "best quantized accuracy", "worst quantized accuracy"):
        assert 0.0 < n[k] <= 1.0, (k, n[k])
    assert n["smallest size bytes"] < n["float size bytes"] and n["smallest bit-ops/batch"] < n["float bit-ops/batch"]
    res = quick_report / "results" / "lab3_1"
    t = pd.read_csv(res / "metrics.csv")
    assert len(t) == 17 and t["latency_ms"].gt(0).all() and t["latency_iqr_ms"].ge(0).all()
    assert t["flops"].nunique() == 1  # quantization changes widths, not the number of operations
    assert (t["lost"] + t["gained"]).le(t["n"]).all()
    clips = pd.read_csv(res / "clipping.csv")
    assert clips["input_clip_share"].between(0, 1).all()
    # a format that holds larger values never clips a larger share of the same data
    assert clips.sort_values("format_max")["input_clip_share"].is_monotonic_decreasing
    conv = pd.read_csv(res / "bitop_conventions.csv")
    assert len(conv) == 16 and (conv["lab report (Linear)"] > conv["standard (Linear)"]).all()
    topics = [c["topic"] for c in s["report_checks"]]
    assert topics == ["PTQ keeps accuracy", "latency rises with precision", "bit-op call: argument order",
                      "bit-op call: batch size", "ReLU FLOPs"]
    assert len(s["claims"]) >= 7 and all(c["evidence"] for c in s["claims"])
    kinds = {c["key"]: c["kind"] for c in s["claims"]}
    assert kinds["flops_constant"] == kinds["size_bitops_follow_widths"] == "check"
    assert kinds["format.data_in"] == kinds["format.weight"] == kinds["matches_float.widest"] == "finding"
    flops = next(c for c in s["claims"] if c["statement"].startswith("FLOPs"))
    assert flops["verdict"] == "check passed"
    # no verdict rests on timing: no claim about latency, the report's latency statement not comparable
    assert not any("latency" in c["key"] or "slower" in c["statement"] for c in s["claims"])
    assert s["report_checks"][1]["verdict"] == "not comparable"
