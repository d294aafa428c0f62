"""A finding must be able to fail: across the unit tests of its claim function (constructed inputs),
every finding family takes at least two verdicts (a family is a key less its last dot-separated part, the
variant: ``control.jsc-tiny`` and ``control.jsc-three-linear-layers`` are the family ``control``; a
key without a dot is its own family). One that always comes out the same is a definition or an
implementation check and must be built with :func:`lab_utils.analysis.claims.check` instead.

The claims are recorded by ``tests/conftest.py`` (``CLAIM_LOG``) while the unit tests under
``tests/labs/`` run; this test runs last and needs all of ``tests/labs/`` in
the same session (it skips, saying so, when run alone or with ``-k``).
"""

from collections import defaultdict
from pathlib import Path

import pytest

from tests import conftest

HERE = Path(__file__).resolve().parent


def _needs_the_lab_tests(request):
    ran = {Path(i.path).resolve() for i in request.session.items}
    files = {p.resolve() for p in HERE.glob("test_*.py")} - {Path(__file__).resolve()}
    if not files <= ran or request.config.option.keyword:
        pytest.skip("needs every tests/labs/test_*.py in the same session (run pytest tests/labs or make test-unit)")


def _intervals(numbers: dict):
    """Every ``[low, high]`` pair a claim's numbers record: ``interval``, ``*ci*`` keys and ``*_low``/``*_high`` pairs."""
    for k, v in numbers.items():
        if (k == "interval" or "ci" in k.split("_")) and isinstance(v, (list, tuple)) and len(v) == 2:
            yield k, v
        if k.endswith("_low") and f"{k[:-4]}_high" in numbers:
            yield k[:-4], (v, numbers[f"{k[:-4]}_high"])


def straddling(log) -> list[str]:
    """The refuted findings of ``log`` (``CLAIM_LOG`` rows) with a recorded interval that straddles zero, or
    the claim's own margin where it records ``rule``."""
    bad = []
    for key, kind, verdict, test, numbers in log:
        if kind != "finding" or verdict != "refuted":
            continue
        margins = [float(m) for m in (numbers.get("rule") or {}).values() if not isinstance(m, (list, tuple))] or [0.0]
        for name, (low, high) in _intervals(numbers):
            if low is not None and high is not None and any(float(low) < m < float(high) for m in margins):
                bad.append(f"  {key} ({test}): refuted with {name} = [{low}, {high}]")
    return bad


def test_the_straddle_rule_on_constructed_claims():
    log = [("a", "finding", "refuted", "t", {"diff_ci": [-0.2, 0.5]}),
           ("b", "finding", "refuted", "t", {"gain_low": -1.0, "gain_high": 2.0}),
           ("c", "finding", "refuted", "t", {"interval": [0.7, 1.4], "rule": {"below": 1}}),
           ("d", "finding", "refuted", "t", {"interval": [-0.9, -0.2], "rule": {"above": 0}}),
           ("e", "finding", "not shown", "t", {"diff_ci": [-0.2, 0.5]}),
           ("f", "check", "check failed", "t", {"diff_ci": [-0.2, 0.5]})]
    assert [line.split()[0] for line in straddling(log)] == ["a", "b", "c"]


def test_no_refuted_finding_rests_on_an_interval_that_straddles_its_margin(request):
    """A claim function never says *refuted* while an interval it records straddles zero (or its own margin,
    where it records ``rule``): that is *not shown*."""
    _needs_the_lab_tests(request)
    bad = straddling(conftest.CLAIM_LOG)
    assert not bad, "refuted findings whose interval straddles the margin (they are not shown):\n" + "\n".join(bad)


def test_every_finding_takes_more_than_one_verdict_in_its_unit_tests(request):
    _needs_the_lab_tests(request)
    verdicts, where = defaultdict(set), defaultdict(set)
    for key, kind, verdict, test, _numbers in conftest.CLAIM_LOG:
        if kind == "finding":
            family = key.rsplit(".", 1)[0]
            verdicts[family].add(verdict)
            where[family].add(test.split("::")[0])
    assert verdicts, "no finding was built by the unit tests"
    fixed = {k: sorted(v) for k, v in verdicts.items() if len(v) < 2}
    assert not fixed, ("findings whose unit tests only ever give one verdict (test them on an input that gives "
                       "another, or state them as claims.check):\n" + "\n".join(
                           f"  {k}: always {v[0]!r} ({', '.join(sorted(where[k]))})" for k, v in sorted(fixed.items())))
