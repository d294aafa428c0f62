"""Estimated FPGA cost of a (quantized) model: LUTs, DSPs, flip-flops, BRAM, EBOPs and latency in cycles.

No synthesis tool runs here: every figure is an **estimate of a named analytic model**, per layer and in
total, for a :class:`Target` (device and its resource totals, clock, hls4ml strategy, reuse factor per
layer, io_parallel). Each formula is a small function whose docstring names its source and its
assumptions; :func:`hardware_table` walks the model's torch.fx graph and combines them per layer:

- **Linear / Conv2d** (the constant-matrix multiply, CMVM). Weights are the layer's quantized values as
  integers (``round(q(W) · 2**weight_frac_width)``); a float layer is costed at hls4ml's default
  precision ``ap_fixed<16,6>`` (:attr:`Target.default_width`). ``ebops`` follow HGQ
  (:func:`ebops_dense`), ``dsps`` hls4ml's rule (:func:`hls4ml_dsps`: weights of 9 bits or more go to
  DSPs), ``brams`` and ``ffs`` hls4ml's estimators (:func:`hls4ml_brams`, :func:`hls4ml_ffs`).
  LUTs: strategy ``"latency"`` at reuse factor 1 builds the multiply from shifts and adds of the
  constant weights: the adder count of :func:`cmvm_adders_estimate` (calibrated against da4ml's exact
  adder graphs) times the adder width, at hls4ml's 0.55 LUT per adder bit
  (:func:`hls4ml_surrogate_luts`); otherwise (strategy ``"resource"`` or RF > 1, where a multiplier
  is shared by several weights and is no longer a constant multiply) FINN-R's matrix-vector unit
  (:func:`finn_mvau_luts`) with ``PE·SIMD = n_in·n_out / RF`` multipliers. Latency and II:
  :func:`dense_latency_cycles`.
- **BatchNorm** right after a Linear / Conv2d is folded into it, as hls4ml's ``FuseBatchNormalization``
  does (``W' = W·γ/√(var+ε)`` row-wise, re-quantized at the layer's weight format) and costs nothing of
  its own; any other BatchNorm (the input BN of the JSC models) is a per-element multiply-add at the
  default precision.
- **ReLU**: one LUT and one flip-flop per output bit (a select against zero, registered), 1 cycle
  (assumption: no published formula).
- **MaxPool2d**: one comparator (LUTs = width) per comparison, 1 cycle; EBOPs = input bits (HGQ2).
- flatten / identity / dropout cost nothing.

Activation widths: a layer's output width is the next integer layer's ``data_in_width`` (the
format the hardware stores it in), else the default width. After a ReLU the sign bit is never set,
so an input that comes from a ReLU counts ``data_in_width − 1`` bits in EBOPs (HGQ's ``pos_only``).

Totals: resources and EBOPs add up; ``latency_cycles`` add up (io_parallel layers run one after
the other, each pipelined); ``ii_cycles`` is the largest layer II; ``latency_ns = latency_cycles ·
1000 / clock_mhz``; ``lut_equivalent = luts + 55·dsps`` (HGQ's measure, :func:`lut_equivalent`).
The figures are per design and per sample: they do not scale with a batch size.

:func:`published_comparison` sets the estimates beside published synthesis results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from lab_utils.errors import LabError
from lab_utils.models import SeqModel
from lab_utils.passes.graph import as_graph, layer_shapes
from lab_utils.passes.quantize import Conv2dInteger, LinearInteger, integer_quantize, quantize_model

STRATEGIES = ("latency", "resource")
HW_COLUMNS = ("luts", "dsps", "ffs", "brams", "ebops", "latency_cycles", "ii_cycles", "latency_ns", "lut_equivalent")
DSP_LUT_EQUIVALENT = 55  # HGQ: EBOPs track LUT + 55·DSP after place-and-route
DSP_MIN_WEIGHT_WIDTH = 9  # hls4ml VivadoDSPEstimator: narrower weights are multiplied in LUTs
SURROGATE_LUT_PER_ADDER_BIT = 0.55  # hls4ml fused_dotp ResourceSurrogate
SURROGATE_ADDER_NS = 0.86  # hls4ml fused_dotp ResourceSurrogate: latency per adder level
BRAM_WIDTH_BITS = 36  # hls4ml VivadoMultiObjectiveEstimator
MULTIPLY_CYCLES = 1  # a registered multiply (DSP48 or LUT multiplier): assumption
# Shift-add CMVM calibration (see cmvm_adders_estimate): fitted by least squares of log(exact / naive)
# on 188 random matrices (seeds 100 and 200; the lab's 8 layer shapes; 2-8 bits; uniform and Gaussian
# weights) against da4ml 0.6.0's exact adder count. The test checks it on other seeds.
CMVM_C0, CMVM_ALPHA, CMVM_BETA = 1.010, 0.073, 0.103


class ReuseFactorError(LabError, ValueError):
    """An invalid reuse factor for a layer (one line naming the allowed values)."""


@dataclass(frozen=True)
class Target:
    """The device and the hls4ml build a hardware estimate is for.

    Defaults: Xilinx VU9P (xcvu9p: 1,182,240 LUT, 6,840 DSP, 2,364,480 FF, 4,320 BRAM18), 200 MHz,
    hls4ml ``Latency`` strategy, reuse factor 1, ``io_parallel``: the setting of HGQ's Table I.
    ``reuse_factors`` maps node names to a reuse factor (others take ``reuse_factor``); each is
    checked against the layer by :func:`check_reuse_factor` when the model is costed.
    ``default_width`` / ``default_frac_width``: the fixed-point format of float tensors (hls4ml's
    default ``ap_fixed<16,6>``).
    """

    device: str = "xcvu9p"
    luts: int = 1_182_240
    dsps: int = 6_840
    ffs: int = 2_364_480
    brams: int = 4_320
    clock_mhz: float = 200.0
    strategy: str = "latency"
    reuse_factor: int = 1
    reuse_factors: Mapping[str, int] = field(default_factory=dict)
    io_parallel: bool = True
    default_width: int = 16
    default_frac_width: int = 10

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise LabError(f"target.strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if not (isinstance(self.clock_mhz, (int, float)) and self.clock_mhz > 0):
            raise LabError(f"target.clock_mhz must be a number > 0, got {self.clock_mhz!r}")
        for name, rf in [("reuse_factor", self.reuse_factor), *self.reuse_factors.items()]:
            if isinstance(rf, bool) or not isinstance(rf, int) or rf < 1:
                raise LabError(f"target reuse factor of {name}: must be a whole number >= 1, got {rf!r}")
        object.__setattr__(self, "reuse_factors", dict(self.reuse_factors))

    @property
    def clock_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    def rf(self, node: str) -> int:
        return self.reuse_factors.get(node, self.reuse_factor)


DEFAULT_TARGET = Target()


# ------------------------------------------------------------------ reuse factor (hls4ml)
def valid_reuse_factors(n_in: int, n_out: int) -> list[int]:
    """The reuse factors hls4ml accepts for a dense layer of ``n_in`` inputs and ``n_out`` outputs.

    hls4ml ``FPGABackend._validate_reuse_factor`` (hls4ml/backends/fpga/fpga_backend.py): with
    ``multiplier_limit = ceil(n_in·n_out / min(n_in, rf))``, a reuse factor is valid when
    (``multiplier_limit % n_out == 0`` or ``rf >= n_in``) and (``rf % n_in == 0`` or ``rf < n_in``)
    and ``n_in·n_out % rf == 0``; ``get_valid_reuse_factors`` tries 1 .. n_in·n_out (here: only the
    divisors of ``n_in·n_out``, the same list).
    """
    total = n_in * n_out
    divisors = sorted({d for i in range(1, math.isqrt(total) + 1) if total % i == 0 for d in (i, total // i)})
    out = []
    for rf in divisors:  # the last condition: only divisors of n_in·n_out can be valid
        limit = math.ceil(total / min(n_in, rf))
        if (limit % n_out == 0 or rf >= n_in) and (rf % n_in == 0 or rf < n_in):
            out.append(rf)
    return out


def check_reuse_factor(n_in: int, n_out: int, rf: int, where: str = "layer") -> int:
    """``rf`` if hls4ml accepts it for this layer (:func:`valid_reuse_factors`), else a one-line error."""
    allowed = valid_reuse_factors(n_in, n_out)
    if rf not in allowed:
        raise ReuseFactorError(f"{where}: reuse factor {rf} is not valid for a {n_in}x{n_out} layer "
                               f"(hls4ml rule); allowed: {', '.join(map(str, allowed))}")
    return rf


# ------------------------------------------------------------------ bits of integer weights
def _as_int(weights) -> np.ndarray:
    a = np.asarray(weights, dtype=np.float64)
    if not np.all(a == np.round(a)):
        raise LabError("hardware: expected integer weights (quantized values times 2**frac_width)")
    return np.abs(a).astype(np.int64)


def hgq_weight_bits(int_weights) -> np.ndarray:
    """Bits each quantized weight needs: HGQ's ``kernel_bw_exact`` (integer + fractional bits, sign excluded).

    calad0i/HGQ src/HGQ/quantizer/quantizer.py ``get_arr_bits`` + layers/base.py ``kernel_bw_exact``:
    the span from the highest to the lowest set bit of ``|w|`` (trailing zeros are a free shift, the
    sign is not counted), 0 for a zero weight. E.g. 0b0110 -> 2, 0b0101 -> 3, 0 -> 0.
    """
    m = _as_int(int_weights)
    nz = m > 0
    low = np.where(nz, m & -m, 1)  # lowest set bit
    span = np.frexp(np.where(nz, m // low, 0).astype(np.float64))[1]  # bit_length of the odd part
    return np.where(nz, span, 0).astype(np.int64)


def csd_digits(int_weights) -> np.ndarray:
    """Nonzero digits of each integer in canonical signed digit (non-adjacent) form, elementwise.

    The NAF of ``n`` has digits +1 at the set bits of ``(n + n>>1) & c`` and −1 at those of
    ``(n>>1) & c``, ``c = (n>>1) ^ (n + n>>1)``: the minimal number of signed powers of two that sum
    to ``n`` (e.g. 7 = 8 − 1: 2 digits; 5 = 4 + 1: 2; 0: 0). The sign of ``n`` is free.
    """
    n = _as_int(int_weights)
    h = n >> 1
    t = n + h
    c = h ^ t
    return (np.bitwise_count(t & c) + np.bitwise_count(h & c)).astype(np.int64)


# ------------------------------------------------------------------ EBOPs (HGQ)
def ebops_dense(int_weights, input_bits) -> int:
    """HGQ's exact effective bit-operations of a dense layer: ``Σ_ij b_in[i] · b_w[i, j]``.

    calad0i/HGQ src/HGQ/layers/dense.py ``compute_exact_bops`` (``sum(input_bw @ kernel_bw)``), with
    ``b_w`` from :func:`hgq_weight_bits` (0 for a zero weight: pruned weights cost nothing).
    ``int_weights`` is (n_in, n_out); ``input_bits`` a number or one per input. HGQ's EBOPs of
    this layer include no bias term (HGQ2 adds ``mean(b_bias)·n_out``; not counted here).
    """
    bw = hgq_weight_bits(int_weights)
    b_in = np.broadcast_to(np.asarray(input_bits, dtype=np.int64), (bw.shape[0],))
    return int(b_in @ bw.sum(axis=1))


# ------------------------------------------------------------------ shift-add CMVM
def cmvm_adders_naive(int_weights) -> int:
    """Adders of the shift-add constant-matrix multiply without sharing: ``Σ_j max(Σ_i d_ij − 1, 0)``.

    Each weight ``w_ij`` is ``d_ij`` CSD digits (:func:`csd_digits`), each a shifted ± copy of input
    ``x_i``; output ``j`` sums its terms with one adder fewer than terms. ``int_weights`` is
    (n_in, n_out), as da4ml's ``solve`` takes it.
    """
    d = csd_digits(int_weights)
    return int(np.maximum(d.sum(axis=0) - 1, 0).sum())


def cmvm_adders_estimate(int_weights) -> int:
    """Estimated adders of the CMVM after common-subexpression sharing (calibrated shift-add count).

    ``min(N, round(C0 · N · (D/n_out)^−α · (D/n_in)^−β))``: ``N`` = :func:`cmvm_adders_naive`,
    ``D`` = total CSD digits, ``D/n_out`` the terms per output, ``D/n_in`` the terms each input
    feeds. Multiple-constant-multiplication algorithms (da4ml's ``cmvm.solve``, calad0i/da4ml,
    arXiv 2507.04535; Hcub and relatives) share sums of two shifted inputs between outputs, and
    the more terms each input feeds and each output collects, the more pairs repeat: the saving
    grows with both. ``C0 = 1.010, α = 0.073, β = 0.103`` are **fitted constants** (least squares
    of ``log(exact/N)`` on 188 random matrices: seeds 100 and 200; shapes 16x5, 16x8, 8x5, 16x32,
    32x32, 32x5, 16x64, 64x32; 2-8 bits; uniform and Gaussian weights; against da4ml 0.6.0's exact
    adder count with default options). The test checks the fit on matrices from other seeds.
    """
    d = csd_digits(int_weights)
    n_in, n_out = d.shape
    D = int(d.sum())
    N = int(np.maximum(d.sum(axis=0) - 1, 0).sum())
    if D == 0 or N == 0:
        return 0
    est = CMVM_C0 * N * (D / n_out) ** -CMVM_ALPHA * (D / n_in) ** -CMVM_BETA
    return int(min(N, round(est)))


def cmvm_adder_depth(int_weights) -> int:
    """Adder levels of the shift-add tree: ``ceil(log2(max terms of an output))`` (balanced tree)."""
    terms = int(csd_digits(int_weights).sum(axis=0).max(initial=0))
    return math.ceil(math.log2(terms)) if terms > 1 else 0


# ------------------------------------------------------------------ hls4ml estimators
def hls4ml_dsps(n_in: int, n_out: int, weight_width: int, reuse_factor: int = 1) -> int:
    """DSPs of a dense layer: ``n_in·n_out // RF`` when the weight is 9 bits or wider, else 0.

    hls4ml/optimization/dsp_aware_pruning/objectives/vivado_objectives.py ``VivadoDSPEstimator
    .layer_resources``: narrower multiplies are assumed to go to LUTs (Vivado's choice in practice
    also depends on the activation width, see :func:`published_comparison`).
    """
    return 0 if weight_width < DSP_MIN_WEIGHT_WIDTH else (n_in * n_out) // reuse_factor


def hls4ml_brams(n_in: int, n_out: int, weight_width: int, reuse_factor: int, strategy: str) -> int:
    """BRAM (36-bit words) holding the weights: ``ceil(n_in·n_out·b_w / (RF·36))`` for Resource, RF > 1.

    hls4ml vivado_objectives.py ``VivadoMultiObjectiveEstimator.layer_resources``: the Latency
    strategy and Resource at RF 1 keep weights in registers (0 BRAM).
    """
    if strategy != "resource" or reuse_factor == 1:
        return 0
    return math.ceil(n_in * n_out * weight_width / (reuse_factor * BRAM_WIDTH_BITS))


def hls4ml_ffs(n_weights: int, weight_width: int, n_out: int, out_width: int, strategy: str,
               io_parallel: bool = True) -> int:
    """Flip-flops: hls4ml's ``VivadoFFEstimator`` (vivado_objectives.py), by io type and strategy.

    io_parallel + Latency: ``n_w·b_w + n_out·b_out`` (weights and outputs in registers);
    io_parallel + Resource: ``n_out·b_out`` (weights in BRAM); io_stream + Latency: ``n_w·b_w``;
    io_stream + Resource: 0. Its authors note the estimate is "inaccurate ... but consistent".
    """
    weights, outputs = n_weights * weight_width, n_out * out_width
    if io_parallel:
        return weights + outputs if strategy == "latency" else outputs
    return weights if strategy == "latency" else 0


def hls4ml_surrogate_luts(adder_bits: float, neg_bits: float = 0, sub_bits: float = 0, pf: int = 1) -> int:
    """LUTs of an unrolled dot product: ``round(0.55·(adder bits + negation bits + 2·subtractor bits))·pf``.

    hls4ml/optimization/fused_dotp/resoure_surrogate.py ``ResourceSurrogate._summary``; one adder of
    two fixed-point operands counts ``max(I1, I2) + max(f1, f2)`` bits (``resource_bin_add``).
    """
    return int(round(SURROGATE_LUT_PER_ADDER_BIT * (adder_bits + neg_bits + 2 * sub_bits))) * pf


def dense_latency_cycles(n_in: int, reuse_factor: int, clock_mhz: float, adder_depth: int | None = None) -> int:
    """Cycles from input to output of a pipelined dense layer: ``(RF − 1) + 1 + ceil(depth · 0.86 ns / T)``.

    The multipliers are reused ``RF`` times (hls4ml docs, concepts: II = RF, about RF× the
    cycles); a registered multiply takes 1 cycle (assumption); the adder tree has ``depth`` levels
    (default ``ceil(log2(n_in / min(RF, n_in)))``, a balanced tree of the products one output
    collects per cycle) at hls4ml's surrogate 0.86 ns per adder level (resoure_surrogate.py),
    packed into clock periods ``T = 1000 / clock_mhz`` ns.
    """
    if adder_depth is None:
        per_cycle = max(1, math.ceil(n_in / min(reuse_factor, n_in)))
        adder_depth = math.ceil(math.log2(per_cycle)) if per_cycle > 1 else 0
    return (reuse_factor - 1) + MULTIPLY_CYCLES + math.ceil(adder_depth * SURROGATE_ADDER_NS * clock_mhz / 1000.0)


# ------------------------------------------------------------------ FINN matrix-vector unit
def finn_acc_bits(mw: int, weight_bits: int, input_bits: int, input_signed: bool = True, acc_max: int = 32) -> int:
    """Minimal accumulator width of a ``mw``-long dot product (FINN MVAU ``lut_estimation``).

    ``α = log2(MW) + W + A − 1 − signed``; ``acc = min(32, ceil(α + log2(1 + 2^−α) + 1))``
    (the data-type bound of arXiv 2301.13376, used by Xilinx/finn
    src/finn/custom_op/fpgadataflow/hls/matrixvectoractivation_hls.py when accDataType is INT32).
    """
    alpha = math.log2(mw) + weight_bits + input_bits - 1 - int(input_signed)
    return int(min(acc_max, math.ceil(alpha + math.log2(1 + 2.0**-alpha) + 1)))


def finn_mvau_luts(pe: int, simd: int, mw: int, weight_bits: int, input_bits: int, res_type: str = "lut",
                   input_signed: bool = True, out_bits: int | None = None, tmem: int = 0) -> int:
    """LUTs of FINN's matrix-vector-activation unit (FINN-R cost model, Blott et al. 2018).

    Xilinx/finn src/finn/custom_op/fpgadataflow/hls/matrixvectoractivation_hls.py ``lut_estimation``:
    ``int(300 + 1.1·PE·(mult + addertree + acc + thr + comp))`` with
    ``mult = SIMD·(2·ceil((W+A)/6) − 1)·(W+A)`` in LUT mode (0 on DSPs),
    ``addertree = (W+A)·(2·SIMD − 1)``, ``acc`` = :func:`finn_acc_bits`, and with thresholds in
    distributed RAM (``out_bits`` = B given) ``thr = (2^B − 1)·acc·ceil(tmem / 64)``,
    ``comp = (2^B − 1)·acc``. Weights are assumed in block RAM (the memory term ``c2 = 0``).
    """
    wa = weight_bits + input_bits
    mult = 0 if res_type == "dsp" else simd * (2 * math.ceil(wa / 6) - 1) * wa
    addertree = wa * (2 * simd - 1)
    acc = finn_acc_bits(mw, weight_bits, input_bits, input_signed)
    thr = comp = 0
    if out_bits is not None:
        thr = (2**out_bits - 1) * acc * math.ceil(tmem / 64)
        comp = (2**out_bits - 1) * acc
    return int(300 + 1.1 * (pe * (mult + addertree + acc + thr + comp)))


def finn_mvau_dsps(pe: int, simd: int, weight_bits: int, input_bits: int, res_type: str = "dsp") -> int:
    """DSPs of FINN's MVAU: ``PE·SIMD·ceil((W+A)/48)`` on DSPs, else 0 (``dsp_estimation``, same file)."""
    return int(pe * simd * math.ceil((weight_bits + input_bits) / 48)) if res_type == "dsp" else 0


def finn_mvau_cycles(mh: int, mw: int, pe: int, simd: int, n_vectors: int = 1) -> int:
    """Expected cycles of FINN's MVAU: ``(MH/PE)·(MW/SIMD)·N`` (matrixvectoractivation.py ``get_exp_cycles``)."""
    return int((mh / pe) * (mw / simd) * n_vectors)


def finn_mvau_bram18(pe: int, simd: int, weight_bits: int, mw: int, mh: int) -> int:
    """RAMB18s for the weights of FINN's MVAU (``bram_estimation``, internal_decoupled, block RAM).

    Depth ``ω = MW·MH/(PE·SIMD)``, width ``PE·SIMD·W``, packed in SDP-mode RAMB18 aspect ratios
    (Xilinx UG573): width 1 -> ceil(ω/16384); 2 -> ceil(ω/8192); ≤4 -> ceil(ω/4096)·ceil(w/4);
    ≤9 -> ceil(ω/2048)·ceil(w/9); ≤18 or ω > 512 -> ceil(ω/1024)·ceil(w/18); else ceil(ω/512)·ceil(w/36).
    """
    omega = mw * mh / (pe * simd)
    width = pe * simd * weight_bits
    if width == 1:
        return math.ceil(omega / 16384)
    if width == 2:
        return math.ceil(omega / 8192)
    if width <= 4:
        return math.ceil(omega / 4096) * math.ceil(width / 4)
    if width <= 9:
        return math.ceil(omega / 2048) * math.ceil(width / 9)
    if width <= 18 or omega > 512:
        return math.ceil(omega / 1024) * math.ceil(width / 18)
    return math.ceil(omega / 512) * math.ceil(width / 36)


# ------------------------------------------------------------------ LogicNets
def logicnets_neuron_luts(fan_in_bits: int, out_bits: int) -> float:
    """LogicNets' ``LUTCost(X, Y) = (Y/3)·(2^(X−4) − (−1)^X)`` 6-input LUTs for one neuron.

    Xilinx/logicnets src/logicnets/nn.py ``SparseLinearNeq.lut_cost`` (Umuroglu et al., FPL 2020):
    ``X`` = fan-in × input bits, ``Y`` = output bits; a truth table, so weights and widths of the
    arithmetic do not enter. An upper bound (synthesis shares logic across neurons).
    """
    return (out_bits / 3) * (2 ** (fan_in_bits - 4) - (-1) ** fan_in_bits)


# Xilinx/logicnets examples/jet_substructure/train.py ``configs`` (16 inputs, 5 outputs).
LOGICNETS_JSC = {
    "jsc-s": {"hidden_layers": (64, 32, 32, 32), "input_bitwidth": 2, "hidden_bitwidth": 2, "output_bitwidth": 2,
              "input_fanin": 3, "hidden_fanin": 3, "output_fanin": 3},
    "jsc-m": {"hidden_layers": (64, 32, 32, 32), "input_bitwidth": 3, "hidden_bitwidth": 3, "output_bitwidth": 3,
              "input_fanin": 4, "hidden_fanin": 4, "output_fanin": 4},
    "jsc-l": {"hidden_layers": (32, 64, 192, 192, 16), "input_bitwidth": 4, "hidden_bitwidth": 3,
              "output_bitwidth": 7, "input_fanin": 3, "hidden_fanin": 4, "output_fanin": 5},
}


def logicnets_model_luts(config: Mapping, n_out: int = 5) -> float:
    """Σ over layers of ``neurons · LUTCost``, layered as LogicNets' ``JetSubstructureNeqModel`` builds them.

    Xilinx/logicnets examples/jet_substructure/models.py: the first layer reads ``input_bitwidth``
    inputs with ``input_fanin``, hidden layers read ``hidden_bitwidth`` with ``hidden_fanin``,
    the output layer reads ``hidden_bitwidth`` with ``output_fanin`` and emits ``output_bitwidth``;
    every other layer emits ``hidden_bitwidth``.
    """
    widths = list(config["hidden_layers"]) + [n_out]
    total = 0.0
    for i, neurons in enumerate(widths):
        last = i == len(widths) - 1
        in_bits = config["input_bitwidth"] if i == 0 else config["hidden_bitwidth"]
        fan_in = config["input_fanin"] if i == 0 else (config["output_fanin"] if last else config["hidden_fanin"])
        out_bits = config["output_bitwidth"] if last else config["hidden_bitwidth"]
        total += neurons * logicnets_neuron_luts(in_bits * fan_in, out_bits)
    return total


def lut_equivalent(luts, dsps):
    """HGQ's single resource figure ``LUT + 55·DSP`` (calad0i/HGQ2 README: EBOPs track it in the hls4ml flow)."""
    return luts + DSP_LUT_EQUIVALENT * dsps


# ------------------------------------------------------------------ per layer
def _weight_format(module: nn.Module, target: Target) -> tuple[int, int, int]:
    """(data_in_width, weight_width, weight_frac_width) a layer computes with (float -> target default)."""
    if isinstance(module, (LinearInteger, Conv2dInteger)) and not module.config["bypass"]:
        c = module.config
        return c["data_in_width"], c["weight_width"], c["weight_frac_width"]
    return target.default_width, target.default_width, target.default_frac_width


def _int_kernel(weight: torch.Tensor, width: int, frac: int) -> np.ndarray:
    """(n_in, n_out) integer kernel of a Linear weight (out, in) or Conv2d weight (out, in, kh, kw)."""
    w = integer_quantize(weight.detach().double().reshape(weight.shape[0], -1), width, frac)
    return np.rint(w.numpy() * 2.0**frac).T.astype(np.int64)


def _bn_scale(bn: nn.Module) -> torch.Tensor:
    scale = torch.ones(bn.num_features, dtype=torch.float64)
    if bn.weight is not None:
        scale = bn.weight.detach().double()
    return scale / torch.sqrt(bn.running_var.detach().double() + bn.eps)


def _zero(**extra) -> dict:
    return {"luts": 0, "dsps": 0, "ffs": 0, "brams": 0, "ebops": 0, "latency_cycles": 0, "ii_cycles": 0, **extra}


def weighted_layer_hardware(kernel: np.ndarray, data_in_width: int, weight_width: int, in_bits: int,
                            out_width: int, rf: int, target: Target, pixels: int = 1) -> dict:
    """Hardware figures of one CMVM ``kernel`` (n_in, n_out) applied to ``pixels`` input vectors.

    Combines the formulas of this module as the module docstring says. For a convolution the one
    kernel matrix is reused over the ``pixels`` output positions, one per II (hls4ml io_stream
    style, parallelization factor 1: assumption): EBOPs and cycles scale with ``pixels``.
    """
    n_in, n_out = kernel.shape
    n_mult = (n_in * n_out) // rf
    dsps = hls4ml_dsps(n_in, n_out, weight_width, rf)
    acc = finn_acc_bits(n_in, weight_width, data_in_width)
    if target.strategy == "latency" and rf == 1:
        if dsps:  # DSP multiplies, then an adder tree over the nonzero products
            products = (kernel != 0).sum(axis=0)
            luts = hls4ml_surrogate_luts(int(np.maximum(products - 1, 0).sum()) * acc)
            most = int(products.max(initial=0))
            depth = math.ceil(math.log2(most)) if most > 1 else 0
        else:  # shift-add constant multiply
            luts = hls4ml_surrogate_luts(cmvm_adders_estimate(kernel) * acc)
            depth = cmvm_adder_depth(kernel)
        cycles = dense_latency_cycles(n_in, 1, target.clock_mhz, depth)
    else:
        simd = min(n_in, n_mult)
        pe = max(1, n_mult // simd)
        res = "dsp" if dsps else "lut"
        luts = finn_mvau_luts(pe, simd, n_in, weight_width, data_in_width, res_type=res)
        cycles = dense_latency_cycles(n_in, rf, target.clock_mhz)
    ii = rf * pixels
    return {
        "luts": luts, "dsps": dsps,
        "ffs": hls4ml_ffs(n_in * n_out, weight_width, n_out, out_width, target.strategy, target.io_parallel),
        "brams": hls4ml_brams(n_in, n_out, weight_width, rf, target.strategy),
        "ebops": ebops_dense(kernel, in_bits) * pixels,
        "latency_cycles": cycles + (pixels - 1) * rf, "ii_cycles": ii,
    }


def hardware_rows(graph, shapes: dict, target: Target = DEFAULT_TARGET) -> list[dict]:
    """One dict of hardware figures per module node of ``graph`` (called nodes only), in order.

    ``shapes`` maps node names to per-sample (input, output) shapes (:func:`layer_shapes`).
    """
    nodes = [n for n in graph.nodes() if n.name in shapes]
    rows: list[dict] = []
    for k, info in enumerate(nodes):
        op, m = info.op, info.module
        in_shape, out_shape = shapes[info.name]
        prev_op = nodes[k - 1].op if k else None
        nxt = next((n for n in nodes[k + 1:] if n.op in ("linear", "conv2d")), None)
        out_width = _weight_format(nxt.module, target)[0] if nxt is not None else target.default_width
        if op in ("linear", "conv2d"):
            a, w, f = _weight_format(m, target)
            weight = m.weight.detach().double()
            fold = nodes[k + 1] if k + 1 < len(nodes) and nodes[k + 1].op.startswith("batch_norm") else None
            if fold is not None:
                scale = _bn_scale(fold.module)
                weight = weight * scale.reshape(-1, *([1] * (weight.dim() - 1)))
            kernel = _int_kernel(weight, w, f)
            if op == "linear":
                n_in, n_out, pixels = m.in_features, m.out_features, 1
            else:
                n_in, n_out = kernel.shape
                pixels = int(np.prod(out_shape[1:]))
            rf = check_reuse_factor(n_in, n_out, target.rf(info.name), f"node {info.name}")
            in_bits = a - 1 if prev_op == "relu" else a
            row = weighted_layer_hardware(kernel, a, w, in_bits, out_width, rf, target, pixels)
            row["note"] = f"folds {fold.name}" if fold is not None else ""
        elif op.startswith("batch_norm"):
            prev = nodes[k - 1] if k else None
            if prev is not None and prev.op in ("linear", "conv2d"):
                row = _zero(note=f"folded into {prev.name}")
            else:
                n = int(np.prod(in_shape))
                b = target.default_width
                dsps = n if b >= DSP_MIN_WEIGHT_WIDTH else 0
                row = {"luts": hls4ml_surrogate_luts(n * (2 * b)) + (0 if dsps else n * b), "dsps": dsps,
                       "ffs": hls4ml_ffs(2 * n, b, n, out_width, target.strategy, target.io_parallel), "brams": 0,
                       "ebops": n * b * b + n * b,  # HGQ2 batch norm: Σ b_in·b_scale + mean(b_bias)·size
                       "latency_cycles": dense_latency_cycles(1, 1, target.clock_mhz, 1), "ii_cycles": 1,
                       "note": "standalone (not after a Linear)"}
        elif op == "relu":
            n = int(np.prod(out_shape))
            row = _zero(luts=n * out_width, ffs=n * out_width, latency_cycles=1, ii_cycles=1, note="")
        elif op == "max_pool2d":
            ks = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,) * 2
            comparisons = int(np.prod(out_shape)) * (ks[0] * ks[1] - 1)
            row = _zero(luts=comparisons * out_width, ffs=int(np.prod(out_shape)) * out_width,
                        ebops=int(np.prod(in_shape)) * out_width, latency_cycles=1, ii_cycles=1, note="")
        elif op in ("flatten", "identity", "dropout"):
            row = _zero(note="")
        else:
            raise LabError(f"hardware: no cost model for op {op!r} (node {info.name}); supported: linear, conv2d, "
                           "batch_norm1d, batch_norm2d, relu, max_pool2d, flatten, identity, dropout")
        row["latency_ns"] = row["latency_cycles"] * target.clock_ns
        row["lut_equivalent"] = lut_equivalent(row["luts"], row["dsps"])
        rows.append({"node": info.name, "op": op, **row})
    return rows


def hardware_total(rows: list[dict], target: Target = DEFAULT_TARGET) -> dict:
    """Model totals of :func:`hardware_rows`: sums, except ``ii_cycles`` (the largest layer II)."""
    total = {c: sum(r[c] for r in rows) for c in ("luts", "dsps", "ffs", "brams", "ebops", "latency_cycles")}
    total["ii_cycles"] = max((r["ii_cycles"] for r in rows), default=0)
    total["latency_ns"] = total["latency_cycles"] * target.clock_ns
    total["lut_equivalent"] = lut_equivalent(total["luts"], total["dsps"])
    return total


def hardware_table(model_or_graph, input_shape: tuple, target: Target = DEFAULT_TARGET) -> pd.DataFrame:
    """Estimated hardware per module node plus a ``total`` row, for ``target`` (see the module docstring).

    Columns: node, op, luts, dsps, ffs, brams, ebops, latency_cycles, ii_cycles, latency_ns,
    lut_equivalent, note (what was folded). ``attrs`` record the target and say "estimated".
    """
    graph = as_graph(model_or_graph)
    rows = hardware_rows(graph, layer_shapes(graph, tuple(input_shape), where="hardware"), target)
    rows.append({"node": "total", "op": "", **hardware_total(rows, target), "note": ""})
    table = pd.DataFrame(rows, columns=["node", "op", *HW_COLUMNS, "note"])
    table.attrs.update({"estimated": True, "target": target, "input_shape": tuple(input_shape)})
    return table


def utilization(total: Mapping, target: Target = DEFAULT_TARGET) -> dict:
    """Fraction of the device each estimated resource takes (``luts_fraction`` ...)."""
    return {f"{k}_fraction": total[k] / getattr(target, k) for k in ("luts", "dsps", "ffs", "brams")}


# ------------------------------------------------------------------ published synthesis, side by side
VU9P_LUTS, VU9P_DSPS = 1_182_240, 6_840
HGQ_TABLE_I = "HGQ paper (Sun et al., arXiv 2405.00645) Table I, Q6 row, VU9P @ 200 MHz (transcribed second-hand)"
LOGICNETS_SRC = "LogicNets (Umuroglu et al., FPL 2020) synthesized LUTs; config Xilinx/logicnets examples/jet_substructure/train.py"


def _q6_model(seed: int = 0):
    """The 16-64-32-32-5 ReLU MLP at a uniform 6-bit format (QKeras Q6-like), seeded random weights."""
    torch.manual_seed(seed)
    widths, layers = (16, 64, 32, 32, 5), []
    for i in range(4):
        layers += [nn.Linear(widths[i], widths[i + 1])] + ([nn.ReLU()] if i < 3 else [])
    cfg = {"name": "integer", "data_in_width": 6, "data_in_frac_width": 3, "weight_width": 6,
           "weight_frac_width": "auto", "bias_width": 6, "bias_frac_width": "auto"}
    return quantize_model(SeqModel(*layers), {"by": "type", "default": {"config": {"name": None}},
                                              "linear": {"config": cfg}})


HLS4ML_TUTORIAL = ("fastmachinelearning/hls4ml-tutorial, branch csee-e6868-spring2021: the stored cell outputs "
                   "of Vivado HLS 2019.2 C-synthesis (HLS estimates, not place-and-route) of the tutorial's trained "
                   "16-64-32-32-5 ReLU/softmax Keras model, hls4ml config_from_keras_model (Strategy Latency), "
                   "ap_fixed<16,6>, hls4ml default clock 5 ns")
HLS4ML_TUTORIAL_PART1 = (HLS4ML_TUTORIAL + "; part1_getting_started.ipynb @ 01e5b68ed3752d00853290d9f0b24d6c0e50c905, "
                         "read_vivado_report cell: RF 1, xczu3eg-sbva484-1-e")
HLS4ML_TUTORIAL_PART2B = (HLS4ML_TUTORIAL + "; part2b_advanced_config.ipynb @ a3022b1d548da5f6e1a7ce93ce9ff148ec6f2089, "
                          "printed dse_hls_results.json (key = ReuseFactor): xczu7ev-ffvc1156-2-e")
# (ReuseFactor, device) -> (DSP48E, LUT, FF, BestLatency cycles, IntervalMin), copied from the reports above.
HLS4ML_TUTORIAL_RESULTS = {
    (1, "xczu3eg"): (3915, 88289, 49449, 13, 1),
    (1, "xczu7ev"): (3917, 88335, 26905, 9, 1),
    (2, "xczu7ev"): (2133, 127780, 30582, 15, 2),
    (4, "xczu7ev"): (1069, 130912, 34329, 25, 4),
    (8, "xczu7ev"): (537, 124997, 42436, 45, 8),
    (16, "xczu7ev"): (271, 116058, 53911, 75, 16),
    (32, "xczu7ev"): (138, 115443, 60435, 135, 32),
}
# Device totals (LUT, DSP48E, FF, BRAM_18K) from the reports' "Available" rows.
HLS4ML_TUTORIAL_DEVICES = {"xczu3eg": (70_560, 360, 141_120, 432), "xczu7ev": (230_400, 1_728, 460_800, 624)}
# The DSE's RF 64, 128, 256, 512 and 1028 are left out: not valid for every layer (e.g. 32x5), so hls4ml
# replaced them by another reuse factor (the reports' intervals are 62, 123, 246, 14, 14): the configuration
# that was synthesized is not the one published.


def _float_jsc_model(seed: int = 0):
    """The 16-64-32-32-5 ReLU MLP left in float, so it is costed at hls4ml's default ap_fixed<16,6>."""
    torch.manual_seed(seed)
    widths, layers = (16, 64, 32, 32, 5), []
    for i in range(4):
        layers += [nn.Linear(widths[i], widths[i + 1])] + ([nn.ReLU()] if i < 3 else [])
    return SeqModel(*layers)


def _hls4ml_tutorial_rows(seed: int = 0) -> list[tuple]:
    """Rows for the hls4ml-tutorial C-synthesis reports (:data:`HLS4ML_TUTORIAL_RESULTS`)."""
    model, rows = _float_jsc_model(seed), []
    for (rf, device), (dsp, lut, ff, lat, ii) in HLS4ML_TUTORIAL_RESULTS.items():
        total = hardware_table(model, (16,), Target(device, *HLS4ML_TUTORIAL_DEVICES[device], clock_mhz=200.0, reuse_factor=rf)).iloc[-1]
        src = HLS4ML_TUTORIAL_PART1 if device == "xczu3eg" else HLS4ML_TUTORIAL_PART2B
        cfg = f"hls4ml-tutorial 16-64-32-32-5 ap_fixed<16,6> Latency RF {rf} {device} @ 5 ns (II {ii})"
        if rf == 1:
            dsp_why = ("hls4ml's rule puts every multiply of a >= 9-bit weight on a DSP (4,256); Vivado HLS dropped "
                       "the multiplies whose trained weight rounds to 0 or a power of two at ap_fixed<16,6> (our "
                       "weights: seeded random, not the tutorial's trained, L1-regularized ones)")
            lut_why = ("our LUTs are the adder trees only (0.55 LUT per adder bit); the report also counts the softmax "
                       "(not in our model: no cost model for it), the ReLUs' and the glue around 3,915 DSPs")
        else:
            dsp_why = ("n_in·n_out/RF is what the layers use: part2's report of RF 2 on xczu3eg (same model) lists "
                       "2,128 DSPs in the layer instances plus 5 at the top level, outside the layers; the "
                       "published figure is ours + 5 at every RF from 2 to 32")
            lut_why = ("our RF > 1 LUTs are FINN's MVAU formula for a time-shared multiplier array (above the RF-1 "
                       "adder-tree figure at RF 2, then falling with RF); hls4ml's Latency strategy at RF > 1 keeps all weights in logic and multiplexes them, so "
                       "its LUTs stay near 110-130k from RF 2 to 32")
        ff_why = ("hls4ml's VivadoFFEstimator (n_w·b_w + n_out·b_out, the same for every RF; its authors call it "
                  "inaccurate); Vivado HLS folds the constant weights into logic (no weight registers) and adds "
                  "pipeline registers as RF grows")
        lat_why = ("our cycles: per layer (RF − 1) + 1 multiply cycle + adder levels at 0.86 ns, 1 per ReLU, no "
                   "softmax; Vivado HLS schedules by the device's speed: the same RF-1 design takes 13 cycles on the "
                   "-1 xczu3eg and 9 on the -2 xczu7ev")
        rows += [
            (src, cfg, "dsps", dsp, int(total["dsps"]), dsp_why),
            (src, cfg, "luts", lut, int(total["luts"]), lut_why),
            (src, cfg, "ffs", ff, int(total["ffs"]), ff_why),
            (src, cfg, "latency_cycles", lat, int(total["latency_cycles"]), lat_why),
        ]
    return rows


def published_comparison(seed: int = 0) -> pd.DataFrame:
    """Published synthesis -> this module's estimate -> ratio, for published jet-tagger configurations.

    Rows: HGQ Table I's Q6 model (QKeras, uniform 6-bit, 16-64-32-32-5, VU9P, 200 MHz, hls4ml
    Latency strategy, RF 1; LUT and DSP absolute counts derived from the table's percentages and the
    VU9P totals) against :func:`hardware_table` of the same architecture at 6 bits (seeded random
    weights, weight frac width "auto" so the 6 bits are used as a trained model uses them); and
    LogicNets' JSC-S/M/L synthesized LUTs against :func:`logicnets_model_luts` (LogicNets' own
    ``LUTCost`` model, reimplemented here); and the hls4ml tutorial's Vivado HLS C-synthesis reports of
    its 16-64-32-32-5 model at ap_fixed<16,6>, Latency strategy, 5 ns, reuse factors 1-32 on two Zynq
    UltraScale+ parts (:data:`HLS4ML_TUTORIAL_RESULTS`; HLS estimates, not place-and-route) against
    :func:`hardware_table` of the float model (costed at ap_fixed<16,6>, seeded random weights) for the
    same reuse factor. ``ratio = estimate / published``.
    """
    total = hardware_table(_q6_model(seed), (16,)).iloc[-1]
    q6_luts, q6_dsps = round(0.0336 * VU9P_LUTS), round(0.018 * VU9P_DSPS)
    rows = [
        (HGQ_TABLE_I, "Q6 16-64-32-32-5", "luts", q6_luts, int(total["luts"]),
         "random (not trained) weights; BN and bias of the trained model absent; hls4ml's CMVM is Vivado's, "
         "not a shared-adder graph, and it also spends LUTs on the 123 DSP multiplies' glue"),
        (HGQ_TABLE_I, "Q6 16-64-32-32-5", "dsps", q6_dsps, int(total["dsps"]),
         "hls4ml's rule sends < 9-bit weights to LUTs (0 DSPs); Vivado still put some 6-bit x wide-activation "
         "multiplies on DSPs"),
        (HGQ_TABLE_I, "Q6 16-64-32-32-5", "latency_cycles", 11, int(total["latency_cycles"]),
         "cycle model: per dense layer 1 multiply cycle + ceil(log2 terms) adder levels at 0.86 ns (up to 2 "
         "cycles at 5 ns), 1 per ReLU; Vivado packs more adder levels per cycle"),
        (HGQ_TABLE_I, "Q6 16-64-32-32-5", "lut_equivalent", q6_luts + DSP_LUT_EQUIVALENT * q6_dsps,
         int(total["lut_equivalent"]), "the LUT and DSP gaps above combined (55 LUT per DSP)"),
    ]
    synthesized = {"jsc-s": 232, "jsc-m": 14_576, "jsc-l": 38_925}
    for name, luts in synthesized.items():
        rows.append((LOGICNETS_SRC, f"LogicNets {name.upper()}", "luts", luts,
                     int(round(logicnets_model_luts(LOGICNETS_JSC[name]))),
                     "LUTCost is an upper bound per neuron truth table; synthesis shares and simplifies logic, "
                     "more so as fan-in bits grow"))
    rows += _hls4ml_tutorial_rows(seed)
    df = pd.DataFrame(rows, columns=["source", "configuration", "metric", "published", "estimate", "explanation"])
    df.insert(5, "ratio", df["estimate"] / df["published"])
    df.attrs["estimated"] = True
    return df
