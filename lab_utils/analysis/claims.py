"""Computed conclusions: a claim is a sentence, whether the run's numbers support it, and the evidence.

Every conclusion a notebook states is a :class:`Claim` built by code that reads the run's results,
never typed into Markdown. A claim carries its statement, whether it ``holds`` (``True``,
``False``, or ``None`` when the evidence cannot decide), the evidence as one readable line (the
statistic, the test's name, n, p or an interval) and the raw numbers behind it. Notebooks print
their claims (:func:`show`) and store them in ``summary.json`` (``write_summary(..., claims=...)``);
the HTML report shows them. A :class:`ReportCheck` sets one statement of the lab report this
project reproduces beside what this run shows, with a computed verdict.

Every claim has a stable ``key`` (``"matches_float.widest"``, ``"screen.width_changes_accuracy.faithful"``):
its sentence may be reworded, its key may not, so a notebook that reads another notebook's claim
finds it with :func:`find` by key, never by the words of its statement. The statistics behind the
claims live in :mod:`lab_utils.analysis.stats`; :func:`fmt_p` words a p-value the same way everywhere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

VERDICTS = ("agrees", "disagrees", "partly", "not comparable")
KEY = re.compile(r"[a-z0-9][a-z0-9_.\-]*")  # lower case, digits, "_", ".", "-": stable in JSON and in code


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

    ``key`` names it for code (stable; unique within a notebook's summary); ``statement`` reads as the claim (``"TPE reaches the optimum in fewer trials than brute force"``);
    ``holds`` says whether this run supports it (``None``: undetermined); ``evidence`` is one line
    with the statistic, the test, n and p or an interval; ``numbers`` the raw values behind it.
    """
    key: str
    statement: str
    holds: bool | None
    evidence: str
    test: str = ""
    numbers: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.key, str) or not KEY.fullmatch(self.key):
            raise ValueError(f"claim key must match {KEY.pattern} (e.g. 'matches_float.widest'), got {self.key!r}")

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "undetermined"}[self.holds]

    def line(self) -> str:
        return f"[{self.verdict.upper()}] {self.statement} — {self.evidence}"

    def to_dict(self) -> dict:
        return {"key": self.key, "statement": self.statement, "holds": self.holds, "verdict": self.verdict,
                "evidence": self.evidence, "test": self.test, "numbers": _plain(self.numbers)}


def claim(key: str, statement: str, holds, evidence: str, test: str = "", **numbers) -> Claim:
    """A :class:`Claim`; ``holds`` may be any truthy value or ``None`` (undetermined)."""
    return Claim(key, statement, None if holds is None else bool(holds), evidence, test, numbers)


def find(items, key: str):
    """The claim with ``key`` among ``items``: a list of :class:`Claim`, a list of claim dicts, or a
    notebook's summary (a dict with ``"claims"``). A :class:`KeyError` naming the keys there when absent."""
    if isinstance(items, dict):
        items = items.get("claims", [])
    for item in items:
        if (item.key if isinstance(item, Claim) else item.get("key")) == key:
            return item
    have = [item.key if isinstance(item, Claim) else item.get("key") for item in items]
    raise KeyError(f"no claim with key {key!r}; keys: {', '.join(map(str, have)) or 'none'}")


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


def rounded(x, digits: int = 6) -> float:
    """A float to ``digits`` significant digits for a claim's numbers in summary.json (NaN and
    infinities stay as they are; small p-values keep their digits)."""
    x = float(x)
    return x if not math.isfinite(x) else float(f"{x:.{digits}g}")


def fmt_p(p: float) -> str:
    """A p-value as people write it: ``p = 0.031``, ``p < 0.001``."""
    if p is None or not math.isfinite(p):
        return "p undefined"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
