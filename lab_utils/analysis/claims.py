"""Computed conclusions: a claim is a sentence, whether the run's numbers support it, and the evidence.

Every conclusion a notebook states is a :class:`Claim` built by code that reads the run's results,
never typed into Markdown. A claim carries its statement, its verdict, the evidence as one readable
line (the statistic, the test's name, n, p or an interval) and the raw numbers behind it. Notebooks
print their claims (:func:`show`) and store them in ``summary.json`` (``write_summary(..., claims=...)``);
the HTML report and the README's results show them.

**One verdict vocabulary** (:data:`FINDING_VERDICTS`, :data:`CHECK_VERDICTS`), the same in claims,
summaries, the index and the README:

- a *finding* (``kind="finding"``, a statement whose truth depends on the run) is **holds** (the test
  or interval supports it), **refuted** (a test or an interval is against it: the whole interval on the
  other side of the margin, or a significant effect the other way), **not shown** (the evidence cannot
  decide at the stated α: a p-value ≥ α, an interval straddling the margin, too few runs; the claim
  says, where it can, the smallest effect the run could have detected) or **not applicable** (the
  statement is vacuous in this run: a failure rate when no run failed);
- a *check* (``kind="check"``, :func:`check`: an implementation or arithmetic property that cannot come
  out otherwise unless the code is wrong, e.g. "each configuration evaluated exactly once") is
  **check passed** or **check failed**. Checks are shown apart from findings; a failed check is an
  error of the project, a refuted finding is not.

A verdict is *derived*, never typed: ``holds`` is ``True``/``False``/``None`` or
:data:`NOT_APPLICABLE`. :func:`interval_claim` reads an interval against a margin and records both, so
a claim can never say *refuted* while its interval straddles the margin (:class:`Claim` refuses it).

A :class:`ReportCheck` sets one statement of the lab report this project reproduces beside what this
run shows, with a computed verdict (:data:`VERDICTS`).

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

from lab_utils.analysis import stats

VERDICTS = ("agrees", "disagrees", "partly", "not comparable")  # a ReportCheck's verdicts
HOLDS, REFUTED, NOT_SHOWN, NOT_APPLICABLE = "holds", "refuted", "not shown", "not applicable"
CHECK_PASSED, CHECK_FAILED = "check passed", "check failed"
FINDING_VERDICTS = (HOLDS, REFUTED, NOT_SHOWN, NOT_APPLICABLE)
CHECK_VERDICTS = (CHECK_PASSED, CHECK_FAILED)
KINDS = ("finding", "check")
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

    ``key`` names it for code (stable; unique within a notebook's summary); ``statement`` reads as the
    claim (``"TPE reaches the optimum in fewer trials than brute force"``); ``holds`` is ``True`` (holds /
    check passed), ``False`` (refuted / check failed), ``None`` (not shown) or :data:`NOT_APPLICABLE`;
    ``kind`` is ``"finding"`` or ``"check"``; ``evidence`` is one line with the statistic, the test, n
    and p or an interval; ``numbers`` the raw values behind it. When ``numbers`` holds ``interval``
    (``[low, high]``) and ``rule`` (``{"below": m}``, ``{"above": m}`` or ``{"within": [lo, hi]}``), the
    verdict must be the one :func:`lab_utils.analysis.stats.interval_verdict` reads from them.
    """
    key: str
    statement: str
    holds: bool | None | str
    evidence: str
    test: str = ""
    numbers: dict = field(default_factory=dict)
    kind: str = "finding"

    def __post_init__(self):
        if not isinstance(self.key, str) or not KEY.fullmatch(self.key):
            raise ValueError(f"claim key must match {KEY.pattern} (e.g. 'matches_float.widest'), got {self.key!r}")
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.key!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.holds not in (True, False, None, NOT_APPLICABLE):
            raise ValueError(f"claim {self.key!r}: holds must be True, False, None or {NOT_APPLICABLE!r}, "
                             f"got {self.holds!r}")
        if self.kind == "check" and not isinstance(self.holds, bool):
            raise ValueError(f"check {self.key!r}: a check passes or fails (True/False), got {self.holds!r}")
        if "interval" in self.numbers and "rule" in self.numbers:
            low, high = self.numbers["interval"]
            rule = {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in self.numbers["rule"].items()}
            expect = stats.interval_verdict(low, high, **rule)
            if self.holds != expect:
                raise ValueError(f"claim {self.key!r}: holds={self.holds!r} contradicts its interval "
                                 f"[{low}, {high}] against {self.numbers['rule']} (which reads {expect!r})")

    @property
    def verdict(self) -> str:
        if self.kind == "check":
            return CHECK_PASSED if self.holds else CHECK_FAILED
        if self.holds == NOT_APPLICABLE:
            return NOT_APPLICABLE
        return {True: HOLDS, False: REFUTED, None: NOT_SHOWN}[self.holds]

    def line(self) -> str:
        return f"[{self.verdict.upper()}] {self.statement} — {self.evidence}"

    def to_dict(self) -> dict:
        return {"key": self.key, "kind": self.kind, "statement": self.statement,
                "holds": self.holds if isinstance(self.holds, bool) else None, "verdict": self.verdict,
                "evidence": self.evidence, "test": self.test, "numbers": _plain(self.numbers)}


def claim(key: str, statement: str, holds, evidence: str, test: str = "", **numbers) -> Claim:
    """A finding (:class:`Claim`, ``kind="finding"``). ``holds``: ``True`` (holds), ``False`` (refuted:
    pass it only where a test or an interval is *against* the statement, never for p ≥ α), ``None``
    (not shown) or :data:`NOT_APPLICABLE` (vacuous); any other truthy or falsy value is read as a bool."""
    if holds is not None and holds != NOT_APPLICABLE:
        holds = bool(holds)
    return Claim(key, statement, holds, evidence, test, numbers)


def check(key: str, statement: str, passed, evidence: str, test: str = "", **numbers) -> Claim:
    """An implementation or arithmetic check (``kind="check"``): a statement that cannot come out otherwise
    unless the code is wrong (exactly once, a hand count, a definition). Shown apart from findings as
    *check passed* / *check failed*."""
    return Claim(key, statement, bool(passed), evidence, test, numbers, kind="check")


def interval_claim(key: str, statement: str, low: float, high: float, evidence: str, test: str = "", *,
                   below=None, above=None, within=None, unit: str = "", scale: float = 1.0, **numbers) -> Claim:
    """A finding read from an interval against a margin (one of ``below=``, ``above=``, ``within=``, as
    :func:`lab_utils.analysis.stats.interval_verdict`): holds when the whole interval is on the claimed
    side, refuted when it is wholly on the other, not shown when it straddles the margin — then the
    evidence says the smallest effect the run could have detected
    (:func:`lab_utils.analysis.stats.detectable` of the interval's standard error, half-width / z), in ``unit`` after
    multiplying by ``scale`` (``unit="points", scale=100`` for an interval of accuracy fractions)."""
    rule = {k: (list(v) if isinstance(v, tuple) else v) for k, v in
            (("below", below), ("above", above), ("within", within)) if v is not None}
    holds = stats.interval_verdict(low, high, below=below, above=above, within=within)
    if holds is None and math.isfinite(float(low)) and math.isfinite(float(high)):
        d = stats.detectable((float(high) - float(low)) / 2 / stats.z_quantile())
        numbers.setdefault("detectable", rounded(d))
        evidence = (f"{evidence}; not shown at 95 %: the run could detect (80 % power) an effect of about "
                    f"{d * scale:.2g}{' ' + unit if unit else ''} beyond the margin")
    return Claim(key, statement, holds, evidence, test, {**numbers, "interval": [float(low), float(high)], "rule": rule})


def findings(items) -> list:
    """The findings among claims (objects or dicts)."""
    return [c for c in items if (c.kind if isinstance(c, Claim) else c.get("kind", "finding")) == "finding"]


def checks(items) -> list:
    """The implementation checks among claims (objects or dicts)."""
    return [c for c in items if (c.kind if isinstance(c, Claim) else c.get("kind", "finding")) == "check"]


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
