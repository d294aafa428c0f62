"""Lab 3's figures for lab3_1 to lab3_3 (:mod:`lab_utils.labs.lab3`): the metric panels, the Pareto fronts
against cost (bit-ops, size and the estimated FPGA figures of :mod:`lab_utils.analysis.hardware`), a pair of
metrics and the brute-force scatter.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lab_utils.analysis.pareto import pareto_mask

TITLES = {"latency_ms": " (this CPU, measured: median ± IQR/2, per batch)", "accuracy": " (fraction)",
          "macro_accuracy": " (fraction)", "loss": " (cross-entropy)", "size_bytes": " (bytes)", "flops": " (per batch)",
          "bitops": " (per batch)", "average_bitwidth": " (bits)", "ebops": " (estimated, HGQ, per sample)",
          "lut_equivalent": " (estimated, LUT + 55·DSP)", "latency_cycles": " (estimated, cycles at 200 MHz)",
          "luts": " (estimated)", "dsps": " (estimated)"}
XLABELS = {"bitops": "bit-ops per batch (log scale; lower is better)", "size_bytes": "size (bytes; lower is better)",
           "lut_equivalent": "estimated LUT equivalents, LUT + 55·DSP (log scale; lower is better)",
           "latency_cycles": "estimated latency (clock cycles at 200 MHz; lower is better)",
           "ebops": "estimated EBOPs per sample (log scale; lower is better)"}
LOG_COSTS = ("bitops", "lut_equivalent", "ebops")


def metric_panels(table: pd.DataFrame, metrics=("accuracy", "macro_accuracy", "loss", "latency_ms", "size_bytes",
                                                "flops", "bitops", "average_bitwidth", "ebops", "lut_equivalent",
                                                "latency_cycles")):
    """One bar panel per metric across configurations; the float model hatched and marked by a
    dashed line; latency with its IQR as error bars. The hardware estimates (EBOPs, LUT equivalents,
    latency cycles) say "estimated" in their titles; the float model is costed at ap_fixed<16,6>."""
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
        ax.set_title(m + TITLES.get(m, ""), fontsize=9)
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


def dodge(values, max_distinct: int = 10, share: float = 0.3) -> np.ndarray:
    """Sideways offsets for a discrete cost (whole numbers, at most ``max_distinct`` distinct values): the
    points sharing a value spread evenly over ``± share`` (0.3) of the smallest gap between values (1 if there
    is one value), in row order; zeros for any other cost. So no point hides another at the same cost."""
    v = np.asarray(values, dtype=float)
    distinct = np.unique(v)
    if len(distinct) > max_distinct or not np.all(v == np.round(v)):
        return np.zeros(len(v))
    gap = float(np.diff(distinct).min()) if len(distinct) > 1 else 1.0
    out = np.zeros(len(v))
    for d in distinct:
        idx = np.flatnonzero(v == d)
        if len(idx) > 1:
            out[idx] = share * gap * np.linspace(-1, 1, len(idx))
    return out


def _scatter_by_width(ax, table: pd.DataFrame, x: str, y: str, scale: float = 1.0, offset=None):
    xs = table[x].to_numpy(float) + (0 if offset is None else np.asarray(offset))
    if not {"data_in_width", "weight_width"} <= set(table.columns):  # no widths to encode: one series
        ax.scatter(xs, scale * table[y], s=30, zorder=3, label="configuration")
        return
    colors, markers = _by_width(table)
    pos = pd.Series(xs, index=table.index)
    for (a, w), g in table.groupby(["data_in_width", "weight_width"]):
        ax.scatter(pos[g.index], scale * g[y], color=colors[a], marker=markers[w], s=30, zorder=3, alpha=0.85,
                   label=f"data_in {a} bits, weight {w} bits")


def pareto_panels(table: pd.DataFrame, quality: str = "accuracy", costs=("bitops", "size_bytes"), label="config",
                  cols: int = 2, dodged=("latency_cycles", "ii_cycles")):
    """Quality (%) against each cost, ``cols`` panels a row: points coloured by data_in width and shaped by
    weight width (legend), the Pareto front as a staircase, only the front's points labelled (offset
    alternately). A discrete cost named in ``dodged`` (latency cycles) spreads the points that share a value
    sideways (:func:`dodge`, said in the axis label); the staircase stays at the true values."""
    cols = min(cols, len(costs))
    rows = -(-len(costs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7 * cols, 5.2 * rows), squeeze=False)
    for ax, c in zip(axes.flat, costs):
        mask = pareto_mask(table[[quality, c]].to_numpy(float), (True, False))
        off = dodge(table[c]) if c in dodged else np.zeros(len(table))
        _scatter_by_width(ax, table, c, quality, 100, off)
        front = table[mask].sort_values(c)
        ax.step(front[c], 100 * front[quality], where="post", color="tab:red", lw=1.2, label="Pareto front")
        shown = front[c] + pd.Series(off, index=table.index)[front.index]  # where the front's markers are drawn
        if np.any(off):  # ring the front's (spread) markers so they read as the staircase's points
            ax.scatter(shown, 100 * front[quality], s=90, facecolors="none", edgecolors="tab:red", lw=1.0, zorder=4)
        for i, (k, r) in enumerate(front.iterrows()):
            last = i == len(front) - 1 and len(front) > 1  # the costliest: label to its left, inside the axes
            ax.annotate(r[label], (shown[k], 100 * r[quality]), fontsize=7, color="tab:red",
                        ha="right" if last else "left", xytext=(-6 if last else 6, -12 if i % 2 else 6),
                        textcoords="offset points")
        if c in LOG_COSTS:
            ax.set_xscale("log")
        xlabel = XLABELS.get(c, f"{c} (lower is better)")
        if np.any(off):
            xlabel += "\n(points sharing a value are spread sideways; the front at the true values)"
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{quality} (%, higher is better)")
    for ax in list(axes.flat)[len(costs):]:
        ax.axis("off")
    # one legend below the panels, outside every axes: it hides no point
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=6, bbox_to_anchor=(0.5, 0.02 / rows))
    fig.tight_layout(rect=(0, 0.11 / rows, 1, 1))
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
