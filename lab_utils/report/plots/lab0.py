"""lab0's figures (the data and the baselines): feature distributions, confusion matrices and the logit-ReLU pairs.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def feature_distributions(splits, features=("j_mass_mmdt", "j_multiplicity", "j_zlogz", "j_c2_b1_mmdt",
                                            "j_d2_b1_mmdt", "j_n2_b1_mmdt")):
    """Per-class histograms of a few standardised training features, plus the class balance."""
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


def confusion_matrices(matrices: dict, class_names, split: str = "test"):
    """Row-normalised confusion matrices (true class in rows; each row sums to 100 %), one panel each,
    on ``split``; cells and colour bar in %."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(4 * len(matrices) + 0.8, 3.9), squeeze=False)
    im = None
    for ax, (title, cm) in zip(axes[0], matrices.items()):
        cm = np.asarray(cm, dtype=float)
        norm = 100 * cm / cm.sum(axis=1, keepdims=True)
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=100)
        for i in range(norm.shape[0]):
            for j in range(norm.shape[1]):
                ax.text(j, i, f"{norm[i, j]:.0f}", ha="center", va="center",
                        color="white" if norm[i, j] > 50 else "black", fontsize=8)
        ax.set_xticks(range(len(class_names)), class_names)
        ax.set_yticks(range(len(class_names)), class_names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(title, fontsize=9)
        ax.grid(False)
    fig.suptitle(f"confusion matrices on the {split} split, row-normalised: % of each true class predicted as each class",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 0.93, 1))
    fig.colorbar(im, ax=list(axes[0]), label="% of the true class", fraction=0.02, pad=0.02)
    return fig


def logit_relu_pairs(study: pd.DataFrame):
    """Test accuracy (%) of every seed with and without the logit ReLU, one panel per model, the two
    runs of a seed joined (they share init and minibatch order); failed runs circled in red."""
    models = list(dict.fromkeys(study["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), squeeze=False)
    for ax, m in zip(axes[0], models):
        w = study[study["model"] == m].pivot(index="seed", columns="logit_relu", values="test_accuracy") * 100
        ax.plot([0, 1], np.vstack([w[True].to_numpy(), w[False].to_numpy()]), "-o", color="0.4", ms=4, alpha=0.8)
        if "classes_never_predicted" in study:
            bad = study[(study["model"] == m) & (study["classes_never_predicted"] > 0)]
            ax.scatter(np.where(bad["logit_relu"], 0, 1), 100 * bad["test_accuracy"], s=60, facecolors="none",
                       edgecolors="tab:red", zorder=3, label="failed run (a class never predicted)")
            if len(bad):
                ax.legend(fontsize=7, loc="lower right")
        ax.set_xticks([0, 1], ["with logit ReLU", "without"])
        ax.set_xlim(-0.4, 1.4)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{m}: {len(w)} seeds, lines join a seed", fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
