"""Shared fixtures: a small in-memory classification problem and CLI runner."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture
def blobs():
    """Five Gaussian blobs in 16-d: a learnable JSC-shaped problem with no data files."""
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(5, 16, generator=g) * 2.0

    def draw(n):
        y = torch.arange(n) % 5
        return centers[y] + torch.randn(n, 16, generator=g), y

    xt, yt = draw(4000)
    xv, yv = draw(1000)
    xs, ys = draw(1000)
    return SimpleNamespace(x_train=xt, y_train=yt, x_val=xv, y_val=yv, x_test=xs, y_test=ys,
                           split=lambda s: {"train": (xt, yt), "val": (xv, yv), "test": (xs, ys)}[s])


def run_cli(*args, env=None, cwd=None, timeout=300):
    """Run ``python -m lab_utils ARGS`` and return the CompletedProcess (text)."""
    full_env = {**os.environ, "TQDM_DISABLE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "lab_utils", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=timeout)


def assert_one_line_error(proc, *needles):
    """Exit 2, one ``error:`` line on stderr naming the needles, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture(scope="session")
def quick_report(tmp_path_factory):
    """Run every notebook in quick mode through the real harness (``python -m lab_utils report --quick``)
    once per test session, into a temporary output root; returns that root."""
    out = tmp_path_factory.mktemp("quick_report")
    proc = run_cli("report", "--quick", env={"LAB_OUTPUT_DIR": str(out)}, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def summary_of(root, task):
    """The summary.json a notebook wrote through ``report.summary``."""
    import json

    path = Path(root) / "results" / task / "summary.json"
    assert path.exists(), f"{task} wrote no summary"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def one_thread():
    """Small convolutions run far faster on one thread when other processes share the cores."""
    from lab_utils.train import num_threads

    with num_threads(1):
        yield
