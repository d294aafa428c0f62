"""Pareto fronts: the one non-dominated-points function every notebook and table uses.

Written by hand because Optuna's own front is a private function over trials, not arrays.
"""

from __future__ import annotations

import numpy as np

from lab_utils.errors import LabError


def pareto_mask(points, maximize=(True, True)) -> np.ndarray:
    """Non-dominated points (``points`` is (n, d)); ``maximize[j]`` says the direction of column j.

    A point is dominated when another is at least as good in every column and better in one; equal
    points do not dominate each other. Two columns use an O(n log n) sort-and-sweep; more columns
    a vectorised pairwise check.
    """
    p = np.asarray(points, dtype=float)
    if p.ndim != 2 or p.shape[1] != len(maximize):
        raise LabError(f"pareto_mask: points must be (n, {len(maximize)}), got shape {p.shape}")
    q = np.where(np.asarray(maximize, dtype=bool), -p, p)  # minimise every column
    n = len(q)
    if q.shape[1] != 2:
        le = (q[:, None, :] <= q[None, :, :]).all(-1)
        lt = (q[:, None, :] < q[None, :, :]).any(-1)
        return ~(le & lt).any(axis=0)
    order = np.lexsort((q[:, 1], q[:, 0]))
    mask = np.zeros(n, dtype=bool)
    prev_min = np.inf  # best second column among points with a strictly smaller first column
    i = 0
    while i < n:
        j = i
        while j < n and q[order[j], 0] == q[order[i], 0]:
            j += 1
        group = order[i:j]
        gmin = q[group, 1].min()
        if gmin < prev_min:
            mask[group[q[group, 1] == gmin]] = True
        prev_min = min(prev_min, gmin)
        i = j
    return mask
