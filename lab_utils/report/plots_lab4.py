"""Lab 4's figures (lab4_2 to lab4_5): accuracy against width, the (a, c) heatmap, fronts against cost,
the search's best-so-far and the VGG supernet figures, one public function each; the conventions are those
of :mod:`lab_utils.report.plots`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lab_utils.analysis import stats
from lab_utils.analysis.pareto import pareto_mask


# ----------------------------------------------------------------------------- Lab 4: width search
def multiplier_accuracy(table: pd.DataFrame):
    """Per model variant against the uniform multiplier: validation accuracy of the runs that trained
    (mean, bar: 95 % t interval) and the failure rate (bar: exact 95 % interval), both in %."""
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
    fig.suptitle("uniform multiplier, screen runs: mean and 95 % interval per candidate", fontsize=9)
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
    every candidate with its 95 % t interval, the Pareto front of the means as a staircase (the best
    mean accuracy reachable at that cost or less), front members labelled (a, c)."""
    models = sorted(table["model"].unique())
    fig, axes = plt.subplots(len(models), len(costs), figsize=(5.5 * len(costs), 3.8 * len(models)), squeeze=False)
    for row, model in zip(axes, models):
        t = table[(table["model"] == model) & (table["trained"] > 0)]
        for ax, cost in zip(row, costs):
            lo, hi = (t["val_mean"] - t["val_low"]).fillna(0), (t["val_high"] - t["val_mean"]).fillna(0)
            ax.errorbar(t[cost], 100 * t["val_mean"], yerr=100 * np.vstack([lo, hi]), fmt="o", ms=4, capsize=2,
                        alpha=0.7, label="candidate (bar: 95 % CI; none: one trained run)")
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


def search_best_so_far(trials: dict, grid_best: float, seed: int):
    """Best validation accuracy (%) so far per completed trial of each search (``sampler -> trials
    table``), against the best of lab4_3's grid for the same seed (dashed)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (s, t), ls in zip(trials.items(), ("-", "--", ":")):
        done = t[t["state"] == "COMPLETE"].sort_values("number")
        ax.step(range(1, len(done) + 1), 100 * done["accuracy"].cummax(), where="post", ls=ls, label=s)
    ax.axhline(100 * float(grid_best), color="gray", ls="-.", lw=1, label=f"best of the grid (seed {seed})")
    ax.set_xlabel("trial")
    ax.set_ylabel("best validation accuracy so far (%)")
    ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def supernet_curve(history: list[dict]):
    """Training loss of the largest and the smallest candidate per supernet epoch."""
    h = pd.DataFrame(history)
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.plot(h["epoch"], h["loss_largest"], "-o", label="largest candidate")
    ax.plot(h["epoch"], h["loss_smallest"], "-o", label="smallest candidate")
    ax.set_xlabel("supernet epoch")
    ax.set_ylabel("training cross-entropy")
    ax.set_title("supernet training (sandwich rule)")
    ax.legend(fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def accuracy_vs_macs(candidates: pd.DataFrame, runs: pd.DataFrame | None = None, *, report_accuracy: float,
                     searched=None):
    """Left: every architecture the search evaluated (supernet slice, validation accuracy in %) against
    MACs, the Pareto front as a staircase and the searched architecture starred. Right (with ``runs``,
    from :func:`lab_utils.labs.lab4_vgg.train_architectures`): the same-recipe from-scratch test
    accuracy of the searched architecture and each baseline with binomial 95 % error bars, and the
    lab report's accuracy."""
    u = candidates
    front = u[pareto_mask(u[["accuracy", "macs"]].to_numpy(float), (True, False))].sort_values("macs")
    fig, axes = plt.subplots(1, 2 if runs is not None else 1, figsize=(10.5 if runs is not None else 6.0, 4.8),
                             squeeze=False)
    ax = axes[0, 0]
    ax.step(front["macs"] / 1e6, 100 * front["accuracy"], where="post", color="tab:red", lw=1.5,
            label="Pareto front (staircase)")
    ax.scatter(u["macs"] / 1e6, 100 * u["accuracy"], s=16, color="tab:blue", alpha=0.6, label="candidates", zorder=3)
    if searched is not None:
        row = u[u["channels"] == tuple(searched)]
        ax.scatter(row["macs"] / 1e6, 100 * row["accuracy"], marker="*", s=160, color="gold", edgecolor="black",
                   zorder=4, label="searched (best on val)")
    ax.set_xlabel("MACs per image (millions)")
    ax.set_ylabel("validation accuracy of the supernet slice (%)")
    ax.set_title("search: supernet scores")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    if runs is not None:
        ax = axes[0, 1]
        styles = {"searched": ("*", "gold", 160), "widest": ("^", "tab:purple", 60), "narrowest": ("v", "tab:brown", 60),
                  "random": ("o", "tab:gray", 40)}
        for group, (marker, color, size) in styles.items():
            r = runs[runs.role.str.startswith(group)]
            if not len(r):
                continue
            acc = r["test_accuracy"].to_numpy(float)
            ci = np.array([stats.proportion_ci(int(np.sum(c)), len(c))[1:] for c in r["correct"]])  # as the claims
            err = 100 * np.abs(ci.T - acc)
            ax.errorbar(r["macs"] / 1e6, 100 * acc, yerr=err, fmt="none", ecolor=color, elinewidth=1, capsize=2)
            ax.scatter(r["macs"] / 1e6, 100 * acc, marker=marker, s=size, color=color, edgecolor="black", zorder=3,
                       label=f"{group} ({len(r)} run{'s' if len(r) > 1 else ''})")
        ax.axhline(100 * report_accuracy, color="gray", ls="--", lw=1,
                   label=f"lab report ({100 * report_accuracy:.0f} %, untrained)")
        ax.set_xlabel("MACs per image (millions)")
        ax.set_ylabel("test accuracy, trained from scratch (%)")
        ax.set_title("same recipe from scratch: searched vs baselines")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    fig.suptitle("VGG7 channel search on CIFAR-10", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))  # legends below the axes: no point hidden under one
    return fig


def supernet_ranking(table: pd.DataFrame):
    """Supernet validation accuracy against from-scratch validation accuracy (both in %) for each
    architecture of the ranking check, marked by role: points on a rising line mean the supernet
    ranks architectures as training does."""
    fig, ax = plt.subplots(figsize=(5.4, 4.4))
    styles = {"searched": ("*", "gold", 160), "widest": ("^", "tab:purple", 60), "narrowest": ("v", "tab:brown", 60),
              "random": ("o", "tab:gray", 40)}
    for group, (marker, color, size) in styles.items():
        r = table[table.role.str.startswith(group)]
        if len(r):
            ax.scatter(100 * r["supernet_val_accuracy"], 100 * r["scratch_val_accuracy"], marker=marker, s=size,
                       color=color, edgecolor="black", zorder=3, label=group)
    ax.set_xlabel("supernet slice, validation accuracy (%)")
    ax.set_ylabel("trained from scratch, validation accuracy (%)")
    ax.set_title(f"does the supernet rank right? ({len(table)} architectures)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
