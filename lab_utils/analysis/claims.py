"""Computed conclusions: a claim is a sentence, whether the run's numbers support it, and the evidence.

Every conclusion a notebook states is a :class:`Claim` built by code that reads the run's results,
never typed into Markdown. A claim carries its statement, whether it ``holds`` (``True``,
``False``, or ``None`` when the evidence cannot decide), the evidence as one readable line (the
statistic, the test's name, n, p or an interval) and the raw numbers behind it. Notebooks print
their claims (:func:`show`) and store them in ``summary.json`` (``write_summary(..., claims=...)``);
the HTML report shows them. A :class:`ReportCheck` sets one statement of the lab report this
project reproduces beside what this run shows, with a computed verdict.

The small statistical helpers here (:func:`mean_ci`, :func:`diff_ci`, :func:`proportion_ci`,
:func:`fmt_p`) wrap ``scipy.stats`` so every notebook words intervals and p-values the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

VERDICTS = ("agrees", "disagrees", "partly", "not comparable")


def _plain(value):
    """``value`` with numpy scalars and arrays turned into JSON-friendly Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Claim:
    """One conclusion of a notebook.

    ``statement`` reads as the claim (``"TPE reaches the optimum in fewer trials than brute force"``);
    ``holds`` says whether this run supports it (``None``: undetermined); ``evidence`` is one line
    with the statistic, the test, n and p or an interval; ``numbers`` the raw values behind it.
    """
    statement: str
    holds: bool | None
    evidence: str
    test: str = ""
    numbers: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "undetermined"}[self.holds]

    def line(self) -> str:
        return f"[{self.verdict.upper()}] {self.statement} — {self.evidence}"

    def to_dict(self) -> dict:
        return {"statement": self.statement, "holds": self.holds, "verdict": self.verdict,
                "evidence": self.evidence, "test": self.test, "numbers": _plain(self.numbers)}


def claim(statement: str, holds, evidence: str, test: str = "", **numbers) -> Claim:
    """A :class:`Claim`; ``holds`` may be any truthy value or ``None`` (undetermined)."""
    return Claim(statement, None if holds is None else bool(holds), evidence, test, numbers)


@dataclass(frozen=True)
class ReportCheck:
    """One statement of the lab report beside what this run shows, with a computed verdict
    (one of :data:`VERDICTS`)."""
    topic: str
    report_said: str
    run_shows: str
    verdict: str

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict:
        return {"topic": self.topic, "report_said": self.report_said, "run_shows": self.run_shows,
                "verdict": self.verdict}


def report_check(topic: str, report_said: str, run_shows: str, agrees) -> ReportCheck:
    """A :class:`ReportCheck`: ``agrees`` is True/False, ``None`` (not comparable) or a verdict string."""
    verdict = agrees if isinstance(agrees, str) else {True: "agrees", False: "disagrees", None: "not comparable"}[
        None if agrees is None else bool(agrees)]
    return ReportCheck(topic, report_said, run_shows, verdict)


def show(items, print_fn=print) -> None:
    """Print claims (one line each) or report checks (said → shows → verdict)."""
    for item in items:
        if isinstance(item, ReportCheck):
            print_fn(f"[{item.verdict.upper()}] {item.topic}: the report said {item.report_said!r}; "
                     f"this run shows {item.run_shows}")
        else:
            print_fn(item.line())


def fmt_p(p: float) -> str:
    """A p-value as people write it: ``p = 0.031``, ``p < 0.001``."""
    if p is None or not math.isfinite(p):
        return "p undefined"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of ``values`` (NaN interval with fewer than 2 values)."""
    x = np.asarray(values, dtype=float)
    m = float(x.mean()) if x.size else float("nan")
    if x.size < 2:
        return m, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return m, m - half, m + half


def diff_ci(a, b, level: float = 0.95) -> dict:
    """Difference of means ``mean(a) - mean(b)`` with Welch's t-test and its confidence interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size < 2 or b.size < 2:
        return {"diff": float(a.mean() - b.mean()) if a.size and b.size else float("nan"),
                "low": float("nan"), "high": float("nan"), "p": float("nan"), "n_a": int(a.size), "n_b": int(b.size)}
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(level)
    return {"diff": float(a.mean() - b.mean()), "low": float(ci.low), "high": float(ci.high), "p": float(res.pvalue),
            "n_a": int(a.size), "n_b": int(b.size)}


def proportion_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """Share ``k/n`` with its exact (Clopper–Pearson) interval; NaNs when ``n`` is 0."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(level, method="exact")
    return k / n, float(ci.low), float(ci.high)
