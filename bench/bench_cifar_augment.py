"""Random crop + flip of a 512-image CIFAR batch: one batched gather (``lab_utils.data.cifar10.augment``)
against a per-image loop of pad/slice/flip (what a per-sample torchvision-style transform does).
Both timed in the same run with ``torch.utils.benchmark`` on one thread (a few seconds).

    .venv/bin/python bench/bench_cifar_augment.py
"""

import torch
import torch.nn.functional as F
from _common import machine
from torch.utils import benchmark

from lab_utils.data.cifar10 import augment


def per_image(x, g):
    out = []
    for img in x:
        dy, dx = (int(v) for v in torch.randint(0, 9, (2,), generator=g))
        p = F.pad(img, (4, 4, 4, 4))[:, dy:dy + 32, dx:dx + 32]
        out.append(p.flip(2) if bool(torch.rand(1, generator=g) < 0.5) else p)
    return torch.stack(out)


def main():
    torch.set_num_threads(1)
    x = torch.randn(512, 3, 32, 32)
    g = torch.Generator().manual_seed(0)
    fast = benchmark.Timer("augment(x, g)", globals={"augment": augment, "x": x, "g": g}
                           ).blocked_autorange(min_run_time=1)
    slow = benchmark.Timer("per_image(x, g)", globals={"per_image": per_image, "x": x, "g": g}
                           ).blocked_autorange(min_run_time=1)
    print(f"machine: {machine()}")
    print(f"batched (unfold view + one copy): {fast.median * 1e3:.2f} ms, per-image loop: {slow.median * 1e3:.2f} ms "
          f"per 512 images")
    print(f"ratio: {slow.median / fast.median:.1f}x faster (batched vs per-image loop)")


if __name__ == "__main__":
    main()
