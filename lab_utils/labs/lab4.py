"""Lab 4's width-search results: one table row per trained candidate, seed spread, Pareto front, figures.

:func:`results_table` turns the rows of :func:`lab_utils.training.batched.train_grid` into a DataFrame
(multipliers, parameters, bit-ops, validation and test metrics per seed); :func:`by_candidate`
aggregates the seeds (mean, std, min, max); :func:`spread_verdict` says whether the best
candidate's validation accuracy beats the base model's (a = c = 1) by more than the seed spread,
where the spread is the larger of the two candidates' seed ranges (max - min), a conservative
choice: with one seed there is no spread and no verdict. Selection always uses the validation
split; test numbers are only reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab_utils.analysis.cost import cost_summary
from lab_utils.report.plots import _plt
from lab_utils.training.train import evaluate

BASE_WIDTH = 16


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


def pareto_front(cost, accuracy) -> np.ndarray:
    """Boolean mask of points no other point dominates (cost <= and accuracy >=, one strictly)."""
    cost, acc = np.asarray(cost, dtype=float), np.asarray(accuracy, dtype=float)
    keep = np.ones(len(cost), dtype=bool)
    for i in range(len(cost)):
        dominated = (cost <= cost[i]) & (acc >= acc[i]) & ((cost < cost[i]) | (acc > acc[i]))
        keep[i] = not dominated.any()
    return keep


def heatmap(agg: pd.DataFrame, value: str = "val_mean", mark=(2, 4), title: str = ""):
    """Mean validation accuracy over (a, c) with the lab's 16->32->64->5 target (a=2, c=4) outlined."""
    plt = _plt()
    grid = agg.pivot(index="a", columns="c", values=value).sort_index().sort_index(axis=1)
    fig, ax = plt.subplots(figsize=(5.8, 4.8))
    im = ax.imshow(grid.values, cmap="viridis", origin="lower")
    for i, a in enumerate(grid.index):
        for j, c in enumerate(grid.columns):
            ax.text(j, i, f"{100 * grid.loc[a, c]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if grid.loc[a, c] < np.nanmean(grid.values) else "black")
    if mark is not None and mark[0] in grid.index and mark[1] in grid.columns:
        i, j = list(grid.index).index(mark[0]), list(grid.columns).index(mark[1])
        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
    ax.set_xticks(range(len(grid.columns)), [f"{c} ({16 * c})" for c in grid.columns])
    ax.set_yticks(range(len(grid.index)), [f"{a} ({16 * a})" for a in grid.index])
    ax.set_xlabel("c: seq_blocks_4 output multiplier (width)")
    ax.set_ylabel("a: seq_blocks_2 output multiplier (width)")
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="validation accuracy (mean over seeds)")
    ax.set_title(title or "validation accuracy (%) over (a, c)", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def accuracy_vs_cost(agg: pd.DataFrame, costs=("params", "bitops"), label=lambda r: f"({r.a},{r.c})"):
    """Mean val accuracy (error bar: seed min..max) against each cost, Pareto front drawn."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(costs), figsize=(5.5 * len(costs), 4), squeeze=False)
    for ax, cost in zip(axes[0], costs):
        yerr = np.vstack([agg["val_mean"] - agg["val_min"], agg["val_max"] - agg["val_mean"]])
        ax.errorbar(agg[cost], agg["val_mean"], yerr=yerr, fmt="o", ms=4, capsize=2, alpha=0.8,
                    label="candidate (bar: seed range)")
        front = agg[pareto_front(agg[cost], agg["val_mean"])].sort_values(cost)
        ax.plot(front[cost], front["val_mean"], "r-", lw=1.5, label="Pareto front")
        for r in front.itertuples():
            ax.annotate(label(r), (getattr(r, cost), r.val_mean), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(f"{cost} (float32{' bit-ops per sample' if cost == 'bitops' else ''})")
        ax.set_ylabel("validation accuracy (mean over seeds)")
        ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
