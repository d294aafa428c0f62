"""lab4_2 (quick run): five uniform multipliers, both models, screened and confirmed; failures counted
from predictions; claims computed; parameters by hand."""

import pandas as pd

from tests.helpers import summary_of


def test_lab4_2_quick(quick_report):
    s = summary_of(quick_report, "lab4_2")
    n = s["numbers"]
    table = pd.read_csv(quick_report / "results" / "lab4_2" / "by_multiplier.csv")
    runs = pd.read_csv(quick_report / "results" / "lab4_2" / "runs.csv")
    assert sorted(table["model"].unique()) == ["faithful", "fixed"] and len(table) == 10
    for _, g in table.groupby("model"):
        g = g.sort_values("a")
        # params of 16 -> 16m -> 16m -> 5 with BN(16): 16*16m + 16m + (16m)^2 + 16m + 16m*5 + 5 + 32
        assert g["params"].tolist() == [256 * m * m + 368 * m + 37 for m in (1, 2, 3, 4, 5)]
    screen = runs[runs["phase"] == "screen"]
    assert len(screen) == 5 * 2 * 2 == n["screen runs"] and (table["runs"] == 2).all()
    assert (screen["failed"] == (screen["classes_predicted"] < 5)).all()
    assert table["failed"].sum() == screen["failed"].sum() == n["faithful: failed runs"] + n["fixed: failed runs"]
    confirm = runs[runs["phase"] == "confirm"]
    assert len(confirm) == n["confirmation runs"] and (confirm["seed"] >= 1000).all()  # fresh seeds
    statements = [c["statement"] for c in s["claims"]]
    assert len(statements) == 2 * 3 + 1 + 2 and all(c["holds"] in (True, False, None) for c in s["claims"])
    verdicts = {c["key"]: c["verdict"] for c in s["claims"]}
    assert all(v in ("holds", "refuted", "not shown", "not applicable") for v in verdicts.values())
    for m in ("faithful", "fixed"):  # a failure claim is vacuous exactly when no run (or every run) failed
        failed = int(table[table["model"] == m]["failed"].sum())
        assert (verdicts[f"screen.failures_depend_on_width.{m}"] == "not applicable") == (failed in (0, 2 * 5))
        assert verdicts[f"screen.width_changes_accuracy.{m}"] != "refuted"  # a permutation test never refutes
    # pooled within-candidate intervals: one SD per model, df = trained runs - candidates with a trained run
    for _, g in table.groupby("model"):
        ok = g[g["trained"] > 0]
        assert ok["val_pooled_sd"].nunique() <= 1 and (ok["val_pooled_df"] == ok["trained"].sum() - len(ok)).all()
    assert any("max-statistic" in c["evidence"] or "no test" in c["evidence"] for c in s["claims"])
    assert len(s["report_checks"]) == 1 and s["report_checks"][0]["topic"].startswith("width results")
    assert s["figures"] == ["lab4_2_accuracy.png"]
