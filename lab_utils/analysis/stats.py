"""Every statistical primitive of the suite, once: intervals, paired binary comparisons, Holm,
permutation tests, rank correlations and the verdict of an interval against a margin.

Claims (``labs/*``), the search's replay curves and the figures all call this module, so the bar
in a figure is the interval in the claim beside it, and one significance level (:data:`ALPHA`)
decides every test. Each function wraps ``scipy.stats`` where scipy has the procedure; the few
written here say why in their docstrings (Agresti–Min's paired interval, Holm, a permutation test
that accepts one-value samples, a bootstrap of Spearman's rho, the verdict rule).

Conventions:

- intervals are two-sided at ``level`` (0.95 unless told) and returned as ``(estimate, low, high)``
  or a dict with ``low`` and ``high``; an interval that cannot be computed is NaN, never zero-wide;
- a paired binary comparison takes the discordant *counts* ``(n10, n01)`` of its 2 × 2 table, not
  two arrays, so a caller cannot swap "lost" and "gained" by passing arrays in the other order
  (statsmodels' ``mcnemar(table)`` takes the table for the same reason); :func:`discordant` counts
  them from two correctness arrays, first argument first;
- :func:`interval_verdict` is the one reading of "within / above / below a margin": a verdict
  follows from the whole interval, never from the point estimate (DESIGN: targets with a tolerance).

The oracle of each function is in ``tests/analysis/test_stats.py``: hand computations, closed forms
(Clopper–Pearson at k = 0, Student-t quantiles), a textbook table (Agresti's presidential-approval
survey for the paired interval), sums of binomial terms for McNemar's exact p, and scipy itself
where this module only adapts its input.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

ALPHA = 0.05  # the significance level of every test in the suite
LEVEL = 0.95  # the level of every interval unless a caller asks for another
N_PERMUTATIONS = 9999  # permutation tests: p = (1 + #{permuted >= observed}) / (1 + N)


POWER = 0.80  # the power of every "smallest detectable effect" the claims state


# ----------------------------------------------------------------------------- normal intervals, power
def z_quantile(level: float = LEVEL) -> float:
    """Standard normal quantile ``z(0.5 + level/2)`` of a two-sided interval at ``level`` (1.96 at 0.95)."""
    return float(stats.norm.ppf(0.5 + level / 2))


def normal_interval(estimate: float, se: float, level: float = LEVEL) -> tuple[float, float]:
    """``estimate ± z(0.5 + level/2)·se``: the normal (Wald) interval; NaN bounds where ``se`` is NaN."""
    h = z_quantile(level) * float(se)
    return float(estimate) - h, float(estimate) + h


def detectable(se: float, *, alpha: float = ALPHA, power: float = POWER, df: float | None = None,
               sides: int = 2) -> float:
    """The smallest true effect a test at ``alpha`` (``sides`` = 2: two-sided, 1: one-sided) detects with
    probability ``power`` when its estimate has standard error ``se``: ``(q(1 − alpha/sides) + q(power))·se``,
    ``q`` the standard normal quantile, or Student's t on ``df`` degrees of freedom where ``df`` is given
    (the textbook power approximation: the effect must put the estimate past the critical value in a share
    ``power`` of runs). NaN where ``se`` is NaN or ``df < 1``."""
    if df is not None and not df >= 1:
        return float("nan")
    dist = stats.norm if df is None else stats.t(df)
    return float((dist.ppf(1 - alpha / sides) + dist.ppf(power)) * float(se))


# ----------------------------------------------------------------------------- means
def t_quantile(n, level: float = LEVEL):
    """Student-t quantile ``t(0.5 + level/2, n − 1)`` for a mean of ``n`` values (scalar or array);
    NaN where ``n < 2``."""
    n = np.asarray(n, dtype=float)
    q = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
    out = np.where(n >= 2, q, np.nan)
    return float(out) if out.ndim == 0 else out


def t_half_width(std, n, level: float = LEVEL):
    """Half-width ``t(0.5 + level/2, n − 1) · std / sqrt(n)`` of the Student-t interval of a mean of ``n``
    values with standard deviation ``std`` (scalars or arrays); NaN where ``n < 2``. The one t interval:
    :func:`mean_ci`, :func:`t_band` and :func:`t_half_widths` are this formula on their inputs."""
    n = np.asarray(n, dtype=float)
    out = t_quantile(n, level) * np.asarray(std, dtype=float) / np.sqrt(np.maximum(n, 1))
    return float(out) if np.ndim(out) == 0 else out


def mean_ci(values, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of ``values`` (NaN interval with fewer than 2 values)."""
    x = np.asarray(values, dtype=float)
    m = float(x.mean()) if x.size else float("nan")
    if x.size < 2:
        return m, float("nan"), float("nan")
    half = t_half_width(x.std(ddof=1), x.size, level)
    return m, m - half, m + half


def t_band(curves, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``curves`` (runs × points): the mean over runs and its Student-t band at ``level``.
    With one run the band is the curve itself (a figure draws a line, not a gap)."""
    c = np.asarray(curves, dtype=float)
    mean = c.mean(axis=0)
    if c.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    half = t_half_width(c.std(axis=0, ddof=1), c.shape[0], level)
    return mean, mean - half, mean + half


def t_half_widths(std, counts, level: float = LEVEL) -> np.ndarray:
    """:func:`t_half_width` of several means for a figure's error bars (from a ``groupby().agg(["std",
    "count"])``), 0 where a mean has fewer than 2 values (no bar rather than a gap)."""
    return np.nan_to_num(np.asarray(t_half_width(std, counts, level), dtype=float))


def pooled_t_half_widths(groups, level: float = LEVEL) -> dict:
    """Student-t half-widths of several group means from one *pooled* within-group standard deviation
    (one-way ANOVA's residual): ``s_p² = Σ_j Σ_i (x_ij − x̄_j)² / (N − k)`` over the ``k`` non-empty
    groups of ``N`` values, ``df = N − k``, half-width_j = ``t(0.5 + level/2, df) · s_p / sqrt(n_j)``.

    Valid where the groups share one spread (runs of several candidates differing in seed only): with
    3 values a group's own interval has 2 degrees of freedom (t = 4.30), the pooled one N − k (t near
    2), so it is about twice as narrow, and a group of one value gets an interval too. Returns
    ``{"sd": s_p, "df": N − k, "half": array per group (NaN for an empty group, all NaN when df < 1)}``."""
    arrays = [np.asarray(g, dtype=float) for g in groups]
    sizes = np.array([a.size for a in arrays], dtype=float)
    k, n = int((sizes > 0).sum()), int(sizes.sum())
    df = n - k
    if df < 1:
        return {"sd": float("nan"), "df": df, "half": np.full(len(arrays), np.nan)}
    ss = sum(float(((a - a.mean()) ** 2).sum()) for a in arrays if a.size)
    sd = math.sqrt(ss / df)
    q = float(stats.t.ppf(0.5 + level / 2, df))
    half = np.where(sizes > 0, q * sd / np.sqrt(np.maximum(sizes, 1)), np.nan)
    return {"sd": sd, "df": df, "half": half}


def normal_mean_ci(values, level: float = LEVEL) -> dict:
    """Mean of ``values`` with its normal (z) interval: for many per-item differences (thousands of
    test images), where the t and z quantiles agree. Returns ``diff``, ``se``, ``low``, ``high``, ``n``."""
    d = np.asarray(values, dtype=float)
    n = int(d.size)
    m = float(d.mean()) if n else float("nan")
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    return {"diff": m, "se": se, "low": m - z * se, "high": m + z * se, "n": n}


def diff_ci(a, b, level: float = LEVEL) -> dict:
    """Difference of means ``mean(a) - mean(b)`` with Welch's t-test and its confidence interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size < 2 or b.size < 2:
        return {"diff": float(a.mean() - b.mean()) if a.size and b.size else float("nan"),
                "low": float("nan"), "high": float("nan"), "p": float("nan"), "n_a": int(a.size), "n_b": int(b.size)}
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(level)
    return {"diff": float(a.mean() - b.mean()), "low": float(ci.low), "high": float(ci.high), "p": float(res.pvalue),
            "n_a": int(a.size), "n_b": int(b.size)}


def proportion_ci(k: int, n: int, level: float = LEVEL) -> tuple[float, float, float]:
    """Share ``k/n`` with its exact (Clopper–Pearson) interval; NaNs when ``n`` is 0."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(level, method="exact")
    return k / n, float(ci.low), float(ci.high)


def binomial_p(k: int, n: int, p0: float, alternative: str = "two-sided") -> float:
    """Exact binomial test of ``k`` successes in ``n`` trials against success probability ``p0``
    (``scipy.stats.binomtest``; ``p0`` clipped to [0, 1])."""
    return float(stats.binomtest(int(k), int(n), min(max(float(p0), 0.0), 1.0), alternative=alternative).pvalue)


# ----------------------------------------------------------------------------- paired binary outcomes
def discordant(first, second) -> tuple[int, int]:
    """``(n10, n01)`` of two correctness arrays on the same items: ``n10`` items ``first`` gets right and
    ``second`` wrong, ``n01`` the reverse."""
    a, b = np.asarray(first, dtype=bool), np.asarray(second, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"discordant: arrays of different shapes {a.shape} and {b.shape}")
    return int((a & ~b).sum()), int((~a & b).sum())


def paired_binary(n10: int, n01: int, n: int, level: float = LEVEL, alternative: str = "two-sided") -> dict:
    """Paired comparison of two classifiers on the same ``n`` items from the discordant counts of their
    2 × 2 table (``n10``: the first right and the second wrong; ``n01``: the reverse).

    Returns ``diff = (n10 − n01) / n`` (accuracy of the first minus the second), Agresti and Min's
    interval for the difference of matched proportions at ``level`` with its standard error ``se``,
    and McNemar's exact p (binomial test of ``n10`` among the ``n10 + n01`` discordant items at 1/2)
    for ``alternative``: ``"two-sided"``, ``"greater"`` (the first is better) or ``"less"``.

    Written here because scipy has no interval for matched proportions. Agresti–Min (2005) add 1/2 to
    each of the four cells before the Wald interval: the plain Wald interval has zero width when no
    item is discordant, so a tiny test set would "prove" equivalence; this one never does.
    """
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"paired_binary: alternative must be two-sided, greater or less, got {alternative!r}")
    n10, n01, n = int(n10), int(n01), int(n)
    if n <= 0 or n10 < 0 or n01 < 0 or n10 + n01 > n:
        raise ValueError(f"paired_binary: need 0 <= n10 + n01 <= n and n > 0, got n10={n10}, n01={n01}, n={n}")
    z = float(stats.norm.ppf(0.5 + level / 2))
    n_adj, d_adj = n + 2, (n10 - n01) / (n + 2)
    se = math.sqrt(max((n10 + n01 + 1) / n_adj - d_adj**2, 0.0) / n_adj)
    p = float(stats.binomtest(n10, n10 + n01, 0.5, alternative=alternative).pvalue) if n10 + n01 else 1.0
    return {"diff": (n10 - n01) / n, "se": se, "low": d_adj - z * se, "high": d_adj + z * se, "n": n,
            "n10": n10, "n01": n01, "p": p, "alternative": alternative}


# ----------------------------------------------------------------------------- many tests
def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error over all comparisons).

    Written out (6 lines) because scipy has only Benjamini–Hochberg and statsmodels is not a dependency.
    """
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    adj = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adj, 1.0)
    return out


def permutation_p(samples: list, statistic, seed: int, n_permutations: int = N_PERMUTATIONS) -> tuple[float, float]:
    """Observed ``statistic(means, sizes)`` and its one-sided permutation p-value: group labels
    shuffled over the pooled values ``n_permutations`` times (``np.random.default_rng(seed)``),
    p = (1 + #{permuted >= observed}) / (1 + N). ``statistic`` gets the group means as an array of
    shape (permutations, groups) and the group sizes, and returns one value per permutation.

    Written with numpy rather than ``scipy.stats.permutation_test``, which refuses samples of one
    value (a group with a single run is common here), and vectorised over permutations."""
    sizes = np.array([len(x) for x in samples])
    values = np.concatenate(samples).astype(float)
    labels = np.repeat(np.arange(len(samples)), sizes)
    rng = np.random.default_rng(seed)
    perms = np.vstack([labels] + [rng.permutation(labels) for _ in range(n_permutations)])
    k = len(samples)
    flat = (perms + k * np.arange(len(perms))[:, None]).ravel()
    sums = np.bincount(flat, weights=np.tile(values, len(perms)), minlength=k * len(perms)).reshape(-1, k)
    stat = statistic(sums / sizes, sizes)
    tol = 1e-12 * max(1.0, abs(stat[0]))
    return float(stat[0]), float((1 + np.sum(stat[1:] >= stat[0] - tol)) / (1 + n_permutations))


def between_ss(means, sizes):
    """Sum over groups of n_j * mean_j**2: with the pooled data fixed, a monotone function of one-way
    ANOVA's F (and, for 0/1 data, of the chi-square statistic), so it orders permutations the same way."""
    return (sizes * means ** 2).sum(axis=1)


# ----------------------------------------------------------------------------- rank correlations
def spearman(x, y) -> tuple[float, float]:
    """Spearman's rho and its p (``scipy.stats.spearmanr``); NaNs with fewer than 3 points or a
    constant column (where rho is undefined)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    res = stats.spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)


def kendall(x, y, alternative: str = "two-sided") -> tuple[float, float]:
    """Kendall's tau-b and its p for ``alternative`` (``scipy.stats.kendalltau``: exact without ties
    for small n, the normal approximation otherwise)."""
    res = stats.kendalltau(np.asarray(x, dtype=float), np.asarray(y, dtype=float), alternative=alternative)
    return float(res.statistic), float(res.pvalue)


def spearman_bootstrap_ci(x, y, n_boot: int = 2000, seed: int = 0, level: float = LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's rho over the pairs (resampled with replacement,
    ``np.random.default_rng(seed)``); resamples with a constant column are dropped.

    Written here, vectorised over resamples (Pearson on ranks), because ``scipy.stats.bootstrap``
    calls ``spearmanr`` once per resample and fails on the constant ones."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    idx = np.random.default_rng(seed).integers(0, a.size, size=(n_boot, a.size))
    ra, rb = stats.rankdata(a[idx], axis=1), stats.rankdata(b[idx], axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    den = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    boot = (ra * rb).sum(1)[den > 0] / den[den > 0]
    lo, hi = np.percentile(boot, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


# ----------------------------------------------------------------------------- verdicts
def interval_verdict(low: float, high: float, *, below: float | None = None, above: float | None = None,
                     within: float | tuple[float, float] | None = None) -> bool | None:
    """Whether an interval ``[low, high]`` shows a quantity below, above or within a margin: ``True``
    when the whole interval is on the claimed side, ``False`` when the whole interval is on the other
    side, ``None`` (undetermined) when it straddles the margin or is undefined (NaN).

    Exactly one of: ``below=m`` (the quantity is less than ``m``), ``above=m`` (greater than ``m``),
    ``within=m`` or ``within=(lo, hi)`` (inside ``(−m, m)`` or ``(lo, hi)``: an equivalence test; it
    fails when the interval lies wholly outside, on either side).
    """
    given = [v is not None for v in (below, above, within)]
    if sum(given) != 1:
        raise ValueError("interval_verdict: give exactly one of below=, above= or within=")
    low, high = float(low), float(high)
    if math.isnan(low) or math.isnan(high):
        return None
    if below is not None:
        return True if high < below else (False if low > below else None)
    if above is not None:
        return True if low > above else (False if high < above else None)
    lo, hi = (-within, within) if not isinstance(within, tuple) else within
    if lo < low and high < hi:
        return True
    return False if (high < lo or low > hi) else None


def all_hold(verdicts) -> bool | None:
    """Intersection–union over several verdicts: ``True`` when every one is ``True``, ``False`` when
    any is ``False``, ``None`` otherwise (and for no verdict at all)."""
    v = list(verdicts)
    if v and all(x is True for x in v):
        return True
    return False if any(x is False for x in v) else None
