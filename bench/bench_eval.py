"""Evaluation speed: ``lab_utils.training.train.evaluate`` against the lab report's loop.

Baseline (the lab report): a ``DataLoader`` with batch size 512 over the validation split, a
torchmetrics ``MulticlassAccuracy`` and a cross-entropy per batch, no ``no_grad``. Ours: the whole
split in large chunks under ``inference_mode``. Both on jsc-tiny over the full validation split of
full-size jsc-sim, in the same run. Target: ours >= 100x faster.
"""

import time

import torch
import torch.nn.functional as F
from _common import machine, median_seconds
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics.classification import MulticlassAccuracy

from lab_utils.data import load_dataset
from lab_utils.models import build_model
from lab_utils.training.train import evaluate


def report_loop(model, x, y):
    metric = MulticlassAccuracy(num_classes=5)
    accs, losses = [], []
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=512):
        preds = model(xb)
        accs.append(metric(preds, yb))
        losses.append(F.cross_entropy(preds, yb))
    return sum(accs) / len(accs), sum(losses) / len(losses)


def main():
    splits = load_dataset("jsc-sim")
    x, y = splits.x_val, splits.y_val
    model = build_model("jsc-tiny").eval()
    t0 = time.perf_counter()
    report_loop(model, x, y)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        report_loop(model, x, y)
        runs.append(time.perf_counter() - t0)
    baseline = sorted(runs)[1]
    ours = median_seconds(lambda: evaluate(model, x, y), min_run_time=2.0)
    print(f"machine: {machine()}")
    print(f"data: {splits.label}, validation split {len(y):,} jets")
    print(f"lab report loop (DataLoader bs 512 + torchmetrics + CE, no no_grad): {baseline * 1e3:.1f} ms")
    print(f"lab_utils.training.train.evaluate (chunks under inference_mode):            {ours * 1e3:.2f} ms")
    print(f"ratio: baseline/ours = {baseline / ours:.0f}x faster (target >= 100x)")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
