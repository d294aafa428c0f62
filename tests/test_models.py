import pytest
import torch
import torch.fx as fx
from torch import nn

from lab_utils.errors import LabError
from lab_utils.models import build_model, count_params


def hand_count(name):
    # Hand counts: Linear in*out+out, BatchNorm 2*C.
    return {
        "jsc-tiny": 2 * 16 + (16 * 5 + 5),
        "jsc-toy": 2 * 16 + (16 * 8 + 8) + 2 * 8 + (8 * 8 + 8) + 2 * 8 + (8 * 5 + 5) + 2 * 5,
        "jsc-three-linear-layers": 2 * 16 + (16 * 16 + 16) + (16 * 16 + 16) + (16 * 5 + 5),
    }[name]


@pytest.mark.parametrize("name,expected", [("jsc-tiny", 117), ("jsc-toy", 327), ("jsc-three-linear-layers", 661)])
def test_param_counts(name, expected):
    assert hand_count(name) == expected
    assert count_params(build_model(name)) == expected


def test_vgg7_layout_and_size():
    m = build_model("vgg7")
    convs = [(3, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512)]
    expected = sum(ci * co * 9 + co + 2 * co for ci, co in convs) + (8192 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 10 + 10)
    assert count_params(m) == expected
    assert abs(expected - 14.03e6) < 0.01e6
    names = {n.name: n for n in fx.symbolic_trace(m).graph.nodes}
    first_linear = m.seq_blocks[22]
    assert "seq_blocks_22" in names and isinstance(first_linear, nn.Linear)
    assert first_linear.in_features == 512 * 4 * 4
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_node_names_match_mase():
    names = [n.name for n in fx.symbolic_trace(build_model("jsc-three-linear-layers")).graph.nodes]
    assert names == ["x"] + [f"seq_blocks_{i}" for i in range(8)] + ["output"]


def test_logit_relu_option():
    x = torch.randn(64, 16)
    faithful = build_model("jsc-tiny")
    assert (faithful.eval()(x) >= 0).all()  # MASE's ReLU on the logits
    free = build_model("jsc-tiny", logit_relu=False)
    free.load_state_dict(faithful.state_dict())
    out = free.eval()(x)
    assert (out < 0).any()
    assert torch.equal(torch.relu(out), faithful(x))
    assert count_params(free) == 117


def test_unknown_model_and_args():
    with pytest.raises(LabError, match="unknown model 'nope'"):
        build_model("nope")
    with pytest.raises(LabError, match="bad arguments"):
        build_model("jsc-tiny", width=3)
