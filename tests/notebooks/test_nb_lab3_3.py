"""lab3_3 quick run: brute force through the CLI's code covers every unique configuration once."""

import pandas as pd

from tests.helpers import summary_of


def test_lab3_3_outputs(quick_report):
    s = summary_of(quick_report, "lab3_3")
    n = s["numbers"]
    assert n["unique configurations"] == 144 and n["index combinations"] == 256
    assert n["unique configurations evaluated"] == 144 and n["trials complete"] == 144
    assert n["configurations evaluated twice"] == 0
    assert 0.0 < n["best quantized accuracy"] <= 1.0 and 0.0 < n["float accuracy"] <= 1.0
    assert n["best quantized accuracy"] >= n["float accuracy"] - 0.01  # 16-bit is in the space
    trials = pd.read_csv(quick_report / "results" / "lab3_3" / "search" / "trials.csv")
    assert (trials["state"] == "COMPLETE").sum() == 144
    assert "lab3_3_brute_force.png" in s["figures"]
