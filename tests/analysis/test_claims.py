import json
import math

import numpy as np
import pytest

from lab_utils.analysis import claims


def test_claim_verdicts_and_json():
    yes = claims.claim("a_beats_b", "A beats B", 3 > 2, "diff 1", test="t", diff=np.float64(1.0), arr=np.arange(2))
    no = claims.claim("a_beats_b", "A beats B", 0, "diff 0")
    undecided = claims.claim("a_beats_b", "A beats B", None, "one seed")
    assert (yes.holds, no.holds, undecided.holds) == (True, False, None)
    assert [c.verdict for c in (yes, no, undecided)] == ["holds", "does not hold", "undetermined"]
    d = json.loads(json.dumps(yes.to_dict()))
    assert d["numbers"] == {"diff": 1.0, "arr": [0, 1]} and d["test"] == "t" and d["key"] == "a_beats_b"
    assert yes.line().startswith("[HOLDS] A beats B")


def test_report_check_verdicts():
    assert claims.report_check("x", "said", "shows", True).verdict == "agrees"
    assert claims.report_check("x", "said", "shows", False).verdict == "disagrees"
    assert claims.report_check("x", "said", "shows", None).verdict == "not comparable"
    assert claims.report_check("x", "said", "shows", "partly").verdict == "partly"
    with pytest.raises(ValueError):
        claims.report_check("x", "said", "shows", "maybe")


def test_fmt_p():
    assert claims.fmt_p(0.0004) == "p < 0.001" and claims.fmt_p(0.0312) == "p = 0.031"


@pytest.mark.parametrize("key", ["", "Has Space", "UPPER", ".dot", "a/b", 3])
def test_claim_key_must_be_stable_text(key):
    with pytest.raises(ValueError, match="claim key"):
        claims.claim(key, "A beats B", True, "diff 1")


def test_find_by_key_in_claims_lists_and_summaries():
    a, b = claims.claim("screen.a", "A", True, "e"), claims.claim("screen.b", "B", None, "e", p=0.2)
    assert claims.find([a, b], "screen.b") is b
    summary = {"claims": [a.to_dict(), b.to_dict()]}
    assert claims.find(summary, "screen.b")["numbers"] == {"p": 0.2}
    with pytest.raises(KeyError, match="screen.a, screen.b"):
        claims.find(summary, "screen.c")
    with pytest.raises(KeyError, match="none"):
        claims.find({}, "screen.a")


def test_rounded_keeps_six_digits_and_non_finite_values():
    assert claims.rounded(0.123456789) == 0.123457 and claims.rounded(1.23456789e-9) == 1.23457e-9
    assert math.isnan(claims.rounded(float("nan"))) and claims.rounded(float("inf")) == float("inf")
