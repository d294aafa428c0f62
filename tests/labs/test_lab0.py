"""lab0: its claims on constructed inputs (holding and not), and deterministic training (issue 12, item 7)."""

import pandas as pd
import torch

from lab_utils.data import load_dataset
from lab_utils.labs import baselines, lab0
from lab_utils.training.batched import train_runs
from lab_utils.training.candidates import trained_candidate


def _study(diffs, fail_with=(0, 0, 0), base=0.70):
    rows = []
    for s, d in enumerate(diffs):
        rows.append({"model": "m", "logit_relu": True, "seed": s, "test_accuracy": base,
                     "classes_never_predicted": fail_with[s % len(fail_with)]})
        rows.append({"model": "m", "logit_relu": False, "seed": s, "test_accuracy": base + d / 100,
                     "classes_never_predicted": 0})
    return pd.DataFrame(rows)


def test_logit_relu_claim_holds_fails_and_is_undetermined():
    up = lab0.logit_relu_claims(_study([1.0, 1.2, 0.9, 1.1, 1.0]))[0]
    assert up.holds is True and up.numbers["mean_pts"] > 0 and "n = 5 seeds" in up.evidence
    down = lab0.logit_relu_claims(_study([-1.0, -1.2, -0.9, -1.1, -1.0]))[0]
    assert down.holds is False
    mixed = lab0.logit_relu_claims(_study([5.0, -4.0, 6.0, -5.0, 0.5], fail_with=(1, 0)))[0]
    assert mixed.holds is None and "3 of 5 with the ReLU" in mixed.evidence
    assert lab0.logit_relu_claims(_study([1.0]))[0].holds is None  # one seed decides nothing
    # failures: 5 of 5 with the ReLU against 0 of 5 without (Fisher one-sided p = 0.004), then 3 of 5 (p = 0.08)
    fail = lab0.logit_relu_claims(_study([1.0] * 5, fail_with=(1,)))[1]
    assert fail.holds is True and "5 of 5 with the ReLU" in fail.evidence
    assert lab0.logit_relu_claims(_study([1.0] * 5, fail_with=(1, 0)))[1].holds is None


def test_recipe_and_confusion_claims_both_ways():
    t = pd.DataFrame({"variant": ["ours", "theirs"], "test_accuracy": [0.73, 0.40], "val_accuracy": [0.73, 0.40],
                      "test_n": [100_000, 100_000]})
    assert lab0.recipe_claim(t, "ours", "theirs").holds is True
    close = t.assign(test_accuracy=[0.73, 0.70])
    assert lab0.recipe_claim(close, "ours", "theirs").holds is False
    assert lab0.confusion_claim(["w<->z", "g<->q"]).holds is True
    assert lab0.confusion_claim(["w<->z", "t<->w"]).holds is False
    assert lab0.report_recipe_check(t, "theirs", synthetic=True).verdict == "not comparable"
    assert lab0.report_recipe_check(t.assign(val_accuracy=[0.73, 0.52]), "theirs", synthetic=False).verdict == "agrees"


def test_quick_training_is_deterministic_whatever_the_global_rng():
    """Training a candidate twice (no cache) gives bit-identical weights, even when the global RNG
    was left in different states before each run, for the single and the batched trainer."""
    splits = load_dataset("jsc-sim", n_samples=3000)
    recipe = baselines.QUICK_RECIPE
    states = []
    for disturb in (1, 99):
        torch.manual_seed(disturb)
        torch.rand(disturb)
        tiny, _ = trained_candidate("jsc-tiny", {"logit_relu": False}, splits, recipe, progress=False)
        grid = train_runs([((16, 16), 0, True), ((16, 16), 1, False)], splits, recipe, progress=False, workers=1)
        states.append([tiny.state_dict(), *(r["model"].state_dict() for r in grid)])
    for a, b in zip(*states):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
