"""Width transforms: the lab's parameter counts, VGG channels, shape checks and config errors."""

import copy

import pytest
import torch
from torch import nn

from lab_utils.errors import LabError
from lab_utils.models import build_model, count_params
from lab_utils.passes.graph import trace
from lab_utils.passes.widths import (
    apply_multipliers,
    check_shapes,
    multiplier_pass_args,
    redefine_conv2d_transform_pass,
    redefine_linear_transform_pass,
    redefine_relu_pass,
    vgg_channels_pass_args,
)


def _base():
    torch.manual_seed(0)
    return build_model("jsc-three-linear-layers")


def test_uniform_x2_gives_1797_and_16_32_64_5_gives_3013():
    model = _base()
    assert count_params(model) == 661
    # hand count: 16->32->32->5 = 32 (BN) + 16*32+32 + 32*32+32 + 32*5+5
    assert count_params(apply_multipliers(model, 2, 2)) == 32 + 544 + 1056 + 165 == 1797
    target = apply_multipliers(model, 2, 4)
    assert count_params(target) == 32 + 544 + (32 * 64 + 64) + (64 * 5 + 5) == 3013
    assert [(m.in_features, m.out_features) for m in target.modules() if isinstance(m, nn.Linear)] == \
        [(16, 32), (32, 64), (64, 5)]
    assert target(torch.randn(3, 16)).shape == (3, 5)
    # the state dict fits the registry model of the same widths (checkpoints are interchangeable)
    build_model("jsc-three-linear-layers", hidden=(32, 64)).load_state_dict(target.state_dict())
    assert count_params(model) == 661  # the input model is untouched


def test_pass_leaves_inputs_alone_and_seed_repeats():
    graph = trace(_base())
    args = multiplier_pass_args(2, 2)
    args["seed"] = 3
    before = copy.deepcopy(args)
    new, info = redefine_linear_transform_pass(graph, args)
    assert args == before
    assert info["redefined"] == ["seq_blocks_2", "seq_blocks_4", "seq_blocks_6"]
    assert info["shapes"]["seq_blocks_4"] == (32,)
    assert graph.node("seq_blocks_4").module.in_features == 16
    again, _ = redefine_linear_transform_pass(graph, args)
    assert torch.equal(new.node("seq_blocks_4").module.weight, again.node("seq_blocks_4").module.weight)
    # fresh layers, as in MASE: weights are re-initialised (not a copy of any old block)
    assert new.node("seq_blocks_2").module.weight.shape == (32, 16)


def test_mase_wrapped_config_and_relu_pass():
    graph = trace(_base())
    wrapped = {"config": {"by": "name", **{k: v for k, v in multiplier_pass_args(2, 2).items() if k != "by"}}}
    new, _ = redefine_linear_transform_pass(graph, wrapped)
    relu_args = {"by": "name", "default": {"config": {"name": "both", "channel_multiplier": 2}}}
    after, info = redefine_relu_pass(new, relu_args)
    assert info["redefined"] == ["seq_blocks_1", "seq_blocks_3", "seq_blocks_5", "seq_blocks_7"]
    assert [info["shapes"][n] for n in info["redefined"]] == [(16,), (32,), (32,), (5,)]
    assert count_params(after.model) == 1797


def test_mismatch_is_found_before_any_forward_and_names_both_layers():
    model = _base()
    calls = []
    model.register_forward_pre_hook(lambda *_: calls.append(1))
    args = multiplier_pass_args(2, 2)
    del args["seq_blocks_6"]
    with pytest.raises(LabError) as err:
        redefine_linear_transform_pass(trace(model), args)
    msg = str(err.value)
    assert "seq_blocks_6" in msg and "seq_blocks_4" in msg and "expects 16" in msg and "gives 32" in msg
    assert calls == []
    by_type = {"by": "type", "linear": {"config": {"name": "both", "channel_multiplier": 2}}}
    with pytest.raises(LabError, match="seq_blocks_2 .*expects 32.*seq_blocks_0 \\(batch_norm1d\\) gives 16"):
        redefine_linear_transform_pass(trace(model), by_type)


@pytest.mark.parametrize("config, key", [
    ({"name": "output_only", "channel_multiplier": 0}, "channel_multiplier"),
    ({"name": "output_only", "channel_multiplier": -2}, "channel_multiplier"),
    ({"name": "output_only", "channel_multiplier": 1.5}, "channel_multiplier"),
    ({"name": "output_only", "channel_multiplier": True}, "channel_multiplier"),
    ({"name": "both", "channel_multiplier_output": 2}, "channel_multiplier_input"),
    ({"name": "double"}, "double"),
    ({"name": "output_only", "channel_multiplyer": 2}, "channel_multiplyer"),
    ({"name": "explicit", "out_features": 0}, "out_features"),
])
def test_bad_width_configs_name_the_key(config, key):
    with pytest.raises(LabError) as err:
        redefine_linear_transform_pass(trace(_base()), {"by": "name", "seq_blocks_6": {"config": config}})
    assert key in str(err.value) and "\n" not in str(err.value)


def test_unknown_node_and_wrong_op():
    with pytest.raises(LabError, match="seq_blocks_9"):
        redefine_linear_transform_pass(trace(_base()), {"by": "name", "seq_blocks_9": {"config": {"name": "NA"}}})
    with pytest.raises(LabError, match="seq_blocks_1 is a relu"):
        redefine_linear_transform_pass(trace(_base()), {"seq_blocks_1": {"config": {"name": "both",
                                                                                    "channel_multiplier": 2}}})
    with pytest.raises(LabError, match="lineer"):
        redefine_linear_transform_pass(trace(_base()), {"by": "type", "lineer": {"config": {"name": "NA"}}})


SMALL = (8, 8, 16, 16, 16, 16)


def _small_vgg():
    torch.manual_seed(0)
    return build_model("vgg7", channels=SMALL, fc=32)


def test_vgg_channels_match_the_registry_model():
    channels = (4, 8, 8, 16, 16, 32)
    new, info = redefine_conv2d_transform_pass(trace(_small_vgg()), vgg_channels_pass_args(channels, seed=0))
    assert count_params(new.model) == count_params(build_model("vgg7", channels=channels, fc=32))
    assert new.node("seq_blocks_22").module.in_features == 32 * 16
    assert info["shapes"]["seq_blocks_17"] == (32, 8, 8)
    assert check_shapes(new, (3, 32, 32))["seq_blocks_20"] == (32, 4, 4)
    assert new.model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert check_shapes(new, (3, 32, 32))["seq_blocks_21"] == (512,)


def test_vgg_mismatches_name_both_layers():
    args = vgg_channels_pass_args((4, 8, 8, 16, 16, 32))
    del args["seq_blocks_18"]  # BatchNorm no longer follows its conv
    with pytest.raises(LabError, match="seq_blocks_18 \\(batch_norm2d\\) expects 16 input channels .*"
                                       "seq_blocks_17 \\(conv2d\\) gives 32"):
        redefine_conv2d_transform_pass(trace(_small_vgg()), args)
    args = vgg_channels_pass_args((4, 8, 8, 16, 16, 32))
    args["seq_blocks_22"]["config"]["in_features"] = 32 * 9
    with pytest.raises(LabError, match="seq_blocks_22 \\(linear\\) expects 288 .*seq_blocks_17 \\(conv2d\\) gives 512"):
        redefine_conv2d_transform_pass(trace(_small_vgg()), args)
    del args["input_shape"]  # without spatial sizes: the width must still be a multiple of the channels
    args["seq_blocks_22"]["config"]["in_features"] = 31 * 16
    with pytest.raises(LabError, match="seq_blocks_22 .*multiple of 32"):
        redefine_conv2d_transform_pass(trace(_small_vgg()), args)
    with pytest.raises(LabError, match="channels\\[2\\]"):
        vgg_channels_pass_args((4, 8, 0, 16, 16, 32))
