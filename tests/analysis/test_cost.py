"""Cost analysis against hand counts and torch.utils.flop_counter; average bitwidth; latency."""

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lab_utils.analysis.cost import average_bitwidth, cost_summary, cost_table, latency
from lab_utils.errors import LabError
from lab_utils.models import SeqModel, build_model
from lab_utils.passes.graph import trace
from lab_utils.passes.quantize import lab_config, quantize_model

ALL_8_4 = {"by": "type", "default": {"config": {"name": None}}, "linear": {"config": lab_config()},
           "conv2d": {"config": lab_config()}}


def rows(table):
    return {r["node"]: r for r in table.to_dict("records")}


def test_jsc_tiny_8_4_hand_counts():
    t = rows(cost_table(quantize_model(build_model("jsc-tiny"), ALL_8_4), (16,)))
    # BN(16): 2 FLOPs/element; bit-ops 16·(32·32 + 32); size (weight, bias, mean, var)·32
    assert (t["seq_blocks_0"]["params"], t["seq_blocks_0"]["flops"], t["seq_blocks_0"]["bitops"],
            t["seq_blocks_0"]["size_bits"]) == (32, 32, 16 * 1056, 64 * 32)
    assert (t["seq_blocks_1"]["flops"], t["seq_blocks_1"]["bitops"]) == (16, 16 * 32)
    # Linear(16, 5) at 8/4: MACs 80; FLOPs 2·80 + 5; bit-ops 80·8·8 + 5·8; size 80·8 + 5·8
    lin = t["seq_blocks_2"]
    assert (lin["params"], lin["macs"], lin["flops"], lin["bitops"], lin["size_bits"]) == (85, 80, 165, 5160, 680)
    assert (lin["data_in_width"], lin["weight_width"], lin["bias_width"]) == (8, 8, 8)
    assert (t["seq_blocks_3"]["flops"], t["seq_blocks_3"]["bitops"]) == (5, 160)
    total = t["total"]
    assert (total["params"], total["macs"], total["flops"], total["bitops"], total["size_bits"], total["size_bytes"]) \
        == (117, 80, 218, 22728, 2728, 341.0)


def test_batch_size_scales_compute_not_size_and_lab_report_convention():
    q = quantize_model(build_model("jsc-tiny"), ALL_8_4)
    s = cost_summary(q, (16,), batch_size=8)
    assert (s["macs"], s["flops"], s["bitops"], s["size_bits"]) == (640, 1744, 8 * 22728, 2728)
    assert (s["average_bitwidth"], s["memory_density"]) == (8.0, 4.0)
    report = rows(cost_table(q, (16,), convention="lab-report"))
    # per output feature: 16·(8·8) + 15·(8·8) + 8 = 1992, five features
    assert report["seq_blocks_2"]["bitops"] == 5 * 1992
    assert report["seq_blocks_0"]["bitops"] == 16 * 1056  # other layers unchanged


def test_jsc_three_linear_layers_float_hand_counts():
    t = cost_table(build_model("jsc-three-linear-layers"), (16,), batch_size=2)
    total = rows(t)["total"]
    macs = 16 * 16 + 16 * 16 + 16 * 5
    flops = 2 * macs + (16 + 16 + 5) + 2 * 16 + (16 + 16 + 16 + 5)
    assert total["params"] == 661
    assert total["macs"] == 2 * macs and total["flops"] == 2 * flops
    assert total["size_bits"] == (629 + 64) * 32
    assert rows(t)["seq_blocks_4"]["bitops"] == 2 * (256 * 32 * 32 + 16 * 32)
    assert list(t["node"]) == [f"seq_blocks_{i}" for i in range(8)] + ["total"]


def _conv_net():
    torch.manual_seed(0)
    return SeqModel(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(64, 10))


def test_small_conv_net_hand_counts_float_and_quantized():
    t = rows(cost_table(_conv_net(), (3, 8, 8)))
    # conv out 4×8×8 = 256 elements, 27 MACs each; BN and ReLU on 256; pool 64 outputs × 3 comparisons
    assert (t["seq_blocks_0"]["macs"], t["seq_blocks_0"]["flops"]) == (6912, 2 * 6912 + 256)
    assert (t["seq_blocks_1"]["flops"], t["seq_blocks_2"]["flops"], t["seq_blocks_3"]["flops"]) == (512, 256, 192)
    assert t["seq_blocks_4"]["flops"] == 0
    assert (t["seq_blocks_5"]["macs"], t["seq_blocks_5"]["flops"]) == (640, 1290)
    assert t["total"]["flops"] == 14080 + 512 + 256 + 192 + 1290
    assert (t["total"]["params"], t["total"]["size_bits"]) == (112 + 8 + 650, (112 + 16 + 650) * 32)
    cfg = {"by": "type", "conv2d": {"config": lab_config((8, 4), (4, 2), (8, 4))}}
    tq = rows(cost_table(quantize_model(_conv_net(), cfg), (3, 8, 8)))
    assert tq["seq_blocks_0"]["bitops"] == 6912 * 8 * 4 + 256 * 8
    assert tq["seq_blocks_0"]["size_bits"] == 108 * 4 + 4 * 8
    assert tq["seq_blocks_5"]["bitops"] == 640 * 32 * 32 + 10 * 32  # still float


@pytest.mark.parametrize("layer, shape", [
    (nn.Linear(16, 5), (7, 16)),
    (nn.Linear(9, 4, bias=False), (3, 9)),
    (nn.Conv2d(3, 6, 3, padding=1), (2, 3, 8, 8)),
    (nn.Conv2d(4, 6, 3, stride=2, groups=2), (3, 4, 9, 9)),
    (nn.Conv2d(2, 2, (1, 3), bias=False), (1, 2, 5, 5)),
])
def test_flops_agree_with_torch_flop_counter(layer, shape):
    model = SeqModel(layer)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = model(torch.zeros(shape))
    row = rows(cost_table(model, shape[1:], batch_size=shape[0]))["seq_blocks_0"]
    bias_adds = out.numel() if layer.bias is not None else 0  # FlopCounterMode leaves the bias out
    assert row["flops"] - bias_adds == counter.get_total_flops() == 2 * row["macs"]


def test_average_bitwidth_mase_formula():
    model = build_model("jsc-three-linear-layers")
    assert average_bitwidth(model) == 32.0  # nothing quantized
    args = {"by": "name", "seq_blocks_2": {"config": lab_config((8, 4), (4, 2), (8, 4))},
            "seq_blocks_4": {"config": lab_config((8, 4), (8, 4), (8, 4))},
            "seq_blocks_6": {"config": {**lab_config((8, 4), (2, 1), (8, 4)), "bypass": True}}}
    q = quantize_model(model, args)
    # weights only: 256·4 + 256·8 + 80·2 (a bypassed layer counts at its config width, as in MASE)
    assert average_bitwidth(q) == pytest.approx((256 * 4 + 256 * 8 + 80 * 2) / 592)
    partial = quantize_model(model, {"by": "name", "seq_blocks_2": {"config": lab_config((8, 4), (4, 2), (8, 4))}})
    assert average_bitwidth(partial) == 4.0  # MASE ignores float layers
    assert average_bitwidth(partial, include_float=True) == pytest.approx((256 * 4 + 336 * 32) / 592)
    bypass_row = rows(cost_table(q, (16,)))["seq_blocks_6"]
    assert bypass_row["weight_width"] == 32  # but it computes in float


def test_graph_and_model_give_the_same_table_and_errors():
    model = build_model("jsc-toy")
    assert cost_table(model, (16,)).equals(cost_table(trace(model), (16,)))
    with pytest.raises(LabError, match="convention"):
        cost_table(model, (16,), convention="mase")
    with pytest.raises(LabError, match="batch_size"):
        cost_table(model, (16,), batch_size=0)
    with pytest.raises(LabError, match="input_shape"):
        cost_table(model, (12,))
    with pytest.raises(LabError, match="tanh"):
        cost_table(SeqModel(nn.Linear(3, 3), nn.Tanh()), (3,))


def test_latency_reports_median_iqr_threads():
    model = build_model("jsc-tiny")
    model.train()
    out = latency(model, torch.randn(64, 16), min_run_time=0.02, num_threads=1)
    assert set(out) >= {"latency_ms", "latency_iqr_ms", "latency_ms_per_sample", "threads", "batch_size"}
    assert out["threads"] == 1 and out["batch_size"] == 64 and out["blocks"] >= 5
    assert out["latency_ms"] > 0 and out["latency_iqr_ms"] >= 0
    assert out["latency_ms_per_sample"] == pytest.approx(out["latency_ms"] / 64)
    assert model.training  # mode restored


def test_lab_report_transcriptions_against_hand_counts():
    from lab_utils.analysis.cost import report_bit_wise_op, report_linear_bitops, report_relu_flops
    # the report's per-output count: K·(a·w) + (K−1)·(a·w) + bias width; here K=16, a=8, w=4, bias 8, 5 outputs
    assert report_linear_bitops(16, 5, 8, 4, 8) == 5 * (16 * 32 + 15 * 32 + 8)
    assert report_linear_bitops(16, 5, 8, 4, 8, has_bias=False) == 5 * (16 * 32 + 15 * 32)
    q = quantize_model(build_model("jsc-tiny"), ALL_8_4)
    # bit_wise_op(model, input_res, data, weight, bias, batch): integer Linear layers only, times the batch
    assert report_bit_wise_op(q, (16,), 8, 4, 8, 3) == 3 * 5 * (16 * 32 + 15 * 32 + 8)
    assert report_bit_wise_op(build_model("jsc-tiny"), (16,), 8, 4, 8, 3) == 0  # no integer layer: nothing counted
    with pytest.raises(TypeError, match="batch_size"):
        report_bit_wise_op(q, (16,), 8, 4, 8)  # the report's first call, without the batch size
    assert report_relu_flops(7) == 7 * (16 + 5) and report_relu_flops(2, (10,)) == 20
