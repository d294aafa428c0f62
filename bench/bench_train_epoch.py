"""Training speed: one epoch of jsc-three-linear-layers, batch 512, ours against a DataLoader loop.

Baseline: ``DataLoader(TensorDataset(x, y), batch_size=512, shuffle=True)``, Adam, cross-entropy.
Ours: ``lab_utils.training.train.train`` for one epoch (minibatches sliced from the tensors with a seeded
permutation; its validation pass is included in its time). Both on the full-size jsc-sim training
split, in the same run. Target: ours >= 3x faster.
"""

import time

import torch
from _common import dataloader_epoch, machine

from lab_utils.data import load_dataset
from lab_utils.models import build_model
from lab_utils.training.train import Recipe, train


def main():
    splits = load_dataset("jsc-sim")
    base, ours = [], []
    for rep in range(2):  # interleaved, so both see the same machine load
        t0 = time.perf_counter()
        dataloader_epoch(build_model("jsc-three-linear-layers"), splits.x_train, splits.y_train)
        base.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        train(build_model("jsc-three-linear-layers"), splits, Recipe(epochs=1, seed=rep), progress=False)
        ours.append(time.perf_counter() - t0)
    b, o = min(base), min(ours)
    print(f"machine: {machine()}")
    print(f"data: {splits.label}, training split {len(splits.y_train):,} jets, batch 512")
    print(f"DataLoader(shuffle=True) epoch: {b:.2f} s")
    print(f"lab_utils.training.train epoch:          {o:.2f} s (validation pass included)")
    print(f"ratio: baseline/ours = {b / o:.1f}x faster (target >= 3x)")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
