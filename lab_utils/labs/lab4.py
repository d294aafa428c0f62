"""Lab 4's width search: the layers of a widened graph (lab4_1), the results of the trained
candidates (lab4_2, lab4_3) and the command-line search that reuses them (lab4_4).

:func:`results_table` turns the rows of :func:`lab_utils.training.batched.train_grid` into a DataFrame
(multipliers, parameters, bit-ops, validation and test metrics per seed); :func:`by_candidate`
aggregates the seeds (mean, std, min, max); :func:`spread_verdict` says whether the best
candidate's validation accuracy beats the base model's (a = c = 1) by more than the seed spread,
where the spread is the larger of the two candidates' seed ranges (max - min), a conservative
choice: with one seed there is no spread and no verdict. Selection always uses the validation
split; test numbers are only reported. Pareto fronts come from :func:`lab_utils.analysis.pareto.pareto_mask`,
the figures from :mod:`lab_utils.report.plots`.

lab4_4 runs the search as a user would, ``python -m lab_utils search`` in a subprocess per sampler.
:func:`upstream_runs` first checks that lab4_3 ran in the same mode, with the same recipe and on
the same data, because the searches must *load* lab4_3's candidates, never train them;
:func:`write_search_config` writes ``configs/jsc_network_search.toml`` with lab4_3's data size and
recipe; :func:`cli_searches` runs each search in a fresh folder whose ``candidates/`` links to the
shared cache (:func:`lab_utils.report.paths.candidate_cache`); :func:`search_vs_grid` and
:func:`search_choices` set the searches' trials against lab4_3's grid.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import tomli_w

from lab_utils import atomic
from lab_utils.analysis.cost import cost_summary
from lab_utils.errors import LabError
from lab_utils.report.paths import ROOT, read_summary, results_dir
from lab_utils.training.train import evaluate

BASE_WIDTH = 16
SEARCH_CONFIG = ROOT / "configs" / "jsc_network_search.toml"
# the search's parameter names -> the multipliers' names in lab4_3's tables
MULTIPLIER_KEYS = {"seq_blocks_2/config/channel_multiplier": "a", "seq_blocks_4/config/channel_multiplier": "c"}


def layer_table(graph, shapes: dict | None = None) -> pd.DataFrame:
    """One row per node of a traced graph (name, op, module), with each node's ``output shape``
    from ``shapes`` (as :func:`lab_utils.passes.widths.check_shapes` returns them) when given."""
    table = pd.DataFrame([{"node": n.name, "op": n.op, "module": repr(n.module)} for n in graph.nodes()])
    if shapes is not None:
        table["output shape"] = table["node"].map(lambda n: shapes.get(n))
    return table


def results_table(rows: list[dict], splits) -> pd.DataFrame:
    """One row per (candidate, seed): a, c, hidden widths, params, bitops, val/test metrics."""
    out = []
    for r in rows:
        h1, h2 = r["hidden"]
        cost = cost_summary(r["model"], (splits.x_val.shape[1],), 1)
        val = evaluate(r["model"], *splits.split("val"))
        test = evaluate(r["model"], *splits.split("test"))
        out.append({"a": h1 // BASE_WIDTH, "c": h2 // BASE_WIDTH, "h1": h1, "h2": h2, "seed": r["seed"],
                    "params": cost["params"], "macs": cost["macs"], "bitops": cost["bitops"],
                    "val_accuracy": val["accuracy"], "val_macro_accuracy": val["macro_accuracy"],
                    "val_loss": val["loss"], "test_accuracy": test["accuracy"],
                    "test_macro_accuracy": test["macro_accuracy"],
                    "best_epoch": (r.get("history") or {}).get("best_epoch"), "cached": bool(r.get("cached"))})
    return pd.DataFrame(out)


def by_candidate(df: pd.DataFrame) -> pd.DataFrame:
    """Seeds aggregated per (a, c): mean/std/min/max of val and test accuracy; sorted by mean val accuracy."""
    g = df.groupby(["a", "c", "h1", "h2", "params", "macs", "bitops"])
    agg = g.agg(n_seeds=("seed", "nunique"),
                val_mean=("val_accuracy", "mean"), val_std=("val_accuracy", "std"),
                val_min=("val_accuracy", "min"), val_max=("val_accuracy", "max"),
                test_mean=("test_accuracy", "mean"), test_std=("test_accuracy", "std")).reset_index()
    agg[["val_std", "test_std"]] = agg[["val_std", "test_std"]].fillna(0.0)
    agg["val_range"] = agg["val_max"] - agg["val_min"]
    return agg.sort_values(["val_mean", "params"], ascending=[False, True]).reset_index(drop=True)


def spread_verdict(agg: pd.DataFrame, base=(1, 1)) -> dict:
    """Best candidate (highest mean val accuracy) against the base: the difference and the seed spread."""
    best = agg.iloc[0]
    b = agg[(agg["a"] == base[0]) & (agg["c"] == base[1])].iloc[0]
    diff = float(best["val_mean"] - b["val_mean"])
    spread = float(max(best["val_range"], b["val_range"]))
    seeds = int(min(best["n_seeds"], b["n_seeds"]))
    if seeds < 2:
        verdict = "undetermined: one seed per candidate gives no seed spread"
    elif best["a"] == base[0] and best["c"] == base[1]:
        verdict = "the base model itself has the best mean validation accuracy"
    elif diff > spread:
        verdict = "the best candidate beats the base by more than the seed spread"
    else:
        verdict = "the best candidate does NOT beat the base by more than the seed spread"
    return {"best": (int(best["a"]), int(best["c"])), "best_val_mean": float(best["val_mean"]),
            "base_val_mean": float(b["val_mean"]), "difference": diff, "seed_spread": spread,
            "beats_base_beyond_spread": bool(seeds >= 2 and diff > spread), "verdict": verdict}


# ----------------------------------------------------------------------------- lab4_4: the search from the CLI
def upstream_runs(splits, quick: bool, epochs: int) -> pd.DataFrame:
    """lab4_3's ``runs`` table, once it is checked that lab4_3 ran in the same mode, for ``epochs``
    epochs and on the same data (data set, version and size) as ``splits``: only then are its
    trained candidates the ones the searches load. Raises LabError otherwise."""
    summary = read_summary("lab4_3")
    if not summary or summary["quick"] != quick or summary["numbers"]["epochs"] != epochs:
        raise LabError("run lab4_3 first, in the same mode and with the same recipe, so its trained candidates "
                       "can be reused")
    meta_path = results_dir("lab4_3") / "runs.meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if {k: v for k, v in meta.items() if k != "table"} != json.loads(json.dumps(splits.describe())):
        raise LabError("lab4_3 ran on other data (data set, version or size): run it again first")
    return pd.read_csv(results_dir("lab4_3") / "runs.csv")


def count_cached(cache_dir) -> int:
    """Trained candidates in the candidate cache (one ``.ckpt`` each)."""
    return len(list(Path(cache_dir).glob("*.ckpt")))


def write_search_config(path, *, n_samples, epochs: int, batch_size: int, lr: float, seed: int, tpe_startup: int,
                        logit_relu: bool = True, source=SEARCH_CONFIG) -> Path:
    """A copy of ``configs/jsc_network_search.toml`` (``source``) with the data size, the training
    recipe of every candidate (``[search.search_space.train]``), TPE's start-up trials and,
    without the logit ReLU, the model's arguments replaced; written to ``path``, returned."""
    raw = tomllib.loads(Path(source).read_bytes().decode())
    raw["n_samples"] = n_samples
    raw["search"]["search_space"]["train"] = {"epochs": epochs, "batch_size": batch_size, "lr": lr,
                                              "optimizer": "adam", "seed": seed}
    raw["search"]["strategy"]["setup"]["n_startup_trials"] = tpe_startup
    if not logit_relu:
        raw["model_args"] = {"logit_relu": False}
    atomic.write_text(path, tomli_w.dumps(raw))
    return Path(path)


def cli_searches(config_path, out_root, cache_dir, runs: dict, seed: int, print_fn=print) -> dict:
    """Run ``python -m lab_utils search --config CONFIG --sampler S --n-trials N --seed SEED --quiet``
    for each ``S: N`` of ``runs``, in a subprocess as from a terminal, each in a fresh
    ``out_root/S`` whose ``candidates/`` is a link to ``cache_dir``; prints each command and its
    output. Returns ``sampler -> output folder``; raises LabError if a search fails."""
    outs = {}
    for sampler, n_trials in runs.items():
        out = Path(out_root) / sampler
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        (out / "candidates").symlink_to(Path(cache_dir).resolve(), target_is_directory=True)
        cmd = [sys.executable, "-m", "lab_utils", "search", "--config", str(config_path), "--out", str(out),
               "--sampler", sampler, "--n-trials", str(n_trials), "--seed", str(seed), "--quiet"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        outs[sampler] = out
        print_fn("$ python -m lab_utils search --config", Path(config_path).name, "--sampler", sampler,
                 "--n-trials", n_trials)
        print_fn(proc.stdout, proc.stderr[-2000:])
        if proc.returncode != 0:
            raise LabError(f"search with {sampler} failed")
    return outs


def read_trials(outs: dict) -> dict:
    """Each search's ``trials.csv`` (``sampler -> folder``), the multipliers renamed ``a`` and ``c``."""
    return {s: pd.read_csv(Path(out) / "trials.csv").rename(columns=MULTIPLIER_KEYS) for s, out in outs.items()}


def search_vs_grid(grid_runs: pd.DataFrame, search_trials: pd.DataFrame, seed: int):
    """The search's accuracy per (a, c) beside lab4_3's for the same seed and its mean over seeds.

    Returns ``(compare, first_seed, exhaustive)``: the merged table with ``difference`` = search
    minus lab4_3 (same seed), lab4_3's rows of that seed, and lab4_3's mean over seeds per (a, c).
    """
    first_seed = grid_runs[grid_runs["seed"] == seed][["a", "c", "params", "val_accuracy"]]
    exhaustive = grid_runs.groupby(["a", "c"])["val_accuracy"].mean().rename("val_mean_all_seeds").reset_index()
    found = search_trials[["a", "c", "accuracy"]].rename(columns={"accuracy": "search_accuracy"})
    compare = first_seed.merge(found, on=["a", "c"], how="outer").merge(exhaustive, on=["a", "c"])
    compare["difference"] = compare["search_accuracy"] - compare["val_accuracy"]
    return compare, first_seed, exhaustive


def best_trial(trials: pd.DataFrame) -> pd.Series:
    """The most accurate complete trial (ties: fewer parameters)."""
    done = trials[trials["state"] == "COMPLETE"]
    return done.sort_values(["accuracy", "params"], ascending=[False, True]).iloc[0]


def search_choices(trials: dict, first_seed: pd.DataFrame, exhaustive: pd.DataFrame) -> dict:
    """What each method chose: ``sampler -> best trial`` for every search, plus ``"grid (seed)"``
    (lab4_3's best for the searches' seed, ties: fewer parameters) and ``"grid (mean)"`` (lab4_3's
    best mean over seeds)."""
    choice = {s: best_trial(t) for s, t in trials.items()}
    choice["grid (seed)"] = first_seed.sort_values(["val_accuracy", "params"], ascending=[False, True]).iloc[0]
    choice["grid (mean)"] = exhaustive.sort_values("val_mean_all_seeds", ascending=False).iloc[0]
    return choice


def rank_in_grid(first_seed: pd.DataFrame, accuracy: float) -> int:
    """1 + the number of lab4_3 candidates (same seed) strictly more accurate than ``accuracy``."""
    return int((first_seed["val_accuracy"] > accuracy).sum()) + 1


def choices_table(choice: dict, tpe_trials: int, seed: int) -> pd.DataFrame:
    """One row per method of :func:`search_choices`: the chosen (a, c) and its validation accuracy."""
    rows = [(f"TPE, {tpe_trials} trials", choice["tpe"], "accuracy"),
            ("brute force, 25 trials", choice["brute-force"], "accuracy"),
            (f"lab4_3 grid, seed {seed}", choice["grid (seed)"], "val_accuracy"),
            ("lab4_3 grid, mean over seeds", choice["grid (mean)"], "val_mean_all_seeds")]
    return pd.DataFrame([{"method": m, "a": int(r["a"]), "c": int(r["c"]), "val accuracy": r[col]}
                         for m, r, col in rows])
