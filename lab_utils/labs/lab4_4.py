"""lab4_4 (the width search from the command line): the search run as a user would, ``python -m lab_utils
search`` in a subprocess per sampler, over the candidates lab4_3 trained.

:func:`upstream_runs` first checks that lab4_3 ran in the same mode, with the same recipe and on
the same data, because the searches must *load* lab4_3's candidates, never train them;
:func:`write_search_config` writes ``configs/jsc_network_search.toml`` with lab4_3's data size and
recipe; :func:`cli_searches` runs each search in a fresh folder whose ``candidates/`` links to the
shared cache (:func:`lab_utils.report.paths.candidate_cache`); :func:`search_vs_grid` and
:func:`search_choices` set the searches' trials against lab4_3's grid; :func:`upstream_width_p` reads
lab4_3's claim by its key; :func:`search_claims` are lab4_4's claims.

May import every layer below ``labs``, :mod:`lab_utils.labs.lab4` and :mod:`lab_utils.labs.lab4_claims`.
Figure: :mod:`lab_utils.report.plots.lab4_4`; tests: ``tests/labs/test_lab4_4.py``.
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
from lab_utils.analysis import claims
from lab_utils.cache import canonical
from lab_utils.errors import LabError
from lab_utils.labs.lab4_claims import MODELS
from lab_utils.report.paths import ROOT, read_summary, results_dir

SEARCH_CONFIG = ROOT / "configs" / "jsc_network_search.toml"


# the search's parameter names -> the multipliers' names in lab4_3's tables
MULTIPLIER_KEYS = {"seq_blocks_2/config/channel_multiplier": "a", "seq_blocks_4/config/channel_multiplier": "c"}


def upstream_runs(splits, quick: bool, epochs: int, logit_relu: bool = True) -> pd.DataFrame:
    """lab4_3's screen runs of the model ``logit_relu`` selects, once it is checked that lab4_3 ran in the same mode, for ``epochs``
    epochs and on the same data (data set, version and size) as ``splits``: only then are its
    trained candidates the ones the searches load. Raises LabError otherwise."""
    summary = read_summary("lab4_3")
    if not summary or summary["quick"] != quick or summary["numbers"]["epochs"] != epochs:
        raise LabError("run lab4_3 first, in the same mode and with the same recipe, so its trained candidates "
                       "can be reused")
    meta_path = results_dir("lab4_3") / "runs.meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if {k: v for k, v in meta.items() if k != "table"} != canonical(splits.describe()):
        raise LabError("lab4_3 ran on other data (data set, version or size): run it again first")
    runs = pd.read_csv(results_dir("lab4_3") / "runs.csv")
    return runs[(runs["phase"] == "screen") & (runs["model"] == MODELS[bool(logit_relu)])].reset_index(drop=True)


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
    minus lab4_3 (same seed), lab4_3's rows of that seed, and lab4_3's mean over the seeds whose run
    trained (no class lost) per (a, c).
    """
    first_seed = grid_runs[grid_runs["seed"] == seed][["a", "c", "params", "val_accuracy"]]
    trained = grid_runs[~grid_runs["failed"]] if "failed" in grid_runs else grid_runs
    exhaustive = trained.groupby(["a", "c"])["val_accuracy"].mean().rename("val_mean_all_seeds").reset_index()
    found = search_trials[["a", "c", "accuracy"]].rename(columns={"accuracy": "search_accuracy"})
    compare = first_seed.merge(found, on=["a", "c"], how="outer").merge(exhaustive, on=["a", "c"], how="left")
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
            ("lab4_3 screen, mean of trained runs", choice["grid (mean)"], "val_mean_all_seeds")]
    return pd.DataFrame([{"method": m, "a": int(r["a"]), "c": int(r["c"]), "val accuracy (%)": round(100 * float(r[col]), 2)}
                         for m, r, col in rows])


def upstream_width_p(logit_relu: bool = True) -> float:
    """lab4_3's permutation p-value for "width changes the validation accuracy" of the model
    ``logit_relu`` selects (NaN when lab4_3's summary has no such claim)."""
    key = f"screen.width_changes_accuracy.{MODELS[bool(logit_relu)]}"
    try:
        p = claims.find(read_summary("lab4_3"), key)["numbers"].get("p")
    except KeyError:
        return float("nan")
    return float("nan") if p is None else float(p)


def search_claims(choice: dict, compare: pd.DataFrame, trained_by_searches: int, width_p: float) -> list:
    """lab4_4's claims. Two *checks* (implementation: they cannot come out otherwise unless the cache
    or the search is wrong): the searches reused lab4_3's runs exactly; brute force, which evaluates every
    candidate, chose the same-seed grid's best. Two findings (exact comparisons of what the run chose):
    TPE found brute force's choice within its trials; the one-seed choice equals the multi-seed screen's
    (``width_p``: lab4_3's permutation p-value for "width changes accuracy", the caveat: when widths do
    not differ beyond seed noise, which candidate one seed picks is luck)."""
    ac = {k: (int(v["a"]), int(v["c"])) for k, v in choice.items()}
    max_diff = float(compare["difference"].abs().max())
    return [
        claims.check("reused_lab4_3", "every search trial loaded a candidate lab4_3 trained, with the same accuracy",
                     trained_by_searches == 0 and max_diff == 0.0,
                     f"{trained_by_searches} candidates trained by the searches; largest |search - grid| "
                     f"accuracy = {max_diff:.1e} over {len(compare)} candidates", test="exact comparison"),
        claims.check("brute_force_matches_grid", "brute force chose the same candidate as lab4_3's grid for the same seed",
                     ac["brute-force"] == ac["grid (seed)"],
                     f"brute force {ac['brute-force']}, grid (same seed) {ac['grid (seed)']}", test="exact comparison"),
        claims.claim("tpe_matches_brute_force", "TPE chose the same candidate as brute force",
                     ac["tpe"] == ac["brute-force"], f"TPE {ac['tpe']}, brute force {ac['brute-force']}",
                     test="exact comparison"),
        claims.claim("one_seed_matches_screen", "the one-seed search chose the candidate the multi-seed screen chose",
                     ac["brute-force"] == ac["grid (mean)"],
                     f"search {ac['brute-force']}, screen (mean of trained runs) {ac['grid (mean)']}; caveat: lab4_3's "
                     f"test of width against seed noise gave {claims.fmt_p(width_p)}, so a one-seed choice may be luck",
                     test="exact comparison", width_p=width_p),
    ]
