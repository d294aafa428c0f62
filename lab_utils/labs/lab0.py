"""lab0 (the data and the baselines): the variant table, the logit-ReLU study and their claims.

The baselines themselves (:func:`lab_utils.labs.baselines.ensure_baseline`) are trained through the
trained-candidate cache, so lab0's variant table (:func:`train_variants`) reuses them instead of
training them again.

Whether MASE's ReLU on the logits matters is answered over several seeds (:func:`logit_relu_study`):
each model is trained with and without it from the same seeded init and minibatch order, so the two
runs of a seed are paired, and :func:`logit_relu_claims` tests the per-seed differences (paired t-test,
interval of the mean difference) and counts the runs that never predict some class (verdicts in
:mod:`lab_utils.analysis.claims`' vocabulary: holds, refuted, not shown, not applicable). The test
confusion matrix's most confused pairs (:func:`top_confusions`) are a claim too.

May import every layer below ``labs`` and :mod:`lab_utils.labs.baselines`. Figures:
:mod:`lab_utils.report.plots.lab0`; tests: ``tests/labs/test_lab0.py``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from scipy import stats

from lab_utils.analysis import claims as C
from lab_utils.analysis import stats as S
from lab_utils.data.splits import Splits
from lab_utils.models import count_params
from lab_utils.report.paths import model_cache
from lab_utils.training.batched import train_runs
from lab_utils.training.candidates import trained_candidate
from lab_utils.training.train import Recipe, confusion_matrix, evaluate, predict


def train_variants(splits: Splits, variants: dict, progress: bool = True):
    """Train (or load from the cache) each ``name: (model_name, model_args, recipe)``.

    Returns ``(table, histories, confusions)``: a row per variant with parameters, recipe,
    val/test accuracy and macro accuracy; the per-epoch histories; the test confusion matrices.
    """
    rows, histories, confusions = [], {}, {}
    for name, (model_name, model_args, recipe) in variants.items():
        model, info = trained_candidate(model_name, model_args, splits, recipe, cache_dir=model_cache(),
                                        progress=progress)
        val, test = (evaluate(model, *splits.split(s)) for s in ("val", "test"))
        hist = info["history"] or {"epochs": [], "seconds": float("nan")}
        rows.append({"variant": name, "model": model_name, "logit_relu": model_args.get("logit_relu", True),
                     "params": count_params(model), "lr": recipe.lr, "epochs": recipe.epochs,
                     "val_accuracy": val["accuracy"], "val_macro_accuracy": val["macro_accuracy"],
                     "test_accuracy": test["accuracy"], "test_macro_accuracy": test["macro_accuracy"],
                     "test_loss": test["loss"], "test_n": test["n"], "train_seconds": round(hist["seconds"], 1)})
        histories[name] = hist
        confusions[name] = confusion_matrix(model, splits.x_test, splits.y_test, splits.num_classes).numpy()
    return pd.DataFrame(rows), histories, confusions


LOGIT_RELU_MODELS = ("jsc-tiny", "jsc-three-linear-layers")


def _study_row(model_name, logit_relu, seed, model, splits) -> dict:
    pred = predict(model, splits.x_val).argmax(dim=1)
    never = int((torch.bincount(pred, minlength=splits.num_classes) == 0).sum())
    return {"model": model_name, "logit_relu": logit_relu, "seed": seed,
            "val_accuracy": evaluate(model, splits.x_val, splits.y_val)["accuracy"],
            "test_accuracy": evaluate(model, splits.x_test, splits.y_test)["accuracy"],
            "classes_never_predicted": never}


def logit_relu_study(splits: Splits, recipe: Recipe, seeds, progress: bool = True) -> pd.DataFrame:
    """Each of :data:`LOGIT_RELU_MODELS` trained with and without the logit ReLU for every seed.

    One row per run: model, logit_relu, seed, val and test accuracy and ``classes_never_predicted``
    (on validation data: a run that never predicts a class has failed to train, the logit ReLU's
    failure mode). jsc-tiny runs one at a time through the model cache; jsc-three-linear-layers
    runs batched (:func:`lab_utils.training.batched.train_runs`, in this process).
    A seed fixes the init and the minibatch order, so the two arms of a seed are paired.
    """
    rows = []
    for relu in (True, False):
        for s in seeds:
            model, _ = trained_candidate("jsc-tiny", {"logit_relu": relu}, splits, replace(recipe, seed=int(s)),
                                         cache_dir=model_cache(), progress=progress)
            rows.append(_study_row("jsc-tiny", relu, int(s), model, splits))
    runs = [((16, 16), int(s), relu) for relu in (True, False) for s in seeds]
    for r in train_runs(runs, splits, recipe, cache_dir=model_cache(), progress=progress, workers=1):
        rows.append(_study_row("jsc-three-linear-layers", r["logit_relu"], r["seed"], r["model"], splits))
    return pd.DataFrame(rows)


def _failures_needed(n: int, k_without: int) -> int | None:
    """The fewest failed runs of ``n`` with the ReLU that one-sided Fisher's exact test calls more than
    ``k_without`` of ``n`` without it (p < α); None when even ``n`` of ``n`` would not."""
    for k in range(k_without + 1, n + 1):
        if stats.fisher_exact([[k, n - k], [k_without, n - k_without]], alternative="greater").pvalue < S.ALPHA:
            return k
    return None


def logit_relu_claims(study: pd.DataFrame) -> list[C.Claim]:
    """Per model, two findings.

    "Dropping the logit ReLU raises test accuracy", from the paired per-seed differences (without minus
    with, points), read from the 95 % interval of their mean (:func:`lab_utils.analysis.claims.interval_claim`,
    above 0): holds when the interval is above 0, refuted when it is below 0, not shown when it spans 0
    (with the smallest difference the seeds could have detected) or with fewer than 2 seeds.

    "With the logit ReLU training fails more often" (a class never predicted on validation data):
    Fisher's exact test, one-sided each way: holds when p < α, refuted when the opposite one-sided p < α
    (the runs without the ReLU fail more), not shown otherwise (with the failure count that would have
    decided it at this many seeds), not applicable when no run of either arm failed."""
    out = []
    for name, g in study.groupby("model", sort=False):
        w = g.pivot(index="seed", columns="logit_relu", values="test_accuracy").dropna()
        d = 100 * (w[False] - w[True]).to_numpy(float)
        mean, lo, hi = S.mean_ci(d)
        p = float(stats.ttest_rel(w[False], w[True]).pvalue) if len(d) >= 2 and d.std() > 0 else float("nan")
        fails = g.groupby("logit_relu")["classes_never_predicted"].apply(lambda x: int((x > 0).sum()))
        out.append(C.interval_claim(
            f"logit_relu.accuracy.{name}",
            f"dropping MASE's logit ReLU raises {name}'s test accuracy", lo, hi,
            f"mean difference {mean:+.2f} points (95 % CI {lo:+.2f} to {hi:+.2f}), paired t-test {C.fmt_p(p)}, "
            f"n = {len(d)} seeds; runs with a class never predicted: {fails.get(True, 0)} of {len(w)} with the ReLU, "
            f"{fails.get(False, 0)} of {len(w)} without", test="paired t-test over seeds", above=0.0, unit="points",
            model=name, mean_pts=mean, low_pts=lo, high_pts=hi, p=p, n=len(d)))
        k_with, k_without = int(fails.get(True, 0)), int(fails.get(False, 0))
        n = len(w)
        statement = (f"with the logit ReLU, {name} fails to train (a class never predicted on validation data) more "
                     "often than without")
        counts = f"failed runs {k_with} of {n} with the ReLU, {k_without} of {n} without"
        if k_with + k_without == 0:
            out.append(C.claim(f"logit_relu.failures.{name}", statement, C.NOT_APPLICABLE,
                               f"{counts}: no run failed, so there is no failure rate to compare",
                               test="Fisher exact, one-sided", model=name, p=1.0))
            continue
        table = [[k_with, n - k_with], [k_without, n - k_without]]
        p_fail = float(stats.fisher_exact(table, alternative="greater").pvalue)
        p_other = float(stats.fisher_exact(table, alternative="less").pvalue)
        holds = True if p_fail < S.ALPHA else (False if p_other < S.ALPHA else None)
        if holds is None:
            need = _failures_needed(n, k_without)
            tail = (f"; not shown at α = {S.ALPHA:g}: with {n} seeds per arm it takes {need} failed runs of {n} with the "
                    f"ReLU against {k_without} without" if need is not None else
                    f"; not shown at α = {S.ALPHA:g}: {n} seeds per arm cannot reach p < {S.ALPHA:g} whatever the counts")
        else:
            tail = "" if holds else f"; the runs without the ReLU fail more often (opposite one-sided {C.fmt_p(p_other)})"
        out.append(C.claim(
            f"logit_relu.failures.{name}", statement, holds,
            f"{counts}; Fisher's exact test (one-sided) {C.fmt_p(p_fail)}{tail}", test="Fisher exact, one-sided",
            model=name, p=p_fail, p_opposite=p_other))
    return out


def recipe_claim(table: pd.DataFrame, ours: str, theirs: str, gap_pts: float = 10.0) -> C.Claim:
    """"The lab report's learning rate leaves ``ours``' model more than ``gap_pts`` points below it after
    the same epochs": both test accuracies with exact (Clopper–Pearson) intervals, and the gap read from
    the normal 95 % interval of a difference of two proportions against ``gap_pts``
    (:func:`lab_utils.analysis.claims.interval_claim`, above the gap; the two models answer the same
    test jets, which correlates them positively, so the independent-samples interval is conservative).
    One training seed each, so the interval holds the test sampling, not the seed-to-seed spread: the
    claim is meant for a gap far beyond that spread (see the logit-ReLU study's spread)."""
    t = table.set_index("variant")
    n = int(t.loc[ours, "test_n"])
    a = S.proportion_ci(round(t.loc[ours, "test_accuracy"] * n), n)
    b = S.proportion_ci(round(t.loc[theirs, "test_accuracy"] * n), n)
    gap = 100 * (a[0] - b[0])
    half = 100 * S.z_quantile() * math.sqrt((a[0] * (1 - a[0]) + b[0] * (1 - b[0])) / n)
    return C.interval_claim(
        "report_recipe_gap", f"the lab report's recipe ({theirs}) leaves the model more than {gap_pts:g} points below ours "
        f"({ours}) after the same epochs", gap - half, gap + half,
        f"test accuracy {100 * a[0]:.2f} % (95 % CI {100 * a[1]:.2f}–{100 * a[2]:.2f}) against "
        f"{100 * b[0]:.2f} % ({100 * b[1]:.2f}–{100 * b[2]:.2f}), n = {n} jets; gap {gap:+.2f} points "
        f"(95 % CI {gap - half:+.2f} to {gap + half:+.2f}); one training seed each",
        test="Clopper–Pearson intervals; normal interval of the gap", above=gap_pts, unit="points", gap_pts=gap)


def top_confusions(cm, class_names, k: int = 2) -> list[str]:
    """The ``k`` largest off-diagonal class pairs (both directions summed), as ``"q<->g"``."""
    cm = np.asarray(cm, dtype=float)
    norm = cm / cm.sum(axis=1, keepdims=True)
    n = len(class_names)
    pairs = sorted(((norm[i, j] + norm[j, i], i, j) for i in range(n) for j in range(i + 1, n)), reverse=True)
    return [f"{class_names[i]}<->{class_names[j]}" for _, i, j in pairs[:k]]


def confusion_claim(top: list[str], expected=("g<->q", "w<->z")) -> C.Claim:
    """"The most confused pairs are quark/gluon and W/Z" (the one-prong pair and the two-prong pair
    whose mass peaks overlap): holds when :func:`top_confusions`'s top two are those."""
    return C.claim("most_confused_pairs", "quark/gluon and W/Z are the two most confused class pairs", set(top[:2]) == set(expected),
                   f"the two largest off-diagonal pairs of the row-normalised test confusion matrix: {', '.join(top[:2])}",
                   test="ranking of confusion rates", top=list(top))


def variants_view(table: pd.DataFrame) -> pd.DataFrame:
    """The variant table as a reader wants it: accuracies in % (2 decimals), lr in e-notation, no clutter."""
    return pd.DataFrame({"variant": table["variant"], "params": table["params"],
                         "lr": table["lr"].map(lambda v: f"{v:.0e}"), "epochs": table["epochs"],
                         "val accuracy %": (100 * table["val_accuracy"]).round(2),
                         "test accuracy %": (100 * table["test_accuracy"]).round(2),
                         "test macro accuracy %": (100 * table["test_macro_accuracy"]).round(2),
                         "test loss": table["test_loss"].round(3), "train s": table["train_seconds"]})


def study_view(study: pd.DataFrame) -> pd.DataFrame:
    """Per model and arm: test accuracy mean, standard deviation, min and max over seeds (%), failed runs."""
    g = study.assign(test=100 * study["test_accuracy"], failed=study["classes_never_predicted"] > 0)
    out = g.groupby(["model", "logit_relu"], sort=False).agg(
        seeds=("seed", "count"), test_mean=("test", "mean"), test_std=("test", "std"), test_min=("test", "min"),
        test_max=("test", "max"), failed_runs=("failed", "sum"))
    return out.round(2).reset_index().rename(columns={c: c.replace("test_", "test accuracy % ")
                                                      for c in ("test_mean", "test_std", "test_min", "test_max")})


REPORT_TINY_VAL_ACCURACY = 0.513  # the lab report: jsc-tiny validation accuracy with MASE's defaults (lr 1e-5)


def report_recipe_check(table: pd.DataFrame, theirs: str, synthetic: bool) -> C.ReportCheck:
    """The report's jsc-tiny accuracy with its recipe against this run's same-recipe model (only
    comparable on the real data set)."""
    acc = float(table.set_index("variant").loc[theirs, "val_accuracy"])
    shows = f"validation accuracy {100 * acc:.2f} % with the same recipe" + (
        " on synthetic data (jsc-sim), so not comparable" if synthetic else "")
    agrees = None if synthetic else abs(acc - REPORT_TINY_VAL_ACCURACY) < 0.02
    return C.report_check("jsc-tiny with MASE's defaults", f"validation accuracy {100 * REPORT_TINY_VAL_ACCURACY:.2f} %",
                          shows, agrees)
