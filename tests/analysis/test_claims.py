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
    assert [c.verdict for c in (yes, no, undecided)] == ["holds", "refuted", "not shown"]
    vacuous = claims.claim("a_beats_b", "A beats B", claims.NOT_APPLICABLE, "no run failed")
    assert vacuous.verdict == "not applicable" and vacuous.to_dict()["holds"] is None
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


def test_one_vocabulary_findings_and_checks_apart():
    passed = claims.check("once", "each configuration evaluated once", 1 == 1, "144 of 144")
    failed = claims.check("once", "each configuration evaluated once", 0, "143 of 144")
    assert (passed.verdict, failed.verdict) == ("check passed", "check failed")
    assert passed.to_dict()["kind"] == "check"
    found = claims.claim("a", "A beats B", True, "e")
    assert claims.findings([passed, found]) == [found] and claims.checks([passed.to_dict(), found.to_dict()]) == [passed.to_dict()]
    with pytest.raises(ValueError, match="passes or fails"):
        claims.Claim("once", "s", None, "e", kind="check")
    with pytest.raises(ValueError, match="kind"):
        claims.Claim("once", "s", True, "e", kind="definition")
    assert set(claims.FINDING_VERDICTS) | set(claims.CHECK_VERDICTS) == {
        "holds", "refuted", "not shown", "not applicable", "check passed", "check failed"}


@pytest.mark.parametrize("low, high, rule, verdict", [
    (0.2, 0.9, {"above": 0}, "holds"), (-0.4, 0.9, {"above": 0}, "not shown"), (-0.9, -0.2, {"above": 0}, "refuted"),
    (-0.4, 0.4, {"within": 0.5}, "holds"), (0.6, 0.9, {"within": 0.5}, "refuted"), (0.3, 0.9, {"within": 0.5}, "not shown"),
    (0.1, 0.7, {"below": 1}, "holds"), (0.7, 1.3, {"below": 1}, "not shown"), (1.2, 1.3, {"below": 1}, "refuted")])
def test_interval_claim_reads_the_interval(low, high, rule, verdict):
    c = claims.interval_claim("d", "the drop is small", low, high, "drop", **rule)
    assert c.verdict == verdict and c.numbers["interval"] == [low, high]
    if verdict == "not shown":  # says the smallest effect it could have detected: 2.80 SE, SE = half-width / 1.96
        assert c.numbers["detectable"] == pytest.approx((high - low) / 2 / 1.96 * 2.8016, rel=1e-3)
        assert "could detect" in c.evidence
    else:
        assert "detectable" not in c.numbers


def test_a_claim_cannot_be_refuted_while_its_interval_straddles_the_margin():
    with pytest.raises(ValueError, match="contradicts its interval"):
        claims.claim("d", "A beats B", False, "diff", interval=[-0.3, 0.8], rule={"above": 0})
    with pytest.raises(ValueError, match="contradicts its interval"):
        claims.claim("d", "A beats B", True, "diff", interval=[-0.3, 0.8], rule={"above": 0})
    assert claims.claim("d", "A beats B", None, "diff", interval=[-0.3, 0.8], rule={"above": 0}).verdict == "not shown"
