"""lab3_2 quick run: rankings, Pareto fronts, the accuracy/loss agreement and their claims."""

import pandas as pd

from tests.helpers import summary_of


def test_lab3_2_outputs(quick_report):
    s = summary_of(quick_report, "lab3_2")
    n = s["numbers"]
    assert {"lab3_2_pareto.png", "lab3_2_accuracy_vs_loss.png"} <= set(s["figures"])
    assert -1.0 <= n["kendall tau (accuracy, -loss)"] <= 1.0
    assert 1 <= n["configs on accuracy/bit-ops front"] <= 16
    res = quick_report / "results" / "lab3_2"
    rank = pd.read_csv(res / "scaled_sum_ranking.csv")
    assert len(rank) == 16 and rank["accuracy_pct"].between(0, 100, inclusive="right").all()
    for name, cost in (("pareto_bitops", "bitops"), ("pareto_lut_equivalent", "lut_equivalent"),
                       ("pareto_latency_cycles", "latency_cycles")):
        front = pd.read_csv(res / f"{name}.csv")
        assert front["accuracy"].is_monotonic_increasing and front[cost].is_monotonic_increasing, name
    assert 1 <= n["configs on accuracy/LUT-equivalent front (estimated)"] <= 16
    assert 1 <= n["configs on accuracy/latency-cycles front (estimated)"] <= 16
    # MASE's units: 0.2 per bit against accuracy in [0, 1]: bits decide, whatever the accuracies
    assert s["claims"][0]["verdict"] == "check passed"  # an arithmetic consequence of the units: a check
    assert [c["topic"] for c in s["report_checks"]] == ["accuracy and loss inversely proportional"]
