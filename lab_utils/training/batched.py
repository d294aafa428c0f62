"""Train many small jsc-three-linear-layers candidates at once, as one padded, batched model.

Lab 4 trains every width candidate (25 of them, times several seeds). Each is tiny (661 to 8,085
parameters), so training them one after another is bound by per-step overhead (a dozen small ops
and an optimizer step for a 512-row minibatch), not by arithmetic. Here ``S`` candidates become
``S`` *slots* of one module whose Linear weights are ``(S, out, in)`` tensors padded to the widest
candidate; a forward pass is one ``torch.baddbmm`` per layer for all slots.

Why every slot computes exactly its own smaller network:

- padded weight rows/columns and biases start at zero and are *masked*: their gradients are
  multiplied by a 0/1 mask after every backward pass, so Adam's moments for them stay zero and the
  update ``lr * m / (sqrt(v) + eps)`` is exactly zero (weight decay of a zero weight is zero too);
- a padded hidden unit therefore always has pre-activation 0, ReLU(0) = 0, and it contributes
  exact zeros to the next layer's sums;
- the BatchNorm on the 16 inputs has per-slot parameters and per-slot batch statistics and
  running statistics (same formulas as ``nn.BatchNorm1d``);
- the loss is the *sum* over slots of each slot's mean cross-entropy, so each slot's gradient is the
  gradient of its own loss;
- each slot has its own seed: its minibatches come from ``torch.randperm(n, generator)`` seeded
  exactly as :func:`lab_utils.training.train.train` does (slots with the same seed share the permutation),
  and the optimizer and cosine schedule are :func:`lab_utils.training.train.make_optimizer`'s;
- after every epoch each slot is evaluated on the validation split and its best-validation-loss
  weights are kept, as :func:`~lab_utils.training.train.train` does.

A slot exported with :meth:`BatchedThreeLinear.export` is a plain
``build_model("jsc-three-linear-layers", hidden=(h1, h2))``; ``tests/training/test_batched.py``
checks that it matches the same network trained alone by ``train()`` with the same init and seed,
to float tolerance (the sums run in a different order). :func:`train_grid` adds the candidate disk
cache of :mod:`lab_utils.training.candidates` (same keys, same file format, written by the same
:func:`~lab_utils.training.candidates.save_candidate`), so a search that asks for a candidate
trained here loads it instead of training it again. Large grids are cut into groups
(:func:`split_groups`) trained one after another in this process.
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.progress import progress_bar
from lab_utils.training import candidates
from lab_utils.training.train import History, Recipe, make_optimizer, num_threads

MODEL = "jsc-three-linear-layers"
N_IN, N_OUT = 16, 5


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.seq_blocks if isinstance(m, nn.Linear)]


class BatchedThreeLinear(nn.Module):
    """``S`` jsc-three-linear-layers networks of different hidden widths in one module.

    Built from already-initialised plain models (their weights are the slots' initial weights).
    Input ``(S, B, 16)`` -> logits ``(S, B, 5)``.
    """

    def __init__(self, models: list[nn.Module]):
        super().__init__()
        if not models:
            raise LabError("batched training needs at least one model")
        lins = [_linears(m) for m in models]
        for i, ls in enumerate(lins):
            if len(ls) != 3 or ls[0].in_features != N_IN or ls[2].out_features != N_OUT:
                raise LabError(f"model {i}: batched training takes {MODEL} models (16 -> h1 -> h2 -> 5)")
        self.hidden = [(ls[0].out_features, ls[1].out_features) for ls in lins]
        self.logit_relu = [isinstance(m.seq_blocks[-1], nn.ReLU) for m in models]
        S = len(models)
        H1 = max(h for h, _ in self.hidden)
        H2 = max(h for _, h in self.hidden)
        dims = [(N_IN, H1), (H1, H2), (H2, N_OUT)]
        for k, (i, o) in enumerate(dims):
            self.register_parameter(f"w{k}", nn.Parameter(torch.zeros(S, o, i)))
            self.register_parameter(f"b{k}", nn.Parameter(torch.zeros(S, o)))
            self.register_buffer(f"mw{k}", torch.zeros(S, o, i))
            self.register_buffer(f"mb{k}", torch.zeros(S, o))
        bn0 = models[0].seq_blocks[0]
        self.eps, self.momentum = bn0.eps, bn0.momentum
        self.bn_weight = nn.Parameter(torch.stack([m.seq_blocks[0].weight.detach() for m in models]).clone())
        self.bn_bias = nn.Parameter(torch.stack([m.seq_blocks[0].bias.detach() for m in models]).clone())
        self.register_buffer("running_mean", torch.stack([m.seq_blocks[0].running_mean for m in models]).clone())
        self.register_buffer("running_var", torch.stack([m.seq_blocks[0].running_var for m in models]).clone())
        self.register_buffer("num_batches_tracked", torch.stack([m.seq_blocks[0].num_batches_tracked for m in models]).clone())
        self.register_buffer("relu_out", torch.tensor(self.logit_relu).view(S, 1, 1))
        with torch.no_grad():
            for s, ls in enumerate(lins):
                for k, lin in enumerate(ls):
                    o, i = lin.weight.shape
                    getattr(self, f"w{k}")[s, :o, :i] = lin.weight
                    getattr(self, f"mw{k}")[s, :o, :i] = 1.0
                    if lin.bias is not None:
                        getattr(self, f"b{k}")[s, :o] = lin.bias
                        getattr(self, f"mb{k}")[s, :o] = 1.0

    @property
    def n_slots(self) -> int:
        return len(self.hidden)

    def mask_grads(self) -> None:
        """Zero the gradients of padded entries (so the optimizer never moves them)."""
        for k in range(3):
            for p, m in ((getattr(self, f"w{k}"), getattr(self, f"mw{k}")), (getattr(self, f"b{k}"), getattr(self, f"mb{k}"))):
                if p.grad is not None:
                    p.grad.mul_(m)

    def _batch_norm(self, x: torch.Tensor) -> torch.Tensor:
        # nn.BatchNorm1d per slot: normalise with the biased batch variance, track the unbiased one.
        if self.training:
            mean = x.mean(1, keepdim=True)
            var = x.var(1, unbiased=False, keepdim=True)
            with torch.no_grad():
                n = x.shape[1]
                m = self.momentum
                self.running_mean.mul_(1 - m).add_(mean.squeeze(1), alpha=m)
                self.running_var.mul_(1 - m).add_(var.squeeze(1) * (n / (n - 1)), alpha=m)
                self.num_batches_tracked.add_(1)
        else:
            mean, var = self.running_mean.unsqueeze(1), self.running_var.unsqueeze(1)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.bn_weight.unsqueeze(1) + self.bn_bias.unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # the same inputs for every slot
            x = x.unsqueeze(0).expand(self.n_slots, -1, -1)
        h = torch.relu(self._batch_norm(x))
        h = torch.relu(torch.baddbmm(self.b0.unsqueeze(1), h, self.w0.transpose(1, 2)))
        h = torch.relu(torch.baddbmm(self.b1.unsqueeze(1), h, self.w1.transpose(1, 2)))
        out = torch.baddbmm(self.b2.unsqueeze(1), h, self.w2.transpose(1, 2))
        return torch.where(self.relu_out, torch.relu(out), out)

    def slot_state(self) -> dict[str, torch.Tensor]:
        """All per-slot tensors (parameters and BatchNorm statistics), first dimension = slot."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(("mw", "mb", "relu_out"))}

    @torch.no_grad()
    def export(self, s: int) -> nn.Module:
        """Slot ``s`` as a plain ``build_model("jsc-three-linear-layers", hidden=...)`` model."""
        h1, h2 = self.hidden[s]
        model = build_model(MODEL, hidden=(h1, h2), logit_relu=self.logit_relu[s])
        bn = model.seq_blocks[0]
        bn.weight.copy_(self.bn_weight[s])
        bn.bias.copy_(self.bn_bias[s])
        bn.running_mean.copy_(self.running_mean[s])
        bn.running_var.copy_(self.running_var[s])
        bn.num_batches_tracked.copy_(self.num_batches_tracked[s])
        for k, lin in enumerate(_linears(model)):
            o, i = lin.weight.shape
            lin.weight.copy_(getattr(self, f"w{k}")[s, :o, :i])
            lin.bias.copy_(getattr(self, f"b{k}")[s, :o])
        return model.eval()


@torch.no_grad()
def evaluate_slots(model: BatchedThreeLinear, x: torch.Tensor, y: torch.Tensor, num_classes: int = N_OUT,
                   chunk: int = 4096) -> list[dict]:
    """Per slot: accuracy, macro_accuracy, loss, n (those of :func:`lab_utils.training.train.metrics_from_logits`).

    Evaluated in chunks so ``S x chunk x width`` activations stay small (tens of MB). Why this does
    not call ``metrics_from_logits`` per slot: the two agree only to float rounding, not bit for
    bit, and every recorded batched history (best epochs, cached candidates' ``val``) depends on
    these exact values. Here the loss is summed per chunk and accumulated in float64, and accuracy
    is a float64 count over ``n``; ``metrics_from_logits`` takes one float32 mean over the whole
    split for both (``macro_accuracy`` is the same float64 formula in both and matches exactly).
    ``tests/training/test_batched.py`` checks both properties.
    """
    was = model.training
    model.eval()
    S = model.n_slots
    loss = torch.zeros(S, dtype=torch.float64)
    correct = torch.zeros(S, num_classes, dtype=torch.float64)
    for i in range(0, x.shape[0], chunk):
        xb, yb = x[i:i + chunk], y[i:i + chunk]
        logits = model(xb)  # (S, b, C)
        loss += F.cross_entropy(logits.transpose(1, 2), yb.expand(S, -1), reduction="none").sum(1).double()
        hit = (logits.argmax(2) == yb).double()  # (S, b)
        correct += hit @ F.one_hot(yb, num_classes).double()
    model.train(was)
    counts = torch.bincount(y, minlength=num_classes).double()
    present = counts > 0
    recall = correct[:, present] / counts[present]
    n = int(y.shape[0])
    return [{"accuracy": float(correct[s].sum() / n), "macro_accuracy": float(recall[s].mean()),
             "loss": float(loss[s] / n), "n": n} for s in range(S)]


def train_batched(models: list[nn.Module], seeds: list[int], data, recipe: Recipe, *, progress: bool = True,
                  desc: str = "batched") -> tuple[list[nn.Module], list[History]]:
    """Train each ``models[i]`` (its current weights are the init) with ``replace(recipe, seed=seeds[i])``.

    Returns the trained models (new plain modules holding each slot's best-validation-loss weights,
    eval mode) and one :class:`~lab_utils.training.train.History` per slot (``seconds`` is the wall time of
    the whole batched run, shared by all slots). Same result as ``train(models[i], data, ...)``
    for every slot, to float tolerance.
    Runs on one thread: with 25 slots a step took 84 ms on 1 thread and 600 ms on 2 on this loaded
    2-core machine (OpenMP synchronisation on many small ops; see :func:`lab_utils.training.train.num_threads`).
    """
    with num_threads(1):
        return _train_batched(models, seeds, data, recipe, progress=progress, desc=desc)


def _train_batched(models, seeds, data, recipe, *, progress, desc):
    if len(models) != len(seeds):
        raise LabError(f"train_batched: {len(models)} models but {len(seeds)} seeds; give one seed per model")
    net = BatchedThreeLinear(models)
    S = net.n_slots
    opt, sched = make_optimizer(net, recipe)
    x, y = data.x_train, data.y_train
    n, B = x.shape[0], recipe.batch_size
    uniq = sorted(set(int(s) for s in seeds))
    gens = {s: torch.Generator().manual_seed(s) for s in uniq}
    row_of = torch.tensor([uniq.index(int(s)) for s in seeds])
    histories = [History() for _ in range(S)]
    best = {k: v.clone() for k, v in net.slot_state().items()}
    t0 = time.perf_counter()
    bar = progress_bar(range(recipe.epochs), desc=desc, progress=progress, leave=False)
    for epoch in bar:
        net.train()
        perms = torch.stack([torch.randperm(n, generator=gens[s]) for s in uniq])[row_of]  # (S, n)
        total = torch.zeros(S)
        for i in range(0, n, B):
            idx = perms[:, i:i + B]
            xb, yb = x[idx], y[idx]  # (S, b, 16), (S, b)
            per_slot = F.cross_entropy(net(xb).transpose(1, 2), yb, reduction="none").mean(1)
            opt.zero_grad(set_to_none=True)
            per_slot.sum().backward()
            net.mask_grads()
            opt.step()
            total += per_slot.detach() * idx.shape[1]
        sched.step()
        vals = evaluate_slots(net, data.x_val, data.y_val)
        improved = torch.tensor([hist.record(epoch + 1, float(total[s]) / n, val)
                                 for s, (hist, val) in enumerate(zip(histories, vals))], dtype=torch.bool)
        for k, v in net.slot_state().items():
            best[k][improved] = v[improved]
        bar.set_postfix(best_val_acc=f"{max(v['accuracy'] for v in vals):.3f}")
    seconds = time.perf_counter() - t0
    for hist in histories:
        hist.seconds = seconds
    net.load_state_dict({**net.state_dict(), **best})
    return [net.export(s) for s in range(S)], histories


def seeded_init(hidden: tuple[int, int], seed: int, logit_relu: bool = True) -> nn.Module:
    """A freshly initialised candidate whose init depends only on ``seed`` (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(MODEL, hidden=tuple(int(h) for h in hidden), logit_relu=logit_relu)


def train_grid(hiddens: list[tuple[int, int]], seeds: list[int], splits, recipe: Recipe, *, cache_dir=None,
               logit_relu: bool = True, progress: bool = True, groups: int | None = None) -> list[dict]:
    """Every (hidden, seed) pair trained once, batched, and stored in the candidate cache.

    Returns one dict per pair (in ``hiddens`` x ``seeds`` order): ``hidden``, ``seed``, ``model``,
    ``key``, ``path``, ``cached``, ``history``, ``val`` (as :func:`lab_utils.training.candidates.trained_candidate`
    returns). Pairs already in ``cache_dir`` are loaded; the rest are trained in batched runs and
    saved under the keys :func:`~lab_utils.training.candidates.trained_candidate` looks up, so a
    search with the same data, recipe and model arguments loads them instead of retraining.

    The pairs to train are split into ``groups`` batched models (default 2; grids under 8 pairs
    form one) by :func:`split_groups`: a group pads only to its own widest member, so two groups of
    the 25-candidate grid do about 0.77x the arithmetic of one padded to the widest. The groups
    are trained one after another; each starts from fresh seeded inits (:func:`seeded_init`).
    """
    groups_n = 2 if groups is None else int(groups)
    pairs = [(tuple(int(h) for h in hid), int(s)) for hid in hiddens for s in seeds]
    model_args = (lambda hid: {"hidden": hid}) if logit_relu else (lambda hid: {"hidden": hid, "logit_relu": False})
    out: list[dict | None] = [None] * len(pairs)
    todo = []
    for j, (hid, s) in enumerate(pairs):
        r = replace(recipe, seed=s)
        key, desc = candidates.candidate_key(MODEL, model_args(hid), splits, r)
        path = candidates.candidate_path(cache_dir, MODEL, key)
        if path is not None and path.exists():
            model, info = candidates.trained_candidate(MODEL, model_args(hid), splits, r, cache_dir=cache_dir)
            out[j] = {"hidden": hid, "seed": s, "model": model, **info}
        else:
            todo.append((j, hid, s, r, key, desc, path))
    if not todo:
        return out
    for group in split_groups([hid for _, hid, *_ in todo], groups_n if len(todo) >= 8 else 1):
        jobs = [todo[i] for i in group]
        inits = [seeded_init(hid, s, logit_relu) for _, hid, s, *_ in jobs]
        models, hists = train_batched(inits, [s for _, _, s, *_ in jobs], splits, recipe, progress=progress,
                                      desc=f"{len(inits)} candidates")
        for (j, hid, s, r, key, desc, path), model, hist in zip(jobs, models, hists):
            info = candidates.save_candidate(path, model, key, desc, splits, r, hist)
            out[j] = {"hidden": hid, "seed": s, "model": model, **info}
    return out


def _slot_cost(hidden) -> int:
    h1, h2 = hidden
    return 16 * h1 + h1 * h2 + h2 * 5


def split_groups(hiddens: list[tuple[int, int]], n_groups: int) -> list[list[int]]:
    """Split candidate indices into ``n_groups`` groups that minimise the slowest group's padded cost.

    A batched group costs (number of slots) x (the cost of its widest shape, every slot padded to
    it). Candidates are sorted by shape and cut into contiguous runs, so wide candidates share a
    group and the narrow ones are not padded to them; with two groups every cut point is tried.
    Written by hand: this is a two-way partition of at most a few hundred items.
    """
    order = sorted(range(len(hiddens)), key=lambda i: (hiddens[i][0], hiddens[i][1]))
    if n_groups <= 1 or len(order) < 2:
        return [order]

    def cost(idx):
        return len(idx) * _slot_cost((max(hiddens[i][0] for i in idx), max(hiddens[i][1] for i in idx)))

    cut = min(range(1, len(order)), key=lambda k: max(cost(order[:k]), cost(order[k:])))
    return [order[:cut], order[cut:]]
