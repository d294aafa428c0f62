"""Helpers shared by the benchmarks: the repository root on ``sys.path``, the machine description,
the timing rule and the baseline training epoch.

Every benchmark runs as a script (``.venv/bin/python bench/bench_x.py``), so Python puts ``bench/``
on ``sys.path`` but not the repository root; importing this module first (before ``lab_utils`` or
``tests.helpers``) adds the root, which is what makes those imports work.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def median_seconds(fn, min_run_time: float = 1.0) -> float:
    """Median seconds per call with torch.utils.benchmark (warm-up and blocked runs included)."""
    from torch.utils.benchmark import Timer

    return Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time).median


def dataloader_epoch(model, x, y, batch_size: int = 512) -> None:
    """The baseline training epoch: ``DataLoader(TensorDataset(x, y), shuffle=True)``, Adam, cross-entropy."""
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
