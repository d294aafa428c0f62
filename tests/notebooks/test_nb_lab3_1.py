"""lab3_1 quick run: outputs exist, the numbers are sane, the claims and report checks are stored; the
hardware estimates and the published comparison are there; a second run gives the same verdicts."""

import pandas as pd
import pytest

from lab_utils.analysis import hardware
from tests.helpers import run_cli, summary_of


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
    # no verdict rests on timing: no claim about latency; the report's latency statement read from the cycle model
    assert not any("latency" in c["key"] or "slower" in c["statement"] for c in s["claims"])
    lat = s["report_checks"][1]
    assert lat["verdict"] in ("agrees", "partly", "disagrees") and lat["run_shows"].startswith("estimated cycle model")
    assert " ms" not in lat["run_shows"]
    # the estimated FPGA figures per configuration, and the published comparison (table and summary)
    assert set(hardware.HW_COLUMNS) <= set(t.columns) and t["latency_cycles"].gt(0).all()
    assert (t["lut_equivalent"] == t["luts"] + 55 * t["dsps"]).all()
    hw = pd.read_csv(res / "hardware.csv")
    assert len(hw) == 16 and {"luts", "dsps", "lut_equivalent", "latency_cycles", "ebops"} <= set(hw.columns)
    pub = pd.read_csv(res / "published_comparison.csv")
    assert len(pub) >= 7 and pub["source"].str.len().gt(0).all()
    assert pub["ratio"].to_numpy() == pytest.approx((pub["estimate"] / pub["published"]).to_numpy())
    assert {"hardware.csv", "published_comparison.csv"} <= set(s["tables"])
    assert len(n["published synthesis -> estimate (ratio)"]) == len(pub)


@pytest.mark.slow
def test_lab3_1_twice_gives_identical_verdicts(quick_report, tmp_path):
    """The acceptance of issue 22: lab3_1 run again (a fresh output root, the same commit and parameters) gives
    the same verdict for every claim and report check, and the same statements and evidence."""
    proc = run_cli("report", "--quick", "--only", "lab3_1_metrics", env={"LAB_OUTPUT_DIR": str(tmp_path)}, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    first, second = summary_of(quick_report, "lab3_1"), summary_of(tmp_path, "lab3_1")
    for part, name in (("claims", "key"), ("report_checks", "topic")):
        a = [(c[name], c["verdict"], c.get("statement", c.get("report_said")), c.get("evidence", c.get("run_shows")))
             for c in first[part]]
        b = [(c[name], c["verdict"], c.get("statement", c.get("report_said")), c.get("evidence", c.get("run_shows")))
             for c in second[part]]
        assert a == b
