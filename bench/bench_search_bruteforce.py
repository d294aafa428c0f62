"""Benchmark: the lab report's 256-combination brute-force space on jsc-tiny, full-size jsc-sim.

Ours: ``python -m lab_utils.search.cli`` (a subprocess, end to end: start-up, data, study, 144
unique configurations each evaluated once over the whole validation split, outputs).
Baseline (the lab report's loop, measured in the same run on a few trials and extrapolated to its
256 index combinations): re-quantize the model per trial, iterate a ``DataLoader`` over the
validation split, ``torchmetrics`` ``MulticlassAccuracy`` + cross-entropy per batch.

    .venv/bin/python bench/bench_search_bruteforce.py [--load CKPT] [--batch-size 64] [--trials 2]
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401 - puts the repository root on sys.path
import torch
from torchmetrics.classification import MulticlassAccuracy

from lab_utils.data import load_dataset
from lab_utils.models import build_model
from lab_utils.passes.quantize import lab_config, quantize_model
from lab_utils.training.checkpoints import load_weights, save_checkpoint
from lab_utils.training.train import Recipe, train

ROOT = Path(__file__).resolve().parent.parent

PAIRS = [(8, 4), (8, 6), (4, 2), (16, 8)]


def baseline_trial(model, splits, data_in, weight, batch_size):
    q = quantize_model(model, {"by": "name", "default": {"config": {"name": None}},
                               "seq_blocks_2": {"config": lab_config(data_in, weight, (8, 4))}})
    q.eval()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(splits.x_val, splits.y_val),
                                         batch_size=batch_size)
    acc, losses = MulticlassAccuracy(num_classes=5), []
    with torch.no_grad():
        for xb, yb in loader:
            logits = q(xb)
            acc.update(logits, yb)
            losses.append(float(torch.nn.functional.cross_entropy(logits, yb)))
    return float(acc.compute()), sum(losses) / len(losses)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--load")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--trials", type=int, default=2)
    args = ap.parse_args()
    splits = load_dataset("jsc-sim")  # full size (830,000 jets)
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    ckpt = Path(args.load) if args.load else tmp / "tiny.ckpt"
    model = build_model("jsc-tiny")
    if args.load:
        load_weights(model, ckpt)
    else:
        train(model, splits, Recipe(epochs=2, batch_size=1024, lr=1e-2), progress=False)
        save_checkpoint(ckpt, model, meta={"model": "jsc-tiny", "model_args": {}, "dataset": splits.describe()})
    model.eval()

    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "lab_utils.search.cli", "--config",
                        str(ROOT / "configs" / "jsc_tiny_by_name_bruteforce.toml"), "--load", str(ckpt),
                        "--out", str(tmp / "out"), "--quiet"], cwd=ROOT, capture_output=True, text=True)
    ours = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"search failed: {r.stderr}")
    print(r.stdout)

    combos = list(itertools.product(PAIRS, PAIRS))[: args.trials]
    t0 = time.perf_counter()
    for data_in, weight in combos:
        baseline_trial(model, splits, data_in, weight, args.batch_size)
    per_trial = (time.perf_counter() - t0) / len(combos)
    baseline = per_trial * 256
    print(f"val split: {splits.sizes()['val']} samples ({splits.label})")
    print(f"ours (CLI, 144 unique configurations, end to end): {ours:.1f} s")
    print(f"lab loop: {per_trial:.2f} s/trial at batch {args.batch_size} x 256 index combinations = {baseline:.1f} s")
    print(f"ratio: {baseline / ours:.1f}x (lab loop / ours; target: ours <= 60 s)")


if __name__ == "__main__":
    main()
