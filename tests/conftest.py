"""Shared fixtures: a small in-memory classification problem, the quick report, one torch thread."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from types import SimpleNamespace

import pytest
import torch

from lab_utils.training.train import num_threads
from tests.helpers import run_cli

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


@pytest.fixture(scope="session")
def quick_report(tmp_path_factory):
    """Run every notebook in quick mode through the real harness (``python -m lab_utils report --quick``)
    once per test session, into a temporary output root; returns that root."""
    out = tmp_path_factory.mktemp("quick_report")
    proc = run_cli("report", "--quick", env={"LAB_OUTPUT_DIR": str(out)}, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def one_thread():
    """Small convolutions run far faster on one thread when other processes share the cores."""
    with num_threads(1):
        yield


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL (initdb) is not installed")
    bindir = os.path.dirname(bins[-1])
    root = tempfile.mkdtemp(prefix="pg-")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(root, "postgres")
    data, port = os.path.join(root, "data"), _free_port()
    subprocess.run(as_pg + [f"{bindir}/initdb", "-D", data, "-U", "lab", "--auth=trust"], check=True,
                   capture_output=True)
    subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(root, "log"), "-o",
                            f"-h 127.0.0.1 -p {port} -k {root}", "start"], check=True, capture_output=True)
    try:
        subprocess.run(as_pg + [f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "lab", "search"],
                       check=True, capture_output=True)
        yield f"postgresql://lab:secretpw@127.0.0.1:{port}/search"
    finally:
        subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
