"""Quantization-aware training (QAT) of many fixed-point configurations of one model at once.

Each configuration (MASE's pass config as :func:`lab_utils.passes.quantize.quantize_model` takes it,
``by`` name or type) fine-tunes the same float checkpoint with the straight-through estimator (STE),
with the recipe of MASE's ``basic_train`` runner (:class:`QATRecipe`), then is evaluated on the
validation split. :func:`qat_runs` is the entry point.

**Batched.** The configurations share the architecture, so ``S`` of them become ``S`` *slots* of one
module (:class:`~lab_utils.training.qat_slots.SlotChain`: ``(S, out, in)`` weights, one
``torch.baddbmm`` per Linear for all slots, per-slot BatchNorm, and per-slot quantizer constants
that broadcast over the slot dimension, bit-identical to ``integer_quantize``). Widths are resolved
by running the quantize pass itself on each configuration (``"NA"``, bias defaults, ``"auto"`` from
the starting weights or ``pass_args["calibration"]``), so there is one reading of a config.

Why a slot's result does not depend on its group (the other configurations trained with it): the
loss is the sum over slots of each slot's mean cross-entropy, so a slot's gradient is that of its own
loss; matrix products, reductions and element-wise operations of one slot never mix with another's;
the optimizer (:class:`_SlotOptimizer`) is one IEEE operation per kernel, as
:class:`lab_utils.training.batched.SlotOptimizer` (whose SGD is this project's Nesterov one, not
MASE's plain SGD, and which decays every parameter where MASE spares biases; hence a second one).
The layers before the first per-slot parameter (BatchNorm's normalisation of the inputs) run once per
distinct minibatch, which is a property of the architecture, not of the group.
``tests/training/test_qat.py`` checks bit-identity across group compositions and, against an
independent oracle (``quantize_model`` and a plain loop with ``torch.optim``), agreement to float
tolerance (sums run in another order).

Supported for batching: chains of ``linear``, ``batch_norm1d``, ``relu``, ``identity`` (the JSC
models). Any other model (a CNN) runs the same recipe one configuration after another on the
quantized model itself (:func:`_qat_one`). Groups of at most :data:`MAX_SLOTS` slots run in
``workers`` spawned processes with one torch thread each (:mod:`lab_utils.training.slots`, as
:func:`lab_utils.training.batched.train_runs`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from lab_utils.errors import LabError
from lab_utils.passes import graph as graph_mod
from lab_utils.passes.quantize import quantize_model, quantize_transform_pass
from lab_utils.progress import progress_bar
from lab_utils.training import slots
from lab_utils.training.qat_slots import SlotChain, slot_nodes
from lab_utils.training.train import (
    SMALL_MODEL_PARAMS,
    check_minibatches,
    evaluate,
    metrics_from_logits,
    minibatches,
    num_threads,
)

SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine")
OPTIMIZERS = ("adam", "adamw", "sgd")
MAX_SLOTS = 48
EVAL_CHUNK = 4096  # validation rows per batched forward (fixed, so a slot's sums do not depend on S)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class QATRecipe:
    """MASE's ``basic_train`` keys, plus the data module's ``batch_size`` and a ``seed``.

    ``num_samples`` (-1: no limit) and ``max_epochs`` (-1: no limit; not both -1) bound the training
    samples as MASE does: ``min(num_samples, max_epochs · batches_per_epoch · batch_size)`` rounded up
    to whole batches, drawn in seeded shuffled order, epoch after epoch (``num_samples`` below one
    epoch trains on the first ``num_samples`` jets of the epoch's shuffled order). Unlike MASE, -1
    means "no limit" (MASE's arithmetic turned ``num_samples = -1`` into one batch and
    ``max_epochs = -1`` into no training at all). ``optimizer``:
    adam, adamw or sgd (plain, no momentum: MASE's); weight decay spares parameters named ``bias``
    (MASE's grouping). ``lr_scheduler``: HuggingFace's ``get_scheduler`` names that MASE passes on,
    of which constant, constant_with_warmup, linear and cosine are supported, stepped once per
    optimizer step, with ``num_warmup_steps`` of linear warm-up (``constant`` has none, as in HF) over
    the run's optimizer steps (MASE used ``steps_per_epoch · max_epochs``, so a shorter run never
    finished its decay). ``gradient_accumulation_steps`` batches are summed per optimizer step, each
    loss divided by it.
    """
    num_samples: int = -1
    max_epochs: int = 1
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    num_warmup_steps: int = 0
    gradient_accumulation_steps: int = 1
    batch_size: int = 512
    seed: int = 0

    def __post_init__(self):
        for key in ("num_samples", "max_epochs"):
            v = getattr(self, key)
            if not _whole(v) or not (v >= 1 or v == -1):
                raise LabError(f"{key} must be a whole number >= 1 or -1 (no limit), got {v!r}")
        if self.num_samples == -1 and self.max_epochs == -1:
            raise LabError("num_samples and max_epochs cannot both be -1 (give a number of samples or of epochs)")
        if self.optimizer not in OPTIMIZERS:
            raise LabError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}")
        if isinstance(self.learning_rate, bool) or not (isinstance(self.learning_rate, (int, float))
                                                        and 0 < self.learning_rate <= 10):
            raise LabError(f"learning_rate must be a number in (0, 10], got {self.learning_rate!r}")
        if isinstance(self.weight_decay, bool) or not (isinstance(self.weight_decay, (int, float))
                                                       and 0 <= self.weight_decay < math.inf):
            raise LabError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        if self.lr_scheduler not in SCHEDULERS:
            raise LabError(f"lr_scheduler must be one of {', '.join(SCHEDULERS)}; got {self.lr_scheduler!r}")
        for key, low in (("num_warmup_steps", 0), ("gradient_accumulation_steps", 1), ("batch_size", 1),
                         ("seed", 0)):
            if not _whole(getattr(self, key)) or getattr(self, key) < low:
                raise LabError(f"{key} must be a whole number >= {low}, got {getattr(self, key)!r}")

    @classmethod
    def from_mase(cls, table: dict, where: str = "basic_train", **extra) -> QATRecipe:
        """A recipe from a ``[search.strategy.sw_runner.basic_train]`` table; ``extra``: batch_size, seed.

        Unknown keys and bad values are one-line :class:`LabError` s naming ``where.<key>``.
        """
        if not isinstance(table, dict):
            raise LabError(f"{where}: must be a table of {', '.join(MASE_KEYS)}, got {type(table).__name__}")
        unknown = [k for k in table if k not in MASE_KEYS]
        if unknown:
            raise LabError(f"{where}.{unknown[0]}: unknown key; allowed: {', '.join(MASE_KEYS)}")
        try:
            return cls(**table, **extra)
        except LabError as exc:
            raise LabError(f"{where}.{exc}") from None

    def as_dict(self) -> dict:
        return asdict(self)

    def num_batches(self, n: int) -> int:
        """Training batches (forward/backward passes) on ``n`` training samples (an epoch's batches are
        :func:`~lab_utils.training.train.minibatches`: a lone last row joins the batch before it)."""
        per_epoch = len(minibatches(n, self.batch_size)) * self.batch_size
        budget = per_epoch * self.max_epochs if self.max_epochs != -1 else math.inf
        if self.num_samples != -1:
            budget = min(budget, self.num_samples)
        return math.ceil(budget / self.batch_size)

    def lr_at(self, step: int, total: int) -> float:
        """The learning rate of optimizer step ``step`` (0-based) of ``total`` (HF's schedule formulas)."""
        w = self.num_warmup_steps
        if self.lr_scheduler != "constant" and step < w:
            return self.learning_rate * step / max(1, w)
        progress = (step - w) / max(1, total - w)
        factor = {"linear": max(0.0, 1.0 - progress), "cosine": max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))}
        return self.learning_rate * factor.get(self.lr_scheduler, 1.0)


MASE_KEYS = tuple(f.name for f in fields(QATRecipe) if f.name not in ("batch_size", "seed"))


# ----------------------------------------------------------------------------- optimizer and loop
class _SlotOptimizer:
    """MASE's optimizers (``torch.optim`` Adam, AdamW, plain SGD) on batched tensors, one IEEE op per kernel.

    Parameters whose name holds ``bias`` get no weight decay (MASE's ``get_optimizer`` grouping).
    Each kernel rounds the same in the vector and scalar code paths, so an entry's update depends
    only on its own values (see :class:`lab_utils.training.batched.SlotOptimizer` for the measurement).
    """

    def __init__(self, named_params, recipe: QATRecipe):
        self.recipe, self.t = recipe, 0
        self.params = [(p, 0.0 if "bias" in name else float(recipe.weight_decay))
                       for name, p in named_params if p.requires_grad]
        self.m = [torch.zeros_like(p) for p, _ in self.params]
        self.v = [torch.zeros_like(p) for p, _ in self.params]

    def zero_grad(self) -> None:
        for p, _ in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: float) -> None:
        kind, b1, b2, eps = self.recipe.optimizer, 0.9, 0.999, 1e-8
        self.t += 1
        for (p, wd), m, v in zip(self.params, self.m, self.v):
            g = p.grad
            if g is None:
                continue
            if wd and kind != "adamw":
                g = g + p * wd
            if kind == "sgd":
                p.sub_(g * lr)
                continue
            if wd:
                p.mul_(1 - lr * wd)
            m.mul_(b1).add_(g * (1 - b1))
            v.mul_(b2).add_(g * g * (1 - b2))
            denom = (v.sqrt() / math.sqrt(1 - b2**self.t)).add_(eps)
            p.sub_(m / denom * (lr / (1 - b1**self.t)))


def _fit(loss_fn, named_params, seeds: list[int], x: torch.Tensor, y: torch.Tensor, recipe: QATRecipe) -> dict:
    """The training loop shared by both paths: ``loss_fn(xb (U,B,...), yb (U,B), row_of) -> (S,)`` losses.

    One seeded generator per distinct seed draws a ``randperm`` at the start of every epoch (as
    :func:`lab_utils.training.train.train`); batches are views of it, the last one of an epoch short.
    Returns each slot's mean training loss, the batches and the optimizer steps taken.
    """
    n = x.shape[0]
    bounds = minibatches(n, recipe.batch_size)  # a lone last row joins the batch before it (BatchNorm)
    per_epoch, num = len(bounds), recipe.num_batches(n)
    accum = recipe.gradient_accumulation_steps
    total_steps = math.ceil(num / accum)
    uniq = sorted(set(seeds))
    gens = [torch.Generator().manual_seed(s) for s in uniq]
    row_of = torch.tensor([uniq.index(s) for s in seeds])
    opt = _SlotOptimizer(named_params, recipe)
    loss_sum, seen, step = torch.zeros(len(seeds), dtype=torch.float64), 0, 0
    for i in range(num):
        j = i % per_epoch
        if j == 0:
            perms = torch.stack([torch.randperm(n, generator=g) for g in gens])
        idx = perms[:, bounds[j][0]:bounds[j][1]]
        xb = x.index_select(0, idx.reshape(-1)).view(len(uniq), idx.shape[1], *x.shape[1:])
        yb = y.index_select(0, idx.reshape(-1)).view(len(uniq), idx.shape[1])
        per_slot = loss_fn(xb, yb, row_of)
        (per_slot / accum).sum().backward()
        loss_sum += per_slot.detach().double() * idx.shape[1]
        seen += idx.shape[1]
        if (i + 1) % accum == 0 or i == num - 1:
            opt.step(recipe.lr_at(step, total_steps))
            opt.zero_grad()
            step += 1
    return {"train_loss": (loss_sum / max(seen, 1)).tolist(), "batches": num, "steps": step, "samples": seen}


@torch.no_grad()
def evaluate_chain(chain: SlotChain, x: torch.Tensor, y: torch.Tensor, chunk: int = EVAL_CHUNK) -> list[dict]:
    """Per slot: :func:`~lab_utils.training.train.metrics_from_logits` of its logits on the whole split."""
    chain.eval()
    parts = [chain.run(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)]
    logits = torch.cat(parts, dim=1)
    del parts
    return [metrics_from_logits(logits[s], y) for s in range(chain.n_slots)]


def _chain_group(model: nn.Module, node_cfgs: list[dict], seeds: list[int], data, recipe: QATRecipe) -> list[dict]:
    """Fine-tune one group as slots of a :class:`SlotChain` on one thread; per slot: numpy state + metrics."""
    with num_threads(1):
        chain = SlotChain(model, node_cfgs).train()

        def loss_fn(xb, yb, row_of):
            logits = chain.run(xb, row_of)
            return F.cross_entropy(logits.transpose(1, 2), yb[row_of], reduction="none").mean(1)

        fit = _fit(loss_fn, list(chain.named_parameters()), seeds, data.x_train, data.y_train, recipe)
        vals = evaluate_chain(chain, data.x_val, data.y_val)
    return [{"state": slots.to_numpy(chain.slot_state(s)), "val": vals[s],
             "train_loss": fit["train_loss"][s], "batches": fit["batches"], "steps": fit["steps"],
             "samples": fit["samples"]} for s in range(len(seeds))]


def _qat_one(model: nn.Module, args: dict, seed: int, data, recipe: QATRecipe) -> dict:
    """The unbatched path (models that are not chains): the same loop on ``quantize_model``'s module."""
    q = quantize_model(model, args).train()
    small = sum(p.numel() for p in q.parameters()) < SMALL_MODEL_PARAMS
    with num_threads(1 if small else None):
        fit = _fit(lambda xb, yb, _row: F.cross_entropy(q(xb[0]), yb[0]).unsqueeze(0), list(q.named_parameters()),
                   [seed], data.x_train, data.y_train, recipe)
        val = evaluate(q, data.x_val, data.y_val)
    return {"state": slots.to_numpy(q.state_dict()), "val": val,
            "train_loss": fit["train_loss"][0], "batches": fit["batches"], "steps": fit["steps"],
            "samples": fit["samples"]}


# ----------------------------------------------------------------------------- many configurations
def plan_groups(n: int, workers: int = 1) -> list[list[int]]:
    """Consecutive groups of at most :data:`MAX_SLOTS` slots, a multiple of ``workers`` of them."""
    return slots.equal_parts(range(n), MAX_SLOTS, workers)


def resolve_configs(model: nn.Module, configs: list[dict]) -> list[dict]:
    """Each config's per-node resolved quantize configs (``info["configs"]`` of the quantize pass)."""
    graph = graph_mod.trace(model)
    return [quantize_transform_pass(graph, args)[1]["configs"] for args in configs]


def qat_runs(model: nn.Module, configs: list[dict], splits, recipe: QATRecipe = QATRecipe(), *,
             seeds: list[int] | None = None, workers: int = 1, progress: bool = True) -> list[dict]:
    """Fine-tune ``model`` (its current weights: the checkpoint) under every quantize config in ``configs``.

    ``seeds`` (default: ``recipe.seed`` for all) seeds each run's minibatch order. Returns, per config,
    ``config`` (the pass args with every node's resolved widths, ``by="name"``: give it to
    :func:`qat_model`), ``seed``, ``val`` (accuracy, macro_accuracy, loss, n on ``splits.x_val``),
    ``train_loss`` (mean over the batches), ``batches``, ``steps`` (optimizer steps), ``samples`` and
    ``state_dict`` (the trained float weights, the model's keys). Chains run batched in groups
    (:func:`plan_groups`) in ``workers`` spawned processes (1: in this process); other models one by one.
    """
    seeds = [recipe.seed] * len(configs) if seeds is None else [int(s) for s in seeds]
    check_minibatches(model, splits.x_train.shape[0], recipe.batch_size)
    if len(seeds) != len(configs):
        raise LabError(f"qat_runs: {len(configs)} configs but {len(seeds)} seeds; give one seed per config")
    if not configs:
        return []
    node_cfgs = resolve_configs(model, configs)
    resolved = [{"by": "name", "default": {"config": {"name": None}}, **{k: {"config": c} for k, c in nc.items()}}
                for nc in node_cfgs]
    out: list[dict | None] = [None] * len(configs)
    if slot_nodes(graph_mod.trace(model)) is None:
        for j in progress_bar(range(len(configs)), desc="QAT", progress=progress):
            out[j] = _qat_one(model, resolved[j], seeds[j], splits, recipe)
    else:
        groups = plan_groups(len(configs), workers)
        jobs = [(model, [node_cfgs[j] for j in g], [seeds[j] for j in g]) for g in groups]
        bar = progress_bar(total=len(configs), desc=f"QAT of {len(configs)} configs", progress=progress)
        for g, results in slots.run_groups(_chain_group, jobs, splits, recipe, workers):
            for j, res in zip(groups[g], results):
                out[j] = res
            bar.update(len(groups[g]))
        bar.close()
    for j, res in enumerate(out):
        res["state_dict"] = slots.from_numpy(res.pop("state"))
        out[j] = {"config": resolved[j], "seed": seeds[j], **res}
    return out


def qat_model(model: nn.Module, result: dict) -> nn.Module:
    """The fine-tuned quantized model of one :func:`qat_runs` result (eval mode; ``model`` untouched)."""
    graph = graph_mod.trace(model)
    graph.model.load_state_dict(result["state_dict"])
    return quantize_model(graph.model, result["config"]).eval()
