"""Figures shared by several labs: the validation-accuracy training curves (lab0, lab4_1).
"""

from __future__ import annotations

import matplotlib.pyplot as plt


def training_curves(histories: dict):
    """Validation accuracy (%) per epoch for several runs (``History`` objects or their ``as_dict()``),
    each run with its own line style and marker so overlapping curves stay visible."""
    fig, ax = plt.subplots(figsize=(7, 4))
    styles = ["-", "--", ":", "-."]
    markers = "o^sDvx"
    for i, (name, hist) in enumerate(histories.items()):
        epochs = hist["epochs"] if isinstance(hist, dict) else hist.epochs
        ax.plot([r["epoch"] for r in epochs], [100 * r["val_accuracy"] for r in epochs], ls=styles[i % 4],
                marker=markers[i % 6], ms=4, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
