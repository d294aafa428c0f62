"""lab3_5 quick run: PTQ against QAT on both models; the tables agree with each other and with a recomputation
from the per-seed runs, the learning rate is picked on validation only, the claims and figures are stored."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.helpers import summary_of

MODELS = ("jsc-tiny", "jsc-three-linear-layers")
# quick presets: lab grid 16 + per-layer (jsc-tiny widths 2, 4, 8 -> only "w 2" is new; three Linears over 2, 4 ->
# 8 combinations less 4-4-4, the lab's "in 8/4, w 4/2"); a screen of one seed at two learning rates, then two fresh
# seeds at the picked rate; epochs 1 and 2 at 2 hard configs
CONFIGS = {"jsc-tiny": 17, "jsc-three-linear-layers": 23}
SEEDS, SCREEN, LRS = 2, 1, 2


def test_lab3_5_quick(quick_report):
    s = summary_of(quick_report, "lab3_5")
    assert s["synthetic"] and s["question"].startswith("How much of what PTQ loses")
    for fig in ("lab3_5_fronts.png", "lab3_5_epochs.png"):
        assert fig in s["figures"] and fig in s["captions"]
        assert (quick_report / "figures" / fig).stat().st_size > 1000
    res = quick_report / "results" / "lab3_5"
    runs, table, ptq, ep = (pd.read_csv(res / f"{k}.csv") for k in ("runs", "table", "ptq", "epochs"))
    for name in MODELS:
        n = {k[: -len(f" ({name})")]: v for k, v in s["numbers"].items() if k.endswith(f" ({name})")}
        assert n["configurations"] == CONFIGS[name] == len(table[table["model"] == name])
        r = runs[runs["model"] == name]
        assert len(r) == (CONFIGS[name] + 1) * (SCREEN * LRS + SEEDS)  # + the fine-tuning control
        assert sum(v for k, v in n.items() if k.startswith("configurations picking lr")) == CONFIGS[name] + 1
        assert n["float test accuracy"] == round(float(ptq.loc[(ptq["model"] == name) & (ptq["grid"] == "float"),
                                                                 "test_accuracy"].iloc[0]), 4)
        _check_selection(r)
        _check_table(table[table["model"] == name], ptq[ptq["model"] == name], r)
        e = ep[ep["model"] == name]
        assert sorted(e["epochs"].unique()) == [1, 2] and e["config"].nunique() == 2 and len(e) == 2 * 2 * SEEDS
        assert set(e["config"]) == set(n["hardest configurations"])
        one = e[e["epochs"] == 1].merge(r[r["selected"]], on=["config", "seed"], suffixes=("", "_run"))
        assert len(one) == 2 * SEEDS and (one["test_accuracy"] == one["test_accuracy_run"]).all()
        assert e["lr"].isin([1e-3, 1e-2]).all()  # each epoch count picks its own rate among the quick preset's
    statements = [c["statement"] for c in s["claims"]]
    assert len(statements) == 14 and all(c["evidence"] for c in s["claims"])
    assert sum("recovers at least 50%" in t for t in statements) == 4
    assert sum("within 1 point of float" in t for t in statements) == 2
    epochs = [c for c in s["claims"] if c["key"].startswith("epochs.")]
    assert len(epochs) == 2 and all("two-sided" in c["statement"] and c["numbers"]["rule"] == {"within": 0.25}
                                    for c in epochs)
    assert all(c["verdict"] in ("holds", "refuted", "not shown", "not applicable") for c in s["claims"])
    spear = [c for c in s["claims"] if "gains most where PTQ loses most" in c["statement"]]
    for c in spear:  # the stored rho is scipy's over the stored table
        t = table[table["model"] == c["numbers"]["model"]]
        assert c["numbers"]["rho"] == pytest.approx(stats.spearmanr(t["ptq_loss_pts"], t["gain_pts"]).statistic)


def _check_selection(r: pd.DataFrame) -> None:
    """Each configuration's picked lr has the best screen validation accuracy; the confirm seeds are fresh; only
    the confirm runs have test numbers."""
    screen = r[r["phase"] == "screen"]
    means = screen.groupby(["config", "lr"])["val_accuracy"].mean()
    for config, g in r[r["selected"]].groupby("config"):
        assert len(g) == SEEDS and g["lr"].nunique() == 1 and (g["phase"] == "confirm").all()
        assert means[config].max() == means[(config, g["lr"].iloc[0])]
        assert not set(g["seed"]) & set(screen.loc[screen["config"] == config, "seed"])
    assert r.loc[r["selected"], "test_accuracy"].between(0.2, 1).all()
    assert r.loc[~r["selected"], "test_accuracy"].isna().all()


def _check_table(t: pd.DataFrame, ptq: pd.DataFrame, r: pd.DataFrame) -> None:
    """PTQ from ptq.csv, QAT means and recovered fractions recomputed from the per-seed runs."""
    flt = float(ptq.loc[ptq["grid"] == "float", "test_accuracy"].iloc[0])
    merged = t.merge(ptq[["config", "test_accuracy", "bitops"]], on="config", suffixes=("", "_ptq"))
    assert len(merged) == len(t) and (merged["ptq"] == merged["test_accuracy"]).all()
    assert (merged["bitops"] == merged["bitops_ptq"]).all() and (t["bitops"] < ptq["bitops"].max()).all()
    qat = r[r["selected"]].groupby("config")["test_accuracy"].mean()
    tt = t.set_index("config")
    assert np.allclose(tt["qat"], qat.reindex(tt.index))
    assert np.allclose(tt["ptq_loss_pts"], 100 * (flt - tt["ptq"]))
    lost = tt["ptq_loss_pts"] > 0
    assert np.allclose(tt.loc[lost, "recovered"], (tt["qat"] - tt["ptq"])[lost] / (flt - tt["ptq"])[lost])
    assert tt.loc[~lost, "recovered"].isna().all()
    assert (tt["qat_low"] <= tt["qat"]).all() and (tt["qat"] <= tt["qat_high"]).all()
    # a per-layer configuration quantizes fewer bits than float; 2-bit weights everywhere lose under PTQ
    low = tt[tt.index.str.fullmatch(r"per-layer w 2(-2)*")]
    assert len(low) == 1 and low["ptq_loss_pts"].iloc[0] > 1.0
