"""lab3_6's figures (:mod:`lab_utils.labs.lab3_6`, Lab 3's PTQ and QAT on CIFAR-10): PTQ against QAT with
the paired intervals of the claims, and the CNN's training curve.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

PTQ_STYLE = {"color": "tab:blue", "marker": "o", "label": "PTQ"}
QAT_STYLE = {"color": "tab:orange", "marker": "s", "label": "QAT (mean of seeds)"}


def ptq_vs_qat(table: pd.DataFrame, ptq_ci: pd.DataFrame, qat_seeds: pd.DataFrame, float_accuracy: float,
               margin_pts: float = 1.0):
    """Two panels over the quantized configurations (``table``: :func:`lab_utils.labs.lab3_6.results_table`
    without the float row):

    - left: test accuracy (%) of PTQ with its Clopper–Pearson 95 % interval (``ptq_ci``: config,
      low, high as fractions), and of QAT: each seed a cross (``qat_seeds``: config, seed,
      accuracy) on their mean (a square); the float model as a dashed line;
    - right: the paired difference to float (points) with its 95 % interval, PTQ and QAT side by
      side, and the ``-margin_pts`` tolerance.
    """
    xs = np.arange(len(table))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6))
    ci = ptq_ci.set_index("config").loc[table["config"]]
    ptq = table["ptq_%"].to_numpy(float)
    ax1.errorbar(xs - 0.12, ptq, yerr=[ptq - 100 * ci["low"].to_numpy(float), 100 * ci["high"].to_numpy(float) - ptq],
                 ls="none", capsize=2, **PTQ_STYLE)
    has_qat = table["qat_%"].notna() if "qat_%" in table else pd.Series(False, index=table.index)
    if has_qat.any():
        pos = {c: x for c, x in zip(table["config"], xs)}
        dots = qat_seeds[qat_seeds.config.isin(pos)]
        ax1.scatter(xs[has_qat] + 0.12, table.loc[has_qat, "qat_%"], s=36, zorder=3, color="tab:orange", marker="s",
                    label=QAT_STYLE["label"])
        ax1.scatter([pos[c] + 0.12 for c in dots.config], 100 * dots.accuracy, s=18, color="k", zorder=4,
                    marker="x", lw=0.8, label="QAT (one seed)")
    ax1.axhline(100 * float_accuracy, color="k", ls="--", lw=0.8, label="float32")
    ax1.set_ylabel("test accuracy (%)")
    ax1.set_title("Accuracy per configuration (PTQ: 95 % Clopper–Pearson)", fontsize=9)
    ax2.errorbar(xs - 0.12, table["ptq_vs_float_pts"], yerr=[table["ptq_vs_float_pts"] - table["ptq_low"],
                                                             table["ptq_high"] - table["ptq_vs_float_pts"]],
                 ls="none", capsize=2, **PTQ_STYLE)
    if has_qat.any():
        q = table[has_qat]
        ax2.errorbar(xs[has_qat] + 0.12, q["qat_vs_float_pts"], yerr=[q["qat_vs_float_pts"] - q["qat_low"],
                                                                       q["qat_high"] - q["qat_vs_float_pts"]],
                     ls="none", capsize=2, **QAT_STYLE)
    ax2.axhline(0, color="k", lw=0.8)
    ax2.axhline(-margin_pts, color="firebrick", ls=":", lw=1, label=f"-{margin_pts:g} point")
    ax2.set_ylabel("difference to float (points)")
    ax2.set_title("Paired difference to float on the same test images (95 % CI)", fontsize=9)
    handles = {}
    for ax in (ax1, ax2):
        ax.set_xticks(xs, table["config"], rotation=45, ha="right", fontsize=8)
        handles.update(zip(*reversed(ax.get_legend_handles_labels())))
    fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 0.93))
    return fig


def training_curve(history: list[dict]):
    """The CNN's training: cross-entropy (train, val) and validation accuracy (%) per epoch."""
    h = pd.DataFrame(history)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax1.plot(h["epoch"], h["train_loss"], marker="o", label="train (augmented)")
    ax1.plot(h["epoch"], h["val_loss"], marker="s", ls="--", label="validation")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.legend(fontsize=7)
    ax2.plot(h["epoch"], 100 * h["val_accuracy"], marker="s", color="tab:green")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation accuracy (%)")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
