"""Lab 3's figures (lab3_1 to lab3_4): metric panels, Pareto fronts, the brute-force scatter and the
samplers' curves, one public function each; the conventions are those of :mod:`lab_utils.report.plots`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lab_utils.analysis.pareto import pareto_mask


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
        ax.set_title(m + {"latency_ms": " (median ± IQR/2, per batch)", "accuracy": " (fraction)",
                          "macro_accuracy": " (fraction)", "loss": " (cross-entropy)", "size_bytes": " (bytes)",
                          "flops": " (per batch)", "bitops": " (per batch)", "average_bitwidth": " (bits)"}.get(m, ""),
                     fontsize=9)
        ax.set_xticks(xs, table["config"], rotation=90, fontsize=7)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _by_width(table: pd.DataFrame):
    """(colour, marker) per row: colour by data_in width, marker by weight width (legend instead of labels)."""
    colors = {w: c for w, c in zip(sorted(table["data_in_width"].unique()), ["tab:orange", "tab:green", "tab:blue",
                                                                           "tab:purple", "tab:brown"])}
    markers = {w: m for w, m in zip(sorted(table["weight_width"].unique()), "v^sDo")}
    return colors, markers


def _scatter_by_width(ax, table: pd.DataFrame, x: str, y: str, scale: float = 1.0):
    if not {"data_in_width", "weight_width"} <= set(table.columns):  # no widths to encode: one series
        ax.scatter(table[x], scale * table[y], s=30, zorder=3, label="configuration")
        return
    colors, markers = _by_width(table)
    for (a, w), g in table.groupby(["data_in_width", "weight_width"]):
        ax.scatter(g[x], scale * g[y], color=colors[a], marker=markers[w], s=30, zorder=3, alpha=0.85,
                   label=f"data_in {a} bits, weight {w} bits")


def pareto_panels(table: pd.DataFrame, quality: str = "accuracy", costs=("bitops", "size_bytes"), label="config"):
    """Quality (%) against each cost: points coloured by data_in width and shaped by weight width (legend),
    the Pareto front as a staircase, only the front's points labelled (offset alternately)."""
    fig, axes = plt.subplots(1, len(costs), figsize=(7 * len(costs), 5.2), squeeze=False)
    for ax, c in zip(axes[0], costs):
        mask = pareto_mask(table[[quality, c]].to_numpy(float), (True, False))
        _scatter_by_width(ax, table, c, quality, 100)
        front = table[mask].sort_values(c)
        ax.step(front[c], 100 * front[quality], where="post", color="tab:red", lw=1.2, label="Pareto front")
        for i, (_, r) in enumerate(front.iterrows()):
            last = i == len(front) - 1  # the costliest: label to its left, inside the axes
            ax.annotate(r[label], (r[c], 100 * r[quality]), fontsize=7, color="tab:red", ha="right" if last else "left",
                        xytext=(-6 if last else 6, -12 if i % 2 else 6), textcoords="offset points")
        if c == "bitops":
            ax.set_xscale("log")
        ax.set_xlabel("bit-ops per batch (log scale; lower is better)" if c == "bitops" else
                      "size (bytes; lower is better)" if c == "size_bytes" else f"{c} (lower is better)")
        ax.set_ylabel(f"{quality} (%, higher is better)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def scatter_pair(table: pd.DataFrame, a: str = "loss", b: str = "accuracy", label: str = "config"):
    """``b`` (%) against ``a`` across configurations: colour by data_in width, marker by weight width."""
    fig, ax = plt.subplots(figsize=(7, 5))
    _scatter_by_width(ax, table, a, b, 100)
    ax.set_xlabel(f"{a} (cross-entropy)" if a == "loss" else a)
    ax.set_ylabel(f"{b} (%)")
    ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def brute_force_scatter(trials: pd.DataFrame, front: pd.DataFrame, float_accuracy: float):
    """Left: validation accuracy (%) against average bitwidth for every trial (small horizontal jitter:
    the bitwidths are few), the best trials' Pareto front as a staircase, the float baseline dashed.
    Right: accuracy against the data_in format's integer bits (width − frac, sign included), coloured by
    data_in width: the range, not the bit count, sets the accuracy."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    ax = axes[0]
    jitter = np.random.default_rng(0).uniform(-0.25, 0.25, len(trials))
    ax.scatter(trials["average_bitwidth"] + jitter, 100 * trials["accuracy"], s=12, alpha=0.6,
               label=f"all {len(trials)} configurations")
    f = front.sort_values("average_bitwidth")
    ax.step(f["average_bitwidth"], 100 * f["accuracy"], where="post", color="tab:red", lw=1.2)
    ax.scatter(f["average_bitwidth"], 100 * f["accuracy"], color="tab:red", zorder=3, label="best trials (Pareto front)")
    ax.axhline(100 * float_accuracy, color="k", ls="--", lw=0.8, label="float32 baseline")
    ax.set_xlabel("average bitwidth (= weight width here; points jittered sideways)")
    ax.set_ylabel("validation accuracy (%)")
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[1]
    if "data_in_width" in trials and "data_in_frac_width" in trials:
        widths = sorted(trials["data_in_width"].unique())
        for i, (wdt, g) in enumerate(trials.groupby("data_in_width")):
            ib = g["data_in_width"] - g["data_in_frac_width"]
            ax.scatter(ib + 0.2 * (i - (len(widths) - 1) / 2), 100 * g["accuracy"], s=14, alpha=0.7,
                       label=f"data_in width {wdt} (shifted {0.2 * (i - (len(widths) - 1) / 2):+.1f})")
        ax.axhline(100 * float_accuracy, color="k", ls="--", lw=0.8, label="float32 baseline")
        ax.set_xlabel("data_in integer bits (width − frac width, sign included)")
        ax.set_ylabel("validation accuracy (%)")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def curves_figure(curves: dict, tolerance=0.5):
    """Best-so-far against trial number, one panel per study (``title -> curves``, as
    :func:`lab_utils.labs.lab3_samplers.best_so_far_curves` gives them): mean and 95 % band over seeds per
    sampler (each with its own line style and staggered markers, so a curve that coincides with
    another stays visible), the exact expected curve of a random order (thin black) and the optimum
    minus ``tolerance`` (dotted; a number, or a dict ``title -> number`` for one per panel)."""
    fig, axes = plt.subplots(1, len(curves), figsize=(7.5 * len(curves), 4.8), squeeze=False)
    for ax, (title, c) in zip(axes[0], curves.items()):
        k = c["trials"]
        for i, (s, (mean, lo, hi)) in enumerate(c["samplers"].items()):
            st = _sampler_style(s, i)
            marks = np.unique(np.geomspace(1 + i * 0.25, len(k), 12).astype(int)) - 1
            ax.plot(k, mean, lw=1.4, markevery=list(marks), ms=4, mfc="none", label=f"{s} (mean of {c['n_seeds']})",
                    **st)
            ax.fill_between(k, lo, hi, alpha=0.12, color=st["color"], lw=0)
        exact = c["exact"]
        ax.plot(k, exact, color="k", lw=0.8, label="random order, exact expectation")
        opt, tol = c["optimum"], tolerance[title] if isinstance(tolerance, dict) else tolerance
        ax.axhline(opt, color="0.3", lw=0.8)
        ax.axhline(opt - tol if c["maximize"] else opt + tol, color="0.3", lw=0.8, ls=":",
                   label=f"optimum − {tol:.2f} (the target)")
        ax.set_xscale("log")
        lo_y = np.percentile(c["values"], 50)
        ax.set_ylim(max(lo_y, exact[0] - 1), opt + 0.3 * max(opt - lo_y, 0.5))
        ax.set_xlabel("trial number")
        ax.set_ylabel(f"best {c['name']} so far")
        ax.set_title(f"{title}: {c['n']} configurations, budget {len(k)}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


SAMPLER_STYLES = {"brute-force": ("C0", "-", "o"), "tpe": ("C3", "--", "s"), "random": ("C2", "-.", "^"),
                  "nsgaii": ("C1", ":", "D"), "qmc": ("C4", (0, (5, 1, 1, 1)), "v"), "grid": ("C5", "-", "x")}


def _sampler_style(name: str, i: int) -> dict:
    """Colour, line style and marker of a sampler, the same in every lab3_4 figure (distinct, so
    coinciding curves stay visible)."""
    colour, ls, marker = SAMPLER_STYLES.get(name, (f"C{i % 10}", "-", "o"))
    return {"color": colour, "ls": ls, "marker": marker}


def reach_ecdf_figure(data: dict):
    """Share of runs that have reached the target by each trial (empirical CDF of trials-to-target,
    capped at the budget: runs that never reach it keep the curve below 1), one panel per space
    (``title -> data``, as :func:`lab_utils.labs.lab3_samplers.ecdf_data` gives them), a distinct
    line style and marker per sampler, and the exact law of a uniformly random order (thin black).
    The trial axis is logarithmic when the budget covers the whole space (runs get there early)."""
    fig, axes = plt.subplots(1, len(data), figsize=(6.2 * len(data), 4.4), squeeze=False)
    for ax, (title, d) in zip(axes[0], data.items()):
        budget = d["budget"]
        log = budget >= d["n"]  # the whole space: the action is in the first trials; a budget below it: late
        grid = np.arange(1, budget + 1)
        for i, (s, t) in enumerate(d["trials"].items()):
            share = np.searchsorted(np.sort(t), grid, side="right") / len(t)
            spaced = np.geomspace(1 + i * 0.3, budget, 10) if log else np.linspace(1 + i * budget / 40, budget, 10)
            marks = list(np.unique(spaced.astype(int)) - 1)
            ax.step(grid, 100 * share, where="post", lw=1.4, markevery=marks, ms=4, mfc="none",
                    label=f"{s} ({len(t)} runs)", **_sampler_style(s, i))
        ax.plot(d["exact_t"][1:], 100 * d["exact_cdf"][1:], color="k", lw=0.8, drawstyle="steps-post",
                label="uniformly random order, exact")
        ax.set_xscale("log" if log else "linear")
        ax.set_xlim(1, budget)
        ax.set_ylim(-2, 102)
        ax.set_xlabel("trial number (log scale)" if log else "trial number")
        ax.set_ylabel("runs that reached the target (%)")
        ax.set_title(f"{title}: {d['good']} of {d['n']} configurations within the target, budget {budget}",
                     fontsize=9)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
