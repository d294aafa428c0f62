"""lab3_6's helpers (lab_utils.labs.lab3_6) and claims (lab_utils.labs.lab3_6_claims).

The claims are checked on constructed per-image correctness arrays that make each of them hold, be
refuted and (where it can) stay not shown; the paired statistic against hand-counted numbers and an exact
binomial sum; the runs on a tiny generated image set against direct evaluations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as sps

from lab_utils.analysis import claims as C
from lab_utils.data.cifar10 import load_cifar10
from lab_utils.data.tiny_images import make_tiny_image_set
from lab_utils.labs import lab3_6 as L
from lab_utils.labs import lab3_6_claims as LC
from lab_utils.passes import graph as graph_mod
from lab_utils.passes.quantize import quantize_model
from lab_utils.training import supernet as S
from lab_utils.training.candidates import candidate_key
from lab_utils.training.checkpoints import load_checkpoint_file
from lab_utils.training.train import Recipe, evaluate
from tests.oracles import Z975, agresti_min, mcnemar_two_sided, z_interval

N = 10_000


def ones(n=N):
    return np.ones(n, dtype=bool)


def wrong(k, n=N, offset=0):
    """All right except ``k`` images starting at ``offset``."""
    c = ones(n)
    c[offset:offset + k] = False
    return c


# ---------------------------------------------------------------- the paired statistic
def test_paired_against_hand_counts():
    a = np.array([True, True, False, False, True])
    b = np.array([True, False, True, False, False])
    d = LC.per_image_difference(a, b)
    assert d["diff"] == pytest.approx(0.2) and (d["n10"], d["n01"], d["n"]) == (2, 1, 5)
    # Agresti-Min: cells + 1/2 -> n10 2.5, n01 1.5, n 7; difference 1/7, variance (4/7 - 1/49) / 7
    assert d["se"] == pytest.approx(math.sqrt((4 / 7 - 1 / 49) / 7))
    assert (d["low"], d["high"]) == pytest.approx((1 / 7 - 1.959964 * d["se"], 1 / 7 + 1.959964 * d["se"]), abs=1e-6)
    assert d["p_mcnemar"] == pytest.approx(1.0)
    none = LC.per_image_difference(np.ones(100, bool), np.ones(100, bool))  # no discordant image: the interval still has a width
    assert none["diff"] == 0 and none["high"] > 0.015
    shares = LC.per_image_difference(np.array([1.0, 0.5, 0.0, 1.0]), np.array([1.0, 1.0, 0.0, 0.0]))  # d = [0, -0.5, 0, 1]
    assert shares["se"] == pytest.approx(np.std([0, -0.5, 0, 1], ddof=1) / 2) and "n10" not in shares


def test_paired_mcnemar_is_the_exact_two_sided_binomial_sum():
    a = np.r_[np.ones(15, bool), np.zeros(3, bool), np.ones(100, bool)]
    b = np.r_[np.zeros(15, bool), np.ones(3, bool), np.ones(100, bool)]
    d = LC.per_image_difference(a, b)
    exact = 2 * sum(math.comb(18, k) for k in range(4)) / 2**18
    assert (d["n10"], d["n01"]) == (15, 3) and d["p_mcnemar"] == pytest.approx(exact)
    assert "p_mcnemar" not in LC.per_image_difference(a.astype(float) * 0.5, b)  # shares of seeds: no McNemar


# ---------------------------------------------------------------- threshold claims, both ways
def test_claim_within_holds_refuted_and_not_shown():
    assert LC.claim_within("k", ones(), wrong(20), "x").verdict == C.HOLDS  # drop 0.2 points
    assert LC.claim_within("k", ones(), wrong(300), "x").verdict == C.REFUTED  # drop 3 points
    c = LC.claim_within("k", ones(), wrong(100), "x")  # drop 1 point, interval straddles it
    assert c.verdict == C.NOT_SHOWN and "could detect" in c.evidence and c.numbers["rule"] == {"below": 0.01}
    c = LC.claim_within("k", ones(), wrong(20), "8-bit PTQ")
    assert "McNemar" in c.evidence and c.numbers["n10"] == 20 and c.numbers["n01"] == 0


def test_claim_within_evidence_numbers_by_hand():
    # 20 images lost, none gained, of 10,000: drop 0.2 points, Agresti-Min and McNemar written out (tests/oracles.py)
    c = LC.claim_within("within.ptq8", ones(), wrong(20), "8-bit PTQ")
    am = agresti_min(20, 0, N)
    assert c.key == "within.ptq8" and c.statement == "8-bit PTQ stays within 1 point of float on the test images"
    nums = dict(c.numbers)
    assert (nums.pop("interval"), nums.pop("rule")) == (pytest.approx([am["low"], am["high"]], rel=1e-5), {"below": 0.01})
    assert nums == pytest.approx({**am, "n": N, "n10": 20, "n01": 0, "p_mcnemar": mcnemar_two_sided(20, 0)}, rel=1e-5)
    assert c.evidence == (f"drop +0.20 points (95 % CI {100 * am['low']:+.2f} to {100 * am['high']:+.2f}, paired over "
                          "n = 10,000 test images); exact McNemar (two-sided) p < 0.001, 20 images lost / 0 gained; "
                          "tolerance 1 point")
    back = LC.claim_within("k", wrong(20), ones(), "x")  # the quantized network right where float is wrong: gained
    assert (back.numbers["n10"], back.numbers["n01"]) == (0, 20) and back.numbers["diff"] == pytest.approx(-0.002)
    assert "0 images lost / 20 gained" in back.evidence and "drop -0.20 points" in back.evidence
    far = LC.claim_within("within.ptq8", ones(), wrong(300), "8-bit PTQ")  # 3 points lost: the interval wholly above
    assert far.verdict == C.REFUTED and far.numbers["interval"][0] > 0.01


def test_claim_matches_both_ways():
    f = wrong(500)
    assert LC.claim_matches("k", f, wrong(500, offset=300), "x").holds is True  # same accuracy, 300 swapped each way
    assert LC.claim_matches("k", f, wrong(1500), "x").holds is False  # 10 points worse
    assert LC.claim_matches("k", f, wrong(540), "x").holds is None  # 0.4 points worse: interval reaches past -0.5


def test_claim_matches_names_lost_and_gained_as_its_neighbours_do():
    # float gets images 0-5 right that the quantized network gets wrong (6 lost) and the reverse for images
    # 10-11 (2 gained): every lab3_6 claim reports the drop float - quantized with n10 = lost, n01 = gained
    f = np.ones(1000, bool)
    f[10:12] = False
    q = np.ones(1000, bool)
    q[0:6] = False
    for fn in (LC.claim_matches, LC.claim_within, LC.claim_loses):
        c = fn("k", f, q, "x")
        assert "6 images lost / 2 gained" in c.evidence, c.evidence
        assert (c.numbers["n10"], c.numbers["n01"]) == (6, 2) and c.numbers["diff"] == pytest.approx(0.004)
        assert "drop +0.40 points" in c.evidence
    # Agresti-Min at n = 1000 with 6 and 2 discordant: (4 / 1002) +/- 1.96 * sqrt((9 / 1002 - (4 / 1002)^2) / 1002)
    se = math.sqrt((9 / 1002 - (4 / 1002) ** 2) / 1002)
    c = LC.claim_matches("k", f, q, "x")
    assert c.numbers["low"] == pytest.approx(4 / 1002 - 1.959964 * se, abs=1e-6)
    assert c.numbers["p_mcnemar"] == pytest.approx(2 * (1 + 8 + 28) / 256, abs=1e-6)
    assert c.holds is None  # the interval (-0.17, +0.97) points reaches past +0.5


def test_claim_loses_both_ways():
    assert LC.claim_loses("k", ones(), wrong(500), "x").holds is True
    assert LC.claim_loses("k", ones(), wrong(10), "x").holds is False
    assert LC.claim_loses("k", ones(), wrong(100), "x").holds is None


def test_claim_loses_evidence_numbers_by_hand():
    # of 1,000 images: float wrong on 990-992 (the quantized network right there: 3 gained), the quantized network
    # wrong on 0-11 (12 lost); McNemar 2 * P(X <= 3), X ~ Bin(15, 1/2) = 2 * 576 / 32768
    f, q = wrong(3, n=1000, offset=990), wrong(12, n=1000)
    c = LC.claim_loses("loses.w2", f, q, "2-bit weights")
    am = agresti_min(12, 3, 1000)
    assert c.key == "loses.w2" and c.holds is None  # +0.9 points, interval from about +0.2 to +1.6
    nums = {k: v for k, v in c.numbers.items() if k not in ("interval", "rule", "detectable")}
    assert nums == pytest.approx({**am, "n": 1000, "n10": 12, "n01": 3, "p_mcnemar": 2 * 576 / 32768}, rel=1e-5)
    assert c.numbers["detectable"] == pytest.approx(_detectable((am["high"] - am["low"]) / 2), rel=1e-5)
    assert c.evidence == (f"drop +0.90 points (95 % CI {100 * am['low']:+.2f} to {100 * am['high']:+.2f}, paired over "
                          "n = 1,000 test images); exact McNemar (two-sided) p = 0.035, 12 images lost / 3 gained; not "
                          "shown at 95 %: the run could detect (80 % power) an effect of about "
                          f"{100 * _detectable((am['high'] - am['low']) / 2):.2g} points beyond the margin")
    assert LC.claim_loses("loses.w2", ones(), wrong(500), "2-bit weights").verdict == C.HOLDS  # 5 points lost
    big = LC.claim_loses("k", ones(), wrong(500), "x")
    assert big.numbers["diff"] == pytest.approx(0.05) and big.numbers["low"] == pytest.approx(
        agresti_min(500, 0, N)["low"], rel=1e-5)


def test_claim_recovers_both_ways_and_net_of_the_control():
    f, p = ones(), wrong(1000)  # PTQ loses 10 points
    good = [wrong(100), wrong(150)]  # QAT recovers 90 and 85 % of it
    bad = [wrong(900), wrong(850)]  # 10 and 15 %
    c = LC.claim_recovers("k", f, p, good, "4-bit weights")
    assert c.holds is True and c.numbers["fraction"] == pytest.approx(0.875)
    assert c.numbers["per_seed_fraction"] == pytest.approx([0.9, 0.85])
    assert LC.claim_recovers("k", f, p, bad, "4-bit weights").holds is False
    assert LC.claim_recovers("k", f, f, good, "4-bit weights").holds is None  # nothing lost, nothing to recover
    # QAT gains 8 of the 10 points PTQ lost, but the 8-bit control (PTQ = float) gains 8 points by
    # fine-tuning alone: net of it, QAT recovers nothing
    f, p = wrong(2000), wrong(3000)
    qat = [wrong(2200), wrong(2200)]
    control = (f, [wrong(1200), wrong(1200)])
    assert LC.claim_recovers("k", f, p, qat, "4-bit weights").holds is True
    net = LC.claim_recovers("k", f, p, qat, "4-bit weights", control=control)
    assert net.holds is False and "control" in net.statement and net.numbers["gain"] == pytest.approx(0.0, abs=1e-12)


def test_claim_recovers_evidence_numbers_by_hand():
    # PTQ wrong on images 0-999; QAT's two seeds wrong on 0-99 and 0-199, so the share of seeds right is 0 on 0-99,
    # 1/2 on 100-199, 1 elsewhere. Per image, gain - loss / 2 is -1/2 on 0-99, 0 on 100-199, +1/2 on 200-999, 0 after
    c = LC.claim_recovers("recovers.w4", ones(), wrong(1000), [wrong(100), wrong(200)], "4-bit weights")
    m, lo, hi = z_interval([-0.5] * 100 + [0.0] * 100 + [0.5] * 800 + [0.0] * 9000)
    assert c.key == "recovers.w4" and c.holds is True and m == pytest.approx(0.035)
    nums = {k: v for k, v in c.numbers.items() if k not in ("interval", "rule")}
    assert c.numbers["interval"] == pytest.approx([lo, hi], rel=1e-5) and c.numbers["rule"] == {"above": 0}
    assert nums.pop("per_seed_fraction") == pytest.approx([0.9, 0.8])
    assert nums == pytest.approx({"fraction": 0.85, "loss": 0.1, "gain": 0.085, "margin_diff": 0.035, "low": lo,
                                  "high": hi, "seeds": 2}, rel=1e-5)
    assert c.evidence.startswith("PTQ lost 10.00 points; QAT recovered +8.50 points = 85% of it (QAT test accuracy per "
                                 "seed: 99.00, 98.00 %); recovered - 50% of the loss = +3.50 points "
                                 f"(95 % CI {100 * lo:+.2f} to {100 * hi:+.2f}, paired over n = 10,000 test images")
    # net of the control: QAT +1 on 2200-2999, fine-tuning alone +1 on 1200-1999, PTQ's loss 1 on 2000-2999
    f, p = wrong(2000), wrong(3000)
    net = LC.claim_recovers("k", f, p, [wrong(2200)] * 2, "x", control=(f, [wrong(1200)] * 2))
    m, lo, hi = z_interval([-1.0] * 800 + [-0.5] * 200 + [0.5] * 800 + [0.0] * 8200)
    nums = {k: v for k, v in net.numbers.items() if k not in ("interval", "rule")}
    assert nums.pop("per_seed_fraction") == []  # per-seed fractions only without a control
    assert nums == pytest.approx({"fraction": 0.0, "loss": 0.1, "gain": 0.0, "margin_diff": -0.05, "low": lo,
                                  "high": hi, "seeds": 2}, rel=1e-5, abs=1e-12)
    assert "fine-tuning alone (8-bit control, 2 seed(s)) gained +8.00 points, subtracted from QAT's gain" in net.evidence
    nothing = LC.claim_recovers("k", ones(), ones(), [wrong(100)], "x")
    assert nothing.numbers == {"loss": 0.0, "loss_low": 0.0}
    assert nothing.evidence == ("PTQ lost nothing measurable: drop +0.00 points (95 % CI +0.00 to +0.00, paired over "
                                "n = 10,000 test images); nothing to recover")


def test_claim_qat_within_both_ways():
    assert LC.claim_qat_within("k", ones(), [wrong(10), wrong(30)], "x").holds is True
    assert LC.claim_qat_within("k", ones(), [wrong(400), wrong(300)], "x").holds is False
    assert "99.90 %" in LC.claim_qat_within("k", ones(), [wrong(10)], "x").evidence  # per-seed accuracy in %
    # float - share of seeds right: 1 on images 0-9, 1/2 on 10-29, 0 elsewhere
    c = LC.claim_qat_within("qat_within.w4", ones(), [wrong(10), wrong(30)], "4-bit weights")
    m, lo, hi = z_interval([1.0] * 10 + [0.5] * 20 + [0.0] * (N - 30))
    assert c.key == "qat_within.w4" and m == pytest.approx(0.002) and c.holds is True
    nums = {k: v for k, v in c.numbers.items() if k not in ("interval", "rule")}
    assert nums == pytest.approx({"seeds": 2, "diff": 0.002, "low": lo, "high": hi, "se": (hi - m) / Z975, "n": N},
                                 rel=1e-5)
    assert c.evidence == (f"drop +0.20 points (95 % CI {100 * lo:+.2f} to {100 * hi:+.2f}, paired over n = 10,000 test "
                          "images) against float; QAT test accuracy per seed: 99.90, 99.70 % (2 seed(s); the "
                          "seed-to-seed spread is not in the interval); tolerance 1 point")
    assert LC.claim_qat_within("qat_within.w4", ones(), [wrong(400), wrong(300)], "x").verdict == C.REFUTED


def test_claim_qat_within_judged_against_the_fine_tuned_control():
    # float right everywhere, the fine-tuned 8-bit control loses 3 points by fine-tuning, QAT loses 3.2: within a
    # point of the control (holds), not of float (refuted)
    qat, control = [wrong(320), wrong(320)], [wrong(300), wrong(300)]
    assert LC.claim_qat_within("k", ones(), qat, "x").verdict == C.REFUTED
    c = LC.claim_qat_within("k", ones(), qat, "x", reference=control)
    assert c.verdict == C.HOLDS and "of the fine-tuned 8-bit control" in c.statement
    assert c.numbers["diff"] == pytest.approx(0.002) and "the control's test accuracy per seed: 97.00, 97.00 %" in c.evidence
    # per layer the same: against float every layer loses 3 points; against the control 0.2
    layers = {f"l{i}": wrong(320).astype(float) for i in range(3)}
    assert LC.claim_every_layer("k", ones(), layers, "x").verdict == C.REFUTED
    c = LC.claim_every_layer("k", ones(), layers, "x", reference=control)
    assert c.verdict == C.HOLDS and c.statement.endswith("against the fine-tuned 8-bit control")


def test_claim_every_layer_both_ways():
    f = ones()
    small = {f"l{i}": wrong(10 + i) for i in range(9)}
    assert LC.claim_every_layer("k", f, small, "With PTQ, 4-bit weights").holds is True
    bad = {**small, "l3": wrong(500)}
    c = LC.claim_every_layer("k", f, bad, "With PTQ, 4-bit weights")
    assert c.holds is False and c.numbers["worst_layer"] == "l3" and c.numbers["layers_above"] == ["l3"]
    # 1.3 points: above 1 point at 95 % but not with Bonferroni over 9 layers -> not shown
    edge = {**small, "l3": wrong(130)}
    d = LC.per_image_difference(f, edge["l3"])
    assert d["low"] > 0.01
    assert LC.claim_every_layer("k", f, edge, "x").holds is None


def test_claim_every_layer_evidence_numbers_by_hand():
    f = ones()
    small = {f"l{i}": wrong(10 + i) for i in range(9)}
    ok = LC.claim_every_layer("every_layer.w4", f, small, "With PTQ, 4-bit weights")
    _, _, hi8 = z_interval([1.0] * 18 + [0.0] * (N - 18))
    assert ok.key == "every_layer.w4" and ok.holds is True
    assert ok.numbers == {"worst_layer": "l8", "worst_drop": pytest.approx(0.0018), "layers": 9, "inside": 9, "layers_above": [],
                          "deciding": "l8", "interval": [pytest.approx(0.0018 - (hi8 - 0.0018)), pytest.approx(hi8)],
                          "rule": {"below": 0.01}}
    bad = LC.claim_every_layer("every_layer.w4", f, {**small, "l3": wrong(500)}, "x")
    m, lo, hi = z_interval([1.0] * 500 + [0.0] * (N - 500))
    assert bad.holds is False and {k: bad.numbers[k] for k in ("worst_layer", "layers", "inside", "layers_above", "deciding")} == {
        "worst_layer": "l3", "layers": 9, "inside": 8, "layers_above": ["l3"], "deciding": "l3"}
    assert bad.numbers["interval"][0] > 0.01  # the recorded interval is l3's Bonferroni one, wholly above 1 point
    assert bad.evidence == (f"largest drop l3: drop +5.00 points (95 % CI {100 * lo:+.2f} to {100 * hi:+.2f}, paired over "
                            "n = 10,000 test images) against float; 8 of 9 layers' 95 % intervals below 1 point; 1 "
                            "layer(s) above it with Bonferroni over 9 layers (l3)")
    # 130 of 10,000: the 95 % interval lies above 1 point, the Bonferroni one (z at 1 - 0.05 / 18) reaches below it
    edge = LC.claim_every_layer("k", f, {**small, "l3": wrong(130)}, "x")
    m, lo, _ = z_interval([1.0] * 130 + [0.0] * (N - 130))
    low_bonferroni = m - sps.norm.ppf(1 - 0.05 / 18) * (m - lo) / Z975
    assert low_bonferroni < 0.01 < lo
    assert (edge.numbers["inside"], edge.numbers["layers_above"], edge.holds) == (8, [], None)
    assert edge.numbers["deciding"] == "l3" and edge.numbers["interval"][0] == pytest.approx(low_bonferroni, rel=1e-6)
    assert "8 of 9 layers' 95 % intervals below 1 point; 0 layer(s) above it with Bonferroni over 9 layers" in edge.evidence


def test_jets_hold_is_the_intersection_of_its_parts():
    yes, no, unknown = (LC.claim_within("k", ones(), wrong(k), "x") for k in (10, 300, 100))
    claim, table = LC.jets_hold([("a", "lab3_1", "f16", yes), ("b", "lab3_3", "f4", yes)])
    assert claim.holds is True and list(table["here"]) == ["holds", "holds"] and list(table["format here"]) == ["f16", "f4"]
    assert LC.jets_hold([("a", "", "", yes), ("b", "", "", no), ("c", "", "", unknown)])[0].verdict == C.REFUTED
    claim, _ = LC.jets_hold([("a", "", "", yes), ("c", "", "", unknown)])
    assert claim.verdict == C.NOT_SHOWN and claim.numbers == {"hold": 1, "refuted": 0, "not shown": 1}
    claim, table = LC.jets_hold([("a", "lab3_1", "f", yes), ("b", "lab3_3", "f", no), ("c", "lab3_3", "f", unknown),
                                 ("d", "", "g", no)])
    assert claim.key == "jet_conclusions_hold" and claim.numbers == {"hold": 1, "refuted": 2, "not shown": 1}
    assert claim.evidence == ("1 of 4 hold, 2 refuted, 1 not shown: a [f]: holds; b [f]: refuted; c [f]: not shown; "
                              "d [g]: refuted; intersection of the parts (holds only if all hold)")
    assert list(table["drawn in"]) == ["lab3_1", "lab3_3", "lab3_3", ""]


# ---------------------------------------------------------------- configurations and runs on tiny images
@pytest.fixture(scope="module")
def tiny(tmp_path_factory, one_thread):
    tmp = tmp_path_factory.mktemp("lab3cifar")
    folder = make_tiny_image_set(tmp / "images", "npz", n_per_class=20, n_test_per_class=6, seed=0)
    splits = S.channels_last(load_cifar10(path=folder, val_fraction=L.VAL_FRACTION, download=False))
    args = L.model_args([8, 8, 8, 8, 16, 16], 32)
    recipe = Recipe(epochs=6, batch_size=64, lr=0.05, weight_decay=5e-4, optimizer="sgd", seed=0)
    model, info = L.trained_cnn(splits, args, recipe, cache_dir=tmp / "models", progress=False)
    return tmp, splits, args, recipe, model, info


def test_trained_cnn_is_cached_and_a_cli_checkpoint(tiny):
    tmp, splits, args, recipe, model, info = tiny
    assert not info["cached"] and len(info["history"]) == recipe.epochs
    again, info2 = L.trained_cnn(splits, args, recipe, cache_dir=tmp / "models", progress=False)
    assert info2["cached"] and info2["path"] == info["path"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    obj = load_checkpoint_file(info["path"])
    assert obj["model"] == "vgg7" and obj["model_args"] == args  # what `search --load` reads
    other = candidate_key(L.MODEL, args, splits, Recipe(epochs=5, batch_size=64, lr=0.05, optimizer="sgd"),
                          L.EXTRA_DESC)[0]
    assert info["path"].name == f"vgg7-{candidate_key(L.MODEL, args, splits, recipe, L.EXTRA_DESC)[0]}.ckpt" != \
        f"vgg7-{other}.ckpt"


def test_ptq_configs_quantize_what_they_say(tiny):
    _, splits, _, _, model, _ = tiny
    configs = L.ptq_configs(model)
    assert list(configs.config[:5]) == ["all w16", "all w8", "all w4", L.WIDEST, L.JET_W4] and len(configs) == 5 + 9
    names = [n for _, n, _ in L.layers(model)]
    assert names == ["seq_blocks_0", "seq_blocks_3", "seq_blocks_7", "seq_blocks_10", "seq_blocks_14", "seq_blocks_17",
                     "seq_blocks_22", "seq_blocks_24", "seq_blocks_26"]
    for _, c in configs.iterrows():
        q = graph_mod.trace(quantize_model(model, L.with_calibration(c.pass_args, splits)))
        widths = {n.name: n.module.config["weight_width"] for n in q.nodes() if n.name in names}
        assert set(widths) == set(names)  # every Conv2d and Linear is quantized
        expect = {n: c.weight_width if c.scope in ("by type", "fixed") or n == c.node else L.HIGH for n in names}
        assert widths == expect
        data_in = 16 if c.config == L.WIDEST else 8
        assert all(n.module.config["data_in_width"] == data_in and n.module.config["bias_width"] == 8
                   for n in q.nodes() if n.name in names)
        if c.scope == "fixed":  # the jet grids' fixed fractional widths, not calibrated ones
            (din, w) = L.FIXED[c.config]
            assert all((m.config["data_in_frac_width"], m.config["weight_frac_width"], m.config["bias_frac_width"])
                       == (din[1], w[1], 4) for m in (n.module for n in q.nodes() if n.name in names))


def test_ptq_and_qat_runs_match_direct_evaluations(tiny):
    _, splits, _, _, model, _ = tiny
    configs = L.ptq_configs(model)
    ptq, correct = L.ptq_runs(model, configs, splits)
    assert list(ptq.config) == [L.FLOAT, *configs.config]
    x, y = splits.split("test")
    assert ptq.accuracy[0] == pytest.approx(evaluate(model, x, y)["accuracy"])
    q4 = quantize_model(model, L.with_calibration(configs.pass_args[2], splits))
    assert ptq.accuracy[3] == pytest.approx(evaluate(q4, x, y)["accuracy"])
    assert all(correct[c].mean() == pytest.approx(a) for c, a in zip(ptq.config, ptq.accuracy))
    plan = L.qat_plan(configs, n_seeds=2, n_layer_seeds=1, seed=3)
    assert list(plan.config[:6]) == ["all w8", "all w8", "all w4", "all w4", L.JET_W4, L.JET_W4]
    assert list(plan.seed[:2]) == [3, 4] and len(plan) == 6 + 9 and not {"all w16", L.WIDEST} & set(plan.config)
    few = plan.iloc[[0, 1, 2, 3, 4]].reset_index(drop=True)
    recipe = L.qat_recipe(1, 1e-3, batch_size=64)
    qat, qcorrect = L.qat_run(model, few, splits, recipe, progress=False)
    assert list(qat.seed) == [3, 4, 3, 4, 3] and (qat.steps == 3).all()  # 180 training images / 64
    assert qat.accuracy.tolist() == pytest.approx([qcorrect[(c, s)].mean() for c, s in zip(qat.config, qat.seed)])
    share = L.seed_mean(qcorrect, "all w4")
    assert share.mean() == pytest.approx(qat.loc[qat.config == "all w4", "accuracy"].mean())
    table = L.results_table(ptq, qat, correct, qcorrect)
    row = table.set_index("config").loc["all w4"]
    assert row["ptq_vs_float_pts"] == pytest.approx(100 * (ptq.accuracy[3] - ptq.accuracy[0]))
    assert row["qat_seeds"] == 2 and np.isnan(table.set_index("config").loc["all w16", "qat_%"])
    ci = L.accuracy_intervals(ptq)
    assert ((ci.low <= ci.accuracy) & (ci.accuracy <= ci.high)).all()


def test_conclusions_and_jets_on_constructed_runs():
    configs = pd.DataFrame([{"config": f"{name} w4", "scope": "one layer", "layer": name}
                            for name in ("conv1", "fc1")])
    ptq = {L.FLOAT: ones(), "all w16": ones(), "all w8": wrong(10), "all w4": wrong(900), L.WIDEST: wrong(5),
           L.JET_W4: wrong(2000), "conv1 w4": wrong(30), "fc1 w4": wrong(20)}
    qat = {("all w4", 0): wrong(30), ("all w4", 1): wrong(40), ("all w8", 0): wrong(5), ("all w8", 1): wrong(5),
           (L.JET_W4, 0): wrong(50), (L.JET_W4, 1): wrong(50), ("conv1 w4", 0): wrong(10), ("fc1 w4", 0): wrong(10)}
    found = L.conclusions(ptq, qat, configs)
    assert list(found) == ["int8", "w16", "w4_loss", "recovers", "recovers_net", "qat_w4", "layers_ptq", "layers_qat",
                           "fixed_w16", "fixed_w4_loss", "fixed_recovers_net", "fixed_qat_w4"]
    assert all(c.verdict == C.HOLDS for c in found.values()), [(k, c.verdict) for k, c in found.items()]
    assert "fine-tuned 8-bit control" in found["qat_w4"].statement and "net of" in found["fixed_recovers_net"].statement
    claim, table = L.jet_conclusions(found)
    assert claim.holds is True and len(table) == 4 and set(table["format here"]) == {L.WIDEST, L.JET_W4}
    assert not any("8-bit PTQ" in t for t in table["conclusion on the simulated jets"])  # never a jet conclusion
    qat[("all w4", 0)] = qat[("all w4", 1)] = wrong(850)  # QAT recovers little, on both 4-bit formats
    qat[(L.JET_W4, 0)] = qat[(L.JET_W4, 1)] = wrong(1900)
    found = L.conclusions(ptq, qat, configs)
    assert [k for k, c in found.items() if c.verdict == C.REFUTED] == ["recovers", "recovers_net", "qat_w4",
                                                                       "fixed_recovers_net", "fixed_qat_w4"]
    claim, table = L.jet_conclusions(found)
    assert claim.verdict == C.REFUTED and list(table.here) == [C.HOLDS, C.HOLDS, C.REFUTED, C.REFUTED]
    # PTQ that keeps everything at 4 bits and loses at 8 and 16 bits, one layer that loses 5 points
    bad = {**ptq, "all w8": wrong(300), "all w16": wrong(1500), "all w4": wrong(10), L.WIDEST: wrong(1500),
           L.JET_W4: wrong(10), "conv1 w4": wrong(500)}
    found = L.conclusions(bad, {**qat, ("conv1 w4", 0): wrong(500)}, configs)
    for k in ("int8", "w16", "w4_loss", "layers_ptq", "layers_qat", "fixed_w16", "fixed_w4_loss"):
        assert found[k].verdict == C.REFUTED, (k, found[k].verdict)
    assert L.jet_conclusions(found)[0].verdict == C.REFUTED
    # the calibrated claims alone when the fixed formats were not run
    assert "fixed_w16" not in L.conclusions({k: v for k, v in ptq.items() if "fixed" not in k}, qat, configs)


def _detectable(half_width):
    """Oracle: the effect a two-sided 95 % interval of this half-width detects with 80 % power, from the
    printed normal quantiles z(0.975) = 1.959964 and z(0.80) = 0.841621."""
    return half_width / 1.959964 * (1.959964 + 0.841621)
