"""lab4_2 (quick run): five uniform multipliers trained (batched), parameters by hand, a verdict."""

import pandas as pd

from tests.helpers import summary_of


def test_lab4_2_quick(quick_report):
    s = summary_of(quick_report, "lab4_2")
    n = s["numbers"]
    agg = pd.read_csv(quick_report / "results" / "lab4_2" / "by_multiplier.csv")
    # params of 16 -> 16m -> 16m -> 5 with BN(16): 16*16m + 16m + (16m)^2 + 16m + 16m*5 + 5 + 32
    assert agg["params"].tolist() == [256 * m * m + 368 * m + 37 for m in (1, 2, 3, 4, 5)]
    assert n["params multiplier 1"] == 661 and n["params multiplier 2"] == 1797
    assert agg["multiplier"].tolist() == [1, 2, 3, 4, 5] and (agg["n_seeds"] == 1).all()
    assert agg["val_mean"].between(0.2, 1).all() and agg["test_mean"].between(0.2, 1).all()
    assert n["best val accuracy (mean)"] == agg["val_mean"].max()
    assert n["best multiplier"] == int(agg.loc[agg["val_mean"].idxmax(), "multiplier"])
    assert n["verdict"].startswith("undetermined")  # one seed in quick mode: no spread, no claim
    assert s["figures"] == ["lab4_2_accuracy.png"]
