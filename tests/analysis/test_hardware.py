"""Hardware estimates against their published formulas (independent hand computations), da4ml's exact
adder counts, and the wiring into cost_table / cost_summary / the search metrics."""

import math
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from lab_utils.analysis import hardware as hw
from lab_utils.analysis.cost import COLUMNS, cost_summary, cost_table
from lab_utils.errors import LabError
from lab_utils.models import SeqModel, build_model
from lab_utils.passes.quantize import lab_config, quantize_model


def _quantize(model, data_in=(8, 4), weight=(8, "auto")):
    cfg = {"name": "integer", "data_in_width": data_in[0], "data_in_frac_width": data_in[1],
           "weight_width": weight[0], "weight_frac_width": weight[1], "bias_width": 8, "bias_frac_width": 4}
    return quantize_model(model, {"by": "type", "default": {"config": {"name": None}}, "linear": {"config": cfg}})


# ------------------------------------------------------------------ LogicNets LUTCost
def test_logicnets_lutcost_reproduces_jsc_s_m_l_exactly():
    # LUTCost(X, Y) = Y/3 · (2^(X-4) - (-1)^X), per neuron; layers 16 -> hidden... -> 5
    def lutcost(x, y):
        return y / 3 * (2 ** (x - 4) - (-1) ** x)
    s = 64 * lutcost(6, 2) + 32 * lutcost(6, 2) * 3 + 5 * lutcost(6, 2)
    m = (64 + 32 * 3 + 5) * lutcost(12, 3)
    big = 32 * lutcost(12, 3) + (64 + 192 + 192 + 16) * lutcost(12, 3) + 5 * lutcost(15, 7)
    assert (round(s), round(m), round(big)) == (330, 42_075, 150_385)
    got = {k: hw.logicnets_model_luts(c) for k, c in hw.LOGICNETS_JSC.items()}
    assert got == pytest.approx({"jsc-s": 330, "jsc-m": 42_075, "jsc-l": 150_385}, abs=1e-9)
    for x in range(4, 17):
        for y in range(1, 8):
            assert hw.logicnets_neuron_luts(x, y) == pytest.approx(lutcost(x, y))


# ------------------------------------------------------------------ hls4ml estimators
@pytest.mark.parametrize("n_in,n_out", [(16, 5), (16, 64), (64, 32), (32, 32)])
@pytest.mark.parametrize("width", [2, 6, 8, 9, 12, 16])
def test_hls4ml_dsp_bram_ff_estimators(n_in, n_out, width):
    for rf in hw.valid_reuse_factors(n_in, n_out)[:4]:
        assert hw.hls4ml_dsps(n_in, n_out, width, rf) == (0 if width < 9 else n_in * n_out // rf)
        assert hw.hls4ml_brams(n_in, n_out, width, rf, "latency") == 0
        expect = 0 if rf == 1 else -(-(n_in * n_out * width) // (rf * 36))  # ceil by integer division
        assert hw.hls4ml_brams(n_in, n_out, width, rf, "resource") == expect
    nw, out_w = n_in * n_out, 10
    assert hw.hls4ml_ffs(nw, width, n_out, out_w, "latency", True) == nw * width + n_out * out_w
    assert hw.hls4ml_ffs(nw, width, n_out, out_w, "resource", True) == n_out * out_w
    assert hw.hls4ml_ffs(nw, width, n_out, out_w, "latency", False) == nw * width
    assert hw.hls4ml_ffs(nw, width, n_out, out_w, "resource", False) == 0


def _hls4ml_valid_rf_bruteforce(n_in, n_out):
    out = []
    for rf in range(1, n_in * n_out + 1):
        mult_limit = math.ceil(n_in * n_out / min(n_in, rf))
        ok = (mult_limit % n_out == 0 or rf >= n_in) and (rf % n_in == 0 or rf < n_in)
        if ok and (n_in * n_out) % rf == 0:
            out.append(rf)
    return out


@pytest.mark.parametrize("shape", [(16, 5), (8, 5), (16, 8), (12, 10), (32, 5), (7, 3)])
def test_valid_reuse_factors_follow_hls4ml_and_error_names_allowed(shape):
    allowed = _hls4ml_valid_rf_bruteforce(*shape)
    assert hw.valid_reuse_factors(*shape) == allowed
    bad = next(r for r in range(1, 200) if r not in allowed)
    with pytest.raises(ValueError, match="allowed: " + ", ".join(map(str, allowed[:3]))) as exc:
        hw.check_reuse_factor(*shape, bad, "node x")
    assert "\n" not in str(exc.value) and isinstance(exc.value, LabError)
    assert hw.valid_reuse_factors(16, 5)[:6] == [1, 2, 4, 8, 16, 80]  # hand check: 16·5 = 80


def test_hls4ml_surrogate_and_cycle_model():
    assert hw.hls4ml_surrogate_luts(100) == 55
    assert hw.hls4ml_surrogate_luts(100, neg_bits=10, sub_bits=5, pf=2) == round(0.55 * 120) * 2
    # 200 MHz: 5 ns per cycle; 0.86 ns per adder level: 5 levels = 4.3 ns -> 1 cycle, 6 -> 2
    assert hw.dense_latency_cycles(16, 1, 200) == 1 + 1  # log2 16 = 4 levels
    assert hw.dense_latency_cycles(64, 1, 200) == 1 + 2  # 6 levels
    assert hw.dense_latency_cycles(64, 4, 200) == 3 + 1 + 1  # 16 products per cycle: 4 levels
    assert hw.dense_latency_cycles(64, 1, 100) == 1 + 1


# ------------------------------------------------------------------ FINN MVAU
def _finn_lut_by_hand(pe, simd, mw, w, a, res="lut"):
    mult = 0 if res == "dsp" else simd * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
    tree = (w + a) * (2 * simd - 1)
    alpha = math.log2(mw) + w + a - 1 - 1  # signed input
    acc = min(32, math.ceil(alpha + math.log2(1 + 2 ** -alpha) + 1))
    return int(300 + 1.1 * pe * (mult + tree + acc))


def test_finn_mvau_formulas():
    # PE 2, SIMD 4, MW 16, W = A = 4: mult 4·3·8 = 96, tree 8·7 = 56, acc ceil(11.001) = 12 -> 300 + 1.1·2·164
    assert hw.finn_mvau_luts(2, 4, 16, 4, 4) == int(300 + 1.1 * 2 * 164) == 660
    for pe, simd, mw, w, a in [(1, 1, 16, 2, 2), (4, 16, 64, 6, 6), (8, 8, 32, 8, 8), (16, 4, 16, 3, 5)]:
        for res in ("lut", "dsp"):
            assert hw.finn_mvau_luts(pe, simd, mw, w, a, res_type=res) == _finn_lut_by_hand(pe, simd, mw, w, a, res)
        assert hw.finn_mvau_dsps(pe, simd, w, a) == pe * simd * math.ceil((w + a) / 48)
        assert hw.finn_mvau_cycles(64, mw, pe, simd) == (64 // pe) * (mw // simd)
    # thresholds in LUTRAM: (2^B - 1)·acc·ceil(tmem/64) + (2^B - 1)·acc, B = 2, acc 12, tmem 8
    assert hw.finn_mvau_luts(2, 4, 16, 4, 4, out_bits=2, tmem=8) == int(300 + 1.1 * 2 * (164 + 3 * 12 + 3 * 12))
    # BRAM18 (UG573 SDP aspect ratios): width PE·SIMD·W, depth MW·MH/(PE·SIMD)
    assert hw.finn_mvau_bram18(1, 1, 1, 128, 256) == math.ceil(128 * 256 / 16384)  # width 1
    assert hw.finn_mvau_bram18(1, 2, 2, 64, 64) == math.ceil(2048 / 4096) * 1  # width 4
    assert hw.finn_mvau_bram18(2, 4, 2, 64, 64) == math.ceil(512 / 1024) * math.ceil(16 / 18)  # width 16
    assert hw.finn_mvau_bram18(4, 8, 4, 64, 64) == math.ceil(128 / 512) * math.ceil(128 / 36)  # wide, shallow


# ------------------------------------------------------------------ HGQ bits, CSD, EBOPs
def _span_bits(v):
    v = abs(int(v))
    if v == 0:
        return 0
    while v % 2 == 0:
        v //= 2
    return v.bit_length()


def _min_signed_digits(v):
    """Fewest ±2^k terms summing to v, by recursion on the lowest bit (the NAF choice, checked by search)."""
    v = abs(v)
    if v <= 1:
        return v
    if v % 2 == 0:
        return _min_signed_digits(v // 2)
    return 1 + min(_min_signed_digits((v - 1) // 2), _min_signed_digits((v + 1) // 2))


def test_hgq_bits_csd_and_ebops_against_brute_force():
    vals = np.arange(-300, 301)
    assert list(hw.hgq_weight_bits(vals)) == [_span_bits(v) for v in vals]
    assert list(hw.csd_digits(vals)) == [_min_signed_digits(int(v)) for v in vals]
    assert list(hw.hgq_weight_bits([0, 6, 5, -12, 1])) == [0, 2, 3, 2, 1]
    k = np.array([[3, 0], [4, -5], [0, 0]])  # (n_in, n_out); bits [[2,0],[1,3],[0,0]]
    assert hw.ebops_dense(k, [8, 6, 7]) == 8 * 2 + 6 * (1 + 3)
    assert hw.ebops_dense(k, 4) == 4 * 6
    assert hw.cmvm_adders_naive(k) == (2 + 1 - 1) + (2 - 1)  # digits: 3 -> 2, 4 -> 1, 5 -> 2


# ------------------------------------------------------------------ da4ml exact oracle
def _oracle_matrices():
    """>= 50 matrices of the lab's shapes at 2-8 bits, from seeds the calibration never saw (100, 200)."""
    rng = np.random.default_rng(22)
    small = [(16, 5), (16, 8), (8, 5), (32, 5)]
    large = [(16, 32), (32, 32), (16, 64), (64, 32)]
    cases = [(s, b, d) for s in small for b in (2, 3, 4, 5, 6, 8) for d in ("uniform", "gauss")]
    cases += [(s, b, d) for s in large for b in (3, 6) for d in ("uniform", "gauss")]
    out = []
    for (n_in, n_out), bits, dist in cases:
        lim = 2 ** (bits - 1) - 1
        if dist == "uniform":
            k = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), (n_in, n_out))
        else:
            g = rng.standard_normal((n_in, n_out))
            k = np.clip(np.round(g / np.abs(g).max() * lim), -lim - 1, lim).astype(np.int64)
        out.append(((n_in, n_out), bits, dist, k))
    return out


@pytest.mark.slow  # about 6-14 s on this 2-core machine (da4ml solves 64 matrices)
def test_cmvm_estimate_against_da4ml_exact_adder_count():
    da4ml_cmvm = pytest.importorskip("da4ml.cmvm", reason="da4ml (the exact CMVM oracle) cannot be imported")
    start = time.perf_counter()
    errors = []
    for _shape, _bits, _dist, k in _oracle_matrices():
        exact = float(da4ml_cmvm.solve(k.astype(np.float32)).cost)
        if exact == 0:
            continue
        errors.append(abs(hw.cmvm_adders_estimate(k) - exact) / exact)
    errors = np.array(errors)
    print(f"da4ml oracle: {len(errors)} matrices, median {np.median(errors):.3f}, max {errors.max():.3f}, "
          f"{time.perf_counter() - start:.1f} s")
    assert len(errors) >= 50
    assert np.median(errors) <= 0.10
    assert errors.max() <= 0.20


# ------------------------------------------------------------------ the model walk
def test_hardware_table_folds_batchnorm_costs_relu_and_output_layer():
    torch.manual_seed(0)
    q = _quantize(build_model("jsc-toy"), weight=(6, "auto"))
    t = hw.hardware_table(q, (16,)).set_index("node")
    assert t.loc["seq_blocks_3", "note"] == "folded into seq_blocks_2" and t.loc["seq_blocks_3", "luts"] == 0
    assert t.loc["seq_blocks_2", "note"] == "folds seq_blocks_3"
    assert t.loc["seq_blocks_0", "note"].startswith("standalone")  # the input BN has no Linear before it
    assert t.loc["seq_blocks_10", "luts"] > 0 and t.loc["seq_blocks_8", "luts"] > 0  # output layer and ReLU
    # the folded kernel is the BN-scaled weight at the layer's format: its EBOPs, by hand
    lin, bn = q.get_submodule("seq_blocks.2"), q.get_submodule("seq_blocks.3")
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double()
    w = (lin.weight.detach().double() * scale[:, None])
    f = lin.config["weight_frac_width"]
    k = np.clip(np.rint(w.numpy() * 2.0**f), -32, 31).T
    assert t.loc["seq_blocks_2", "ebops"] == hw.ebops_dense(k, 8 - 1)  # after a ReLU: sign bit unused
    total = t.loc["total"]
    body = t.drop(index="total")
    assert total["luts"] == body["luts"].sum() and total["ii_cycles"] == body["ii_cycles"].max()
    assert total["lut_equivalent"] == total["luts"] + 55 * total["dsps"]
    assert total["latency_ns"] == total["latency_cycles"] * 5.0


def test_wide_weights_go_to_dsps_and_resource_strategy_uses_bram():
    torch.manual_seed(0)
    model = SeqModel(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 5))
    narrow = hw.hardware_table(_quantize(model, weight=(8, "auto")), (16,)).iloc[-1]
    wide = hw.hardware_table(_quantize(model, weight=(12, "auto")), (16,)).iloc[-1]
    assert narrow["dsps"] == 0 and wide["dsps"] == 16 * 8 + 8 * 5
    res = hw.Target(strategy="resource", reuse_factor=4)
    t = hw.hardware_table(_quantize(model, weight=(12, "auto")), (16,), res).set_index("node")
    assert t.loc["seq_blocks_0", "brams"] == math.ceil(16 * 8 * 12 / (4 * 36))
    assert t.loc["seq_blocks_0", "dsps"] == 16 * 8 // 4 and t.loc["seq_blocks_0", "ii_cycles"] == 4
    with pytest.raises(ValueError, match="reuse factor 3 .* allowed: 1, 2, 4"):
        hw.hardware_table(model, (16,), hw.Target(reuse_factors={"seq_blocks_2": 3}))
    with pytest.raises(LabError, match="strategy"):
        hw.Target(strategy="fast")


def test_zero_weights_cost_no_ebops_and_fewer_luts():
    torch.manual_seed(0)
    model = SeqModel(nn.Linear(16, 8))
    dense = hw.hardware_table(_quantize(model), (16,)).iloc[0]
    with torch.no_grad():
        model.seq_blocks[0].weight[:, 8:] = 0
    pruned = hw.hardware_table(_quantize(model), (16,)).iloc[0]
    assert 0 < pruned["ebops"] < dense["ebops"] and pruned["luts"] < dense["luts"]


# ------------------------------------------------------------------ published comparison
def test_published_comparison_table():
    t = hw.published_comparison()
    assert len(t) >= 6
    assert t["source"].str.len().gt(10).all() and t["explanation"].str.len().gt(10).all()
    assert (t["ratio"] == t["estimate"] / t["published"]).all()
    lg = t[t["configuration"].str.startswith("LogicNets")].set_index("configuration")
    assert list(lg["published"]) == [232, 14_576, 38_925] and list(lg["estimate"]) == [330, 42_075, 150_385]
    assert t["configuration"].nunique() >= 6
    assert t["source"].str.strip().str.len().gt(0).all() and t["published"].gt(0).all()
    tut = t[t["configuration"].str.startswith("hls4ml-tutorial")]
    assert tut["configuration"].nunique() == len(hw.HLS4ML_TUTORIAL_RESULTS) == 7
    assert set(tut["metric"]) == {"dsps", "luts", "ffs", "latency_cycles"}
    # the published numbers are the reports' (copied, not computed)
    dsp = tut[tut["metric"] == "dsps"].set_index("configuration")["published"]
    assert sorted(dsp) == sorted(v[0] for v in hw.HLS4ML_TUTORIAL_RESULTS.values())
    # our DSP rule (n_in·n_out/RF for >= 9-bit weights, 4,256 multiplies at RF 1) against the reports:
    # at RF > 1 the reports hold exactly 5 DSPs more (outside the layer instances)
    for cfg, pub in dsp.items():
        rf = int(cfg.split(" RF ")[1].split()[0])
        est = int(tut[(tut["configuration"] == cfg) & (tut["metric"] == "dsps")]["estimate"].iloc[0])
        assert est == 4256 // rf
        if rf > 1:
            assert pub - est == 5


# ------------------------------------------------------------------ cost_table / cost_summary / search
def test_cost_table_gains_hardware_columns_and_keeps_the_old_ones():
    q = quantize_model(build_model("jsc-tiny"), {"by": "type", "default": {"config": {"name": None}},
                                                 "linear": {"config": lab_config()}})
    t = cost_table(q, (16,))
    assert list(t.columns) == list(COLUMNS) + list(hw.HW_COLUMNS)
    ref = hw.hardware_table(q, (16,))
    for c in hw.HW_COLUMNS:
        assert list(t[c]) == list(ref[c])
    assert t.iloc[-1]["bitops"] == 22728  # the existing counts are unchanged (test_cost's hand count)
    s = cost_summary(q, (16,))
    assert s["lut_equivalent"] == s["luts"] + 55 * s["dsps"] and s["latency_ns"] == 5.0 * s["latency_cycles"]
    assert cost_summary(q, (16,), batch_size=4)["luts"] == s["luts"]  # per design, not per batch


def test_fpga_metrics_are_search_metrics(monkeypatch):
    from lab_utils.search.space import HARDWARE_METRICS, METRICS, SpaceContext, measure
    for name in ("luts", "dsps", "latency_cycles", "ebops", "lut_equivalent"):
        assert name in METRICS and name in HARDWARE_METRICS
    torch.manual_seed(0)
    x, y = torch.randn(32, 16), torch.randint(0, 5, (32,))
    ctx = SpaceContext(model_name="jsc-tiny", model=None, splits=SimpleNamespace(split=lambda s: (x, y)),
                       metrics=("accuracy", "luts", "lut_equivalent", "latency_cycles"))
    model = build_model("jsc-tiny").eval()
    m = measure(model, ctx)
    s = cost_summary(model, (16,))
    assert (m["luts"], m["lut_equivalent"], m["latency_cycles"]) == (s["luts"], s["lut_equivalent"],
                                                                     s["latency_cycles"])
    # a search that asks for no FPGA metric pays nothing for them: no estimate is made
    calls = []
    real = hw.hardware_rows
    monkeypatch.setattr(hw, "hardware_rows", lambda *a, **k: calls.append(1) or real(*a, **k))
    bitops_only = measure(model, SpaceContext(model_name="jsc-tiny", model=None, splits=ctx.splits,
                                              metrics=("accuracy", "bitops")))
    assert calls == [] and not set(hw.HW_COLUMNS) & set(bitops_only)
    assert bitops_only["bitops"] == cost_summary(model, (16,), ctx.batch_size, target=None)["bitops"]
    measure(model, ctx)
    assert calls == [1]


def test_cost_table_without_a_target_has_the_counting_columns_only():
    q = build_model("jsc-tiny")
    t, full = cost_table(q, (16,), target=None), cost_table(q, (16,))
    assert list(t.columns) == list(COLUMNS) and t.attrs["hardware_estimated"] is False
    assert t.equals(full[list(COLUMNS)])
    assert not set(hw.HW_COLUMNS) & set(cost_summary(q, (16,), target=None))
