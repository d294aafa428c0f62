"""lab4_5's figures (:mod:`lab_utils.labs.lab4_5`): the supernet's training, accuracy against MACs (the
supernet's scores and the same-recipe trainings, with Clopper-Pearson intervals as the claims use) and
the ranking check (supernet score and MACs side by side).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lab_utils.analysis import stats
from lab_utils.analysis.pareto import pareto_mask


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
    from :func:`lab_utils.labs.lab4_5.train_architectures`): the same-recipe from-scratch test
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
    """From-scratch validation accuracy (mean over seeds, %) of each architecture of the ranking check
    against its supernet-slice validation accuracy (left) and against its MACs (right, the predictor
    the supernet is judged against), marked by role: the panel whose points lie closer to a rising
    curve ranks better."""
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.4), sharey=True)
    styles = {"searched": ("*", "gold", 160), "widest": ("^", "tab:purple", 60), "narrowest": ("v", "tab:brown", 60),
              "random": ("o", "tab:gray", 40)}
    for ax, (col, scale, label) in zip(axes, (("supernet_val_accuracy", 100, "supernet slice, validation accuracy (%)"),
                                              ("macs", 1e-6, "MACs per image (millions)"))):
        for group, (marker, color, size) in styles.items():
            r = table[table.role.str.startswith(group)]
            if len(r):
                ax.scatter(scale * r[col], 100 * r["scratch_val_accuracy"], marker=marker, s=size, color=color,
                           edgecolor="black", zorder=3, label=group)
        ax.set_xlabel(label)
    axes[0].set_ylabel("trained from scratch, validation accuracy (%)")
    axes[0].set_title("supernet score")
    axes[1].set_title("MACs alone")
    fig.suptitle(f"does the supernet rank better than MACs? ({len(table)} architectures)", fontsize=10)
    axes[0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(1.05, -0.14), ncol=4, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
