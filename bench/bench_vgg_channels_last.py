"""One VGG7 training step (batch 128, channels 32-32-64-64-128-128, fc 256) in channels_last memory
(what lab_utils.training.supernet and the CIFAR augmentation use) against the default NCHW layout.
Both timed in the same run with ``torch.utils.benchmark`` (about half a minute).

    .venv/bin/python bench/bench_vgg_channels_last.py    (BENCH_THREADS=N: torch threads, default 2)
"""

import os

import torch
import torch.nn.functional as F
from _common import machine
from torch.utils import benchmark

from lab_utils.models import vgg7


def step(model, xb, y):
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(xb), y).backward()


def main():
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))  # the machine has 2 cores
    torch.manual_seed(0)
    x, y = torch.randn(128, 3, 32, 32), torch.randint(0, 10, (128,))
    print(f"machine: {machine()}")
    times = {}
    for layout in ("nchw", "channels_last"):
        model = vgg7(channels=(32, 32, 64, 64, 128, 128), fc=256)
        xb = x
        if layout == "channels_last":
            model = model.to(memory_format=torch.channels_last)
            xb = x.contiguous(memory_format=torch.channels_last)
        step(model, xb, y)  # warm-up: oneDNN builds its kernels
        t = benchmark.Timer("step(model, xb, y)", globals={"step": step, "model": model, "xb": xb, "y": y})
        times[layout] = t.blocked_autorange(min_run_time=3).median
        print(f"{layout}: {times[layout] * 1e3:.0f} ms per training step")
    print(f"ratio: {times['nchw'] / times['channels_last']:.1f}x faster (channels_last vs NCHW)")


if __name__ == "__main__":
    main()
