"""Every figure of the notebooks, one public function each; saving is :func:`lab_utils.report.notebook.save_figure`.

Each function takes tables or arrays the notebook already has and returns a matplotlib Figure; none
computes a result a notebook reports. Fronts are marked with :func:`lab_utils.analysis.pareto.pareto_mask`
(numpy only), so this module imports nothing heavier than matplotlib, numpy and pandas.

``matplotlib.pyplot`` is imported at the top and the backend is left to matplotlib: a headless run
(the report harness, the tests) gets Agg by default, and inside Jupyter ipykernel selects the
inline backend before this module is imported.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lab_utils.analysis.pareto import pareto_mask


# ----------------------------------------------------------------------------- lab0: data and baselines
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


def confusion_matrices(matrices: dict, class_names):
    """Row-normalised confusion matrices (true class in rows), one panel each."""
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


# ----------------------------------------------------------------------------- Lab 3: quantization metrics and search
def metric_panels(table: pd.DataFrame, metrics=("accuracy", "macro_accuracy", "loss", "latency_ms", "size_bytes",
                                                "flops", "bitops", "average_bitwidth")):
    """One bar panel per metric across configurations; the float model hatched and marked by a
    dashed line; latency with its IQR as error bars."""
    metrics = [m for m in metrics if m in table.columns]
    cols = 4
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(16, 3.6 * rows), squeeze=False)
    xs = np.arange(len(table))
    colors = ["0.55" if f else "tab:blue" for f in table["float"]]
    for ax, m in zip(axes.flat, metrics):
        err = table["latency_iqr_ms"] / 2 if m == "latency_ms" and "latency_iqr_ms" in table else None
        bars = ax.bar(xs, table[m], color=colors, yerr=err, capsize=2)
        for b, f in zip(bars, table["float"]):
            if f:
                b.set_hatch("//")
        base = table.loc[table["float"], m]
        if len(base):
            ax.axhline(float(base.iloc[0]), color="k", ls="--", lw=0.8, label="float32")
        if m in ("accuracy", "macro_accuracy", "loss"):
            lo, hi = table[m].min(), table[m].max()
            pad = max(hi - lo, 1e-3) * 0.3
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(m + (" (median ± IQR/2, per batch)" if m == "latency_ms" else ""), fontsize=9)
        ax.set_xticks(xs, table["config"], rotation=90, fontsize=7)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def pareto_panels(table: pd.DataFrame, quality: str = "accuracy", costs=("bitops", "size_bytes"), label="config"):
    """Quality against each cost, every point labelled, the Pareto front joined by a line."""
    fig, axes = plt.subplots(1, len(costs), figsize=(7 * len(costs), 5), squeeze=False)
    for ax, c in zip(axes[0], costs):
        mask = pareto_mask(table[[quality, c]].to_numpy(float), (True, False))
        ax.scatter(table[c], table[quality], c=np.where(mask, "tab:red", "tab:blue"), s=25, zorder=3)
        front = table[mask].sort_values(c)
        ax.step(front[c], front[quality], where="post", color="tab:red", lw=1, label="Pareto front")
        for _, r in table.iterrows():
            ax.annotate(r[label], (r[c], r[quality]), fontsize=6, xytext=(3, 2), textcoords="offset points")
        ax.set_xlabel(c + " (lower is better)")
        ax.set_ylabel(quality + " (higher is better)")
        ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def scatter_pair(table: pd.DataFrame, a: str = "loss", b: str = "accuracy", label: str = "config"):
    """``b`` against ``a`` across configurations, each point labelled."""
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(table[a], table[b], s=25)
    for _, r in table.iterrows():
        ax.annotate(r[label], (r[a], r[b]), fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def brute_force_scatter(trials: pd.DataFrame, front: pd.DataFrame, float_accuracy: float):
    """Validation accuracy (%) against average bitwidth for every trial, the best trials (the Pareto
    front) in red, the float baseline dashed."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(trials["average_bitwidth"], 100 * trials["accuracy"], s=12, alpha=0.6,
               label=f"all {len(trials)} configurations")
    ax.scatter(front["average_bitwidth"], 100 * front["accuracy"], color="tab:red", label="best trials (Pareto front)")
    ax.axhline(100 * float_accuracy, color="k", ls="--", lw=0.8, label="float32 baseline")
    ax.set_xlabel("average bitwidth (weight width)")
    ax.set_ylabel("val accuracy (%)")
    ax.legend(fontsize=7)
    return fig


def curves_figure(curves: dict, tolerance: float = 0.5):
    """Best-so-far against trial number, one panel per study (``title -> curves``, as
    :func:`lab_utils.labs.lab3_samplers.best_so_far_curves` gives them): mean and 95 % band over seeds per
    sampler, the exact expected curve of a random order (dashed black) and the optimum minus
    ``tolerance`` (dotted)."""
    fig, axes = plt.subplots(1, len(curves), figsize=(7.5 * len(curves), 4.8), squeeze=False)
    for ax, (title, c) in zip(axes[0], curves.items()):
        k = c["trials"]
        for s, (mean, lo, hi) in c["samplers"].items():
            ax.plot(k, mean, label=f"{s} (mean of {c['n_seeds']})")
            ax.fill_between(k, lo, hi, alpha=0.25)
        exact = c["exact"]
        ax.plot(k, exact, "k--", lw=1, label="random order, exact expectation")
        opt = c["optimum"]
        ax.axhline(opt, color="0.3", lw=0.8)
        ax.axhline(opt - tolerance if c["maximize"] else opt + tolerance, color="0.3", lw=0.8, ls=":",
                   label=f"optimum − {tolerance:g}")
        ax.set_xscale("log")
        lo_y = np.percentile(c["values"], 50)
        ax.set_ylim(max(lo_y, exact[0] - 1), opt + 0.3 * max(opt - lo_y, 0.5))
        ax.set_xlabel("trial number")
        ax.set_ylabel(f"best {c['name']} so far")
        ax.set_title(f"{title}: {c['n']} configurations, budget {len(k)}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


# ----------------------------------------------------------------------------- Lab 4: width search
def multiplier_accuracy(agg: pd.DataFrame):
    """Validation and test accuracy (mean ± std over seeds) against the uniform multiplier and the parameters."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, x in zip(axes, ("multiplier", "params")):
        for col, name in (("val", "validation"), ("test", "test")):
            ax.errorbar(agg[x], agg[f"{col}_mean"], yerr=agg[f"{col}_std"], marker="o", capsize=3,
                        label=f"{name} (mean ± std over seeds)")
        ax.set_xlabel(x)
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=7)
    axes[1].set_xscale("log")
    fig.suptitle("uniform channel multiplier: accuracy against multiplier and parameters")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def heatmap(agg: pd.DataFrame, value: str = "val_mean", mark=(2, 4), title: str = ""):
    """Mean validation accuracy over (a, c) with the lab's 16->32->64->5 target (a=2, c=4) outlined."""
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
    fig, axes = plt.subplots(1, len(costs), figsize=(5.5 * len(costs), 4), squeeze=False)
    for ax, cost in zip(axes[0], costs):
        yerr = np.vstack([agg["val_mean"] - agg["val_min"], agg["val_max"] - agg["val_mean"]])
        ax.errorbar(agg[cost], agg["val_mean"], yerr=yerr, fmt="o", ms=4, capsize=2, alpha=0.8,
                    label="candidate (bar: seed range)")
        front = agg[pareto_mask(agg[["val_mean", cost]].to_numpy(float), (True, False))].sort_values(cost)
        ax.plot(front[cost], front["val_mean"], "r-", lw=1.5, label="Pareto front")
        for r in front.itertuples():
            ax.annotate(label(r), (getattr(r, cost), r.val_mean), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(f"{cost} (float32{' bit-ops per sample' if cost == 'bitops' else ''})")
        ax.set_ylabel("validation accuracy (mean over seeds)")
        ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def search_best_so_far(trials: dict, grid_best: float, seed: int):
    """Best validation accuracy so far per completed trial of each search (``sampler -> trials table``),
    against the best of lab4_3's grid for the same seed (dashed)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for s, t in trials.items():
        done = t[t["state"] == "COMPLETE"].sort_values("number")
        ax.step(range(1, len(done) + 1), done["accuracy"].cummax(), where="post", label=s)
    ax.axhline(float(grid_best), color="gray", ls="--", label=f"best of the grid (seed {seed})")
    ax.set_xlabel("trial")
    ax.set_ylabel("best validation accuracy so far")
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


def accuracy_vs_macs(candidates: pd.DataFrame, retrained: pd.DataFrame | None = None, *, report_accuracy: float):
    """Every evaluated architecture (one row per distinct architecture: supernet accuracy on val)
    against MACs, the Pareto front joined, the from-scratch retrainings and the lab report's accuracy."""
    u = candidates
    front = u[pareto_mask(u[["accuracy", "macs"]].to_numpy(float), (True, False))].sort_values("macs")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.scatter(u["macs"] / 1e6, u["accuracy"], s=16, color="tab:blue", alpha=0.6, label="candidates (supernet, val)")
    ax.plot(front["macs"] / 1e6, front["accuracy"], "-o", color="tab:red", ms=4, label="Pareto front")
    if retrained is not None and len(retrained):
        ax.scatter(retrained["macs"] / 1e6, retrained["scratch_val_accuracy"], marker="s", s=36, color="tab:green",
                   label="retrained from scratch (val)")
    ax.axhline(report_accuracy, color="gray", ls="--", lw=1, label=f"lab report ({report_accuracy:.0%}, untrained)")
    ax.set_xlabel("MACs per image (millions)")
    ax.set_ylabel("accuracy")
    ax.set_title("VGG7 channel search on CIFAR-10: accuracy vs MACs")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
