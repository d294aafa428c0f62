"""Batched width-candidate training: the new trainer (width classes, shared minibatch statistics, own
optimizer, two spawned workers) against the previous one (one process, per-slot gather and
BatchNorm, fused torch Adam, masked gradients, two groups split by padded cost).

Workload: lab4_3's 25 (a, c) candidates x both model variants (logit ReLU on and off), one seed,
one epoch on the first 150,000 jsc-sim training jets (validation split in full), run both ways in
the same process start. The baseline's per-step loop is copied below as it was before the change.
Prints ``ratio: baseline/new``; on a shared machine both numbers are inflated, the ratio less so.
The two-process time includes starting the workers (spawn, imports and each process's one-time
start-up of a few seconds), which one epoch here does not amortise as a notebook's ten epochs do.
"""

import time
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from _common import machine

from lab_utils.data import load_dataset
from lab_utils.training.batched import BatchedThreeLinear, evaluate_slots, seeded_init, train_runs
from lab_utils.training.train import Recipe, make_optimizer

GRID = [(16 * a, 16 * c) for a in range(1, 6) for c in range(1, 6)]


def _old_groups(hiddens):
    """The previous split: sort by shape, one cut minimising the slower group's padded cost."""
    order = sorted(range(len(hiddens)), key=lambda i: hiddens[i])

    def cost(idx):
        h1, h2 = max(hiddens[i][0] for i in idx), max(hiddens[i][1] for i in idx)
        return len(idx) * (16 * h1 + h1 * h2 + h2 * 5)

    cut = min(range(1, len(order)), key=lambda k: max(cost(order[:k]), cost(order[k:])))
    return [order[:cut], order[cut:]]


def baseline_group(models, seeds, data, recipe):
    """The previous per-step loop: x[idx] gather per slot, BatchNorm statistics per slot, fused Adam, masks."""
    net = BatchedThreeLinear(models)
    opt, sched = make_optimizer(net, recipe)
    x, y, n, B = data.x_train, data.y_train, data.x_train.shape[0], recipe.batch_size
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    for _ in range(recipe.epochs):
        perms = torch.stack([torch.randperm(n, generator=g) for g in gens])
        for i in range(0, n, B):
            idx = perms[:, i:i + B]
            xb, yb = x[idx], y[idx]
            mean, var = xb.mean(1, keepdim=True), xb.var(1, unbiased=False, keepdim=True)
            per = F.cross_entropy(net._layers((xb - mean) * torch.rsqrt(var + net.eps)).transpose(1, 2), yb,
                                  reduction="none").mean(1)
            opt.zero_grad(set_to_none=True)
            per.sum().backward()
            for k in range(3):
                getattr(net, f"w{k}").grad.mul_(getattr(net, f"mw{k}"))
                getattr(net, f"b{k}").grad.mul_(getattr(net, f"mb{k}"))
            opt.step()
        sched.step()
        evaluate_slots(net, data.x_val, data.y_val)


def main():
    torch.set_num_threads(1)
    full = load_dataset("jsc-sim")
    data = SimpleNamespace(x_train=full.x_train[:150_000], y_train=full.y_train[:150_000], x_val=full.x_val,
                           y_val=full.y_val, describe=full.describe)
    recipe = Recipe(epochs=1)
    runs = [(h, 0, relu) for relu in (True, False) for h in GRID]
    # a process's first training pays a one-time start-up of a few seconds: pay it before timing
    tiny = SimpleNamespace(x_train=data.x_train[:1024], y_train=data.y_train[:1024], x_val=data.x_val[:512],
                           y_val=data.y_val[:512], describe=full.describe)
    train_runs([((16, 16), 0, True)], tiny, recipe, progress=False, workers=1)
    t0 = time.perf_counter()
    for relu in (True, False):
        for group in _old_groups(GRID):
            baseline_group([seeded_init(GRID[i], 0, relu) for i in group], [0] * len(group), data, recipe)
    old = time.perf_counter() - t0
    t0 = time.perf_counter()
    train_runs(runs, data, recipe, progress=False, workers=1)
    new1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    train_runs(runs, data, recipe, progress=False, workers=2)
    new2 = time.perf_counter() - t0
    print(f"machine: {machine()}")
    print(f"workload: {len(runs)} runs (25 widths x 2 variants), 1 epoch on {len(data.y_train):,} jets + validation")
    print(f"previous trainer (1 process): {old:.1f} s")
    print(f"new trainer, 1 process:       {new1:.1f} s   ratio: baseline/new = {old / new1:.2f}x")
    print(f"new trainer, 2 processes:     {new2:.1f} s   ratio: baseline/new = {old / new2:.2f}x")


if __name__ == "__main__":
    main()
