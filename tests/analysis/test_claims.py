import json
import math

import numpy as np
import pytest

from lab_utils.analysis import claims


def test_claim_verdicts_and_json():
    yes = claims.claim("A beats B", 3 > 2, "diff 1", test="t", diff=np.float64(1.0), arr=np.arange(2))
    no = claims.claim("A beats B", 0, "diff 0")
    undecided = claims.claim("A beats B", None, "one seed")
    assert (yes.holds, no.holds, undecided.holds) == (True, False, None)
    assert [c.verdict for c in (yes, no, undecided)] == ["holds", "does not hold", "undetermined"]
    d = json.loads(json.dumps(yes.to_dict()))
    assert d["numbers"] == {"diff": 1.0, "arr": [0, 1]} and d["test"] == "t"
    assert yes.line().startswith("[HOLDS] A beats B")


def test_report_check_verdicts():
    assert claims.report_check("x", "said", "shows", True).verdict == "agrees"
    assert claims.report_check("x", "said", "shows", False).verdict == "disagrees"
    assert claims.report_check("x", "said", "shows", None).verdict == "not comparable"
    assert claims.report_check("x", "said", "shows", "partly").verdict == "partly"
    with pytest.raises(ValueError):
        claims.report_check("x", "said", "shows", "maybe")


def test_mean_ci_hand_computed():
    # values 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.302653, half-width 4.302653 / sqrt(3)
    m, lo, hi = claims.mean_ci([1, 2, 3])
    assert m == 2 and math.isclose(hi - 2, 4.302653 / math.sqrt(3), rel_tol=1e-6) and math.isclose(lo, 4 - hi)
    assert math.isnan(claims.mean_ci([5])[1])


def test_diff_ci_contains_difference_and_separates():
    a, b = [10, 11, 12, 13], [0, 1, 2, 3]
    d = claims.diff_ci(a, b)
    assert d["diff"] == 10 and d["low"] > 0 and d["p"] < 0.001
    same = claims.diff_ci([1, 2, 3, 4], [1, 2, 3, 4])
    assert same["diff"] == 0 and same["low"] < 0 < same["high"] and same["p"] == 1.0


def test_proportion_ci_exact():
    share, lo, hi = claims.proportion_ci(0, 10)
    assert share == 0 and lo == 0 and math.isclose(hi, 1 - 0.025 ** (1 / 10), rel_tol=1e-9)
    assert math.isnan(claims.proportion_ci(0, 0)[0])


def test_fmt_p():
    assert claims.fmt_p(0.0004) == "p < 0.001" and claims.fmt_p(0.0312) == "p = 0.031"
