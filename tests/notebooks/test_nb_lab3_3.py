"""lab3_3 quick run: brute force through the CLI's code covers every unique configuration once; claims."""

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
    res = quick_report / "results" / "lab3_3"
    trials = pd.read_csv(res / "search" / "trials.csv")
    assert (trials["state"] == "COMPLETE").sum() == 144
    frame = pd.read_csv(res / "trials_with_clipping.csv")
    # a data_in format with a negative number of integer bits holds less than 0.5: it clips most inputs
    assert frame.loc[frame["data_in_integer_bits"] < 0, "data_in_clip_share"].gt(0.3).all()
    assert "lab3_3_brute_force.png" in s["figures"]
    assert s["claims"][0]["verdict"] == "check passed"  # each unique configuration exactly once
    keys = [c["key"] for c in s["claims"]]
    assert {"format.data_in", "format.weight"} <= set(keys) and not any(k.startswith(("range.", "step.")) for k in keys)
    assert [c["topic"] for c in s["report_checks"]] == ["256 combinations cover the space",
                                                        "best brute-force trial keeps accuracy"]
    assert s["report_checks"][0]["verdict"] == "partly"
