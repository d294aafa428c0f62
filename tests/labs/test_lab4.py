"""Lab 4 helpers: aggregation and seed-spread verdict against hand-worked numbers, and lab4_4's
upstream check, config patch, CLI runs and search-against-grid tables."""

import json
import tomllib

import pandas as pd
import pytest

from lab_utils.errors import LabError
from lab_utils.labs import lab4 as width_results
from lab_utils.search.config import parse_config


def _runs(rows):
    return pd.DataFrame([{"a": a, "c": c, "h1": 16 * a, "h2": 16 * c, "params": p, "macs": p, "bitops": 1024 * p,
                          "seed": s, "val_accuracy": v, "test_accuracy": t} for a, c, p, s, v, t in rows])


def test_by_candidate_and_verdict_by_hand():
    runs = _runs([(1, 1, 661, 0, 0.70, 0.69), (1, 1, 661, 1, 0.72, 0.71), (1, 1, 661, 2, 0.71, 0.70),
                  (2, 4, 3013, 0, 0.75, 0.74), (2, 4, 3013, 1, 0.74, 0.73), (2, 4, 3013, 2, 0.76, 0.75)])
    agg = width_results.by_candidate(runs)
    assert list(zip(agg["a"], agg["c"])) == [(2, 4), (1, 1)]  # sorted by mean val accuracy
    assert agg["val_mean"].tolist() == pytest.approx([0.75, 0.71])
    assert agg["val_std"].tolist() == pytest.approx([0.01, 0.01])  # sample std of (0.74, 0.75, 0.76)
    assert agg["val_range"].tolist() == pytest.approx([0.02, 0.02])
    v = width_results.spread_verdict(agg)
    assert v["best"] == (2, 4) and v["difference"] == pytest.approx(0.04) and v["seed_spread"] == pytest.approx(0.02)
    assert v["beats_base_beyond_spread"] and "beats the base by more" in v["verdict"]


def test_verdict_within_spread_and_single_seed():
    runs = _runs([(1, 1, 661, 0, 0.70, 0.7), (1, 1, 661, 1, 0.74, 0.7), (3, 3, 2000, 0, 0.73, 0.7),
                  (3, 3, 2000, 1, 0.73, 0.7)])
    v = width_results.spread_verdict(width_results.by_candidate(runs))
    assert v["best"] == (3, 3) and v["difference"] == pytest.approx(0.01) and v["seed_spread"] == pytest.approx(0.04)
    assert not v["beats_base_beyond_spread"] and "does NOT" in v["verdict"]
    one = width_results.spread_verdict(width_results.by_candidate(runs[runs["seed"] == 0]))
    assert not one["beats_base_beyond_spread"] and one["verdict"].startswith("undetermined")


def test_results_table_counts_params_and_accuracy(blobs):
    from lab_utils.training.batched import seeded_init

    model = seeded_init((32, 64), 0).eval()
    table = width_results.results_table([{"hidden": (32, 64), "seed": 0, "model": model, "cached": True,
                                          "history": {"best_epoch": 3}}], blobs)
    row = table.iloc[0]
    assert (row["a"], row["c"], row["params"]) == (2, 4, 3013)
    assert row["macs"] == 16 * 32 + 32 * 64 + 64 * 5
    pred = model(blobs.x_val).argmax(1)
    assert row["val_accuracy"] == pytest.approx(float((pred == blobs.y_val).float().mean()))
    assert row["best_epoch"] == 3 and bool(row["cached"])


def test_layer_table_lists_nodes_and_shapes():
    from lab_utils.models import build_model
    from lab_utils.passes import graph

    g = graph.trace(build_model("jsc-three-linear-layers"))
    t = width_results.layer_table(g, shapes={"seq_blocks_2": (1, 16)})
    assert t["node"].tolist()[:3] == ["seq_blocks_0", "seq_blocks_1", "seq_blocks_2"]
    assert t.set_index("node").loc["seq_blocks_2", "output shape"] == (1, 16)
    assert t.set_index("node").loc["seq_blocks_0", "output shape"] is None
    assert "output shape" not in width_results.layer_table(g)


def test_write_search_config_patches_only_the_named_keys(tmp_path):
    path = width_results.write_search_config(tmp_path / "c.toml", n_samples=30000, epochs=1, batch_size=512, lr=1e-3,
                                             seed=3, tpe_startup=6, logit_relu=False)
    raw = tomllib.loads(path.read_text())
    orig = tomllib.loads(width_results.SEARCH_CONFIG.read_text())
    assert raw["n_samples"] == 30000 and raw["model_args"] == {"logit_relu": False}
    assert raw["search"]["search_space"]["train"] == {"epochs": 1, "batch_size": 512, "lr": 1e-3, "optimizer": "adam",
                                                      "seed": 3}
    assert raw["search"]["strategy"]["setup"]["n_startup_trials"] == 6
    assert raw["search"]["search_space"]["name"] == orig["search"]["search_space"]["name"]
    parse_config(raw)  # still a valid search config
    full = tomllib.loads(width_results.write_search_config(tmp_path / "f.toml", n_samples="NA", epochs=10,
                                                           batch_size=512, lr=1e-3, seed=0, tpe_startup=6).read_text())
    assert full["n_samples"] == "NA" and full.get("model_args") == orig.get("model_args")


def test_upstream_runs_checks_mode_recipe_and_data(tmp_path, monkeypatch, blobs):
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path))

    class Splits:
        def describe(self):
            return {"dataset": "jsc-sim", "n": 10}

    with pytest.raises(LabError, match="run lab4_3 first"):
        width_results.upstream_runs(Splits(), True, 1)
    d = tmp_path / "results" / "lab4_3"
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({"quick": True, "numbers": {"epochs": 1}}))
    (d / "runs.meta.json").write_text(json.dumps({"table": "runs", "dataset": "jsc-sim", "n": 10}))
    (d / "runs.csv").write_text("a,c,seed,val_accuracy\n1,1,0,0.5\n")
    assert width_results.upstream_runs(Splits(), True, 1)["val_accuracy"].tolist() == [0.5]
    with pytest.raises(LabError, match="same mode"):
        width_results.upstream_runs(Splits(), False, 1)
    with pytest.raises(LabError, match="same mode"):
        width_results.upstream_runs(Splits(), True, 10)
    (d / "runs.meta.json").write_text(json.dumps({"table": "runs", "dataset": "jsc-sim", "n": 11}))
    with pytest.raises(LabError, match="other data"):
        width_results.upstream_runs(Splits(), True, 1)


def test_search_against_grid_by_hand():
    grid = pd.DataFrame({"a": [1, 1, 2, 2], "c": [1, 1, 1, 1], "seed": [0, 1, 0, 1], "params": [10, 10, 20, 20],
                         "val_accuracy": [0.6, 0.8, 0.7, 0.65]})
    tpe = pd.DataFrame({"number": [0, 1, 2], "state": ["COMPLETE", "COMPLETE", "FAIL"], "a": [1, 1, 2], "c": [1, 1, 1],
                        "accuracy": [0.6, 0.6, 0.9], "params": [10, 10, 20]})
    bf = pd.DataFrame({"number": [0, 1], "state": ["COMPLETE"] * 2, "a": [2, 1], "c": [1, 1], "accuracy": [0.7, 0.6],
                       "params": [20, 10]})
    compare, first_seed, exhaustive = width_results.search_vs_grid(grid, bf, seed=0)
    assert compare["difference"].abs().max() == 0.0 and len(compare) == 2
    assert exhaustive.set_index("a")["val_mean_all_seeds"].tolist() == pytest.approx([0.7, 0.675])
    choice = width_results.search_choices({"tpe": tpe, "brute-force": bf}, first_seed, exhaustive)
    assert int(choice["tpe"]["number"]) == 0  # the failed trial does not count; ties: fewer params, first
    assert [int(choice[k]["a"]) for k in ("brute-force", "grid (seed)", "grid (mean)")] == [2, 2, 1]
    assert width_results.rank_in_grid(first_seed, choice["tpe"]["accuracy"]) == 2
    table = width_results.choices_table(choice, tpe_trials=3, seed=0)
    assert table["method"].tolist() == ["TPE, 3 trials", "brute force, 25 trials", "lab4_3 grid, seed 0",
                                         "lab4_3 grid, mean over seeds"]
    assert table["val accuracy"].tolist() == pytest.approx([0.6, 0.7, 0.7, 0.7])


def test_cli_searches_links_the_cache_and_reports_a_failure(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "x.ckpt").write_bytes(b"")
    printed = []
    with pytest.raises(LabError, match="search with tpe failed"):
        width_results.cli_searches(tmp_path / "missing.toml", tmp_path / "out", cache, {"tpe": 2}, seed=0,
                                   print_fn=lambda *a: printed.append(a))
    assert (tmp_path / "out" / "tpe" / "candidates").resolve() == cache.resolve()
    assert width_results.count_cached(tmp_path / "out" / "tpe" / "candidates") == 1
    assert printed[0][:2] == ("$ python -m lab_utils search --config", "missing.toml")
    assert "error:" in printed[1][1]
