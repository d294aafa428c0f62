"""lab3_4's figures (:mod:`lab_utils.labs.lab3_4`): the samplers' best-so-far curves and the reach ECDF.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

SAMPLER_STYLES = {"brute-force": ("C0", "-", "o"), "tpe": ("C3", "--", "s"), "random": ("C2", "-.", "^"),
                  "nsgaii": ("C1", ":", "D"), "qmc": ("C4", (0, (5, 1, 1, 1)), "v"), "grid": ("C5", "-", "x")}


def curves_figure(curves: dict, tolerance=0.5):
    """Best-so-far against trial number, one panel per study (``title -> curves``, as
    :func:`lab_utils.labs.lab3_4.best_so_far_curves` gives them): mean and 95 % band over seeds per
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


def _sampler_style(name: str, i: int) -> dict:
    """Colour, line style and marker of a sampler, the same in every lab3_4 figure (distinct, so
    coinciding curves stay visible)."""
    colour, ls, marker = SAMPLER_STYLES.get(name, (f"C{i % 10}", "-", "o"))
    return {"color": colour, "ls": ls, "marker": marker}


def reach_ecdf_figure(data: dict):
    """Share of runs that have reached the target by each trial (empirical CDF of trials-to-target,
    capped at the budget: runs that never reach it keep the curve below 1), one panel per space
    (``title -> data``, as :func:`lab_utils.labs.lab3_4.ecdf_data` gives them), a distinct
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
