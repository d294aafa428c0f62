"""Lab 4's 25 width candidates x 10 epochs on the full-size data: batched slots against a DataLoader loop.

Baseline (what the lab report did): each candidate trained on its own, one after another, with
``DataLoader(TensorDataset(x, y), batch_size=512, shuffle=True)``, Adam and cross-entropy. A few
candidates are timed for one epoch and the mean is extrapolated to 25 candidates x 10 epochs.
Ours: ``lab_utils.training.batched.train_grid``: the 25 candidates as slots of padded batched
models grouped by width class, trained by two worker processes (validation pass after every epoch included), timed for ``--epochs`` epochs (default 1) and
extrapolated to 10 (printed as such; ``--epochs 10`` measures the whole run). Same run, same data.

    .venv/bin/python bench/bench_candidates.py [--epochs N] [--threads T]
"""

import argparse
import time

import torch
from _common import dataloader_epoch, machine

from lab_utils.data import load_dataset
from lab_utils.training.batched import seeded_init, train_grid
from lab_utils.training.train import Recipe

GRID = [(16 * a, 16 * c) for a in range(1, 6) for c in range(1, 6)]
TIMED_BASELINE = [(16, 16), (48, 48), (80, 80)]  # small, middle, largest candidate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1, help="epochs of the batched run actually timed")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    splits = load_dataset("jsc-sim")  # the full-size data lab4_3 uses
    per_epoch = []
    for h in TIMED_BASELINE:
        t0 = time.perf_counter()
        dataloader_epoch(seeded_init(h, 0), splits.x_train, splits.y_train)
        per_epoch.append(time.perf_counter() - t0)
    base_total = sum(per_epoch) / len(per_epoch) * len(GRID) * 10
    t0 = time.perf_counter()
    train_grid(GRID, [0], splits, Recipe(epochs=args.epochs), cache_dir=None, progress=False)
    ours = time.perf_counter() - t0
    ours_total = ours / args.epochs * 10
    how = "measured" if args.epochs == 10 else f"extrapolated from {args.epochs} epoch(s)"
    print(f"machine: {machine()}")
    print(f"data: {splits.label}, training split {len(splits.y_train):,} jets, batch 512")
    print("DataLoader loop, one epoch: " + ", ".join(f"{h}: {t:.1f} s" for h, t in zip(TIMED_BASELINE, per_epoch)))
    print(f"DataLoader loop, 25 candidates x 10 epochs (extrapolated): {base_total:.0f} s")
    print(f"batched, 25 candidates x 10 epochs ({how}): {ours_total:.0f} s (target <= 300 s)")
    print(f"ratio: baseline/ours = {base_total / ours_total:.1f}x faster")


if __name__ == "__main__":
    main()
