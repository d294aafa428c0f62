"""Figures shared by the notebooks (each returns a matplotlib Figure; saving is report.save_figure)."""

from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg",) and not _in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None
    except ImportError:
        return False


def feature_distributions(splits, features=("j_mass_mmdt", "j_multiplicity", "j_zlogz", "j_c2_b1_mmdt",
                                            "j_d2_b1_mmdt", "j_n2_b1_mmdt")):
    """Per-class histograms of a few standardised training features, plus the class balance."""
    plt = _plt()
    x, y = splits.x_train.numpy(), splits.y_train.numpy()
    cols = [splits.feature_names.index(f) for f in features]
    fig, axes = plt.subplots(2, 4, figsize=(13, 5.5))
    for ax, f, c in zip(axes.flat, features, cols):
        lo, hi = np.percentile(x[:, c], [0.5, 99.5])
        for k, name in enumerate(splits.class_names):
            ax.hist(x[y == k, c], bins=60, range=(lo, hi), histtype="step", density=True, label=name)
        ax.set_title(f"{f} (standardised)")
    ax = axes.flat[len(features)]
    for s, (_, ys) in {s: splits.split(s) for s in ("train", "val", "test")}.items():
        counts = np.bincount(ys.numpy(), minlength=splits.num_classes)
        ax.plot(splits.class_names, counts / counts.sum(), marker="o", label=f"{s} (n={len(ys):,})")
    ax.set_title("class balance")
    ax.set_ylim(0, 0.4)
    ax.legend(fontsize=7)
    axes.flat[0].legend(title="class", fontsize=7)
    for ax in list(axes.flat)[len(features) + 1:]:
        ax.axis("off")
    fig.suptitle(f"Features per class — {splits.label}")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def confusion_matrices(matrices: dict, class_names):
    """Row-normalised confusion matrices (true class in rows), one panel each."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(matrices), figsize=(4 * len(matrices), 3.8), squeeze=False)
    for ax, (title, cm) in zip(axes[0], matrices.items()):
        cm = np.asarray(cm, dtype=float)
        norm = cm / cm.sum(axis=1, keepdims=True)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(norm.shape[0]):
            for j in range(norm.shape[1]):
                ax.text(j, i, f"{100 * norm[i, j]:.0f}", ha="center", va="center",
                        color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
        ax.set_xticks(range(len(class_names)), class_names)
        ax.set_yticks(range(len(class_names)), class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title, fontsize=9)
        ax.grid(False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def training_curves(histories: dict):
    """Validation accuracy per epoch for several runs (``History`` objects or their ``as_dict()``)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, hist in histories.items():
        epochs = hist["epochs"] if isinstance(hist, dict) else hist.epochs
        ax.plot([r["epoch"] for r in epochs], [r["val_accuracy"] for r in epochs], marker=".", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def top_confusions(cm, class_names, k: int = 2) -> list[str]:
    """The ``k`` largest off-diagonal class pairs (both directions summed), as ``"q<->g"``."""
    cm = np.asarray(cm, dtype=float)
    norm = cm / cm.sum(axis=1, keepdims=True)
    n = len(class_names)
    pairs = sorted(((norm[i, j] + norm[j, i], i, j) for i in range(n) for j in range(i + 1, n)), reverse=True)
    return [f"{class_names[i]}<->{class_names[j]}" for _, i, j in pairs[:k]]
