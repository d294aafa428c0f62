"""lab3_1 quick run: outputs exist and the numbers are sane (issue 5 acceptance)."""

import pandas as pd

from tests.helpers import summary_of


def test_lab3_1_outputs(quick_report):
    s = summary_of(quick_report, "lab3_1")
    n = s["numbers"]
    assert s["synthetic"] and "lab3_1_metrics.png" in s["figures"]
    assert (quick_report / "figures" / "lab3_1_metrics.png").stat().st_size > 1000
    for k in ("float accuracy", "float macro accuracy", "16-bit config accuracy", "best quantized accuracy",
              "worst quantized accuracy"):
        assert 0.0 < n[k] <= 1.0, (k, n[k])
    assert abs(n["16-bit minus float accuracy (points)"]) <= 1.0
    assert n["smallest size bytes"] < n["float size bytes"] and n["smallest bit-ops/batch"] < n["float bit-ops/batch"]
    t = pd.read_csv(quick_report / "results" / "lab3_1" / "metrics.csv")
    assert len(t) == 17 and t["latency_ms"].gt(0).all() and t["latency_iqr_ms"].ge(0).all()
    assert t["flops"].nunique() == 1  # quantization changes widths, not the number of operations
