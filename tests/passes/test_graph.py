"""The fx graph: node names, op types, lookup errors, copies that never alias, the chain test."""

import operator

import pytest
import torch
from torch import fx, nn

from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.passes.graph import LabGraph, op_type, pass_entry, trace
from lab_utils.passes.quantize import LinearInteger, lab_config, quantize_transform_pass
from lab_utils.passes.widths import redefine_linear_transform_pass
from tests.helpers import Residual


def test_jsc_tiny_nodes_are_mase_names_and_ops():
    graph = trace(build_model("jsc-tiny"))
    assert [(n.name, n.op, n.target) for n in graph.nodes()] == [
        ("seq_blocks_0", "batch_norm1d", "seq_blocks.0"),
        ("seq_blocks_1", "relu", "seq_blocks.1"),
        ("seq_blocks_2", "linear", "seq_blocks.2"),
        ("seq_blocks_3", "relu", "seq_blocks.3"),
    ]
    assert isinstance(graph.node("seq_blocks_2").module, nn.Linear)


def test_vgg_ops():
    graph = trace(build_model("vgg7", channels=(4, 4, 8, 8, 8, 8), fc=16))
    ops = [n.op for n in graph.nodes()]
    assert ops[:7] == ["conv2d", "batch_norm2d", "relu", "conv2d", "batch_norm2d", "relu", "max_pool2d"]
    assert ops[21] == "flatten" and graph.nodes()[22].name == "seq_blocks_22" and ops[22] == "linear"
    assert len(ops) == 27


def test_unknown_node_lists_valid_names():
    graph = trace(build_model("jsc-tiny"))
    with pytest.raises(LabError, match="seq_blocks_7.*seq_blocks_0, seq_blocks_1, seq_blocks_2, seq_blocks_3"):
        graph.node("seq_blocks_7")


def test_op_type():
    assert op_type(LinearInteger(3, 2, config=lab_config())) == "linear"
    assert op_type(nn.LeakyReLU()) == "leaky_relu"
    assert op_type(nn.BatchNorm2d(3)) == "batch_norm2d"
    assert op_type(nn.MaxPool2d(2)) == "max_pool2d"


def test_trace_and_copy_never_alias():
    model = build_model("jsc-tiny").eval()
    graph = trace(model)
    x = torch.randn(4, 16)
    with torch.no_grad():
        assert torch.equal(graph.model(x), model(x))
        graph.node("seq_blocks_2").module.weight.add_(1.0)
        assert not torch.equal(graph.model(x), model(x))  # the model was copied
    other = graph.copy()
    with torch.no_grad():
        other.node("seq_blocks_2").module.weight.zero_()
    assert graph.node("seq_blocks_2").module.weight.abs().sum() > 0
    other.replace_module("seq_blocks_3", nn.Identity())
    assert graph.node("seq_blocks_3").op == "relu" and other.node("seq_blocks_3").op == "identity"
    assert isinstance(trace(graph), LabGraph) and trace(graph) is not graph


def test_untraceable_model_is_a_lab_error():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(LabError, match="Branchy"):
        trace(Branchy())


def test_pass_entry_reads_config_entries_for_both_passes():
    cfg = {"name": "integer"}
    assert pass_entry({"linear": {"config": cfg}}, "linear", "quantize") is cfg
    with pytest.raises(LabError, match=r"^my_pass pass_args\['x'\] must be \{'config': \{\.\.\.\}\}, got 3$"):
        pass_entry({"x": 3}, "x", "my_pass")
    with pytest.raises(LabError, match=r"^my_pass pass_args\['x'\] must be .*, got \{'name': 'a'\}$"):
        pass_entry({"x": {"name": "a"}}, "x", "my_pass")
    graph = trace(build_model("jsc-tiny"))
    with pytest.raises(LabError, match=r"^quantize pass_args\['linear'\] must be \{'config'"):
        quantize_transform_pass(graph, {"by": "type", "linear": {"name": "integer"}})
    with pytest.raises(LabError, match=r"^redefine_linear_transform_pass pass_args\['default'\] must be"):
        redefine_linear_transform_pass(graph, {"by": "type", "default": 1})


# ---------------------------------------------------------------------------- LabGraph.chain
def _hand_built(build) -> LabGraph:
    """A graph written node by node: ``build(g, x)`` adds nodes to ``g`` after the input ``x`` and
    returns what the output returns. Modules ``a``, ``b`` (Linear 4 -> 4) and ``r`` (ReLU)."""
    root = nn.Module()
    root.a, root.b, root.r = nn.Linear(4, 4), nn.Linear(4, 4), nn.ReLU()
    g = fx.Graph()
    g.output(build(g, g.placeholder("x")))
    return LabGraph(fx.GraphModule(root, g))


def _call(g, name, *args, **kwargs):
    return g.call_module(name, args, kwargs)


CHAINS = {
    "one module": lambda g, x: _call(g, "a", x),
    "a, r, b, r again": lambda g, x: _call(g, "r", _call(g, "b", _call(g, "r", _call(g, "a", x)))),
}
NOT_CHAINS = {
    "no module": lambda g, x: x,
    "branch: two modules on the input, joined by a module": lambda g, x: _call(g, "b", _call(g, "a", x), _call(g, "r", x)),
    "branch: a's output used twice": lambda g, x: (lambda a: _call(g, "b", a, _call(g, "r", a)))(_call(g, "a", x)),
    "residual sum": lambda g, x: _call(g, "b", g.call_function(operator.add, (_call(g, "a", x), x))),
    "function call": lambda g, x: _call(g, "b", g.call_function(torch.relu, (_call(g, "a", x),))),
    "method call": lambda g, x: _call(g, "b", g.call_method("view", (_call(g, "a", x), -1, 4))),
    "keyword argument": lambda g, x: _call(g, "b", input=_call(g, "a", x)),
    "module also given the input": lambda g, x: _call(g, "b", _call(g, "a", x), x),
    "second input": lambda g, x: _call(g, "b", _call(g, "a", x), g.placeholder("y")),
    "tuple output": lambda g, x: (_call(g, "b", _call(g, "a", x)),),
    "module output unused": lambda g, x: (_call(g, "a", x), x)[1],
}


@pytest.mark.parametrize("name", CHAINS)
def test_chain_of_hand_built_graphs(name):
    graph = _hand_built(CHAINS[name])
    nodes = graph.chain()
    assert nodes == graph.nodes() and len(nodes) >= 1
    x = torch.randn(3, 4)
    h = x
    for info in nodes:  # what a chain means: the modules one after another compute the graph
        h = info.module(h)
    assert torch.equal(h, graph.model(x))


@pytest.mark.parametrize("name", NOT_CHAINS)
def test_not_a_chain_of_hand_built_graphs(name):
    assert _hand_built(NOT_CHAINS[name]).chain() is None


def test_chain_with_ops_and_on_the_lab_models():
    graph = _hand_built(CHAINS["a, r, b, r again"])
    assert [n.op for n in graph.chain(("linear", "relu"))] == ["linear", "relu", "linear", "relu"]
    assert graph.chain(("linear",)) is None  # a ReLU is not among the ops
    assert [n.name for n in trace(build_model("jsc-tiny")).chain()] == [f"seq_blocks_{i}" for i in range(4)]
    assert len(trace(build_model("vgg7", channels=(4, 4, 8, 8, 8, 8), fc=16)).chain()) == 27  # Flatten is a module
    assert trace(Residual()).chain() is None
