"""Many quantization configurations of one chain model as the slots of one module (for :mod:`.qat`).

:class:`SlotChain` holds ``S`` copies of a model made of ``linear``, ``batch_norm1d``, ``relu`` and
``identity`` layers in a chain (:func:`slot_nodes`): a Linear's weight is an ``(S, out, in)`` tensor
and one ``torch.baddbmm`` runs every slot; a BatchNorm has per-slot affine parameters and running
statistics. Each quantized tensor (a Linear's input, weight, bias) has a ``(4, S)`` table of
``2**f, 2**-f, int_min, int_max`` per slot, viewed as ``(S, 1, ...)`` so it broadcasts over the slot
dimension: slot ``s`` is quantized with its own ``(width, frac_width)`` by the same three in-place
passes as :func:`lab_utils.passes.quantize.integer_quantize` (multiply, round half to even, clamp,
multiply back). Scaling by a power of two is exact, so a slot's quantized values equal
``integer_quantize``'s bit for bit. A slot whose node is float (absent from its config, or
``bypass``) takes its input unchanged (``torch.where`` on a slot mask, skipped when every slot
quantizes). The backward pass is the straight-through estimator.

Why a hand-written module and not ``torch.func.vmap`` over ``quantize_model``'s module: there the
widths are Python ints on each ``LinearInteger``, not tensors, so they cannot vary along a vmapped
dimension without rewriting the quantizer as tensor arithmetic, which is most of this module; the
rest is a few lines per layer type.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lab_utils.errors import LabError
from lab_utils.passes import graph as graph_mod
from lab_utils.passes.quantize import TENSORS

CHAIN_OPS = ("linear", "batch_norm1d", "relu", "identity")


def _slot_quantize(x: torch.Tensor, q: torch.Tensor, on: torch.Tensor, all_on: bool) -> torch.Tensor:
    """``x`` (slot first) quantized per slot: ``q`` rows are ``2**f, 2**-f, int_min, int_max`` per slot."""
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    out = torch.mul(x, q[0].view(shape))
    out.round_()
    out.clamp_(q[2].view(shape), q[3].view(shape))
    out.mul_(q[1].view(shape))
    return out if all_on else torch.where(on.view(shape), out, x)


class _SlotQuantizeSTE(torch.autograd.Function):
    """The straight-through estimator: the gradient passes unchanged (as ``quantize._IntegerQuantizeSTE``)."""

    @staticmethod
    def forward(ctx, x, q, on, all_on):
        return _slot_quantize(x, q, on, all_on)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None, None


def _quant_table(cfgs: list[dict | None], t: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(4, S)`` quantizer constants of tensor ``t`` and the ``(S,)`` mask of slots that quantize it."""
    q = torch.zeros(4, len(cfgs))
    on = torch.zeros(len(cfgs), dtype=torch.bool)
    for s, cfg in enumerate(cfgs):
        if cfg is None or cfg["bypass"]:
            q[:, s] = torch.tensor([1.0, 1.0, -math.inf, math.inf])
            continue
        w, f = cfg[f"{t}_width"], cfg[f"{t}_frac_width"]
        q[:, s] = torch.tensor([2.0**f, 2.0**-f, -(2 ** (w - 1)), 2 ** (w - 1) - 1], dtype=torch.float64).float()
        on[s] = True
    return q, on


def slot_nodes(graph) -> list | None:
    """The nodes a :class:`SlotChain` holds: ``graph.chain(CHAIN_OPS)``
    (:meth:`~lab_utils.passes.graph.LabGraph.chain`) if every BatchNorm is one it writes, else None."""
    nodes = graph.chain(CHAIN_OPS)
    for info in nodes or ():
        bn = info.module if info.op == "batch_norm1d" else None
        if bn is not None and (bn.momentum is None or not bn.affine or not bn.track_running_stats):
            return None  # cumulative averages, no affine or no running statistics: not written here
    return nodes


class SlotChain(nn.Module):
    """``S`` copies of one chain model (:func:`slot_nodes`), slot ``s`` quantized by ``node_cfgs[s]``.

    ``node_cfgs[s]`` maps node names to resolved quantize configs (``info["configs"]`` of the quantize
    pass); a Linear absent from it stays float in that slot. Parameters start as the model's weights.
    Training input: minibatches ``(U, B, F)``, one per distinct seed, slot ``s`` reading row ``row_of[s]``.
    """

    def __init__(self, model: nn.Module, node_cfgs: list[dict]):
        super().__init__()
        graph = graph_mod.trace(model)
        self.nodes = slot_nodes(graph)
        if self.nodes is None:
            raise LabError("batched QAT takes chains of linear, batch_norm1d, relu and identity layers")
        S = self.n_slots = len(node_cfgs)
        self.all_on: dict[str, bool] = {}
        for i, info in enumerate(self.nodes):
            m = info.module
            if info.op == "linear":
                self.register_parameter(f"n{i}_weight", nn.Parameter(m.weight.detach().expand(S, -1, -1).clone()))
                b = m.bias.detach() if m.bias is not None else torch.zeros(m.out_features)
                self.register_parameter(f"n{i}_bias", nn.Parameter(b.expand(S, -1).clone(), m.bias is not None))
                for t in TENSORS:
                    q, on = _quant_table([c.get(info.name) for c in node_cfgs], t)
                    self.register_buffer(f"n{i}_{t}_q", q)
                    self.register_buffer(f"n{i}_{t}_on", on)
                    self.all_on[f"n{i}_{t}"] = bool(on.all())
            elif info.op == "batch_norm1d":
                self.register_parameter(f"n{i}_weight", nn.Parameter(m.weight.detach().expand(S, -1).clone()))
                self.register_parameter(f"n{i}_bias", nn.Parameter(m.bias.detach().expand(S, -1).clone()))
                for k in ("running_mean", "running_var", "num_batches_tracked"):
                    self.register_buffer(f"n{i}_{k}", getattr(m, k).detach().expand(S, *getattr(m, k).shape).clone())

    def _q(self, x: torch.Tensor, i: int, t: str) -> torch.Tensor:
        q, on, all_on = getattr(self, f"n{i}_{t}_q"), getattr(self, f"n{i}_{t}_on"), self.all_on[f"n{i}_{t}"]
        if torch.is_grad_enabled() and x.requires_grad:
            return _SlotQuantizeSTE.apply(x, q, on, all_on)
        return _slot_quantize(x, q, on, all_on)

    def _linear(self, h: torch.Tensor, i: int) -> torch.Tensor:
        w, b = self._q(getattr(self, f"n{i}_weight"), i, "weight"), self._q(getattr(self, f"n{i}_bias"), i, "bias")
        return torch.baddbmm(b.unsqueeze(1), self._q(h, i, "data_in"), w.transpose(1, 2))

    def _batch_norm(self, h: torch.Tensor, i: int, info, row_of: torch.Tensor | None, shared: bool) -> torch.Tensor:
        """Batch statistics (training: ``row_of`` given) or running ones, then the per-slot affine.

        In training a ``shared`` input has one row per distinct minibatch: its statistics are taken
        once per row, and each slot's running statistics track its row's."""
        m = info.module
        rm, rv = getattr(self, f"n{i}_running_mean"), getattr(self, f"n{i}_running_var")
        if row_of is None:
            h = (h - rm.unsqueeze(1)) * torch.rsqrt(rv + m.eps).unsqueeze(1)
        else:
            mean, var = h.mean(1, keepdim=True), h.var(1, unbiased=False, keepdim=True)
            rows = row_of if shared else slice(None)
            with torch.no_grad():  # separate multiply and add, no alpha=: see qat._SlotOptimizer
                n, mom = h.shape[1], m.momentum
                rm.mul_(1 - mom).add_(mean.squeeze(1)[rows] * mom)
                rv.mul_(1 - mom).add_(var.squeeze(1)[rows] * (n / (n - 1)) * mom)
                getattr(self, f"n{i}_num_batches_tracked").add_(1)
            h = (h - mean) * torch.rsqrt(var + m.eps)
            h = h[row_of] if shared else h
        return h * getattr(self, f"n{i}_weight").unsqueeze(1) + getattr(self, f"n{i}_bias").unsqueeze(1)

    def run(self, xb: torch.Tensor, row_of: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(S, B, C)``. Training (``row_of`` given): ``xb`` is ``(U, B, F)``, BatchNorm uses
        batch statistics; else ``xb`` is ``(B, F)``, shared by every slot, with running statistics."""
        h, shared = (xb if row_of is not None else xb.unsqueeze(0)), True
        for i, info in enumerate(self.nodes):
            if info.op == "relu":
                h = torch.relu(h)
            elif info.op == "batch_norm1d":
                if shared and row_of is None:
                    h, shared = h.expand(self.n_slots, -1, -1), False
                h, shared = self._batch_norm(h, i, info, row_of, shared), False
            elif info.op == "linear":
                if shared:
                    h = h[row_of] if row_of is not None else h.expand(self.n_slots, -1, -1)
                h, shared = self._linear(h, i), False
        if shared:
            h = h[row_of] if row_of is not None else h.expand(self.n_slots, -1, -1)
        return h

    def slot_state(self, s: int) -> dict[str, torch.Tensor]:
        """Slot ``s``'s float weights and statistics under the source model's state-dict keys."""
        out = {}
        for i, info in enumerate(self.nodes):
            names = {"linear": ("weight", "bias"), "batch_norm1d": ("weight", "bias", "running_mean", "running_var",
                                                                     "num_batches_tracked")}.get(info.op, ())
            for k in names:
                if k == "bias" and info.module.bias is None:
                    continue
                out[f"{info.target}.{k}"] = getattr(self, f"n{i}_{k}")[s].detach().clone()
        return out
