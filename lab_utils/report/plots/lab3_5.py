"""lab3_5's figures (:mod:`lab_utils.labs.lab3_5`): PTQ and QAT accuracy against bit-ops with both Pareto
fronts, and QAT accuracy against epochs at the hardest configurations (95 % t-intervals over seeds from
:mod:`lab_utils.analysis.stats`). Both take the study's tables (one row per configuration with ``model``;
accuracies as fractions, drawn in %).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lab_utils.analysis import stats
from lab_utils.analysis.pareto import pareto_mask

PTQ_STYLE = {"color": "tab:blue", "mfc": "none", "ls": "none"}
QAT_STYLE = {"color": "tab:orange", "ls": "none"}
GRID_MARKERS = {"lab": "o", "per-layer": "^"}


def _front(ax, x, y, **style) -> None:
    """The Pareto front of ``y`` (maximised) against ``x`` (minimised) as a staircase."""
    mask = pareto_mask(np.column_stack([y, x]), (True, False))
    order = np.argsort(x[mask], kind="stable")
    ax.step(x[mask][order], y[mask][order], where="post", **style)


def fronts_figure(table: pd.DataFrame) -> plt.Figure:
    """One panel per model: PTQ (hollow) and QAT (filled, mean with its 95 % interval over seeds) test
    accuracy against bit-ops per jet, markers by grid, both Pareto fronts as staircases, float and the
    fine-tuned float control as horizontal lines."""
    models = list(dict.fromkeys(table["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(5.6 * len(models), 4.4), squeeze=False)
    for ax, name in zip(axes[0], models):
        t = table[table["model"] == name]
        x = t["bitops"].to_numpy(float)
        for grid, marker in GRID_MARKERS.items():
            g = t[t["grid"] == grid]
            if g.empty:
                continue
            ax.plot(g["bitops"], 100 * g["ptq"], marker=marker, ms=5, label=f"PTQ, {grid} grid", **PTQ_STYLE)
            err = 100 * np.vstack([g["qat"] - g["qat_low"], g["qat_high"] - g["qat"]])
            ax.errorbar(g["bitops"], 100 * g["qat"], yerr=np.nan_to_num(err), marker=marker, ms=5, capsize=2,
                        elinewidth=0.8, label=f"QAT, {grid} grid (95 % CI)", **QAT_STYLE)
        _front(ax, x, 100 * t["ptq"].to_numpy(float), color="tab:blue", ls="--", lw=1.2, label="PTQ Pareto front")
        _front(ax, x, 100 * t["qat"].to_numpy(float), color="tab:orange", ls="-", lw=1.4, label="QAT Pareto front")
        ax.axhline(100 * t["float"].iloc[0], color="black", ls=":", lw=1, label="float checkpoint")
        ax.axhline(100 * t["control"].iloc[0], color="gray", ls="-.", lw=1, label="float, fine-tuned (control)")
        ax.set_xscale("log")
        ax.set_ylim(top=min(ax.get_ylim()[1], 100))  # an interval over few seeds can reach past 100 %
        ax.set(title=name, xlabel="bit-ops per jet (log scale)", ylabel="test accuracy (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, bbox_to_anchor=(0.5, 0.03))
    fig.suptitle("PTQ against QAT (one epoch, learning rate picked on validation): test accuracy against bit-ops")
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig


def epochs_figure(ep: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """One panel per model: QAT test accuracy (mean and 95 % interval over seeds) against epochs for each of
    the hardest configurations, with its PTQ accuracy (hollow, at 0 epochs) and the float checkpoint."""
    models = list(dict.fromkeys(ep["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(5.0 * len(models), 3.8), squeeze=False)
    styles = [("tab:red", "o", "-"), ("tab:green", "s", "--"), ("tab:purple", "D", "-."), ("tab:brown", "v", ":")]
    for ax, name in zip(axes[0], models):
        e = ep[ep["model"] == name]
        t = table[table["model"] == name].set_index("config")
        groups = list(e.groupby("config", sort=False))
        for i, ((config, g), (color, marker, ls)) in enumerate(zip(groups, styles * 4)):
            s = g.groupby("epochs")["test_accuracy"].agg(["mean", "std", "count"])
            half = 100 * stats.t_half_widths(s["std"], s["count"])
            dodge = 0.06 * (i - (len(groups) - 1) / 2)  # side by side, so no interval hides another
            ax.errorbar(s.index + dodge, 100 * s["mean"], yerr=half, color=color, marker=marker, ls=ls, capsize=2,
                        label=config)
            ax.plot([dodge], [100 * t.loc[config, "ptq"]], marker=marker, mfc="none", color=color, ls="none")
        ax.axhline(100 * t["float"].iloc[0], color="black", ls=":", lw=1, label="float checkpoint")
        ax.set_xticks([0, *sorted(e["epochs"].unique())])
        ax.set_ylim(top=min(ax.get_ylim()[1], 100))  # an interval over few seeds can reach past 100 %
        ax.set(title=name, xlabel="QAT epochs (0 = PTQ, hollow)", ylabel="test accuracy (%)")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
    fig.suptitle("QAT epochs at the configurations PTQ hurts most (each count at its own learning rate; 95 % intervals over seeds)")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
