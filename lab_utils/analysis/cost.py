"""Cost analysis of a (float or quantized) graph: params, MACs, FLOPs, bit-ops, size, latency.

:func:`cost_table` runs the model once on a one-sample zero input with forward hooks to learn each
layer's input and output shapes, then counts every ``call_module`` node with the rules of
:func:`count_layer` (written there once) for the requested batch size: every count is linear in
the batch. :func:`cost_summary` adds MASE's ``average_bitwidth`` and ``memory_density``.

Bit-ops and size are the hardware proxies of a quantized model. :func:`latency` measures wall
time, but fake quantization does not make CPU inference faster (the arithmetic stays float32,
plus the quantize ops), so latency cannot show the benefit of narrow widths.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn
from torch.utils import benchmark

from lab_utils.analysis import hardware
from lab_utils.errors import LabError
from lab_utils.passes.graph import as_graph, layer_shapes
from lab_utils.passes.quantize import Conv2dInteger, LinearInteger

FLOAT_WIDTH = 32
CONVENTIONS = ("standard", "lab-report")
COLUMNS = ("node", "op", "params", "macs", "flops", "bitops", "size_bits", "size_bytes",
           "data_in_width", "weight_width", "bias_width")
ZERO_COST = ("flatten", "identity", "dropout")
MIN_BLOCKS = 5
SHAPE_FUNCTIONS = ("flatten", "view", "reshape", "size", "getattr", "getitem")


def layer_widths(module: nn.Module) -> tuple[int, int | None, int | None]:
    """(data_in, weight, bias) widths a layer computes with: its integer config, else 32 (float).

    A bypassed integer layer computes in float, so it counts at 32 bits here (unlike MASE's
    ``average_bitwidth``, which still reads its config).
    """
    has_w = getattr(module, "weight", None) is not None
    has_b = getattr(module, "bias", None) is not None
    if isinstance(module, (LinearInteger, Conv2dInteger)) and not module.config["bypass"]:
        c = module.config
        return c["data_in_width"], c["weight_width"], c["bias_width"] if has_b else None
    return FLOAT_WIDTH, FLOAT_WIDTH if has_w else None, FLOAT_WIDTH if has_b else None


def count_layer(op: str, module: nn.Module, in_shape: tuple, out_shape: tuple, batch_size: int,
                convention: str = "standard") -> dict:
    """Costs of one layer call. ``in_shape`` / ``out_shape`` are per sample; ``B`` = batch size.

    Counting rules (the project's single definition; the README glossary repeats them):

    - **MACs** (multiply-accumulates): Linear ``B·in·out`` (per row of the input);
      Conv2d ``B·out_elems·kh·kw·cin/groups``; 0 for every other layer.
    - **FLOPs**: ``2·MACs`` + the bias adds (``B·out`` elements for Linear / Conv2d); inference
      BatchNorm ``2`` per element (scale and shift); ReLU ``1`` per element; MaxPool2d
      ``kh·kw − 1`` comparisons per output element; flatten / identity / dropout 0.
      (``torch.utils.flop_counter`` counts the same ``2·MACs`` without the bias.)
    - **bit-ops**: ``MACs·data_in_width·weight_width + bias_adds·bias_width``. Float layers count at
      32 bits: BatchNorm ``elems·(32·32 + 32)`` (a multiply and an add), ReLU ``elems·32``,
      MaxPool2d ``comparisons·32``. Convention ``"lab-report"`` replaces the Linear / Conv2d rule
      by the report's, per output element with ``K`` inputs: ``K·(a·w) + (K−1)·(a·w) + b``.
    - **size** (bits): ``weights·weight_width + bias·bias_width``; BatchNorm weight, bias,
      running mean and running var at 32 bits (``num_batches_tracked`` is not a model value).
    - **params**: trainable parameters (BatchNorm: weight and bias).
    """
    if convention not in CONVENTIONS:
        raise LabError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    a, w, b = layer_widths(module)
    params = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
    elems_in = batch_size * _numel(in_shape)
    elems_out = batch_size * _numel(out_shape)
    macs = flops = bitops = size_bits = 0
    if op in ("linear", "conv2d"):
        macs, flops, bitops, size_bits = _weighted_layer(op, module, elems_out, (a, w, b), convention)
    elif op in ("batch_norm1d", "batch_norm2d"):
        flops = 2 * elems_in
        bitops = elems_in * (FLOAT_WIDTH * FLOAT_WIDTH + FLOAT_WIDTH)
        tensors = [module.weight, module.bias, module.running_mean, module.running_var]
        size_bits = sum(t.numel() for t in tensors if t is not None) * FLOAT_WIDTH
    elif op == "relu":
        flops = elems_in
        bitops = elems_in * FLOAT_WIDTH
    elif op == "max_pool2d":
        kh, kw = (module.kernel_size,) * 2 if isinstance(module.kernel_size, int) else module.kernel_size
        flops = elems_out * (kh * kw - 1)
        bitops = flops * FLOAT_WIDTH
    elif op in ZERO_COST:
        pass
    else:
        raise LabError(f"cost: no counting rule for op {op!r}; supported: linear, conv2d, batch_norm1d, "
                       f"batch_norm2d, relu, max_pool2d, {', '.join(ZERO_COST)}")
    return {"params": params, "macs": macs, "flops": flops, "bitops": bitops, "size_bits": size_bits,
            "size_bytes": size_bits / 8, "data_in_width": a, "weight_width": w, "bias_width": b}


def _weighted_layer(op: str, module: nn.Module, elems_out: int, widths: tuple, convention: str) -> tuple:
    """(macs, flops, bitops, size_bits) of a Linear / Conv2d call with ``elems_out`` outputs (rules above)."""
    a, w, b = widths
    if op == "linear":
        fan_in = module.in_features
    else:
        kh, kw = module.kernel_size
        fan_in = kh * kw * module.in_channels // module.groups
    macs = elems_out * fan_in
    bias_adds = elems_out if module.bias is not None else 0
    flops = 2 * macs + bias_adds
    if convention == "standard":
        bitops = macs * a * w + bias_adds * (b or 0)
    else:
        bitops = report_linear_bitops(fan_in, elems_out, a, w, b, module.bias is not None)
    size_bits = module.weight.numel() * w + (module.bias.numel() * b if module.bias is not None else 0)
    return macs, flops, bitops, size_bits


def report_linear_bitops(in_features: int, outputs: int, data_bit_width: int, weight_bit_width: int,
                         bias_bit_width, has_bias: bool = True) -> int:
    """The lab report's ``calculate_bitwise_ops_for_linear``, transcribed (``outputs`` = batch · out_features).

    Per output element: ``in·(a·w)`` for the multiplications, ``(in−1)·(a·w)`` for the additions
    (the report charges an addition the product of the two widths too) and ``bias_bit_width`` for
    the bias. The standard count (:func:`count_layer`) charges ``a·w`` per MAC only, so for wide
    layers the report's count is about twice the standard one.
    """
    per_out = in_features * data_bit_width * weight_bit_width + (in_features - 1) * data_bit_width * weight_bit_width
    return outputs * (per_out + ((bias_bit_width or 0) if has_bias else 0))


def report_bit_wise_op(model, input_res, data_width, weight_width, bias_width, batch_size) -> int:
    """The lab report's ``bit_wise_op(model, input_res, data_width, weight_width, bias_width, batch_size)``,
    transcribed with its signature, so the report's two calls can be replayed exactly: over integer
    Linear layers only (BatchNorm and ReLU cost nothing), with the widths *passed in* rather than
    read from each layer. ``input_res`` is unused, as in the report.
    """
    total = 0
    for m in model.modules():
        if isinstance(m, LinearInteger):
            total += report_linear_bitops(m.in_features, m.out_features * batch_size, data_width, weight_width,
                                          bias_width, m.bias is not None)
    return total


def report_relu_flops(batch_size: int, features: tuple[int, ...] = (16, 5)) -> int:
    """The lab report's ReLU FLOPs: ``calculate_flop_for_relu(node, 16, B) + calculate_flop_for_relu(node, 5, B)``
    called once after the node loop, on whatever ``node`` the loop ended with, with the feature counts
    hard-coded (16 and 5 for jsc-tiny): ``B·Σ features`` whatever the model's ReLUs really are."""
    return sum(batch_size * f for f in features)


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def cost_table(model_or_graph, input_shape: tuple, batch_size: int = 1, convention: str = "standard",
               target: hardware.Target | None = hardware.DEFAULT_TARGET) -> pd.DataFrame:
    """One row per module node (rules in :func:`count_layer`) plus a ``total`` row.

    After the counting columns come the **estimated** FPGA columns of :mod:`lab_utils.analysis.hardware`
    for ``target`` (``None``: no FPGA columns, and none of their cost) (default: VU9P, 200 MHz, hls4ml Latency, RF 1, io_parallel): ``luts``, ``dsps``,
    ``ffs``, ``brams``, ``ebops``, ``latency_cycles``, ``ii_cycles``, ``latency_ns``,
    ``lut_equivalent``; they are per design and per sample (they do not scale with ``batch_size``).

    ``input_shape`` is per sample, e.g. ``(16,)`` for JSC or ``(3, 32, 32)`` for CIFAR-10. Widths
    are nullable integers (``<NA>`` where a layer has no weight or bias).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise LabError(f"cost: batch_size must be a whole number >= 1, got {batch_size!r}")
    if convention not in CONVENTIONS:
        raise LabError(f"cost: convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    if not isinstance(input_shape, (tuple, list)) or not all(isinstance(d, int) and d > 0 for d in input_shape):
        raise LabError(f"cost: input_shape must be a tuple of positive whole numbers per sample, got {input_shape!r}")
    graph = as_graph(model_or_graph)
    for node in graph.model.graph.nodes:
        if node.op in ("call_function", "call_method") and getattr(node.target, "__name__", node.target) \
                not in SHAPE_FUNCTIONS:
            raise LabError(f"cost: node {node.name} is a functional op ({node.target}) with no counting rule; "
                           "use module layers (nn.ReLU, nn.Flatten, ...)")
    shapes = layer_shapes(graph, tuple(input_shape), where="cost")
    rows = []
    for info in graph.nodes():
        if info.name not in shapes:  # never called on this input
            continue
        in_shape, out_shape = shapes[info.name]
        row = count_layer(info.op, info.module, in_shape, out_shape, batch_size, convention)
        rows.append({"node": info.name, "op": info.op, **row})
    hw_columns = hardware.HW_COLUMNS if target is not None else ()
    total = {c: sum(r[c] for r in rows) for c in ("params", "macs", "flops", "bitops", "size_bits")}
    total["size_bytes"] = total["size_bits"] / 8
    if target is not None:
        hw = hardware.hardware_rows(graph, shapes, target)
        for row, h in zip(rows, hw):
            row.update({c: h[c] for c in hw_columns})
        total.update({c: v for c, v in hardware.hardware_total(hw, target).items() if c in hw_columns})
    rows.append({"node": "total", "op": "", **total, "data_in_width": None, "weight_width": None, "bias_width": None})
    table = pd.DataFrame(rows, columns=list(COLUMNS) + list(hw_columns))
    for c in ("params", "macs", "flops", "bitops", "size_bits"):
        table[c] = table[c].astype("int64")
    for c in ("data_in_width", "weight_width", "bias_width"):
        table[c] = table[c].astype("Int64")
    for c in hw_columns:
        if c != "latency_ns":
            table[c] = table[c].astype("int64")
    table.attrs.update({"input_shape": tuple(input_shape), "batch_size": batch_size, "convention": convention,
                        "hardware_target": target, "hardware_estimated": target is not None})
    return table


def average_bitwidth(model_or_graph, include_float: bool = False) -> float:
    """MASE's ``average_bitwidth``: ``Σ weights·weight_width / Σ weights`` over integer layers.

    Weight-only (no bias, no activations) and only layers carrying a quantization config, a
    bypassed one included at its configured width; 32 when none is quantized.
    ``include_float=True`` also counts float Linear / Conv2d weights at 32 bits, which MASE's
    formula ignores.
    """
    graph = as_graph(model_or_graph)
    bits = count = 0
    for info in graph.nodes():
        m = info.module
        if isinstance(m, (LinearInteger, Conv2dInteger)):
            bits += m.weight.numel() * m.config["weight_width"]
            count += m.weight.numel()
        elif include_float and info.op in ("linear", "conv2d"):
            bits += m.weight.numel() * FLOAT_WIDTH
            count += m.weight.numel()
    return bits / count if count else float(FLOAT_WIDTH)


def cost_summary(model_or_graph, input_shape: tuple, batch_size: int = 1, convention: str = "standard",
                 target: hardware.Target | None = hardware.DEFAULT_TARGET) -> dict:
    """Totals of :func:`cost_table` plus ``average_bitwidth`` and ``memory_density = 32 / average``.

    The estimated hardware totals (``luts`` ... ``lut_equivalent``, for ``target``) are included;
    ``target=None`` leaves them out (and skips their cost: a search that asks for no FPGA metric).
    """
    graph = as_graph(model_or_graph)
    total = cost_table(graph, input_shape, batch_size, convention, target).iloc[-1]
    avg = average_bitwidth(graph)
    out = {c: int(total[c]) for c in ("params", "macs", "flops", "bitops", "size_bits")}
    out["size_bytes"] = float(total["size_bytes"])
    out["average_bitwidth"] = avg
    out["memory_density"] = FLOAT_WIDTH / avg
    if target is not None:
        out.update({c: (float(total[c]) if c == "latency_ns" else int(total[c])) for c in hardware.HW_COLUMNS})
    return out


def latency(model: nn.Module, x: torch.Tensor, min_run_time: float = 0.2, num_threads: int | None = 1) -> dict:
    """Inference time of ``model(x)`` with ``torch.utils.benchmark`` (eval mode, inference mode).

    Three warm-up calls, then ``Timer.blocked_autorange`` until at least 5 timed blocks (about
    ``min_run_time`` seconds of timing in all): the median and the inter-quartile range over the
    blocks, in ms per batch, plus ms per sample. ``num_threads`` (recorded) defaults to 1, the
    benchmark Timer's own default: on a shared CPU, multi-threaded timing of small models measures
    the scheduler (jsc-tiny, batch 512: 0.1 ms on 1 thread, 24 ms on 2 threads under load);
    ``None`` uses torch's current thread count. Fake quantization does not make CPU
    inference faster (it adds quantize ops to float arithmetic): use bit-ops and size as the
    hardware proxies of narrow widths.
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[0] < 1:
        raise LabError("latency: x must be a tensor batch with at least one sample")
    if not min_run_time > 0:
        raise LabError(f"latency: min_run_time must be > 0 seconds, got {min_run_time!r}")
    threads = int(num_threads or torch.get_num_threads())
    was_training = model.training
    model.eval()

    def run():
        with torch.inference_mode():
            model(x)

    try:
        for _ in range(3):
            run()
        timer = benchmark.Timer(stmt="run()", globals={"run": run}, num_threads=threads)
        # One blocked_autorange often yields a single long block (no IQR): gather >= 5 blocks
        # from shorter runs and merge them.
        parts = []
        while sum(len(p.times) for p in parts) < MIN_BLOCKS:
            parts.append(timer.blocked_autorange(min_run_time=min_run_time / MIN_BLOCKS))
        m = benchmark.Measurement.merge(parts)[0]
    finally:
        model.train(was_training)
    batch = int(x.shape[0])
    return {"latency_ms": m.median * 1e3, "latency_iqr_ms": m.iqr * 1e3, "latency_ms_per_sample": m.median * 1e3 / batch,
            "threads": threads, "batch_size": batch, "blocks": len(m.times)}
