"""Width transforms (Lab 4): redefine Linear / Conv2d / BatchNorm widths, then check every shape.

A pass config has MASE's shape ``{"by": "name" | "type", "default": {"config": {...}},
<node or op>: {"config": {...}}}`` (MASE's own wrapper ``{"config": {...}}`` is accepted too). A
node config's ``name`` is the mode:

- ``output_only``: out ×= ``channel_multiplier_output`` (or ``channel_multiplier``);
- ``both``: in ×= ``channel_multiplier_input``, out ×= ``channel_multiplier_output``;
- ``input_only``: in ×= ``channel_multiplier_input``;
- ``explicit`` (beyond the lab): absolute sizes, ``in_features`` / ``out_features`` (Linear),
  ``in_channels`` / ``out_channels`` (Conv2d), ``num_features`` (BatchNorm), so VGG channel choices
  such as 128 -> 64 that no integer multiplier expresses can be written;
- None / ``"NA"``: leave the node alone.

A BatchNorm has one width: any multiplier mode scales ``num_features`` by ``channel_multiplier``.

Like MASE, redefined layers are fresh modules (weights re-initialised: the candidate must be
trained); ``pass_args["seed"]`` makes that initialisation repeatable without touching the global
RNG. After the transform :func:`check_shapes` walks the graph (no forward pass) and reports the
first layer whose input no longer matches its producer, naming both.
"""

from __future__ import annotations

import math

import torch
from torch import fx, nn

from lab_utils.errors import LabError
from lab_utils.models import VGG7_CONV_INDICES, VGG7_FIRST_LINEAR
from lab_utils.passes.graph import LabGraph, check_pass_args, op_type, pass_entry, trace

MODES = ("output_only", "both", "input_only", "explicit")
MULTIPLIER_KEYS = ("channel_multiplier", "channel_multiplier_input", "channel_multiplier_output")
SIZE_KEYS = {
    "linear": ("in_features", "out_features"),
    "conv2d": ("in_channels", "out_channels"),
    "batch_norm1d": ("num_features",),
    "batch_norm2d": ("num_features",),
}
# Ops whose output has the shape of their input (checked for nothing, passed through).
ELEMENTWISE = {"relu", "identity", "dropout", "leaky_relu", "sigmoid", "tanh", "gelu", "relu6", "hardtanh"}
WIDTH_PASS_KEYS = ("by", "default", "seed", "input_shape")  # pass_args keys that name no node or op type


def _positive_int(value, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise LabError(f"{where}: {key} must be a whole number > 0, got {value!r}")
    return value


def normalize_width_config(config, op: str, where: str) -> dict | None:
    """Validate one node's width config; None means "leave the node alone"."""
    if not isinstance(config, dict):
        raise LabError(f"{where}: config must be a dict, got {type(config).__name__}")
    name = config.get("name")
    if name is None or name == "NA":
        return None
    if name not in MODES:
        raise LabError(f"{where}: unknown mode name={name!r}; allowed: {', '.join(MODES)} or 'NA'")
    if op == "relu":  # no width to change: validate the keys only
        for key in config:
            if key not in ("name",) + MULTIPLIER_KEYS:
                raise LabError(f"{where}: key {key!r} does not apply to a relu; allowed: name, "
                               + ", ".join(MULTIPLIER_KEYS))
            if key != "name":
                _positive_int(config[key], key, where)
        return {"mode": name}
    sizes = SIZE_KEYS.get(op, ())
    allowed = ("name",) + (sizes if name == "explicit" else MULTIPLIER_KEYS)
    for key in config:
        if key not in allowed:
            raise LabError(f"{where}: key {key!r} does not apply to mode {name!r} on a {op}; "
                           f"allowed: {', '.join(allowed)}")
    if name == "explicit":
        given = {k: _positive_int(config[k], k, where) for k in sizes if k in config}
        if not given:
            raise LabError(f"{where}: mode 'explicit' needs at least one of {', '.join(sizes) or '(no sizes)'}")
        return {"mode": name, **given}
    for key in MULTIPLIER_KEYS:
        if key in config:
            _positive_int(config[key], key, where)
    m = config.get("channel_multiplier")
    m_in = config.get("channel_multiplier_input", m)
    m_out = config.get("channel_multiplier_output", m)
    if op.startswith("batch_norm"):
        if m is None:
            raise LabError(f"{where}: a batch norm needs channel_multiplier")
        return {"mode": name, "num_features_multiplier": m}
    if name in ("both", "input_only") and m_in is None:
        raise LabError(f"{where}: mode {name!r} needs channel_multiplier or channel_multiplier_input")
    if name in ("both", "output_only") and m_out is None:
        raise LabError(f"{where}: mode {name!r} needs channel_multiplier or channel_multiplier_output")
    return {"mode": name, "in_multiplier": m_in if name != "output_only" else 1,
            "out_multiplier": m_out if name != "input_only" else 1}


def _new_module(old: nn.Module, op: str, cfg: dict, where: str) -> nn.Module:
    """A fresh float layer of the new width (MASE: weights are not copied)."""
    if op == "linear":
        n_in, n_out = old.in_features, old.out_features
        if cfg["mode"] == "explicit":
            n_in, n_out = cfg.get("in_features", n_in), cfg.get("out_features", n_out)
        else:
            n_in, n_out = n_in * cfg["in_multiplier"], n_out * cfg["out_multiplier"]
        return nn.Linear(n_in, n_out, bias=old.bias is not None, device=old.weight.device, dtype=old.weight.dtype)
    if op == "conv2d":
        c_in, c_out = old.in_channels, old.out_channels
        if cfg["mode"] == "explicit":
            c_in, c_out = cfg.get("in_channels", c_in), cfg.get("out_channels", c_out)
        else:
            c_in, c_out = c_in * cfg["in_multiplier"], c_out * cfg["out_multiplier"]
        if c_in % old.groups or c_out % old.groups:
            raise LabError(f"{where}: channels ({c_in} in, {c_out} out) must be multiples of groups={old.groups}")
        return nn.Conv2d(c_in, c_out, old.kernel_size, old.stride, old.padding, old.dilation, old.groups,
                         old.bias is not None, old.padding_mode, device=old.weight.device, dtype=old.weight.dtype)
    # batch norm
    n = cfg["num_features"] if cfg["mode"] == "explicit" else old.num_features * cfg["num_features_multiplier"]
    return type(old)(n, eps=old.eps, momentum=old.momentum, affine=old.affine,
                     track_running_stats=old.track_running_stats)


def _unwrap(args: dict) -> dict:
    """Accept MASE's ``{"config": {"by": ..., "default": ..., ...}}`` wrapper as well as the flat form."""
    inner = args.get("config")
    if isinstance(inner, dict) and ("default" in inner or "by" in inner):
        return {**{k: v for k, v in args.items() if k != "config"}, **inner}
    return args


def _redefine(graph: LabGraph, pass_args: dict, ops: tuple[str, ...], pass_name: str) -> dict:
    """Shared engine of the width passes; works in place on ``graph`` (callers pass a copy)."""
    args = _unwrap(check_pass_args(pass_args, pass_name))
    by = args.get("by", "name")
    if by not in ("name", "type"):
        raise LabError(f"{pass_name} pass_args['by'] must be 'name' or 'type', got {by!r}")
    seed = args.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise LabError(f"{pass_name} pass_args['seed'] must be a whole number, got {seed!r}")
    nodes = graph.nodes()
    valid = [n.name for n in nodes] if by == "name" else sorted(set(ops) | {n.op for n in nodes})
    for key in args:
        if key not in WIDTH_PASS_KEYS and key not in valid:
            what = "node name" if by == "name" else "op type"
            raise LabError(f"{pass_name} pass_args: unknown {what} {key!r}; valid: {', '.join(valid)}")
    default = pass_entry(args, "default", pass_name) if "default" in args else {"name": None}
    plan = []
    for n in nodes:
        key = n.name if by == "name" else n.op
        if key in args:
            where = f"{pass_name} pass_args[{key!r}]"
            cfg = normalize_width_config(pass_entry(args, key, pass_name), n.op, where)
            if cfg is not None and n.op not in ops:
                raise LabError(f"{where}: node {n.name} is a {n.op}; this pass redefines {', '.join(ops)}")
        elif n.op in ops:
            where = f"{pass_name} pass_args['default'] (applied to {n.name})"
            cfg = normalize_width_config(default, n.op, where)
        else:
            continue
        if cfg is not None:
            plan.append((n, cfg, where))
    # A seed gives a repeatable init without disturbing the caller's RNG; without one, the global
    # RNG is used (and advanced) as in MASE.
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        for n, cfg, where in plan:
            # ReLU has no width: MASE's nn.ReLU(k) only meant inplace=True.
            new = nn.ReLU() if n.op == "relu" else _new_module(n.module, n.op, cfg, where)
            new.train(n.module.training)
            graph.replace_module(n.name, new)
    shapes = check_shapes(graph, args.get("input_shape"))
    return {"redefined": [n.name for n, _, _ in plan],
            "shapes": {n.name: shapes.get(n.name) for n, _, _ in plan}}


def redefine_linear_transform_pass(graph: LabGraph, pass_args: dict) -> tuple[LabGraph, dict]:
    """Lab 4's pass: new widths for Linear nodes. Info: ``{"redefined": [...], "shapes": {node: out shape}}``."""
    new = graph.copy()
    return new, _redefine(new, pass_args, ("linear",), "redefine_linear_transform_pass")


def redefine_conv2d_transform_pass(graph: LabGraph, pass_args: dict) -> tuple[LabGraph, dict]:
    """New widths for Conv2d, the BatchNorms that follow them and the first Linear after the flatten.

    ``pass_args["input_shape"]`` (e.g. ``(3, 32, 32)``) lets :func:`check_shapes` follow the
    pooling layers and check the flattened width exactly. See :func:`vgg_channels_pass_args`.
    """
    new = graph.copy()
    ops = ("conv2d", "batch_norm2d", "batch_norm1d", "linear")
    return new, _redefine(new, pass_args, ops, "redefine_conv2d_transform_pass")


def redefine_batch_norm_pass(graph: LabGraph, pass_args: dict) -> tuple[LabGraph, dict]:
    """New ``num_features`` for BatchNorm1d/2d nodes (fresh statistics)."""
    new = graph.copy()
    return new, _redefine(new, pass_args, ("batch_norm1d", "batch_norm2d"), "redefine_batch_norm_pass")


def redefine_relu_pass(graph: LabGraph, pass_args: dict) -> tuple[LabGraph, dict]:
    """Lab 4's "change the ReLU also": replace the configured ReLUs by plain ``nn.ReLU()``.

    A ReLU has no width: in MASE, ``nn.ReLU(16)`` passes 16 as ``inplace``. The pass takes the
    same config shape as the Linear pass (modes and multipliers are validated, the widths come
    from the producers) and reports in ``info["shapes"]`` the width each ReLU now sees.
    """
    new = graph.copy()
    return new, _redefine(new, pass_args, ("relu",), "redefine_relu_pass")


# ------------------------------------------------------------------------------ shape checking
class _Shape:
    """Per-sample shape (``None`` = unknown dims), the layer that set the channel width, and for
    a flatten of unknown spatial size the channel count its width must be a multiple of."""

    def __init__(self, dims, producer: str, factor: int | None = None):
        self.dims, self.producer, self.factor = dims, producer, factor


def _pool_out(size, k, s, p, d, ceil_mode):
    if size is None:
        return None
    span = (size + 2 * p - d * (k - 1) - 1) / s + 1
    return int(math.ceil(span) if ceil_mode else math.floor(span))


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _mismatch(consumer: str, op: str, expected: int, unit: str, shape: _Shape, actual) -> LabError:
    return LabError(f"shape mismatch: {consumer} ({op}) expects {expected} input {unit} but its producer "
                    f"{shape.producer} gives {actual}")


def check_shapes(graph: LabGraph, input_shape: tuple[int, ...] | None = None) -> dict[str, tuple]:
    """Follow widths from the input to the output without running the model.

    Checks every Linear's ``in_features``, Conv2d's ``in_channels`` and BatchNorm's
    ``num_features`` against the layer that produced its input, and raises a :class:`LabError`
    naming both on the first mismatch. With ``input_shape`` (per sample, e.g. ``(3, 32, 32)``) the
    spatial sizes through convolutions and pooling are followed too, so the first Linear after a
    flatten is checked exactly; without it, only that its width is a multiple of the channels.
    Written by hand (not fx ``ShapeProp``) because a propagation by execution would fail inside
    the mismatching op without saying which layer produced the bad width. Returns each node's
    output shape (None where unknown).
    """
    env: dict[fx.Node, _Shape] = {}
    out: dict[str, tuple] = {}
    for node in graph.model.graph.nodes:
        if node.op == "placeholder":
            env[node] = _Shape(tuple(input_shape) if input_shape is not None else None, "the model input")
            continue
        src = next((a for a in node.args if isinstance(a, fx.Node)), None)
        shape = env.get(src, _Shape(None, "an unknown op"))
        if node.op == "call_module":
            m = graph.model.get_submodule(node.target)
            new = _propagate(node.name, op_type(m), m, shape)
        elif node.op in ("call_function", "call_method") and _is_flatten(node):
            new = _flatten(node.name, shape)
        elif node.op == "output":
            continue
        else:
            new = _Shape(None, node.name)
        env[node] = new
        out[node.name] = new.dims
    return out


def _is_flatten(node: fx.Node) -> bool:
    return (node.target is torch.flatten and node.args[1:2] == (1,)) or node.target == "flatten"


def _flatten(name: str, shape: _Shape) -> _Shape:
    dims = shape.dims
    if dims is not None and all(d is not None for d in dims):
        return _Shape((math.prod(dims),), shape.producer)
    factor = dims[0] if dims else None
    return _Shape((None,), shape.producer, factor)


def _propagate(name: str, op: str, m: nn.Module, shape: _Shape) -> _Shape:
    dims = shape.dims
    label = name
    if op == "linear":
        last = dims[-1] if dims else None
        if last is not None and last != m.in_features:
            raise _mismatch(label, op, m.in_features, "features", shape, f"{last}")
        if last is None and shape.factor and m.in_features % shape.factor:
            raise _mismatch(label, op, m.in_features, "features", shape,
                            f"{shape.factor} channels (flattened: a multiple of {shape.factor})")
        return _Shape((dims[:-1] if dims else ()) + (m.out_features,), f"{name} (linear)")
    if op == "conv2d":
        if dims is not None and dims[0] is not None and dims[0] != m.in_channels:
            raise _mismatch(label, op, m.in_channels, "channels", shape, f"{dims[0]}")
        (kh, kw), (sh, sw), (dh, dw) = m.kernel_size, m.stride, m.dilation
        ph, pw = (None, None) if isinstance(m.padding, str) else m.padding
        h = w = None
        if dims is not None and len(dims) == 3:
            h, w = dims[1], dims[2]
            if m.padding == "same":
                pass
            elif m.padding == "valid":
                h, w = _pool_out(h, kh, sh, 0, dh, False), _pool_out(w, kw, sw, 0, dw, False)
            else:
                h, w = _pool_out(h, kh, sh, ph, dh, False), _pool_out(w, kw, sw, pw, dw, False)
        return _Shape((m.out_channels, h, w), f"{name} (conv2d)")
    if op in ("batch_norm1d", "batch_norm2d"):
        if dims is not None and dims[0] is not None and dims[0] != m.num_features:
            raise _mismatch(label, op, m.num_features, "features" if op == "batch_norm1d" else "channels",
                            shape, f"{dims[0]}")
        if dims is None:  # the width is first known here: this layer is its producer
            return _Shape((m.num_features,), f"{name} ({op})")
        return _Shape(dims, shape.producer, shape.factor)
    if op in ("max_pool2d", "avg_pool2d"):
        (kh, kw), (sh, sw), (ph, pw) = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
        dh, dw = _pair(getattr(m, "dilation", 1))
        if dims is None or len(dims) != 3:
            return _Shape(dims, shape.producer, shape.factor)
        return _Shape((dims[0], _pool_out(dims[1], kh, sh, ph, dh, m.ceil_mode),
                       _pool_out(dims[2], kw, sw, pw, dw, m.ceil_mode)), shape.producer)
    if op == "flatten":
        if m.start_dim == 1 and m.end_dim == -1:
            return _flatten(name, shape)
        return _Shape(None, f"{name} (flatten)")
    if op in ELEMENTWISE:
        return shape
    return _Shape(None, f"{name} ({op})")


# ------------------------------------------------------------------------------ lab configs
def multiplier_pass_args(a: int, c: int) -> dict:
    """Lab 4's jsc-three-linear-layers config: 16 -> 16a -> 16c -> 5 (a = c = 2 is the uniform ×2).

    ``seq_blocks_2`` output_only ×a, ``seq_blocks_4`` both (in ×a, out ×c), ``seq_blocks_6``
    input_only ×c; a=2, c=4 gives the lab's 16→32→64→5 target.
    """
    return {
        "by": "name",
        "default": {"config": {"name": None}},
        "seq_blocks_2": {"config": {"name": "output_only", "channel_multiplier": a}},
        "seq_blocks_4": {"config": {"name": "both", "channel_multiplier_input": a, "channel_multiplier_output": c}},
        "seq_blocks_6": {"config": {"name": "input_only", "channel_multiplier": c}},
    }


def apply_multipliers(model: nn.Module, a: int, c: int, seed: int | None = None) -> nn.Module:
    """A copy of jsc-three-linear-layers with hidden widths (16a, 16c), Linears freshly initialised.

    The result's state-dict keys match ``build_model("jsc-three-linear-layers", hidden=(16a, 16c))``.
    """
    graph = trace(model)
    args = multiplier_pass_args(a, c)
    if seed is not None:
        args["seed"] = seed
    _redefine(graph, args, ("linear",), "apply_multipliers")
    relus = {"by": "type", "relu": {"config": {"name": "both", "channel_multiplier": 1}}}
    _redefine(graph, relus, ("relu",), "apply_multipliers")
    return graph.model


def vgg_channels_pass_args(channels: tuple[int, ...], seed: int | None = None) -> dict:
    """VGG7 widths: each conv's out (and the next conv's in), its BatchNorm, and ``seq_blocks_22``'s
    in = ``channels[-1] * 16`` (4×4 after three poolings of a 32×32 image). Explicit sizes."""
    if not isinstance(channels, (tuple, list)) or len(channels) != 6:
        raise LabError(f"vgg channels: expected 6 conv widths, got {channels!r}")
    for i, ch in enumerate(channels):
        _positive_int(ch, f"channels[{i}]", "vgg_channels_pass_args")
    args: dict = {"by": "name", "default": {"config": {"name": None}}, "input_shape": (3, 32, 32)}
    c_in = 3
    for idx, c_out in zip(VGG7_CONV_INDICES, channels):
        args[f"seq_blocks_{idx}"] = {"config": {"name": "explicit", "in_channels": c_in, "out_channels": c_out}}
        args[f"seq_blocks_{idx + 1}"] = {"config": {"name": "explicit", "num_features": c_out}}
        c_in = c_out
    args[f"seq_blocks_{VGG7_FIRST_LINEAR}"] = {"config": {"name": "explicit", "in_features": channels[-1] * 16}}
    if seed is not None:
        args["seed"] = seed
    return args
