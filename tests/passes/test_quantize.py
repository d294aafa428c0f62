"""Quantizer arithmetic against hand-computed values and a naive per-element reference; the pass."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lab_utils.errors import LabError
from lab_utils.models import SeqModel, build_model
from lab_utils.passes.graph import trace
from lab_utils.passes.quantize import (
    Conv2dInteger,
    LinearInteger,
    auto_frac_width,
    integer_quantize,
    lab_config,
    quantize_model,
    quantize_transform_pass,
)


def naive_quantize(x: torch.Tensor, width: int, frac: int | None = None, signed: bool = True) -> torch.Tensor:
    """Element by element in Python doubles; Python's round() is round-half-to-even."""
    frac = width // 2 if frac is None else frac
    lo, hi = (-(2 ** (width - 1)), 2 ** (width - 1) - 1) if signed else (0, 2**width - 1)
    out = [max(lo, min(hi, round(v * 2.0**frac))) / 2.0**frac for v in x.flatten().tolist()]
    return torch.tensor(out, dtype=torch.float32).reshape(x.shape)


def q(values, *args, **kwargs):
    return integer_quantize(torch.tensor(values, dtype=torch.float32), *args, **kwargs).tolist()


def test_ties_round_half_to_even():
    # (8, 4): step 1/16; x*16 = 0.5, 1.5, 2.5, -0.5, -1.5 -> 0, 2, 2, -0, -2
    assert q([0.03125, 0.09375, 0.15625, -0.03125, -0.09375], 8, 4) == [0.0, 0.125, 0.125, 0.0, -0.125]


def test_both_clamp_edges():
    # (8, 4): range [-8, 7.9375]
    assert q([100.0, -100.0, 7.9375, -8.0, 7.97, -8.03], 8, 4) == [7.9375, -8.0, 7.9375, -8.0, 7.9375, -8.0]
    # (4, 2): range [-2, 1.75]
    assert q([1.9, -2.2, 1.6], 4, 2) == [1.75, -2.0, 1.5]


def test_frac_width_larger_than_width():
    # (4, 6): integers [-8, 7] on the grid 1/64: range [-0.125, 0.109375]
    assert q([0.05, 1.0, -1.0, -0.03], 4, 6) == [0.046875, 0.109375, -0.125, -0.03125]


def test_frac_width_none_and_na_mean_width_half():
    x = torch.tensor([0.3, -1.37, 5.55, 100.0])
    assert torch.equal(integer_quantize(x, 8), integer_quantize(x, 8, 4))
    assert torch.equal(integer_quantize(x, 5, "NA"), integer_quantize(x, 5, 2))  # 5 // 2 = 2


def test_unsigned_range():
    assert q([-1.0, 10.0, 3.2], 4, 1, is_signed=False) == [0.0, 7.5, 3.0]


def test_plain_ints_pass_through():
    assert integer_quantize(7, 4, 2) == 7


def test_against_naive_reference_on_random_values():
    x = torch.randn(500) * 6
    for width, frac in [(16, 8), (8, 6), (8, 4), (4, 2), (3, 5), (2, 0), (6, -1)]:
        assert torch.equal(integer_quantize(x, width, frac), naive_quantize(x, width, frac)), (width, frac)


def test_straight_through_gradient_even_outside_the_range():
    x = torch.tensor([0.1, 5.0, -9.0, 0.26], requires_grad=True)
    y = integer_quantize(x, 4, 2)
    assert y.tolist() == [0.0, 1.75, -2.0, 0.25]
    (y * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_auto_frac_width_just_fits():
    assert auto_frac_width(3.0, 8) == 5  # 3*32 = 96 <= 127 < 3*64
    assert auto_frac_width(0.5, 8) == 7  # 0.5*128 = 64 <= 127 < 128
    assert auto_frac_width(127.0, 8) == 0
    assert auto_frac_width(200.0, 8) == -1
    assert auto_frac_width(0.0, 6) == 3


def test_linear_integer_matches_naive_reference_and_caches():
    torch.manual_seed(0)
    lin = nn.Linear(6, 3)
    cfg = lab_config((8, 4), (4, 2), (6, 3))
    qlin = LinearInteger.from_float(lin, cfg)
    x = torch.randn(10, 6) * 3
    ref = F.linear(naive_quantize(x, 8, 4), naive_quantize(lin.weight.detach(), 4, 2),
                   naive_quantize(lin.bias.detach(), 6, 3))
    with torch.no_grad():
        assert torch.equal(qlin(x), ref)
        w1, _ = qlin.quantized_params()
        w2, _ = qlin.quantized_params()
        assert w1 is w2  # cached, not recomputed
        qlin.weight.add_(0.3)  # an in-place update (like an optimizer step) invalidates the cache
        w3, _ = qlin.quantized_params()
        assert w3 is not w1
        ref2 = F.linear(naive_quantize(x, 8, 4), naive_quantize(qlin.weight, 4, 2), naive_quantize(qlin.bias, 6, 3))
        assert torch.equal(qlin(x), ref2)
    with torch.inference_mode():
        assert torch.equal(qlin(x), ref2)
    qlin.config = {**qlin.config, "weight_width": 8, "weight_frac_width": 4}  # config change invalidates too
    with torch.no_grad():
        ref3 = F.linear(naive_quantize(x, 8, 4), naive_quantize(qlin.weight, 8, 4), naive_quantize(qlin.bias, 6, 3))
        assert torch.equal(qlin(x), ref3)


def test_linear_integer_trains_with_straight_through_gradient():
    torch.manual_seed(1)
    qlin = LinearInteger.from_float(nn.Linear(4, 2), lab_config((8, 4), (8, 4), (8, 4)))
    x = torch.randn(5, 4)
    out = qlin(x)
    out.sum().backward()
    # d(sum)/dW = sum over rows of q(x) (STE through the weight quantizer)
    assert torch.allclose(qlin.weight.grad, naive_quantize(x, 8, 4).sum(0).expand(2, 4))
    before = qlin.weight.detach().clone()
    with torch.no_grad():  # an SGD step, in place
        qlin.weight.sub_(0.1 * qlin.weight.grad)
    assert not torch.equal(before, qlin.weight)
    with torch.no_grad():  # the cache sees the new weights
        assert torch.equal(qlin(x), F.linear(naive_quantize(x, 8, 4), naive_quantize(qlin.weight, 8, 4),
                                             naive_quantize(qlin.bias, 8, 4)))


def test_bypass_is_plain_float():
    lin = nn.Linear(4, 3)
    qlin = LinearInteger.from_float(lin, {**lab_config(), "bypass": True})
    x = torch.randn(6, 4)
    assert torch.equal(qlin(x), lin(x))


def test_conv2d_integer_matches_naive_reference():
    torch.manual_seed(2)
    conv = nn.Conv2d(2, 3, 3, padding=1, stride=2)
    qconv = Conv2dInteger.from_float(conv, lab_config((8, 4), (4, 2), (6, 3)))
    x = torch.randn(2, 2, 6, 6) * 2
    ref = F.conv2d(naive_quantize(x, 8, 4), naive_quantize(conv.weight.detach(), 4, 2),
                   naive_quantize(conv.bias.detach(), 6, 3), stride=2, padding=1)
    with torch.no_grad():
        assert torch.equal(qconv(x), ref)


def _three_layers(seed=0):
    torch.manual_seed(seed)
    return build_model("jsc-three-linear-layers").eval()


def test_quantized_model_matches_naive_layer_by_layer_reference():
    model = _three_layers()
    args = {"by": "name", "default": {"config": lab_config((8, 4), (8, 4), (8, 4))},
            "seq_blocks_4": {"config": lab_config((4, 2), (4, 2), (8, 4))}}
    qmodel = quantize_model(model, args)
    x = torch.randn(12, 16)
    with torch.no_grad():
        h = model.seq_blocks[1](model.seq_blocks[0](x))
        for idx, a, w in ((2, (8, 4), (8, 4)), (4, (4, 2), (4, 2)), (6, (8, 4), (8, 4))):
            lin = model.seq_blocks[idx]
            h = F.linear(naive_quantize(h, *a), naive_quantize(lin.weight, *w), naive_quantize(lin.bias, 8, 4))
            h = torch.relu(h)
        assert torch.equal(qmodel(x), h)


def test_by_type_really_quantizes_every_linear_and_leaves_inputs_alone():
    model = _three_layers()
    graph = trace(model)
    state = copy.deepcopy(graph.model.state_dict())
    args = {"by": "type", "default": {"config": {"name": "NA"}}, "linear": {"config": lab_config((4, 2), (4, 2), (4, 2))}}
    args_before = copy.deepcopy(args)
    new, info = quantize_transform_pass(graph, args)
    assert info["quantized"] == ["seq_blocks_2", "seq_blocks_4", "seq_blocks_6"]
    assert all(isinstance(new.node(n).module, LinearInteger) for n in info["quantized"])
    assert info["configs"]["seq_blocks_4"]["weight_width"] == 4
    x = torch.randn(32, 16)
    with torch.no_grad():
        assert not torch.equal(new.model(x), model(x))
    assert args == args_before  # the caller's dict is untouched
    assert not any(isinstance(n.module, LinearInteger) for n in graph.nodes())  # so is the input graph
    assert all(torch.equal(state[k], v) for k, v in graph.model.state_dict().items())
    assert not any(isinstance(m, LinearInteger) for m in model.modules())  # and the model


def test_by_name_default_and_na():
    graph = trace(_three_layers())
    args = {"by": "name", "default": {"config": lab_config()}, "seq_blocks_4": {"config": {"name": "NA"}}}
    _, info = quantize_transform_pass(graph, args)
    assert info["quantized"] == ["seq_blocks_2", "seq_blocks_6"]
    _, info = quantize_transform_pass(graph, {"by": "name", "seq_blocks_6": {"config": lab_config()}})
    assert info["quantized"] == ["seq_blocks_6"]  # no default: nothing else
    _, info = quantize_transform_pass(graph, {"by": "type", "default": {"config": {"name": None}}})
    assert info["quantized"] == []


def test_requantizing_does_not_compound():
    model = _three_layers()
    coarse = {"by": "type", "linear": {"config": lab_config((4, 2), (3, 1), (4, 2))}}
    fine = {"by": "type", "linear": {"config": lab_config((8, 4), (8, 4), (8, 4))}}
    twice = quantize_model(quantize_model(model, coarse), fine)
    once = quantize_model(model, fine)
    x = torch.randn(8, 16)
    with torch.no_grad():
        assert torch.equal(twice(x), once(x))


def test_auto_frac_widths_from_weights_and_calibration():
    lin = nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.1, -3.0, 0.2], [1.0, 0.5, 2.0]]))
        lin.bias.copy_(torch.tensor([0.7, -0.2]))
    model = SeqModel(lin)
    cfg = {"name": "integer", "data_in_width": 8, "data_in_frac_width": "auto",
           "weight_width": 8, "weight_frac_width": "auto", "bias_width": 4, "bias_frac_width": "auto"}
    calib = torch.tensor([[5.0, -1.0, 0.0], [0.5, 2.0, -4.5]])
    _, info = quantize_transform_pass(trace(model), {"by": "type", "linear": {"config": cfg}, "calibration": calib})
    got = info["configs"]["seq_blocks_0"]
    assert (got["data_in_frac_width"], got["weight_frac_width"], got["bias_frac_width"]) == (4, 5, 3)
    with pytest.raises(LabError, match="calibration"):
        quantize_transform_pass(trace(model), {"by": "type", "linear": {"config": cfg}})


@pytest.mark.parametrize("args, key", [
    ({"by": "name", "seq_blocks_9": {"config": {"name": "NA"}}}, "seq_blocks_9"),
    ({"by": "type", "lineer": {"config": {"name": "NA"}}}, "lineer"),
    ({"by": "size"}, "by"),
    ({"by": "type", "linear": {"config": {**lab_config(), "weight_width": 0}}}, "weight_width"),
    ({"by": "type", "linear": {"config": {**lab_config(), "weight_width": 33}}}, "weight_width"),
    ({"by": "type", "linear": {"config": {**lab_config(), "data_in_width": 8.0}}}, "data_in_width"),
    ({"by": "type", "linear": {"config": {**lab_config(), "bias_width": "8"}}}, "bias_width"),
    ({"by": "type", "linear": {"config": {**lab_config(), "weight_frac_width": "x"}}}, "weight_frac_width"),
    ({"by": "type", "linear": {"config": {**lab_config(), "weigth_width": 8}}}, "weigth_width"),
    ({"by": "type", "linear": {"config": {**lab_config(), "name": "float"}}}, "name"),
    ({"by": "type", "linear": {"config": {"name": "integer", "weight_width": 8}}}, "data_in_width"),
    ({"by": "name", "seq_blocks_1": {"config": lab_config()}}, "relu"),
    ({"by": "type", "linear": lab_config()}, "linear"),
])
def test_bad_configs_are_one_line_errors_naming_the_key(args, key):
    with pytest.raises(LabError) as err:
        quantize_transform_pass(trace(build_model("jsc-tiny")), args)
    assert key in str(err.value) and "\n" not in str(err.value)
