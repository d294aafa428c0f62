"""A torch.fx graph of a model, with an op type per node (MASE's MaseGraph, simplified).

:func:`trace` deep-copies the model and runs ``torch.fx.symbolic_trace`` on the copy, so the graph
never aliases the caller's modules. For the lab models (one ``nn.Sequential`` called
``seq_blocks``) fx names the layer nodes ``seq_blocks_<i>`` and their targets ``seq_blocks.<i>``,
exactly as in MASE, so a lab pass config written against MASE's node names works unchanged.

Each ``call_module`` node gets an op type (:func:`op_type`): ``linear``, ``conv2d``, ``relu``,
``batch_norm1d``, ``batch_norm2d``, ``max_pool2d``, ``flatten``, ``identity``, ... (MASE's
``mase_op`` names). Quantized layers keep the op of the float layer they replace, so a by-type
pass finds them again.

Passes have MASE's shape ``pass(graph, pass_args) -> (graph, info)``. They work on
``graph.copy()`` and replace modules with :meth:`LabGraph.replace_module`, so the input graph
(and the model it was traced from) is never mutated. Their ``pass_args`` are read with the two
helpers here: :func:`check_pass_args` (a private copy of the dict) and :func:`pass_entry` (the one
reader of MASE's per-node ``{"config": {...}}`` entries).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import torch
from torch import fx, nn

from lab_utils.errors import LabError

# Checked in order: subclasses (e.g. LinearInteger < nn.Linear) map to the op of their float base.
_OPS: tuple[tuple[type, str], ...] = (
    (nn.Linear, "linear"),
    (nn.Conv1d, "conv1d"),
    (nn.Conv2d, "conv2d"),
    (nn.BatchNorm1d, "batch_norm1d"),
    (nn.BatchNorm2d, "batch_norm2d"),
    (nn.LayerNorm, "layer_norm"),
    (nn.ReLU, "relu"),
    (nn.MaxPool2d, "max_pool2d"),
    (nn.AvgPool2d, "avg_pool2d"),
    (nn.AdaptiveAvgPool2d, "adaptive_avg_pool2d"),
    (nn.Flatten, "flatten"),
    (nn.Identity, "identity"),
    (nn.Dropout, "dropout"),
    (nn.SiLU, "silu"),
)


def op_type(module: nn.Module) -> str:
    """MASE-style op name of a module: ``linear``, ``conv2d``, ``relu``, ``batch_norm1d``, ...

    Unknown module types get their class name in snake case (``LeakyReLU`` -> ``leaky_relu``).
    """
    for cls, name in _OPS:
        if isinstance(module, cls):
            return name
    name = type(module).__name__.replace("ReLU", "Relu")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


@dataclass(frozen=True)
class NodeInfo:
    """One ``call_module`` node: fx name, op type, the module, and its target path."""

    name: str
    op: str
    module: nn.Module
    target: str


class LabGraph:
    """An fx ``GraphModule`` plus helpers to list, look up and replace its module nodes."""

    def __init__(self, model: fx.GraphModule):
        if not isinstance(model, fx.GraphModule):
            raise TypeError("LabGraph wraps a torch.fx.GraphModule; use trace(model)")
        self.model = model

    def nodes(self) -> list[NodeInfo]:
        """The ``call_module`` nodes in execution order."""
        out = []
        for node in self.model.graph.nodes:
            if node.op == "call_module":
                module = self.model.get_submodule(node.target)
                out.append(NodeInfo(node.name, op_type(module), module, str(node.target)))
        return out

    def chain(self, ops: tuple[str, ...] | None = None) -> list[NodeInfo] | None:
        """The module nodes in order if the graph is a chain of modules, else None.

        A chain: one input, then one or more ``call_module`` nodes, each called with the previous
        node's output as its only argument (positional, no keywords), then the output, which returns
        the last one. Calling the modules one after another, each on the previous one's output,
        then computes the graph, which is what the callers do. Not a chain: a branch (a node's
        output used twice, or two nodes on the input), a residual sum, a function or method call
        (``torch.flatten``, ``x.view``), a constant (``get_attr``), a second input, a tuple output.

        ``ops``: also require every node's op type (:func:`op_type`) among these. A caller that
        rewrites each layer type by hand passes the types it writes
        (:class:`~lab_utils.training.qat_slots.SlotChain`); one that only calls the modules passes
        ``None``, any module (:func:`lab_utils.search.tables.layerwise_table`).
        """
        fx_nodes = list(self.model.graph.nodes)
        if len(fx_nodes) < 3 or fx_nodes[0].op != "placeholder" or fx_nodes[-1].op != "output":
            return None
        if any(n.op != "call_module" for n in fx_nodes[1:-1]):
            return None
        if any(tuple(n.args) != (prev,) or n.kwargs for prev, n in zip(fx_nodes, fx_nodes[1:])):
            return None
        infos = self.nodes()
        return None if ops is not None and any(n.op not in ops for n in infos) else infos

    def names(self) -> list[str]:
        return [n.name for n in self.nodes()]

    def node(self, name: str) -> NodeInfo:
        """The module node called ``name``; a :class:`LabError` lists the valid names otherwise."""
        for info in self.nodes():
            if info.name == name:
                return info
        raise LabError(f"unknown node {name!r}; this graph's module nodes are: {', '.join(self.names())}")

    def replace_module(self, name: str, new: nn.Module) -> None:
        """Install ``new`` at node ``name``'s target (in place on this graph: call it on a copy)."""
        target = self.node(name).target
        parent_path, _, leaf = target.rpartition(".")
        parent = self.model.get_submodule(parent_path) if parent_path else self.model
        setattr(parent, leaf, new)

    def copy(self) -> LabGraph:
        """A deep copy: modules, parameters and the fx graph."""
        return LabGraph(copy.deepcopy(self.model))

    def __repr__(self) -> str:
        rows = ", ".join(f"{n.name}:{n.op}" for n in self.nodes())
        return f"LabGraph({rows})"


def trace(model: nn.Module) -> LabGraph:
    """Trace a deep copy of ``model`` with torch.fx (a ``LabGraph`` is copied, not re-traced)."""
    if isinstance(model, LabGraph):
        return model.copy()
    if not isinstance(model, nn.Module):
        raise LabError(f"trace expects a torch nn.Module, got {type(model).__name__}")
    model = copy.deepcopy(model)
    if isinstance(model, fx.GraphModule):
        return LabGraph(model)
    try:
        gm = fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - data-dependent control flow etc.
        raise LabError(f"cannot trace {type(model).__name__} with torch.fx: {str(exc).splitlines()[0][:160]}") from None
    gm.train(model.training)
    return LabGraph(gm)


def as_graph(model_or_graph) -> LabGraph:
    """A ``LabGraph`` as is, or a traced copy of a module (for functions taking either)."""
    return model_or_graph if isinstance(model_or_graph, LabGraph) else trace(model_or_graph)


def layer_shapes(graph: LabGraph, input_shape: tuple, where: str = "graph") -> dict[str, tuple[tuple, tuple]]:
    """Per-sample (input, output) shape of every module node, from one forward (eval mode) on zeros.

    A node never called on this input is absent. ``where`` prefixes the error for a wrong shape.
    """
    shapes: dict[str, tuple[tuple, tuple]] = {}
    handles = []
    for info in graph.nodes():
        def hook(_m, inputs, output, name=info.name):
            shapes[name] = (tuple(inputs[0].shape[1:]), tuple(output.shape[1:]))
        handles.append(info.module.register_forward_hook(hook))
    model = graph.model
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        x = torch.zeros((1, *input_shape), dtype=param.dtype if param is not None else torch.float32)
        with torch.inference_mode():
            model(x)
    except LabError:
        raise
    except Exception as exc:  # noqa: BLE001 - a wrong input_shape for this model
        raise LabError(f"{where}: input_shape {tuple(input_shape)} does not fit this model "
                       f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return shapes


def check_pass_args(pass_args, pass_name: str) -> dict:
    """Pass configs must be dicts; return a deep copy so a pass never mutates the caller's dict."""
    if not isinstance(pass_args, dict):
        raise LabError(f"{pass_name}: pass_args must be a dict, got {type(pass_args).__name__}")
    out = {}
    for key, value in pass_args.items():
        # Tensors (calibration batches) are shared, not copied: passes only read them.
        out[key] = value if isinstance(value, torch.Tensor) else copy.deepcopy(value)
    return out


def pass_entry(args: dict, key: str, pass_name: str) -> dict:
    """The config of entry ``args[key]``, written MASE's way as ``{"config": {...}}``.

    Any other shape is a :class:`LabError` naming the pass and the key.
    """
    entry = args[key]
    if not isinstance(entry, dict) or "config" not in entry:
        raise LabError(f"{pass_name} pass_args[{key!r}] must be {{'config': {{...}}}}, got {entry!r}"[:200])
    return entry["config"]
