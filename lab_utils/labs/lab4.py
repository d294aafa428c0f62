"""Lab 4's width search: the layers of a widened graph and its claims (lab4_1,
:func:`double_width_claims`), the results of the trained candidates (lab4_2, lab4_3) and the
command-line search that reuses them (lab4_4, its claims: :func:`search_claims`).

:func:`results_table` turns the runs of :func:`lab_utils.training.batched.train_runs` into a DataFrame
(model variant, multipliers, parameters, bit-ops, validation and test metrics, classes predicted
and whether the run failed); :func:`screen_plan` and :func:`confirm_seeds` lay out the screen and the
confirmation; :func:`study_claims` gathers the claims of :mod:`lab_utils.labs.lab4_stats` (the
statistics: failures apart from accuracy, selection-aware tests, confirmation on fresh seeds).
Selection uses the validation split; the confirmation is judged on the test split. Pareto fronts
come from :func:`lab_utils.analysis.pareto.pareto_mask`, the figures from :mod:`lab_utils.report.plots`.

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
import torch
from scipy import stats

from lab_utils import atomic
from lab_utils.analysis import claims
from lab_utils.analysis import stats as S
from lab_utils.analysis.cost import cost_summary
from lab_utils.cache import canonical
from lab_utils.errors import LabError
from lab_utils.labs import lab4_stats as stats4
from lab_utils.labs.lab4_stats import CONFIRM_SEED_OFFSET, MODELS
from lab_utils.report.paths import ROOT, read_summary, results_dir
from lab_utils.training.train import evaluate, metrics_from_logits, predict

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


def results_table(rows: list[dict], splits, phase: str = "screen") -> pd.DataFrame:
    """One row per run of :func:`lab_utils.training.batched.train_runs`: model ("faithful" with the
    logit ReLU, "fixed" without), a, c, hidden widths, seed, ``phase``, params, bit-ops, validation
    and test metrics, ``classes_predicted`` (distinct classes the run predicts on the validation
    split) and ``failed`` (fewer than all classes)."""
    out, costs = [], {}
    x_val, y_val = splits.split("val")
    n_classes = int(y_val.max()) + 1
    for r in rows:
        h1, h2 = r["hidden"]
        if (h1, h2) not in costs:
            costs[(h1, h2)] = cost_summary(r["model"], (splits.x_val.shape[1],), 1)
        cost = costs[(h1, h2)]
        logits = predict(r["model"], x_val)
        val = metrics_from_logits(logits, y_val)
        test = evaluate(r["model"], *splits.split("test"))
        predicted = int(torch.unique(logits.argmax(1)).numel())
        out.append({"model": MODELS[bool(r.get("logit_relu", True))], "a": h1 // BASE_WIDTH, "c": h2 // BASE_WIDTH,
                    "h1": h1, "h2": h2, "seed": r["seed"], "phase": phase,
                    "params": cost["params"], "macs": cost["macs"], "bitops": cost["bitops"],
                    "val_accuracy": val["accuracy"], "val_macro_accuracy": val["macro_accuracy"],
                    "val_loss": val["loss"], "test_accuracy": test["accuracy"],
                    "test_macro_accuracy": test["macro_accuracy"], "n_test": test["n"],
                    "classes_predicted": predicted, "failed": predicted < n_classes,
                    "best_epoch": (r.get("history") or {}).get("best_epoch"), "cached": bool(r.get("cached"))})
    return pd.DataFrame(out)


def screen_plan(hiddens, seeds) -> list[tuple]:
    """The screen's ``(hidden, seed, logit_relu)`` runs: every candidate, both models, every seed."""
    return [(tuple(h), int(s), relu) for relu in MODELS for h in hiddens for s in seeds]


def confirm_seeds(seed: int, n: int) -> list[int]:
    """Fresh seeds for the confirmation (:data:`lab_utils.labs.lab4_stats.CONFIRM_SEED_OFFSET` on)."""
    return list(range(seed + CONFIRM_SEED_OFFSET, seed + CONFIRM_SEED_OFFSET + n))


def study_claims(runs, confirm, selected: dict, n_candidates: int, base=(1, 1), target=None, seed: int = 0) -> list:
    """Every claim of lab4_2/lab4_3: the screen's tests per model, the logit ReLU's effect on
    failures, and the confirmation on fresh seeds (:mod:`lab_utils.labs.lab4_stats`)."""
    out = []
    for model in MODELS.values():
        out += stats4.screen_claims(stats4.screen_tests(runs, model, base, seed), n_candidates)
    out.append(stats4.logit_relu_claim(runs))
    return out + stats4.confirm_claims(confirm, selected, base, target)


# the lab report's width results (MASE's accuracy on training data, lr 1e-5): candidate (a, c), accuracy
REPORT_RESULTS = {"lab4_2": ((5, 5), 0.235, "multiplier 5 is best, with 23.5 % accuracy"),
                  "lab4_3": ((1, 4), 0.322, "a = 1, c = 4 is best, with 32.2 % accuracy")}


def select_all(table: pd.DataFrame) -> dict:
    """The screen's choice per model variant (:func:`lab_utils.labs.lab4_stats.select_best`)."""
    return {m: stats4.select_best(table, m) for m in MODELS.values()}


def report_checks(task: str, table: pd.DataFrame, claim_list: list) -> list:
    """The lab report's width result for ``task`` set against this run (faithful model)."""
    ac, acc, said = REPORT_RESULTS[task]
    return [stats4.report_check(table, claim_list, "width results (23–32 %)", said, ac, acc)]


def study_numbers(table: pd.DataFrame, selected: dict, runs: pd.DataFrame, confirm: pd.DataFrame, seeds,
                  n_confirm: int, epochs: int, target=None) -> dict:
    """The numbers summary.json keeps: per model the choice, its trained runs' accuracy and failure
    rate, the base's, and the run counts (accuracies as fractions, rounded to 4 decimals)."""
    out = {"screen seeds": len(seeds), "confirmation seeds": n_confirm, "epochs": epochs,
           "screen runs": len(runs), "confirmation runs": len(confirm), "candidates": int(table[["a", "c"]].drop_duplicates().shape[0])}
    for model, ac in selected.items():
        t = table[table["model"] == model].set_index(["a", "c"])
        out[f"{model}: failed runs"] = int(t["failed"].sum())
        out[f"{model}: best (a, c)"] = str(ac)
        for name, key in (("best", ac), ("base", (1, 1)), ("target", target)):
            if key is not None and tuple(key) in t.index:
                r = t.loc[tuple(key)]
                v = float(r["val_mean"])
                out[f"{model}: {name} val accuracy (trained runs)"] = None if v != v else round(v, 4)
                out[f"{model}: {name} failure rate"] = round(float(r["failure_rate"]), 4)
    return out


def rounded(table: pd.DataFrame, columns) -> pd.DataFrame:
    """``columns`` of ``table`` for display: accuracies and rates in % (2 decimals), other floats to 2 decimals."""
    t = table[list(columns)].copy()
    for c in t.columns:
        if c.startswith(("val_", "test_", "failure_")) and t[c].dtype.kind == "f":
            t[c] = (100 * t[c]).round(2)
        elif t[c].dtype.kind == "f":
            t[c] = t[c].round(2)
    return t.rename(columns={c: f"{c} (%)" for c in t.columns if c.startswith(("val_", "test_", "failure_"))})


# ----------------------------------------------------------------------------- lab4_4: the search from the CLI
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
    """lab4_4's claims: the searches reused lab4_3's runs exactly; brute force found the same-seed grid's
    best; TPE found brute force's choice; the one-seed choice equals the multi-seed screen's
    (``width_p``: lab4_3's permutation p-value for "width changes accuracy", the caveat: when widths
    do not differ beyond seed noise, which candidate one seed picks is luck)."""
    ac = {k: (int(v["a"]), int(v["c"])) for k, v in choice.items()}
    max_diff = float(compare["difference"].abs().max())
    return [
        claims.claim("reused_lab4_3", "every search trial loaded a candidate lab4_3 trained, with the same accuracy",
                            trained_by_searches == 0 and max_diff == 0.0,
                            f"{trained_by_searches} candidates trained by the searches; largest |search - grid| "
                            f"accuracy = {max_diff:.1e} over {len(compare)} candidates", test="exact comparison"),
        claims.claim("brute_force_matches_grid", "brute force chose the same candidate as lab4_3's grid for the same seed",
                            ac["brute-force"] == ac["grid (seed)"],
                            f"brute force {ac['brute-force']}, grid (same seed) {ac['grid (seed)']}", test="exact comparison"),
        claims.claim("tpe_matches_brute_force", "TPE chose the same candidate as brute force", ac["tpe"] == ac["brute-force"],
                            f"TPE {ac['tpe']}, brute force {ac['brute-force']}", test="exact comparison"),
        claims.claim(
            "one_seed_matches_screen", "the one-seed search chose the candidate the multi-seed screen chose", ac["brute-force"] == ac["grid (mean)"],
            f"search {ac['brute-force']}, screen (mean of trained runs) {ac['grid (mean)']}; caveat: lab4_3's test of "
            f"width against seed noise gave {claims.fmt_p(width_p)}, so a one-seed choice may be luck",
            test="exact comparison", width_p=width_p),
    ]


# ----------------------------------------------------------------------------- lab4_1: doubling the widths
def double_width_claims(params_after: int, hidden: tuple[int, int], multiplier: int, untrained: dict,
                        trained: dict) -> list:
    """lab4_1's claims: the passes give the widths and the parameter count of the hand formula for
    16 -> 16m -> 16m -> 5 with BatchNorm(16); the expanded model learns (its validation accuracy after
    training is above the untrained one: one-sided exact binomial test of the trained model's hits
    against the untrained accuracy)."""
    h = BASE_WIDTH * multiplier
    hand = 16 * h + h + h * h + h + h * 5 + 5 + 2 * 16
    n = int(trained["n"])
    hits = round(trained["accuracy"] * n)
    p = float(stats.binomtest(hits, n, max(min(untrained["accuracy"], 1.0), 0.0), alternative="greater").pvalue)
    return [
        claims.claim("passes_give_widths", f"the lab's passes give 16 → {h} → {h} → 5 with the hand-counted parameters",
                            tuple(hidden) == (h, h) and params_after == hand,
                            f"hidden widths {tuple(hidden)}, {params_after:,} parameters; hand count {hand:,}",
                            test="exact count"),
        claims.claim("expanded_model_learns", "the expanded model learns: trained validation accuracy above the untrained one",
                            p < S.ALPHA,
                            f"{100 * untrained['accuracy']:.2f} % untrained -> {100 * trained['accuracy']:.2f} % trained "
                            f"on {n:,} validation jets; one-sided exact binomial test, {claims.fmt_p(p)}",
                            test="exact binomial test", p=p),
    ]
