"""lab4_4 (the width search from the command line): the upstream check against lab4_3, the config patch,
the CLI runs, the search-against-grid tables and the claims."""

import json
import tomllib

import pandas as pd
import pytest

from lab_utils.errors import LabError
from lab_utils.labs import lab4_4
from lab_utils.search.config import parse_config


def test_write_search_config_patches_only_the_named_keys(tmp_path):
    path = lab4_4.write_search_config(tmp_path / "c.toml", n_samples=30000, epochs=1, batch_size=512, lr=1e-3,
                                             seed=3, tpe_startup=6, logit_relu=False)
    raw = tomllib.loads(path.read_text())
    orig = tomllib.loads(lab4_4.SEARCH_CONFIG.read_text())
    assert raw["n_samples"] == 30000 and raw["model_args"] == {"logit_relu": False}
    assert raw["search"]["search_space"]["train"] == {"epochs": 1, "batch_size": 512, "lr": 1e-3, "optimizer": "adam",
                                                      "seed": 3}
    assert raw["search"]["strategy"]["setup"]["n_startup_trials"] == 6
    assert raw["search"]["search_space"]["name"] == orig["search"]["search_space"]["name"]
    parse_config(raw)  # still a valid search config
    full = tomllib.loads(lab4_4.write_search_config(tmp_path / "f.toml", n_samples="NA", epochs=10,
                                                           batch_size=512, lr=1e-3, seed=0, tpe_startup=6).read_text())
    assert full["n_samples"] == "NA" and full.get("model_args") == orig.get("model_args")


def test_upstream_runs_checks_mode_recipe_and_data(tmp_path, monkeypatch, blobs):
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path))

    class Splits:
        def describe(self):
            return {"dataset": "jsc-sim", "n": 10}

    with pytest.raises(LabError, match="run lab4_3 first"):
        lab4_4.upstream_runs(Splits(), True, 1)
    d = tmp_path / "results" / "lab4_3"
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({"quick": True, "numbers": {"epochs": 1}}))
    (d / "runs.meta.json").write_text(json.dumps({"table": "runs", "dataset": "jsc-sim", "n": 10}))
    (d / "runs.csv").write_text("model,phase,a,c,seed,val_accuracy\nfaithful,screen,1,1,0,0.5\n"
                                "fixed,screen,1,1,0,0.6\nfaithful,confirm,1,1,1000,0.7\n")
    assert lab4_4.upstream_runs(Splits(), True, 1)["val_accuracy"].tolist() == [0.5]
    assert lab4_4.upstream_runs(Splits(), True, 1, logit_relu=False)["val_accuracy"].tolist() == [0.6]
    with pytest.raises(LabError, match="same mode"):
        lab4_4.upstream_runs(Splits(), False, 1)
    with pytest.raises(LabError, match="same mode"):
        lab4_4.upstream_runs(Splits(), True, 10)
    (d / "runs.meta.json").write_text(json.dumps({"table": "runs", "dataset": "jsc-sim", "n": 11}))
    with pytest.raises(LabError, match="other data"):
        lab4_4.upstream_runs(Splits(), True, 1)


def test_search_against_grid_by_hand():
    grid = pd.DataFrame({"a": [1, 1, 2, 2], "c": [1, 1, 1, 1], "seed": [0, 1, 0, 1], "params": [10, 10, 20, 20],
                         "val_accuracy": [0.6, 0.8, 0.7, 0.65]})
    tpe = pd.DataFrame({"number": [0, 1, 2], "state": ["COMPLETE", "COMPLETE", "FAIL"], "a": [1, 1, 2], "c": [1, 1, 1],
                        "accuracy": [0.6, 0.6, 0.9], "params": [10, 10, 20]})
    bf = pd.DataFrame({"number": [0, 1], "state": ["COMPLETE"] * 2, "a": [2, 1], "c": [1, 1], "accuracy": [0.7, 0.6],
                       "params": [20, 10]})
    compare, first_seed, exhaustive = lab4_4.search_vs_grid(grid, bf, seed=0)
    assert compare["difference"].abs().max() == 0.0 and len(compare) == 2
    assert exhaustive.set_index("a")["val_mean_all_seeds"].tolist() == pytest.approx([0.7, 0.675])
    choice = lab4_4.search_choices({"tpe": tpe, "brute-force": bf}, first_seed, exhaustive)
    assert int(choice["tpe"]["number"]) == 0  # the failed trial does not count; ties: fewer params, first
    assert [int(choice[k]["a"]) for k in ("brute-force", "grid (seed)", "grid (mean)")] == [2, 2, 1]
    assert lab4_4.rank_in_grid(first_seed, choice["tpe"]["accuracy"]) == 2
    table = lab4_4.choices_table(choice, tpe_trials=3, seed=0)
    assert table["method"].tolist() == ["TPE, 3 trials", "brute force, 25 trials", "lab4_3 grid, seed 0",
                                         "lab4_3 screen, mean of trained runs"]
    assert table["val accuracy (%)"].tolist() == pytest.approx([60.0, 70.0, 70.0, 70.0])
    found = lab4_4.search_claims(choice, compare, trained_by_searches=0, width_p=0.4)
    assert [c.kind for c in found] == ["check", "check", "finding", "finding"]  # reuse and brute force: implementation
    assert [c.verdict for c in found] == ["check passed", "check passed", "refuted", "refuted"]  # TPE (1,1), mean (1,1)
    assert "p = 0.400" in found[3].evidence
    assert [c.key for c in found] == ["reused_lab4_3", "brute_force_matches_grid", "tpe_matches_brute_force",
                                      "one_seed_matches_screen"]
    assert [c.evidence for c in found[:3]] == [
        "0 candidates trained by the searches; largest |search - grid| accuracy = 0.0e+00 over 2 candidates",
        "brute force (2, 1), grid (same seed) (2, 1)", "TPE (1, 1), brute force (2, 1)"]
    assert found[3].evidence.startswith("search (2, 1), screen (mean of trained runs) (1, 1); caveat:")
    assert [c.numbers for c in found] == [{}, {}, {}, {"width_p": 0.4}]
    again = lab4_4.search_claims({**choice, "tpe": choice["brute-force"], "grid (mean)": choice["brute-force"]},
                                        compare.assign(difference=[0.0, -1e-3]), trained_by_searches=1, width_p=0.01)
    assert [c.verdict for c in again] == ["check failed", "check passed", "holds", "holds"]
    wrong = lab4_4.search_claims({**choice, "grid (seed)": choice["tpe"]}, compare, 0, 0.4)[1]
    assert wrong.verdict == "check failed" and wrong.evidence == "brute force (2, 1), grid (same seed) (1, 1)"
    assert again[0].evidence == ("1 candidates trained by the searches; largest |search - grid| accuracy = 1.0e-03 over "
                                 "2 candidates")  # the largest absolute difference, whatever its sign
    assert again[3].numbers == {"width_p": 0.01} and "p = 0.010" in again[3].evidence


def test_search_against_grid_ignores_failed_runs_in_the_mean():
    grid = pd.DataFrame({"a": [1, 1, 2, 2], "c": [1, 1, 1, 1], "seed": [0, 1, 0, 1], "params": [10, 10, 20, 20],
                         "val_accuracy": [0.6, 0.8, 0.7, 0.4], "failed": [False, False, False, True]})
    bf = pd.DataFrame({"number": [0, 1], "state": ["COMPLETE"] * 2, "a": [2, 1], "c": [1, 1], "accuracy": [0.7, 0.6],
                       "params": [20, 10]})
    _, _, exhaustive = lab4_4.search_vs_grid(grid, bf, seed=0)
    assert exhaustive.set_index("a")["val_mean_all_seeds"].tolist() == pytest.approx([0.7, 0.7])


@pytest.mark.slow  # CLI processes
def test_cli_searches_links_the_cache_and_reports_a_failure(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "x.ckpt").write_bytes(b"")
    printed = []
    with pytest.raises(LabError, match="search with tpe failed"):
        lab4_4.cli_searches(tmp_path / "missing.toml", tmp_path / "out", cache, {"tpe": 2}, seed=0,
                                   print_fn=lambda *a: printed.append(a))
    assert (tmp_path / "out" / "tpe" / "candidates").resolve() == cache.resolve()
    assert lab4_4.count_cached(tmp_path / "out" / "tpe" / "candidates") == 1
    assert printed[0][:2] == ("$ python -m lab_utils search --config", "missing.toml")
    assert "error:" in printed[1][1]
