"""lab3_4 quick run: the replayed random-order curve agrees with the exact expectation; tables sane."""

import pandas as pd

from tests.helpers import summary_of


def test_lab3_4_outputs(quick_report):
    s = summary_of(quick_report, "lab3_4")
    n = s["numbers"]
    assert "lab3_4_best_so_far.png" in s["figures"]
    assert n["small space configurations"] == 144
    assert 0.0 < n["small optimum (%)"] <= 100.0 and 0.0 < n["large optimum (%)"] <= 100.0
    # brute force in random order is a random permutation: within its band of the exact curve
    assert n["small: brute-force share of trials inside the random-order band"] >= 0.8
    assert n["large: brute-force share of trials inside the random-order band"] >= 0.8
    res = quick_report / "results" / "lab3_4"
    small = pd.read_csv(res / "efficiency_small.csv").set_index("sampler")
    assert small.loc["brute-force", "reached_optimum"] == 1.0  # the whole space: always found
    assert small.loc["brute-force", "unique_configs_mean"] == 144
    assert small.loc["tpe", "unique_configs_mean"] <= 144
    assert (small.drop(index="random order (exact)")["trials_to_within_tol_mean"] >= 1).all()
