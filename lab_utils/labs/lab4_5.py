"""lab4_5 (the VGG channel search on CIFAR-10): search, same-recipe baselines, claims.

The notebook stays a sequence of short calls; everything with logic lives here and is tested:

- the data is :func:`lab_utils.labs.baselines.cifar_data` with :data:`VAL_FRACTION` of the training
  images held out (the search space reloads the same split, see
  :mod:`lab_utils.search.spaces.vgg_channels`);
- :func:`search_config` / :func:`run_search` run TPE through the search engine over a trained
  supernet and return its trials table; :func:`unique_candidates` keeps one row per architecture;
- :func:`pick_architectures` adds the same-recipe baselines to the search's choice (the widest,
  the narrowest and ``n_random`` seeded random valid architectures); :func:`train_architectures`
  trains each from scratch with one short recipe on several seeds (per-step warm-up + cosine);
  :func:`train_final` then trains the searched architecture to convergence on all training images;
- claims, each computed from the run and tested both ways: :func:`claim_beats_baselines`
  (difference of mean test accuracy over seeds with the pooled seed variance, t intervals; an
  intersection–union test for "every random architecture"), :func:`claim_ranking` (the supernet's
  Kendall tau against MACs' and the partial rank correlation given MACs), :func:`claim_resolution`
  (are the top two candidates told apart on the validation images), :func:`claim_final` (the
  converged test accuracy against :data:`FINAL_TARGET`), :func:`claim_int8` and :func:`report_checks`
  (the lab report's 11 %); :func:`report_space` counts the lab report's own space;
- :func:`quantized_accuracy` runs a network through ``quantize_transform_pass`` with 8-bit
  ``Conv2dInteger`` / ``LinearInteger`` layers (fractional widths chosen per tensor, ``"auto"``).

May import every layer below ``labs`` and :mod:`lab_utils.labs.baselines`. Figures:
:mod:`lab_utils.report.plots.lab4_5`; tests: ``tests/labs/test_lab4_5.py``.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats as scipy_stats

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
FINAL_TARGET = 0.70  # the searched architecture's converged test accuracy the notebook aims at
MONITOR_IMAGES = 500  # the final training's per-epoch monitor: images it also trains on (history only)


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
    df["macs"] = [r["macs"] for r in rows]
    return df


def unique_candidates(df: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluated architecture (TPE repeats configurations)."""
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
    candidates other than those three; when the searched architecture is the widest or the narrowest
    itself, one more random architecture is drawn for each such coincidence, so the table always holds
    ``3 + n_random`` distinct architectures where the space has them (the ranking claims need at least
    eight). Columns: ``role`` (``searched``, ``widest``, ``narrowest``, ``random 1``...), ``channels``, ``macs``.
    """
    space = S.all_candidates(choices)
    fixed = [("searched", tuple(int(v) for v in searched)), ("widest", space[-1]), ("narrowest", space[0])]
    taken = {c for _, c in fixed}
    pool = [c for c in space if c not in taken]
    want = int(n_random) + (3 - len(taken))  # a baseline that coincides with the searched one is replaced
    picks = np.random.default_rng(seed).choice(len(pool), size=min(want, len(pool)), replace=False)
    rows = fixed + [(f"random {i + 1}", pool[j]) for i, j in enumerate(sorted(int(k) for k in picks))]
    return pd.DataFrame([{"role": r, "channels": c, "macs": S.vgg_macs(c, fc)} for r, c in rows])


def train_architectures(archs: pd.DataFrame, splits, recipe, *, fc: int, augment=None, seeds: int = 2,
                        progress: bool = True) -> pd.DataFrame:
    """Train every architecture of ``archs`` from scratch with the same ``recipe`` on ``seeds`` seeds
    each (``recipe.seed``, +1, ...): the replicates the seed-aware comparison and the ranking need.

    Returns one row per training: role, channels, seed, macs, val and test accuracy, and the per-image
    test ``correct`` array. A (channels, seed) pair already trained is not trained again: a baseline
    that coincides with the searched architecture reuses its runs (and is then the same network).
    """
    done: dict = {}
    rows = []
    for _, a in archs.iterrows():
        for s in range(recipe.seed, recipe.seed + int(seeds)):
            key = (tuple(a.channels), s)
            if key not in done:
                model, _ = S.retrain(a.channels, splits, dataclasses.replace(recipe, seed=s), fc=fc, augment=augment,
                                     progress=progress)
                val, test = baselines.scores(model, splits, "val"), baselines.scores(model, splits, "test")
                done[key] = {"val_accuracy": val["accuracy"], "test_accuracy": test["accuracy"],
                             "test_macro_accuracy": test["macro_accuracy"], "correct": test["correct"]}
            rows.append({"role": a.role, "channels": tuple(a.channels), "seed": s,
                         "macs": S.vgg_macs(a.channels, fc, splits.num_classes), **done[key]})
    return pd.DataFrame(rows)


def all_training_images(splits, n_monitor: int = MONITOR_IMAGES):
    """The splits for the final training: every training image (the search's train and val parts
    together; the search has already used the validation images to pick the architecture) as
    ``x_train``, and the first ``n_monitor`` of them as ``x_val`` — a per-epoch monitor only, with
    ``keep="last"`` in the recipe (they are training images: no epoch is picked on them). Test unchanged."""
    x = torch.cat([splits.x_train, splits.x_val]).contiguous(memory_format=torch.channels_last)
    y = torch.cat([splits.y_train, splits.y_val])
    return dataclasses.replace(splits, x_train=x, y_train=y, x_val=splits.x_val[:n_monitor], y_val=splits.y_val[:n_monitor])


def train_final(channels, splits, recipe, *, fc: int, augment=None, progress: bool = True):
    """The searched architecture trained to convergence on all training images
    (:func:`all_training_images`, ``recipe`` with its last epoch kept); returns (model, history)."""
    if recipe.keep != "last":
        raise LabError("the final training has no held-out images to pick an epoch: use a recipe with keep='last'")
    return S.retrain(channels, all_training_images(splits), recipe, fc=fc, augment=augment, progress=progress)


def report_space(choices=S.REPORT_CHOICES, fc: int = 1024, ours=S.CPU_CHOICES, our_fc: int = 256) -> pd.DataFrame:
    """The lab report's space beside this notebook's: candidates and MACs per image of the narrowest and
    the widest (counted by :func:`lab_utils.training.supernet.vgg_macs`, nothing trained)."""
    rows = []
    for name, c, f in (("lab report", choices, fc), ("this notebook", ours, our_fc)):
        space = S.all_candidates(c)
        rows.append({"space": name, "choices": list(S.check_choices(c)), "fc": f, "candidates": len(space),
                     "narrowest_macs": S.vgg_macs(space[0], f), "widest_macs": S.vgg_macs(space[-1], f)})
    return pd.DataFrame(rows)


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


def seed_comparisons(runs: pd.DataFrame, level: float = stats.LEVEL) -> pd.DataFrame:
    """The searched architecture against every baseline architecture on per-seed test accuracies.

    Each architecture's training seeds are replicates; their variance is pooled over all
    architectures (``s² = Σ (n_i − 1) s_i² / Σ (n_i − 1)``, ``df = Σ (n_i − 1)``: one seed-to-seed
    spread for the recipe, as valid as per-architecture variances when the spread does not depend on
    the widths, and with several times their degrees of freedom). For each baseline: the difference
    of mean test accuracy (searched − baseline), its standard error ``s·√(1/n_s + 1/n_b)``, the
    two-sided t interval at ``level``, and the smallest difference that interval detects with 80 %
    power, ``(t_(1+level)/2 + t_0.8)·SE``. A baseline with the searched widths itself is left out (it is
    the same network). The test images are the same for all: the interval is over training seeds.
    """
    # one row per training: a baseline with the searched widths repeats the searched runs (the same networks)
    acc = runs.drop_duplicates(["channels", "seed"]).groupby("channels", sort=False)["test_accuracy"]
    n, mean, var = acc.count(), acc.mean(), acc.var(ddof=1).fillna(0.0)
    df_pooled = int((n - 1).sum())
    s2 = float(((n - 1) * var).sum() / df_pooled) if df_pooled > 0 else float("nan")
    t = float(stats.t_quantile(df_pooled + 1, level)) if df_pooled > 0 else float("nan")
    searched = tuple(runs.loc[runs.role == "searched", "channels"].iloc[0])
    rows = []
    for _, b in runs[runs.role != "searched"].drop_duplicates("role").iterrows():
        if tuple(b.channels) == searched:
            continue
        d = float(mean[searched] - mean[b.channels])
        se = math.sqrt(s2 * (1 / n[searched] + 1 / n[b.channels])) if df_pooled > 0 else float("nan")
        rows.append({"baseline": b.role, "group": _group(b.role), "channels": b.channels, "n_searched": int(n[searched]),
                     "n_baseline": int(n[b.channels]), "diff": d, "se": se, "df": df_pooled, "low": d - t * se,
                     "high": d + t * se, "detectable": stats.detectable(se, df=df_pooled), "pooled_sd": math.sqrt(s2) if s2 == s2 else s2})
    return pd.DataFrame(rows, columns=["baseline", "group", "channels", "n_searched", "n_baseline", "diff", "se", "df",
                                       "low", "high", "detectable", "pooled_sd"])


def claim_beats_baselines(runs: pd.DataFrame) -> list:
    """One finding per baseline group (the random ones, the widest, the narrowest): the searched
    architecture, trained with the same recipe, has the higher mean test accuracy over training seeds
    (:func:`seed_comparisons`: pooled seed variance, t intervals at 95 %).

    Widest and narrowest: holds when the interval of the difference lies above 0, refuted when it
    lies below, not shown otherwise (:func:`lab_utils.analysis.claims.interval_claim`). "Every random
    valid architecture" is an intersection: an intersection–union test, each comparison at the full
    level with no multiplicity correction (it holds only if every one does, so no correction is
    needed): holds when every interval lies above 0, refuted when any lies below 0, not shown
    otherwise. Not applicable when the search chose a baseline's widths itself.
    """
    comp = seed_comparisons(runs)
    out = []
    for group, what in (("random", "every random valid architecture"), ("widest", "the widest architecture"),
                        ("narrowest", "the narrowest architecture")):
        g = comp[comp.group == group]
        statement = f"The searched architecture beats {what} trained with the same recipe (mean test accuracy over seeds)"
        key = f"beats_baselines.{group}"
        test = "difference of mean test accuracy, pooled seed variance, t 95 % CI"
        if not len(g):
            out.append(claims.claim(key, statement, claims.NOT_APPLICABLE,
                                    "the search chose this architecture itself: nothing to compare", test=test))
            continue
        worst = g.loc[g["low"].idxmin()] if g["low"].notna().all() else g.iloc[0]
        seeds = f"{int(worst.n_searched)} seed(s) of the searched architecture, {int(worst.n_baseline)} of the baseline"
        base = (f"{100 * worst['diff']:+.2f} points (95 % CI {100 * worst.low:+.2f} to {100 * worst.high:+.2f}; pooled "
                f"seed SD {100 * worst.pooled_sd:.2f} points, df = {int(worst.df)}); {seeds}; detectable with 80 % power: "
                f"{100 * worst.detectable:.2f} points")
        r = claims.rounded
        if group != "random":
            out.append(claims.interval_claim(key, statement, worst.low, worst.high, f"gain {base}", test, above=0.0,
                                             gain=r(worst["diff"]), detectable_gain=r(worst.detectable), df=int(worst.df)))
            continue
        holds = stats.all_hold(stats.interval_verdict(lo, hi, above=0.0) for lo, hi in zip(g.low, g.high))
        n_above, n_below = int((g.low > 0).sum()), int((g.high < 0).sum())
        evidence = (f"{len(g)} random architecture(s): {n_above} with the interval above 0, {n_below} below; the least "
                    f"certain gain {base}; intersection-union test, each comparison at 95 % (no multiplicity correction)")
        out.append(claims.claim(key, statement, holds, evidence, test=test + ", intersection-union",
                                smallest_low=r(worst.low), gain=r(worst["diff"]), pairs=len(g), above=n_above,
                                below=n_below, detectable_gain=r(worst.detectable), df=int(worst.df)))
    return out


def partial_rank_correlation(x, y, z) -> float:
    """Spearman partial correlation of ``x`` and ``y`` given ``z``: Pearson's partial correlation of
    their ranks, ``(r_xy − r_xz r_yz) / √((1 − r_xz²)(1 − r_yz²))``; NaN where undefined (``x`` or ``y``
    ranked exactly as ``z``, or a constant)."""
    rx, ry, rz = (scipy_stats.rankdata(np.asarray(v, dtype=float)) for v in (x, y, z))
    if min(np.ptp(rx), np.ptp(ry), np.ptp(rz)) == 0:
        return float("nan")
    r = np.corrcoef([rx, ry, rz])
    den = (1 - r[0, 2] ** 2) * (1 - r[1, 2] ** 2)
    return float((r[0, 1] - r[0, 2] * r[1, 2]) / math.sqrt(den)) if den > 1e-12 else float("nan")


def claim_ranking(supernet_acc, scratch_acc, macs, *, alpha: float = stats.ALPHA, min_n: int = 8) -> list:
    """Two findings on the architectures trained from scratch (mean over seeds), judged against the
    MACs-only predictor (a wider network is better):

    - ``ranking.supernet``: the supernet's scores rank architectures in the order of their trained
      accuracy (Kendall's tau, exact one-sided p: holds at p < ``alpha``, refuted when the one-sided
      test the other way is significant, not shown otherwise); the evidence sets MACs' tau beside it.
    - ``ranking.beyond_macs``: the supernet ranks them better than MACs alone: the Spearman partial
      correlation of supernet score and trained accuracy given MACs is above 0 (Fisher-z 95 %
      interval, SE = 1/√(n − 4); :func:`lab_utils.analysis.claims.interval_claim`).

    Both not shown with fewer than ``min_n`` architectures."""
    a, b, m = (np.asarray(v, dtype=float) for v in (supernet_acc, scratch_acc, macs))
    n = int(a.size)
    s1 = "The supernet's scores rank architectures in the order of their from-scratch accuracy"
    s2 = "The supernet ranks architectures better than MACs alone (partial rank correlation given MACs above 0)"
    if n < min_n:
        ev = f"only {n} architectures (fewer than {min_n}): no ranking claim"
        return [claims.claim("ranking.supernet", s1, None, ev, test="Kendall tau", n=n),
                claims.claim("ranking.beyond_macs", s2, None, ev, test="Spearman partial correlation", n=n)]
    r = claims.rounded
    tau, p = stats.kendall(a, b, alternative="greater")
    p_less = stats.kendall(a, b, alternative="less")[1]
    tau_m, p_m = stats.kendall(m, b, alternative="greater")
    holds = True if p < alpha else (False if p_less < alpha else None)
    ev1 = (f"Kendall tau = {tau:.2f} (exact one-sided {claims.fmt_p(p)}); MACs alone: tau = {tau_m:.2f} "
           f"({claims.fmt_p(p_m)}); n = {n} architectures")
    first = claims.claim("ranking.supernet", s1, holds, ev1, test="Kendall tau, exact", tau=r(tau), p=r(p),
                         tau_macs=r(tau_m), p_macs=r(p_m), n=n)
    pr = partial_rank_correlation(a, b, m)
    se = 1 / math.sqrt(n - 4)
    z = math.atanh(max(min(pr, 0.999999), -0.999999)) if pr == pr else float("nan")
    lo, hi = tuple(math.tanh(v) for v in stats.normal_interval(z, se)) if z == z else (z, z)
    ev2 = (f"partial Spearman correlation given MACs = {pr:.2f} (Fisher-z 95 % CI {lo:.2f} to {hi:.2f}); Kendall tau "
           f"with trained accuracy: supernet {tau:.2f}, MACs {tau_m:.2f}; n = {n} architectures")
    second = claims.interval_claim("ranking.beyond_macs", s2, lo, hi, ev2, "Spearman partial correlation, Fisher z",
                                   above=0.0, partial=r(pr), tau=r(tau), tau_macs=r(tau_m), n=n)
    return [first, second]


def claim_resolution(best: dict, second: dict, span: float, alpha: float = stats.ALPHA):
    """"The validation images tell the search's best candidate from the runner-up": exact McNemar,
    two-sided, on the per-image correctness of both (supernet slices): holds at p < ``alpha``, not shown
    otherwise (the best is never significantly worse than the runner-up it outscored). The evidence
    states each candidate's binomial standard error, the paired one of their difference, the span of
    scores and, when not shown, the difference the images could detect with 80 % power."""
    pr = compare(best["correct"], second["correct"])
    p = pr["p"]
    acc, n = best["accuracy"], pr["n"]
    se = float(np.sqrt(acc * (1 - acc) / n))
    detect = stats.detectable(pr["se"], alpha=alpha)
    evidence = (f"difference {100 * pr['diff']:+.2f} points, paired SE {100 * pr['se']:.2f}, exact McNemar "
                f"{claims.fmt_p(p)}; SE of one candidate's accuracy {100 * se:.2f} points, scores span "
                f"{100 * span:.2f} points; n = {n:,} validation images")
    if not p < alpha:
        evidence += f"; not shown: the images could detect (80 % power) a difference of about {100 * detect:.1f} points"
    r = claims.rounded
    return claims.claim("resolution", "The validation images tell the search's best candidate from the runner-up",
                        True if p < alpha else None, evidence, test="exact McNemar (two-sided)", diff=r(pr["diff"]),
                        paired_se=r(pr["se"]), se_candidate=r(se), p=r(p), span=r(span), n=n, detectable=r(detect))


def claim_final(correct, target: float = FINAL_TARGET):
    """"The searched architecture, trained to convergence on all training images, scores above
    ``target`` on the test images": the Clopper–Pearson 95 % interval of its test accuracy against
    ``target`` (one training seed: the interval is over test images only, and says so)."""
    c = np.asarray(correct, bool)
    acc, lo, hi = stats.proportion_ci(int(c.sum()), c.size)
    evidence = (f"{100 * acc:.2f} % (Clopper-Pearson 95 % CI {100 * lo:.2f} to {100 * hi:.2f}) on {c.size:,} test images; "
                f"one training seed (the interval is over test images, not seeds)")
    return claims.interval_claim("final_accuracy", f"The searched architecture, trained to convergence on all training "
                                 f"images, scores above {100 * target:.0f} % test accuracy", lo, hi, evidence,
                                 "Clopper-Pearson 95 % CI", above=target, accuracy=claims.rounded(acc), n=int(c.size))


def claim_int8(float_correct, int8_correct, tolerance: float = 0.01):
    """"8-bit fixed point keeps the float test accuracy within ``tolerance``": holds when the 95 %
    interval of the paired drop (float - int8) lies below it, refuted when it lies above it."""
    pr = compare(float_correct, int8_correct)
    evidence = (f"drop {100 * pr['diff']:+.2f} points (95 % CI {100 * pr['low']:+.2f} to {100 * pr['high']:+.2f}, "
                f"paired over n = {pr['n']:,} test images); tolerance {100 * tolerance:.0f} point(s)")
    return claims.interval_claim("int8", f"8-bit fixed point keeps the float test accuracy within {100 * tolerance:.0f} "
                                 "point(s)", pr["low"], pr["high"], evidence, "paired difference (Agresti-Min 95 % CI)",
                                 below=tolerance, drop=claims.rounded(pr["diff"]), n=pr["n"])


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
    accuracy (``supernet_val``, aligned with ``archs``) and the from-scratch validation accuracy, the
    mean over its training seeds (the ranking claims' scores)."""
    mean = runs.groupby("channels", sort=False)["val_accuracy"].mean()
    t = archs.assign(supernet_val_accuracy=[s["accuracy"] for s in supernet_val])
    t = t.drop_duplicates("channels").reset_index(drop=True)
    return t.assign(scratch_val_accuracy=[float(mean[c]) for c in t["channels"]])
