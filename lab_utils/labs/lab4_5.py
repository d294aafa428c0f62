"""lab4_5 (the VGG channel search on CIFAR-10): search, same-recipe baselines, claims.

The notebook stays a sequence of short calls; everything with logic lives here and is tested:

- the data is :func:`lab_utils.labs.baselines.cifar_data` with :data:`VAL_FRACTION` of the training
  images held out (the search space reloads the same split, see
  :mod:`lab_utils.search.spaces.vgg_channels`);
- :func:`search_config` / :func:`run_search` run TPE through the search engine over a trained
  supernet and return its trials table; :func:`unique_candidates` keeps one row per architecture;
- :func:`pick_architectures` adds the same-recipe baselines to the search's choice (the widest,
  the narrowest and ``n_random`` seeded random valid architectures); :func:`train_architectures`
  trains each from scratch with one recipe and keeps per-image test correctness for paired tests;
- claims, each computed from the run and tested both ways: :func:`claim_beats_baselines`
  (exact McNemar tests, Holm-adjusted), :func:`claim_ranking` (Kendall's tau, exact p; Spearman's
  rho with a bootstrap interval), :func:`claim_resolution` (are the top two candidates told apart
  on the validation images; the standard errors), :func:`claim_int8` and :func:`report_checks`
  (the lab report's 11 %);
- :func:`quantized_accuracy` runs a network through ``quantize_transform_pass`` with 8-bit
  ``Conv2dInteger`` / ``LinearInteger`` layers (fractional widths chosen per tensor, ``"auto"``).

May import every layer below ``labs`` and :mod:`lab_utils.labs.baselines`. Figures:
:mod:`lab_utils.report.plots.lab4_5`; tests: ``tests/labs/test_lab4_5.py``.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lab_utils.analysis import claims, stats
from lab_utils.data.cifar10 import augment
from lab_utils.errors import LabError
from lab_utils.labs import baselines
from lab_utils.passes.quantize import lab_config, quantize_model
from lab_utils.search import outputs
from lab_utils.search import run as search_run
from lab_utils.search.config import parse_config
from lab_utils.search.spaces.vgg_channels import KEYS
from lab_utils.training import supernet as S

SPACE = "graph/architecture/vgg_channels"
REPORT_ACCURACY = 0.11  # the lab report's VGG search: untrained candidates, about chance level
CHANCE_TOLERANCE = 0.03  # "about the report's accuracy": within 3 points (10 classes: chance is 10 %)
VAL_FRACTION = 0.25  # 2,500 of the subset's 10,000 training images: SE about 1 point per candidate


def search_config(*, supernet_path, choices, fc: int, n_trials: int, seed: int = 0, data_path=None,
                  n_startup_trials: int = 10, calib_batches: int = 8, val_fraction: float = VAL_FRACTION):
    """The search configuration (validated by the search engine's parser)."""
    raw = {"model": "vgg7", "dataset": "cifar10", "seed": int(seed), "data_seed": int(seed),
           "batch_size": 1,  # flops per image
           "search": {"search_space": {"name": SPACE, "setup": {
               "choices": [int(c) for c in choices], "fc": int(fc), "calib_batches": int(calib_batches),
               "supernet": str(supernet_path), "val_fraction": float(val_fraction)}},
               "strategy": {"setup": {"n_trials": int(n_trials), "sampler": "tpe",
                                      "n_startup_trials": int(n_startup_trials)},
                            "metrics": {"accuracy": {"scale": 1.0, "direction": "maximize"},
                                        "flops": {"scale": 1.0, "direction": "minimize"}}}}}
    if data_path:
        raw["data_path"] = str(data_path)
    return parse_config(raw)


def run_search(cfg, out_dir) -> pd.DataFrame:
    """Run the search in a fresh ``out_dir``; returns the trials table with channels and macs.

    Only the table is kept: the space holds the search engine's copy of the data set and its own
    larger-validation copy (about 0.5 GB together on the real subset), freed when this returns.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a fresh study: the supernet behind the cached trials may have changed
    result = search_run.run_search(cfg, out_dir, progress=False, print_fn=lambda *a: None)
    if result.status != 0:
        raise LabError(f"the search stopped early (status {result.status}); rerun the notebook")
    space = result.space
    df = outputs.trials_frame(result.study, space, cfg.strategy.metric_names)
    df = df[df.state == "COMPLETE"].reset_index(drop=True)
    rows = [space.sampled_config({k: r[k] for k in KEYS}) for _, r in df.iterrows()]
    df["channels"] = [tuple(r["channels"]) for r in rows]
    df["repaired"] = [r["repaired"] for r in rows]
    df["macs"] = [r["macs"] for r in rows]
    return df


def unique_candidates(df: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluated architecture (TPE repeats configurations; repairs merge others)."""
    return df.drop_duplicates("channels").sort_values("macs").reset_index(drop=True)


def quantized_accuracy(model, splits, width: int = 8, split: str = "test") -> dict:
    """:func:`lab_utils.labs.baselines.scores` of ``model`` with every Conv2d and Linear as 8-bit fixed point
    (Conv2dInteger/LinearInteger).

    Fractional widths are ``"auto"``: the largest that holds each weight / bias tensor, and for the
    inputs the largest that holds the inputs seen on 256 training images.
    """
    cfg = lab_config(data_in=(width, "auto"), weight=(width, "auto"), bias=(width, "auto"))
    q = quantize_model(model.eval(), {"by": "type", "default": {"config": cfg},
                                      "calibration": splits.x_train[:256].contiguous()})
    return baselines.scores(q, splits, split)


def train_supernet(choices, fc: int, splits, *, epochs: int, n_random: int, seed: int, path):
    """The weight-sharing supernet over ``choices`` (classifier ``fc``) trained on ``splits`` with crop +
    flip augmentation (:class:`lab_utils.training.supernet.SupernetRecipe`: ``epochs``, ``n_random``
    random candidates per step besides the largest and the smallest, ``seed``) and saved to ``path``
    (the checkpoint the search space loads); returns ``(supernet, history)``."""
    net = S.VGGSupernet(choices, fc=fc, num_classes=splits.num_classes, seed=seed)
    recipe = S.SupernetRecipe(epochs=epochs, n_random=n_random, seed=seed)
    history = S.train_supernet(net, splits, recipe, augment=augment)
    S.save_supernet(path, net, recipe=recipe, history=history, dataset=splits.describe())
    return net, history


def check_quick_run(splits, history: list[dict], supernet, choices, quick: bool) -> int:
    """The number of candidates in the space; in quick mode, first the checks that everything ran (a
    failure stops the report): CIFAR-shaped synthetic images, a supernet loss that went down, and
    every candidate of the space builds and runs a forward pass."""
    if not quick:
        return len(S.all_candidates(choices))
    if not (splits.x_train.shape[1:] == (3, 32, 32) and splits.synthetic):
        raise LabError(f"quick mode expects the generated 3x32x32 images, got {tuple(splits.x_train.shape[1:])}")
    if not history[-1]["loss_largest"] < history[0]["loss_largest"]:
        raise LabError(f"supernet training did not lower the loss: {history}")
    candidates = S.all_candidates(choices)
    for c in candidates:
        if S.export(supernet, c)(splits.x_val[:2]).shape != (2, splits.num_classes):
            raise LabError(f"candidate {c} gives the wrong output shape")
    return len(candidates)


# ---------------------------------------------------------------- same-recipe baselines
def pick_architectures(choices, searched, n_random: int, seed: int = 0, fc: int = 256) -> pd.DataFrame:
    """The search's choice, the widest, the narrowest and ``n_random`` random valid architectures.

    The random ones are drawn without replacement (``np.random.default_rng(seed)``) from the valid
    candidates other than those three, so every row but a coinciding widest/narrowest is distinct.
    Columns: ``role`` (``searched``, ``widest``, ``narrowest``, ``random 1``...), ``channels``, ``macs``.
    """
    space = S.all_candidates(choices)
    fixed = [("searched", tuple(int(v) for v in searched)), ("widest", space[-1]), ("narrowest", space[0])]
    pool = [c for c in space if c not in {c for _, c in fixed}]
    picks = np.random.default_rng(seed).choice(len(pool), size=min(int(n_random), len(pool)), replace=False)
    rows = fixed + [(f"random {i + 1}", pool[j]) for i, j in enumerate(sorted(int(k) for k in picks))]
    return pd.DataFrame([{"role": r, "channels": c, "macs": S.vgg_macs(c, fc)} for r, c in rows])


def train_architectures(archs: pd.DataFrame, splits, recipe, *, fc: int, augment=None, searched_seeds: int = 1,
                        progress: bool = True) -> tuple[pd.DataFrame, object]:
    """Train every architecture of ``archs`` from scratch with the same ``recipe``; the searched one
    on ``searched_seeds`` seeds (``recipe.seed``, +1, ...), the baselines on ``recipe.seed``.

    Returns (one row per training: role, channels, seed, macs, val and test accuracy, and the
    per-image test ``correct`` array; the searched architecture's first model). A (channels, seed)
    pair already trained is not trained again: a baseline that coincides with the searched
    architecture reuses its run (and is then the same network).
    """
    done: dict = {}
    rows, first = [], None
    for _, a in archs.iterrows():
        n_seeds = searched_seeds if a.role == "searched" else 1
        for s in range(recipe.seed, recipe.seed + n_seeds):
            key = (tuple(a.channels), s)
            if key not in done:
                model, _ = S.retrain(a.channels, splits, dataclasses.replace(recipe, seed=s), fc=fc, augment=augment,
                                     progress=progress)
                val, test = baselines.scores(model, splits, "val"), baselines.scores(model, splits, "test")
                done[key] = {"val_accuracy": val["accuracy"], "test_accuracy": test["accuracy"],
                             "test_macro_accuracy": test["macro_accuracy"], "correct": test["correct"]}
                if first is None:
                    first = model
            rows.append({"role": a.role, "channels": tuple(a.channels), "seed": s,
                         "macs": S.vgg_macs(a.channels, fc, splits.num_classes), **done[key]})
    return pd.DataFrame(rows), first


def supernet_scores(supernet, channels_list, splits, split: str = "val") -> list[dict]:
    """:func:`lab_utils.labs.baselines.scores` of each architecture as the supernet sees it (slice + BN recalibration on the
    first 2,048 training images, as the search space scores it)."""
    x_calib = splits.x_train[: 8 * 256]
    return [baselines.scores(S.candidate_model(supernet, c, x_calib), splits, split) for c in channels_list]


def untrained_scores(channels, splits, fc: int, seed: int = 0) -> dict:
    """:func:`scores` on the test images of a freshly initialised candidate (the lab report's case)."""
    model = S.build_candidate(channels, fc=fc, num_classes=splits.num_classes, seed=seed)
    return baselines.scores(model.to(memory_format=torch.channels_last), splits, "test")


# ---------------------------------------------------------------- claims
def compare(first, second) -> dict:
    """Paired comparison of two per-image correctness arrays on the same images
    (:func:`lab_utils.analysis.stats.paired_binary`): accuracy of ``first`` minus ``second`` with Agresti
    and Min's 95 % interval, and the exact McNemar p-values one-sided each way (``p_greater``: ``first``
    is better) and two-sided (``p``)."""
    n10, n01 = stats.discordant(first, second)
    n = int(np.asarray(first).size)
    d = stats.paired_binary(n10, n01, n)
    return {"diff": d["diff"], "low": d["low"], "high": d["high"], "se": d["se"], "p": d["p"],
            "p_greater": stats.paired_binary(n10, n01, n, alternative="greater")["p"],
            "p_less": stats.paired_binary(n10, n01, n, alternative="less")["p"], "n": n}


def _group(role: str) -> str:
    return "random" if role.startswith("random") else role


def compare_to_baselines(runs: pd.DataFrame) -> pd.DataFrame:
    """Every (searched run, baseline) pair on the test images (:func:`compare`), Holm-adjusted over all
    pairs; a baseline with the searched architecture itself is left out (it is the same network)."""
    searched = runs[runs.role == "searched"]
    rows = []
    for _, b in runs[runs.role != "searched"].iterrows():
        for _, s in searched.iterrows():
            if b.channels == s.channels:
                continue
            rows.append({"baseline": b.role, "group": _group(b.role), "channels": b.channels, "searched_seed": s.seed,
                         **{k: v for k, v in compare(s.correct, b.correct).items() if k != "p"}})
    out = pd.DataFrame(rows, columns=["baseline", "group", "channels", "searched_seed", "diff", "low", "high", "se",
                                      "p_greater", "p_less", "n"])
    if len(out):
        out["p_greater_holm"], out["p_less_holm"] = stats.holm(out.p_greater), stats.holm(out.p_less)
    return out


def claim_beats_baselines(runs: pd.DataFrame, alpha: float = stats.ALPHA) -> list:
    """One claim per baseline group (the random ones, the widest, the narrowest): the searched
    architecture, trained with the same recipe, is more accurate on the test images.

    Holds when every searched seed beats every baseline of the group (exact McNemar, one-sided,
    Holm over all pairs, level ``alpha``); does not hold when a baseline is significantly better
    in any pair; undetermined otherwise. Each baseline is one training seed: its seed-to-seed
    spread is not in the test, and the evidence says so.
    """
    comp = compare_to_baselines(runs)
    n_seeds = int((runs.role == "searched").sum())
    out = []
    for group, what in (("random", "every random valid architecture"), ("widest", "the widest architecture"),
                        ("narrowest", "the narrowest architecture")):
        g = comp[comp.group == group] if len(comp) else comp
        statement = f"The searched architecture beats {what} trained with the same recipe (test accuracy)"
        key = f"beats_baselines.{group}"
        if not len(g):
            out.append(claims.claim(key, statement, None, "the search chose this architecture itself: nothing to compare",
                                    test="exact McNemar, Holm"))
            continue
        worst = g.loc[g["diff"].idxmin()]
        holds = True if (g.p_greater_holm < alpha).all() else (False if (g.p_less_holm < alpha).any() else None)
        evidence = (f"smallest gain {100 * worst['diff']:+.2f} points (95 % CI {100 * worst.low:+.2f} to "
                    f"{100 * worst.high:+.2f}) over {len(g)} pair(s); exact McNemar one-sided, Holm over {len(comp)} "
                    f"pairs: largest adjusted {claims.fmt_p(g.p_greater_holm.max())}; n = {int(worst.n):,} test images; "
                    f"{n_seeds} seed(s) of the searched architecture, 1 per baseline (its seed spread is not tested)")
        out.append(claims.claim(key, statement, holds, evidence, test="exact McNemar (one-sided), Holm-adjusted",
                                smallest_gain=claims.rounded(worst["diff"]), pairs=len(g),
                                max_p_holm=claims.rounded(g.p_greater_holm.max())))
    return out


def claim_ranking(supernet_acc, scratch_acc, *, alpha: float = stats.ALPHA, min_n: int = 8, n_boot: int = 2000,
                  seed: int = 0):
    """"The supernet ranks architectures as from-scratch training does": Kendall's tau between the
    supernet's validation accuracy and the from-scratch validation accuracy, one-sided exact p
    (:func:`lab_utils.analysis.stats.kendall`); Spearman's rho with a percentile bootstrap interval over
    architectures (seeded, :func:`lab_utils.analysis.stats.spearman_bootstrap_ci`).

    Holds when tau > 0 with p < ``alpha``; does not hold when tau <= 0; undetermined otherwise, and
    always undetermined with fewer than ``min_n`` architectures (no ranking claim on so few)."""
    a, b = np.asarray(supernet_acc, dtype=float), np.asarray(scratch_acc, dtype=float)
    n = a.size
    statement = "The supernet ranks architectures as training each from scratch does"
    if n < min_n:
        return claims.claim("ranking", statement, None, f"only {n} architectures (fewer than {min_n}): no ranking claim",
                            test="Kendall tau", n=int(n))
    tau, p = stats.kendall(a, b, alternative="greater")
    rho = stats.spearman(a, b)[0]
    lo, hi = stats.spearman_bootstrap_ci(a, b, n_boot=n_boot, seed=seed)
    holds = True if tau > 0 and p < alpha else (False if not tau > 0 else None)
    evidence = (f"Kendall tau = {tau:.2f} (exact one-sided {claims.fmt_p(p)}), Spearman rho = {rho:.2f} "
                f"(bootstrap 95 % CI {lo:.2f} to {hi:.2f}, {n_boot} resamples); n = {n} architectures")
    r = claims.rounded
    return claims.claim("ranking", statement, holds, evidence, test="Kendall tau, exact; Spearman bootstrap CI",
                        tau=r(tau), p=r(p), rho=r(rho), rho_low=r(lo), rho_high=r(hi), n=int(n))


def claim_resolution(best: dict, second: dict, span: float, alpha: float = stats.ALPHA):
    """"The validation images tell the search's best candidate from the runner-up": exact McNemar,
    two-sided, on the per-image correctness of both (supernet slices). The evidence states each
    candidate's binomial standard error, the paired one of their difference and the span of scores."""
    pr = compare(best["correct"], second["correct"])
    p = pr["p"]
    acc, n = best["accuracy"], pr["n"]
    se = float(np.sqrt(acc * (1 - acc) / n))
    evidence = (f"difference {100 * pr['diff']:+.2f} points, paired SE {100 * pr['se']:.2f}, exact McNemar "
                f"{claims.fmt_p(p)}; SE of one candidate's accuracy {100 * se:.2f} points, scores span "
                f"{100 * span:.2f} points; n = {n:,} validation images")
    r = claims.rounded
    return claims.claim("resolution", "The validation images tell the search's best candidate from the runner-up",
                        p < alpha, evidence, test="exact McNemar (two-sided)", diff=r(pr["diff"]),
                        paired_se=r(pr["se"]), se_candidate=r(se), p=r(p), span=r(span), n=n)


def claim_int8(float_correct, int8_correct, tolerance: float = 0.01):
    """"8-bit fixed point keeps the float test accuracy within ``tolerance``": holds when the 95 %
    interval of the paired drop (float - int8) lies below it, fails when it lies above it."""
    pr = compare(float_correct, int8_correct)
    holds = stats.interval_verdict(pr["low"], pr["high"], below=tolerance)
    evidence = (f"drop {100 * pr['diff']:+.2f} points (95 % CI {100 * pr['low']:+.2f} to {100 * pr['high']:+.2f}, "
                f"paired over n = {pr['n']:,} test images); tolerance {100 * tolerance:.0f} point(s)")
    return claims.claim("int8", f"8-bit fixed point keeps the float test accuracy within {100 * tolerance:.0f} point(s)",
                        holds, evidence, test="paired difference (Agresti-Min 95 % CI)", drop=claims.rounded(pr["diff"]),
                        low=claims.rounded(pr["low"]), high=claims.rounded(pr["high"]), n=pr["n"])


def report_checks(untrained: dict, trained: dict, report_accuracy: float = REPORT_ACCURACY,
                  tolerance: float = CHANCE_TOLERANCE) -> list:
    """The lab report's VGG search result (``report_accuracy``, untrained candidates) against this
    run: an untrained candidate on the test images (agrees when within ``tolerance``), and the same
    architecture trained (agrees only if it also stays within ``tolerance``). Clopper–Pearson intervals."""
    out = []
    for what, s, who in (("untrained", untrained, "the searched architecture, untrained,"),
                         ("trained", trained, "the searched architecture, trained from scratch,")):
        k = int(np.asarray(s["correct"]).sum())
        acc, lo, hi = stats.proportion_ci(k, len(s["correct"]))
        shows = f"{who} scores {100 * acc:.2f} % (95 % CI {100 * lo:.2f}-{100 * hi:.2f}) on {len(s['correct']):,} test images"
        said = "VGG channel search: the candidates scored about "
        out.append(claims.report_check(f"VGG search accuracy ({what} candidate)",
                                       f"{said}{100 * report_accuracy:.0f} % (untrained candidates)", shows,
                                       abs(acc - report_accuracy) <= tolerance))
    return out


def ranking_table(archs: pd.DataFrame, runs: pd.DataFrame, supernet_val: list[dict]) -> pd.DataFrame:
    """One row per distinct architecture of ``archs``: role, channels, MACs, the supernet's validation
    accuracy (``supernet_val``, aligned with ``archs``) and the from-scratch validation accuracy of
    its first seed (the ranking check's two scores)."""
    first = runs.drop_duplicates("channels").set_index("channels")["val_accuracy"]
    t = archs.assign(supernet_val_accuracy=[s["accuracy"] for s in supernet_val])
    t = t.drop_duplicates("channels").reset_index(drop=True)
    return t.assign(scratch_val_accuracy=[float(first[c]) for c in t["channels"]])
