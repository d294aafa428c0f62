"""Lab 4's figures for lab4_2 and lab4_3 (:mod:`lab_utils.labs.lab4`): accuracy against the uniform
multiplier, the (a, c) heatmap and the fronts against cost.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lab_utils.analysis.pareto import pareto_mask


def multiplier_accuracy(table: pd.DataFrame):
    """Per model variant against the uniform multiplier: validation accuracy of the runs that trained
    (mean, bar: 95 % t interval from the variant's pooled within-candidate SD, as
    :func:`lab_utils.labs.lab4_claims.candidate_table` gives it) and the failure rate (bar: exact 95 %
    interval), both in %."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    styles = (("o", "-", -0.08), ("s", "--", 0.08))  # models side by side (x offset), so neither hides the other
    for (model, g), (marker, ls, dx) in zip(table.groupby("model"), styles):
        g = g.sort_values("a")
        ok = g[g["trained"] > 0]
        axes[0].errorbar(ok["a"] + dx, 100 * ok["val_mean"], yerr=100 * np.vstack([ok["val_mean"] - ok["val_low"],
                         ok["val_high"] - ok["val_mean"]]).clip(min=0) if len(ok) else None, marker=marker, ls=ls,
                         capsize=3, label=f"{model}")
        axes[1].errorbar(g["a"] + dx, 100 * g["failure_rate"], yerr=100 * np.vstack([g["failure_rate"] - g["failure_low"],
                         g["failure_high"] - g["failure_rate"]]), marker=marker, ls=ls, capsize=3, label=f"{model}")
    for ax in axes:
        ax.set_xticks(sorted(table["a"].unique()))
    axes[0].set_ylabel("val accuracy of trained runs (%)")
    axes[1].set_ylabel("failure rate (%)")
    axes[1].set_title("failed: a class never predicted on validation", fontsize=8)
    axes[0].set_title("runs that trained (no class lost)", fontsize=8)
    for ax in axes:
        ax.set_xlabel("uniform channel multiplier (hidden width 16 x m)")
        ax.legend(fontsize=7, title="model", title_fontsize=7)
    fig.suptitle("uniform multiplier, screen runs: mean and 95 % interval per candidate (accuracy: t interval from "
                 "the pooled within-candidate SD; failures: exact)", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def heatmap(table: pd.DataFrame, mark=(2, 4), title: str = ""):
    """Mean validation accuracy (%) of the runs that trained over (a, c), one panel per model variant,
    each cell also giving failed/all runs; grey: no run trained; the lab's target outlined in red."""
    models = sorted(table["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 5), squeeze=False)
    vals = 100 * table["val_mean"].to_numpy(float)
    vmin, vmax = np.nanmin(vals), np.nanmax(vals)
    for ax, model in zip(axes[0], models):
        t = table[table["model"] == model]
        grid = t.pivot(index="a", columns="c", values="val_mean").sort_index().sort_index(axis=1) * 100
        fail = t.pivot(index="a", columns="c", values="failed").reindex_like(grid)
        runs = t.pivot(index="a", columns="c", values="runs").reindex_like(grid)
        cmap = plt.get_cmap("viridis").with_extremes(bad="0.8")
        im = ax.imshow(np.ma.masked_invalid(grid.values), cmap=cmap, origin="lower", vmin=vmin, vmax=vmax)
        for i, a in enumerate(grid.index):
            for j, c in enumerate(grid.columns):
                v = grid.loc[a, c]
                text = "—" if np.isnan(v) else f"{v:.2f}"
                ax.text(j, i, f"{text}\n{int(fail.loc[a, c])}/{int(runs.loc[a, c])} failed", ha="center", va="center",
                        fontsize=6.5, color="black" if np.isnan(v) or v > (vmin + vmax) / 2 else "white")
        if mark is not None and mark[0] in grid.index and mark[1] in grid.columns:
            i, j = list(grid.index).index(mark[0]), list(grid.columns).index(mark[1])
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
        ax.set_xticks(range(len(grid.columns)), [f"{c} ({16 * c})" for c in grid.columns])
        ax.set_yticks(range(len(grid.index)), [f"{a} ({16 * a})" for a in grid.index])
        ax.set_xlabel("c: seq_blocks_4 output multiplier (width)")
        ax.set_ylabel("a: seq_blocks_2 output multiplier (width)")
        ax.grid(False)
        ax.set_title(f"{model} model", fontsize=9)
        fig.colorbar(im, ax=ax, label="val accuracy of trained runs, mean (%)")
    fig.suptitle(title or "validation accuracy (%) over (a, c)", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def accuracy_vs_cost(table: pd.DataFrame, costs=("params", "bitops")):
    """Validation accuracy (%) of the runs that trained against each cost, one row per model variant:
    every candidate with its 95 % t interval (pooled within-candidate SD), the Pareto front of the means as a staircase (the best
    mean accuracy reachable at that cost or less), front members labelled (a, c)."""
    models = sorted(table["model"].unique())
    fig, axes = plt.subplots(len(models), len(costs), figsize=(5.5 * len(costs), 3.8 * len(models)), squeeze=False)
    for row, model in zip(axes, models):
        t = table[(table["model"] == model) & (table["trained"] > 0)]
        for ax, cost in zip(row, costs):
            lo, hi = (t["val_mean"] - t["val_low"]).fillna(0), (t["val_high"] - t["val_mean"]).fillna(0)
            ax.errorbar(t[cost], 100 * t["val_mean"], yerr=100 * np.vstack([lo, hi]), fmt="o", ms=4, capsize=2,
                        alpha=0.7, label="candidate (bar: 95 % CI, pooled within-candidate SD)")
            front = t[pareto_mask(t[["val_mean", cost]].to_numpy(float), (True, False))].sort_values(cost)
            ax.step(front[cost], 100 * front["val_mean"], where="post", color="tab:red", lw=1.5,
                    label="Pareto front of the means")
            for r in front.itertuples():
                ax.annotate(f"({r.a},{r.c})", (getattr(r, cost), 100 * r.val_mean), fontsize=7, xytext=(3, -9),
                            textcoords="offset points")
            ax.set_xscale("log")
            ax.set_xlabel(f"{cost} (float32{' bit-ops per sample' if cost == 'bitops' else ''})")
            ax.set_ylabel("val accuracy of trained runs (%)")
            ax.set_title(f"{model} model", fontsize=9)
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
