"""lab4_3 (quick run): 25 candidates, parameter counts 661 / 1,797 / 3,013, heatmap and Pareto front."""

import pandas as pd

from tests.helpers import summary_of


def test_lab4_3_quick(quick_report):
    s = summary_of(quick_report, "lab4_3")
    n = s["numbers"]
    assert (n["params (1,1)"], n["params (2,2)"], n["params (2,4)"]) == (661, 1797, 3013)
    agg = pd.read_csv(quick_report / "results" / "lab4_3" / "by_candidate.csv")
    assert len(agg) == 25 and n["candidates"] == 25
    by = agg.set_index(["a", "c"])["params"]
    assert (by[(1, 1)], by[(2, 2)], by[(2, 4)]) == (661, 1797, 3013)
    # 16a*16 + 16a + 16a*16c + 16c + 16c*5 + 5 + 32, for every (a, c)
    for (a, c), p in by.items():
        assert p == 256 * a + 16 * a + 256 * a * c + 16 * c + 80 * c + 37
    assert n["trainings now"] == 20  # the five a == c candidates came from lab4_2's cache
    best = agg.iloc[0]
    assert (n["best a"], n["best c"]) == (best["a"], best["c"])
    assert n["best val accuracy (mean)"] == agg["val_mean"].max()
    assert 1 <= n["target (2,4) rank"] <= 25 and 1 <= n["pareto front size"] <= 25
    assert n["verdict"].startswith("undetermined")
    for fig in ("lab4_3_heatmap.png", "lab4_3_pareto.png"):
        assert (quick_report / "figures" / fig).stat().st_size > 1000
