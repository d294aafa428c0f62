"""lab4_4's figure (:mod:`lab_utils.labs.lab4_4`): the command-line searches' best-so-far against lab4_3's grid.
"""

from __future__ import annotations

import matplotlib.pyplot as plt


def search_best_so_far(trials: dict, grid_best: float, seed: int):
    """Best validation accuracy (%) so far per completed trial of each search (``sampler -> trials
    table``), against the best of lab4_3's grid for the same seed (dashed)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (s, t), ls in zip(trials.items(), ("-", "--", ":")):
        done = t[t["state"] == "COMPLETE"].sort_values("number")
        ax.step(range(1, len(done) + 1), 100 * done["accuracy"].cummax(), where="post", ls=ls, label=s)
    ax.axhline(100 * float(grid_best), color="gray", ls="-.", lw=1, label=f"best of the grid (seed {seed})")
    ax.set_xlabel("trial")
    ax.set_ylabel("best validation accuracy so far (%)")
    ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
