"""lab4_4 (quick run): the CLI search reuses lab4_3's trained candidates and agrees with its grid;
its claims are computed."""

import pandas as pd

from tests.helpers import summary_of


def test_lab4_4_quick(quick_report):
    s = summary_of(quick_report, "lab4_4")
    n = s["numbers"]
    assert n["candidates trained by the searches"] == 0  # every trial loaded a cached candidate
    assert n["max |search - grid| accuracy"] == 0.0  # same model, same validation split
    assert n["brute-force trials"] == 25 and n["tpe trials"] >= 1
    assert n["brute-force choice"] == n["grid best (seed)"]
    assert n["brute-force accuracy"] >= n["tpe accuracy"]
    reuse, bf_grid, tpe_bf, seed_vs_screen = s["claims"]
    assert [c["kind"] for c in s["claims"]] == ["check", "check", "finding", "finding"]
    assert reuse["verdict"] == bf_grid["verdict"] == "check passed"
    assert tpe_bf["holds"] == (n["tpe choice"] == n["brute-force choice"])
    assert seed_vs_screen["holds"] == (n["brute-force choice"] == n["grid best (mean over seeds)"])
    bf = pd.read_csv(quick_report / "results" / "lab4_4" / "brute-force" / "trials.csv")
    assert len(bf) == 25 and (bf["state"] == "COMPLETE").all()
    cols = ["seq_blocks_2/config/channel_multiplier", "seq_blocks_4/config/channel_multiplier"]
    assert len(bf[cols].drop_duplicates()) == 25
    assert (quick_report / "results" / "lab4_4" / "tpe" / "best.json").exists()
    assert (quick_report / "figures" / "lab4_4_best_so_far.png").stat().st_size > 1000
