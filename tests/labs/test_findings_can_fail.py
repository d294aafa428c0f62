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


def test_every_finding_takes_more_than_one_verdict_in_its_unit_tests(request):
    ran = {Path(i.path).resolve() for i in request.session.items}
    files = {p.resolve() for p in HERE.glob("test_*.py")} - {Path(__file__).resolve()}
    if not files <= ran or request.config.option.keyword:
        pytest.skip("needs every tests/labs/test_*.py in the same session (run pytest tests/labs or make test-unit)")
    verdicts, where = defaultdict(set), defaultdict(set)
    for key, kind, verdict, test in conftest.CLAIM_LOG:
        if kind == "finding":
            family = key.rsplit(".", 1)[0]
            verdicts[family].add(verdict)
            where[family].add(test.split("::")[0])
    assert verdicts, "no finding was built by the unit tests"
    fixed = {k: sorted(v) for k, v in verdicts.items() if len(v) < 2}
    assert not fixed, ("findings whose unit tests only ever give one verdict (test them on an input that gives "
                       "another, or state them as claims.check):\n" + "\n".join(
                           f"  {k}: always {v[0]!r} ({', '.join(sorted(where[k]))})" for k, v in sorted(fixed.items())))
