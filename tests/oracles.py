"""Independent oracles for the claims' evidence numbers (tests/labs/): each written out from its textbook
formula, never a call of the :mod:`lab_utils.analysis.stats` function a claim uses.

- Student-t quantiles from printed tables (:data:`T975`), the normal quantile :data:`Z975`;
- sums of binomial and hypergeometric terms with :func:`math.comb` (exact McNemar, Fisher, binomial tests);
- Agresti and Min's interval for matched proportions, written out (a half added to each cell);
- Clopper–Pearson from its beta-quantile closed form;
- Spearman's rho as Pearson on hand-averaged ranks, Kendall's exact p from inversion counts (Mahonian numbers);
- Welch's interval and p from the Welch–Satterthwaite degrees of freedom;
- Mann–Whitney's U by counting pairs, its p by the normal approximation with the tie correction.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter

from scipy import stats as sps

T975 = {2: 4.302653, 3: 3.182446, 4: 2.776445, 5: 2.570582}  # t(0.975, dof), printed tables
Z975 = 1.959964  # the normal 97.5 % quantile


def t_interval(values) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval: mean ± t(0.975, n − 1) · sd / sqrt(n) (stdlib sd, printed t)."""
    v = [float(x) for x in values]
    m = statistics.fmean(v)
    half = T975[len(v) - 1] * statistics.stdev(v) / math.sqrt(len(v))
    return m, m - half, m + half


def binom_upper(k: int, m: int) -> float:
    """P(X >= k) for X ~ Bin(m, 1/2): the sum of C(m, j) / 2^m over j >= k."""
    return sum(math.comb(m, j) for j in range(k, m + 1)) / 2**m


def mcnemar_two_sided(n10: int, n01: int) -> float:
    """Exact two-sided McNemar: 2 · P(X <= min(n10, n01)), X ~ Bin(n10 + n01, 1/2), at most 1."""
    m = n10 + n01
    return min(1.0, 2 * sum(math.comb(m, j) for j in range(min(n10, n01) + 1)) / 2**m)


def agresti_min(n10: int, n01: int, n: int) -> dict:
    """Agresti and Min's 95 % interval of (n10 − n01) / n: the Wald interval after adding 1/2 to each cell."""
    d = (n10 - n01) / (n + 2)
    se = math.sqrt(((n10 + n01 + 1) / (n + 2) - d**2) / (n + 2))
    return {"diff": (n10 - n01) / n, "se": se, "low": d - Z975 * se, "high": d + Z975 * se}


def fisher_greater(k_a: int, n_a: int, k_b: int, n_b: int) -> float:
    """One-sided Fisher exact p that group a has the higher rate: P(X >= k_a) with X hypergeometric
    (``n_a`` drawn from ``n_a + n_b`` items, ``k_a + k_b`` of them marked)."""
    k, n = k_a + k_b, n_a + n_b
    return sum(math.comb(k, j) * math.comb(n - k, n_a - j) for j in range(k_a, min(k, n_a) + 1)) / math.comb(n, n_a)


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    """The exact 95 % interval of k / n from its closed form: beta quantiles Beta(k, n − k + 1) at 2.5 % and
    Beta(k + 1, n − k) at 97.5 % (0 and 1 at the ends)."""
    low = 0.0 if k == 0 else sps.beta.ppf(0.025, k, n - k + 1)
    high = 1.0 if k == n else sps.beta.ppf(0.975, k + 1, n - k)
    return float(low), float(high)


def ranks(values) -> list[float]:
    """1-based ranks, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman_rho(x, y) -> float:
    """Spearman's rho: Pearson's correlation of the (tie-averaged) ranks."""
    rx, ry = ranks(list(x)), ranks(list(y))
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    num = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return num / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))


def spearman_p(rho: float, n: int) -> float:
    """The two-sided p of Spearman's rho by the t approximation: t = rho · sqrt((n − 2) / (1 − rho²)), n − 2 dof."""
    t = rho * math.sqrt((n - 2) / (1 - rho**2))
    return float(2 * sps.t.sf(abs(t), n - 2))


def inversions(seq) -> int:
    """Pairs i < j with seq[i] > seq[j]."""
    return sum(seq[i] > seq[j] for i in range(len(seq)) for j in range(i + 1, len(seq)))


def kendall_greater_p(n: int, inv: int) -> float:
    """Exact one-sided p of Kendall's tau with ``inv`` discordant pairs among n untied items: the share of the
    n! orders with at most ``inv`` inversions (Mahonian numbers, built one item at a time)."""
    counts = [1]
    for k in range(2, n + 1):  # inserting the k-th item adds 0 .. k - 1 inversions
        counts = [sum(counts[j - s] for s in range(k) if 0 <= j - s < len(counts)) for j in range(len(counts) + k - 1)]
    return sum(counts[: inv + 1]) / math.factorial(n)


def welch(a, b) -> dict:
    """mean(a) − mean(b) with Welch's 95 % interval and two-sided p (Welch–Satterthwaite dof)."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    diff, se = statistics.fmean(a) - statistics.fmean(b), math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    q = float(sps.t.ppf(0.975, dof))
    return {"diff": diff, "low": diff - q * se, "high": diff + q * se, "p": float(2 * sps.t.sf(abs(diff) / se, dof)),
            "n_a": len(a), "n_b": len(b)}


def mann_whitney(x, y, alternative: str) -> tuple[float, float]:
    """``U1`` (pairs with the x value above the y value, a tie counting a half) and the normal approximation's
    p for ``alternative`` (``"less"``: x tends lower), with the tie correction of the variance and a
    continuity correction of 1/2."""
    n1, n2 = len(x), len(y)
    u1 = sum((a > b) + 0.5 * (a == b) for a in x for b in y)
    n = n1 + n2
    ties = sum(c**3 - c for c in Counter(list(x) + list(y)).values())
    s = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    u, sides = {"less": (n1 * n2 - u1, 1), "greater": (u1, 1), "two-sided": (max(u1, n1 * n2 - u1), 2)}[alternative]
    return float(u1), min(1.0, sides * float(sps.norm.sf((u - n1 * n2 / 2 - 0.5) / s)))


def z_interval(values) -> tuple[float, float, float]:
    """Mean and 95 % normal interval of many per-item values: mean ± z · sd / sqrt(n) (stdlib sd, ddof 1)."""
    v = [float(x) for x in values]
    m = statistics.fmean(v)
    half = Z975 * statistics.stdev(v) / math.sqrt(len(v))
    return m, m - half, m + half


def pooled_half_widths(groups) -> tuple[float, int, list[float]]:
    """One-way ANOVA's residual SD s_p = sqrt(sum over groups of sum (x - group mean)^2 / (N - k)) on N - k dof,
    and each group's 95 % half-width t(0.975, N - k) s_p / sqrt(n_j) (printed t of :data:`T975`)."""
    gs = [[float(x) for x in g] for g in groups]
    n, k = sum(len(g) for g in gs), len(gs)
    ss = sum(sum((x - statistics.fmean(g)) ** 2 for x in g) for g in gs)
    sd = math.sqrt(ss / (n - k))
    return sd, n - k, [T975[n - k] * sd / math.sqrt(len(g)) for g in gs]
