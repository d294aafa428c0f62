"""Train many small jsc-three-linear-layers candidates at once, as padded, batched models, in two processes.

Lab 4 trains every width candidate (25 of them, two model variants, several seeds). Each is tiny
(661 to 8,085 parameters), so training them one after another is bound by per-step overhead, not by
arithmetic. Here ``S`` runs become ``S`` *slots* of one module whose Linear weights are
``(S, out, in)`` tensors padded to the group's width class; a forward pass is one ``torch.baddbmm``
per layer for all slots.

Why every slot computes exactly its own smaller network:

- padded weight rows/columns and biases start at zero; a padded hidden unit has pre-activation 0,
  ReLU(0) = 0 and ReLU's gradient at 0 is 0, so every padded entry's gradient is exactly zero and
  the optimizer (zero moments, zero weight) never moves it;
- the BatchNorm on the 16 inputs has per-slot affine parameters and running statistics (the batch
  statistics depend only on the minibatch, so slots that share a seed share them);
- the loss is the *sum* over slots of each slot's mean cross-entropy, so each slot's gradient is the
  gradient of its own loss;
- each slot has its own seed: minibatches from ``torch.randperm(n, generator)`` seeded and sliced
  (:func:`~lab_utils.training.train.minibatches`) as :func:`lab_utils.training.train.train` does; the learning rate follows the cosine schedule of
  :func:`~lab_utils.training.train.make_optimizer`; after every epoch each slot is evaluated on the
  validation split and its best-validation-loss weights are kept.

**A run's result does not depend on the other runs of its group nor on what is cached.** Groups are
*width classes* (:func:`width_class`): a candidate is always padded to the same shape, whatever else is
requested, and the per-slot arithmetic is independent of the number and order of slots: the
matrix products, reductions and elementwise operations of one slot do not mix with other slots,
and the optimizer (:class:`SlotOptimizer`) is written as one IEEE operation per kernel (no fused
multiply-add, whose vector and scalar code paths round differently, so a slot's position in a
tensor would matter). ``tests/training/test_batched.py`` checks bit-identity across group
compositions and across processes. Exported slots match ``train()`` of the same init and seed to
float tolerance (sums run in another order; ``torch.optim.Adam`` is fused).

:func:`train_runs` adds the candidate disk cache of :mod:`lab_utils.training.candidates` (same keys, same
file format) and trains the missing runs' groups in ``workers`` spawned processes with one torch
thread each (:mod:`lab_utils.training.slots`; why one thread: :func:`lab_utils.training.train.num_threads`);
each group is deterministic, so the result is the same with one process or two.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.progress import progress_bar
from lab_utils.training import candidates, slots
from lab_utils.training.train import History, Recipe, check_minibatches, make_optimizer, minibatches, num_threads

MODEL = "jsc-three-linear-layers"
N_IN, N_OUT = 16, 5
WIDTH_CLASSES = (48, 80)  # padded hidden widths; wider ones round up to a multiple of 64
MAX_SLOTS = 40  # slots per batched model (a class with more runs is cut into equal parts)
EVAL_CHUNK = 4096  # validation rows per forward pass (fixed: the loss sums depend on it)


def padded_width(h: int) -> int:
    """The width class of one hidden width: 48, 80, then multiples of 64."""
    for w in WIDTH_CLASSES:
        if h <= w:
            return w
    return 64 * math.ceil(h / 64)


def width_class(hidden) -> tuple[int, int]:
    """The padded shape a candidate always trains at: the same whatever else is requested."""
    return padded_width(int(hidden[0])), padded_width(int(hidden[1]))


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.seq_blocks if isinstance(m, nn.Linear)]


class BatchedThreeLinear(nn.Module):
    """``S`` jsc-three-linear-layers networks of different hidden widths in one module.

    Built from already-initialised plain models (their weights are the slots' initial weights),
    padded to ``padded`` (default: the widest member). Input ``(S, B, 16)`` or ``(B, 16)`` -> logits
    ``(S, B, 5)``. ``mw*``/``mb*`` mark the real (1) and padded (0) entries.
    """

    def __init__(self, models: list[nn.Module], padded: tuple[int, int] | None = None):
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
        H1 = max([h for h, _ in self.hidden] + [padded[0] if padded else 0])
        H2 = max([h for _, h in self.hidden] + [padded[1] if padded else 0])
        for k, (i, o) in enumerate([(N_IN, H1), (H1, H2), (H2, N_OUT)]):
            self.register_parameter(f"w{k}", nn.Parameter(torch.zeros(S, o, i)))
            self.register_parameter(f"b{k}", nn.Parameter(torch.zeros(S, o)))
            self.register_buffer(f"mw{k}", torch.zeros(S, o, i))
            self.register_buffer(f"mb{k}", torch.zeros(S, o))
        bns = [m.seq_blocks[0] for m in models]
        self.eps, self.momentum = bns[0].eps, bns[0].momentum
        self.bn_weight = nn.Parameter(torch.stack([b.weight.detach() for b in bns]).clone())
        self.bn_bias = nn.Parameter(torch.stack([b.bias.detach() for b in bns]).clone())
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            self.register_buffer(name, torch.stack([getattr(b, name) for b in bns]).clone())
        self.register_buffer("relu_out", torch.tensor(self.logit_relu).view(S, 1, 1))
        with torch.no_grad():
            for s, ls in enumerate(lins):
                for k, lin in enumerate(ls):
                    o, i = lin.weight.shape
                    getattr(self, f"w{k}")[s, :o, :i] = lin.weight
                    getattr(self, f"mw{k}")[s, :o, :i] = 1.0
                    getattr(self, f"b{k}")[s, :o] = lin.bias
                    getattr(self, f"mb{k}")[s, :o] = 1.0

    @property
    def n_slots(self) -> int:
        return len(self.hidden)

    def _layers(self, xn: torch.Tensor) -> torch.Tensor:
        """From normalised inputs ``(S, B, 16)`` to logits: BN affine, three Linears, ReLUs."""
        # in-place ReLUs: no autograd node keeps these sums, and each saves an allocation per step
        h = torch.relu_(xn * self.bn_weight.unsqueeze(1) + self.bn_bias.unsqueeze(1))
        h = torch.relu_(torch.baddbmm(self.b0.unsqueeze(1), h, self.w0.transpose(1, 2)))
        h = torch.relu_(torch.baddbmm(self.b1.unsqueeze(1), h, self.w1.transpose(1, 2)))
        out = torch.baddbmm(self.b2.unsqueeze(1), h, self.w2.transpose(1, 2))
        return torch.where(self.relu_out, torch.relu(out), out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Eval-mode logits (running statistics); training goes through :meth:`train_logits`."""
        if x.dim() == 2:  # the same inputs for every slot
            x = x.unsqueeze(0).expand(self.n_slots, -1, -1)
        mean, var = self.running_mean.unsqueeze(1), self.running_var.unsqueeze(1)
        return self._layers((x - mean) * torch.rsqrt(var + self.eps))

    def train_logits(self, xb: torch.Tensor, row_of: torch.Tensor) -> torch.Tensor:
        """Training-mode logits for minibatches ``xb`` ``(U, B, 16)``, one per distinct seed; slot ``s``
        sees ``xb[row_of[s]]``. Batch statistics as ``nn.BatchNorm1d`` (biased variance to normalise,
        unbiased one tracked), computed once per distinct minibatch."""
        mean = xb.mean(1, keepdim=True)
        var = xb.var(1, unbiased=False, keepdim=True)
        with torch.no_grad():
            n, m = xb.shape[1], self.momentum
            # separate multiply and add (no alpha=): see SlotOptimizer
            self.running_mean.mul_(1 - m).add_(mean.squeeze(1)[row_of] * m)
            self.running_var.mul_(1 - m).add_(var.squeeze(1)[row_of] * (n / (n - 1)) * m)
            self.num_batches_tracked.add_(1)
        return self._layers(((xb - mean) * torch.rsqrt(var + self.eps))[row_of])

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


class SlotOptimizer:
    """Adam, AdamW or SGD (Nesterov, momentum 0.9) as ``torch.optim`` defines them, on batched tensors.

    Why not ``torch.optim.Adam(fused=True)``: a slot's update then depended on how many slots the
    tensor held (measured: a 5-element bias differed in the last bit between 1 and 2 slots).
    Here every kernel is one IEEE operation (multiply, add, divide, square root), which rounds the
    same in the vector and the scalar code paths, so an entry's update depends only on its own
    values. The learning rate of each epoch is given to :meth:`step`.
    """

    def __init__(self, params: list[torch.Tensor], recipe: Recipe):
        self.params, self.recipe, self.t = params, recipe, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, lr: float) -> None:
        r, b1, b2, eps = self.recipe, 0.9, 0.999, 1e-8
        self.t += 1
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            if r.weight_decay and r.optimizer != "adamw":
                g = g + p * r.weight_decay
            if r.optimizer == "sgd":
                m.copy_(g) if self.t == 1 else m.mul_(0.9).add_(g)
                p.sub_((g + m * 0.9) * lr)
                continue
            if r.optimizer == "adamw":
                p.mul_(1 - lr * r.weight_decay)
            m.mul_(b1).add_(g * (1 - b1))
            v.mul_(b2).add_(g * g * (1 - b2))
            denom = (v.sqrt() / math.sqrt(1 - b2 ** self.t)).add_(eps)
            p.sub_(m / denom * (lr / (1 - b1 ** self.t)))


@torch.no_grad()
def evaluate_slots(model: BatchedThreeLinear, x: torch.Tensor, y: torch.Tensor, num_classes: int = N_OUT,
                   chunk: int = EVAL_CHUNK) -> list[dict]:
    """Per slot: accuracy, macro_accuracy, loss, n (those of :func:`lab_utils.training.train.metrics_from_logits`).

    Evaluated in chunks so ``S x chunk x width`` activations stay small. Why not
    ``metrics_from_logits`` per slot: hits are counted exactly (integers), and the loss is a float64
    sum of per-chunk float32 sums, both independent of the number of slots; ``metrics_from_logits``
    takes float32 means over the whole split (equal to float rounding; macro accuracy equal exactly).
    """
    was = model.training
    model.eval()
    S = model.n_slots
    loss = torch.zeros(S, dtype=torch.float64)
    correct = torch.zeros(S * num_classes, dtype=torch.int64)
    slot = torch.arange(S).unsqueeze(1) * num_classes
    for i in range(0, x.shape[0], chunk):
        xb, yb = x[i:i + chunk], y[i:i + chunk]
        logits = model(xb)  # (S, b, C)
        loss += F.cross_entropy(logits.transpose(1, 2), yb.expand(S, -1), reduction="none").sum(1).double()
        hit = logits.argmax(2) == yb
        correct += torch.bincount((slot + yb)[hit], minlength=S * num_classes)
    model.train(was)
    correct = correct.view(S, num_classes).double()
    counts = torch.bincount(y, minlength=num_classes).double()
    present = counts > 0
    recall = correct[:, present] / counts[present]
    n = int(y.shape[0])
    return [{"accuracy": float(correct[s].sum() / n), "macro_accuracy": float(recall[s].mean()),
             "loss": float(loss[s] / n), "n": n} for s in range(S)]


def train_batched(models: list[nn.Module], seeds: list[int], data, recipe: Recipe, *, progress: bool = True,
                  desc: str = "batched", padded: tuple[int, int] | None = None) -> tuple[list[nn.Module], list[History]]:
    """Train each ``models[i]`` (its current weights are the init) with ``replace(recipe, seed=seeds[i])``.

    Returns the trained models (plain modules holding each slot's best-validation-loss weights, eval
    mode) and one :class:`~lab_utils.training.train.History` per slot (``seconds``: the wall time of
    the whole batched run). Runs on one thread (:func:`lab_utils.training.train.num_threads`).
    """
    with num_threads(1):
        return _train_batched(models, seeds, data, recipe, progress=progress, desc=desc, padded=padded)


def _train_batched(models, seeds, data, recipe, *, progress, desc, padded):
    if len(models) != len(seeds):
        raise LabError(f"train_batched: {len(models)} models but {len(seeds)} seeds; give one seed per model")
    net = BatchedThreeLinear(models, padded)
    check_minibatches(models[0], data.x_train.shape[0], recipe.batch_size)  # BatchNorm needs 2 rows a batch
    S = net.n_slots
    opt = SlotOptimizer(list(net.parameters()), recipe)
    sched_opt, sched = make_optimizer(nn.Linear(1, 1), recipe)  # the same cosine learning rates as train()
    x, y = data.x_train, data.y_train
    n, B = x.shape[0], recipe.batch_size
    uniq = sorted(set(int(s) for s in seeds))
    gens = [torch.Generator().manual_seed(s) for s in uniq]
    row_of = torch.tensor([uniq.index(int(s)) for s in seeds])
    histories = [History() for _ in range(S)]
    best = {k: v.clone() for k, v in net.slot_state().items()}
    t0 = time.perf_counter()
    bar = progress_bar(range(recipe.epochs), desc=desc, progress=progress, leave=False)
    for epoch in bar:
        net.train()
        lr = sched_opt.param_groups[0]["lr"]
        perms = torch.stack([torch.randperm(n, generator=g) for g in gens])  # (U, n)
        total = torch.zeros(S, dtype=torch.float64)
        for start, stop in minibatches(n, B):  # a lone last row joins the batch before it
            idx = perms[:, start:stop]
            xb = x.index_select(0, idx.reshape(-1)).view(len(uniq), -1, N_IN)
            yb = y.index_select(0, idx.reshape(-1)).view(len(uniq), -1)[row_of]
            per_slot = F.cross_entropy(net.train_logits(xb, row_of).transpose(1, 2), yb, reduction="none").mean(1)
            for p in opt.params:
                p.grad = None
            per_slot.sum().backward()
            opt.step(lr)
            total += per_slot.detach().double() * idx.shape[1]
        sched_opt.step()  # a no-op (no gradients): keeps the scheduler's call order
        sched.step()
        vals = evaluate_slots(net, data.x_val, data.y_val)
        improved = torch.tensor([hist.record(epoch + 1, float(total[s]) / n, val)
                                 for s, (hist, val) in enumerate(zip(histories, vals))], dtype=torch.bool)
        for k, v in net.slot_state().items():
            best[k][improved] = v[improved]
        bar.set_postfix(best_val_acc=f"{max(v['accuracy'] for v in vals):.3f}")
    for hist in histories:
        hist.seconds = time.perf_counter() - t0
    net.load_state_dict({**net.state_dict(), **best})
    return [net.export(s) for s in range(S)], histories


def seeded_init(hidden: tuple[int, int], seed: int, logit_relu: bool = True) -> nn.Module:
    """A freshly initialised candidate whose init depends only on ``seed`` (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(MODEL, hidden=tuple(int(h) for h in hidden), logit_relu=logit_relu)


# ----------------------------------------------------------------------------- many runs: cache, groups, processes
def _train_group(group: list[tuple], padded: tuple[int, int], data, recipe: Recipe):
    """Train one group of ``(hidden, seed, logit_relu)`` runs from their seeded inits; returns
    ``(state dicts as numpy, histories)`` (numpy: see :mod:`lab_utils.training.slots`)."""
    inits = [seeded_init(hid, s, relu) for hid, s, relu in group]
    models, hists = train_batched(inits, [s for _, s, _ in group], data, recipe, progress=False, padded=padded)
    return [slots.to_numpy(m.state_dict()) for m in models], hists


def plan_groups(runs: list[tuple]) -> list[tuple[tuple[int, int], list[int]]]:
    """``(padded shape, indices into runs)`` per batched model: runs grouped by :func:`width_class`,
    in a fixed order, a class with more than :data:`MAX_SLOTS` runs cut into equal parts; the most
    expensive groups first (so two workers finish together)."""
    classes: dict = {}
    order = sorted(range(len(runs)), key=lambda i: (width_class(runs[i][0]), runs[i][0], not runs[i][2], runs[i][1]))
    for i in order:
        classes.setdefault(width_class(runs[i][0]), []).append(i)
    groups = []
    for padded, idx in classes.items():
        groups += [(padded, part) for part in slots.equal_parts(idx, MAX_SLOTS)]
    cost = lambda g: len(g[1]) * (N_IN * g[0][0] + g[0][0] * g[0][1] + N_OUT * g[0][1] + 2000)  # noqa: E731
    return sorted(groups, key=cost, reverse=True)


def train_runs(runs: list[tuple], splits, recipe: Recipe, *, cache_dir=None, progress: bool = True,
               workers: int = 2) -> list[dict]:
    """Every ``(hidden, seed, logit_relu)`` run trained once (batched) or loaded from the candidate cache.

    Returns one dict per run, in order: ``hidden``, ``seed``, ``logit_relu``, ``model``, ``key``,
    ``path``, ``cached``, ``history``, ``val`` (as :func:`lab_utils.training.candidates.trained_candidate`
    returns). Runs missing from ``cache_dir`` are trained in the groups of :func:`plan_groups`, in
    ``workers`` spawned processes (1: in this process), and saved under the keys
    :func:`~lab_utils.training.candidates.trained_candidate` looks up.
    """
    runs = [(tuple(int(h) for h in hid), int(s), bool(relu)) for hid, s, relu in runs]
    out: list[dict | None] = [None] * len(runs)
    todo = []
    for j, (hid, s, relu) in enumerate(runs):
        args = {"hidden": hid} if relu else {"hidden": hid, "logit_relu": False}
        r = replace(recipe, seed=s)
        key, desc = candidates.candidate_key(MODEL, args, splits, r)
        path = candidates.candidate_path(cache_dir, MODEL, key)
        if path is not None and path.exists():
            model, info = candidates.trained_candidate(MODEL, args, splits, r, cache_dir=cache_dir)
            out[j] = {"hidden": hid, "seed": s, "logit_relu": relu, "model": model, **info}
        else:
            todo.append((j, r, key, desc, path))
    if not todo:
        return out
    groups = plan_groups([runs[j] for j, *_ in todo])

    def store(group_idx, states, hists):
        for i, state, hist in zip(group_idx, states, hists):
            j, r, key, desc, path = todo[i]
            hid, s, relu = runs[j]
            model = build_model(MODEL, hidden=hid, logit_relu=relu)
            model.load_state_dict(slots.from_numpy(state))
            info = candidates.save_candidate(path, model.eval(), key, desc, splits, r, hist)
            out[j] = {"hidden": hid, "seed": s, "logit_relu": relu, "model": model, **info}

    jobs = [([runs[todo[i][0]] for i in idx], padded) for padded, idx in groups]
    bar = progress_bar(total=len(jobs), desc=f"{len(todo)} runs in {len(jobs)} groups", progress=progress)
    for g, result in slots.run_groups(_train_group, jobs, splits, recipe, workers):
        store(groups[g][1], *result)
        bar.update()
    bar.close()
    return out


def train_grid(hiddens: list[tuple[int, int]], seeds: list[int], splits, recipe: Recipe, *, cache_dir=None,
               logit_relu: bool = True, progress: bool = True, workers: int = 2) -> list[dict]:
    """Every (hidden, seed) pair of one model variant (:func:`train_runs`), in ``hiddens`` x ``seeds`` order."""
    return train_runs([(h, s, logit_relu) for h in hiddens for s in seeds], splits, recipe, cache_dir=cache_dir,
                      progress=progress, workers=workers)
