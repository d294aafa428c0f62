"""Helpers shared by the tests: CLI runners, a tiny trained checkpoint, small search configs, small models,
seeded blobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from lab_utils.data import load_dataset
from lab_utils.models import build_model
from lab_utils.training.checkpoints import save_checkpoint
from lab_utils.training.train import Recipe, train

ROOT = Path(__file__).resolve().parent.parent
N = 2000  # jsc-sim samples: small and fast


def run_cli(*args, env=None, cwd=None, timeout=300):
    """Run ``python -m lab_utils ARGS`` and return the CompletedProcess (text). The process gets this
    process's environment, which ``tests/conftest.py`` keeps free of the caller's ``LAB_*``/``TQDM_*``
    variables, plus ``env``: a variable the test needs is given here."""
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


def summary_of(root, task):
    """The summary.json a notebook wrote through ``report.write_summary``."""
    path = Path(root) / "results" / task / "summary.json"
    assert path.exists(), f"{task} wrote no summary"
    return json.loads(path.read_text())


def tiny_checkpoint(tmp: Path) -> Path:
    path = tmp / "tiny.ckpt"
    if not path.exists():
        s = load_dataset("jsc-sim", n_samples=N)
        m = build_model("jsc-tiny")
        train(m, s, Recipe(epochs=2, batch_size=256, lr=1e-2), progress=False)
        save_checkpoint(path, m, meta={"model": "jsc-tiny", "model_args": {}, "dataset": s.describe()})
    return path


def bruteforce_toml(extra_top: str = "", sampler: str = "brute-force", n_trials: int = 256,
                    data_in=(8, 8, 4, 16), data_frac=(4, 6, 2, 8)) -> str:
    return f'''
model = "jsc-tiny"
dataset = "jsc-sim"
n_samples = {N}
seed = 0
{extra_top}
[search.search_space]
name = "graph/quantize/mixed_precision_ptq"
[search.search_space.setup]
by = "name"
[search.search_space.seed.default.config]
name = ["NA"]
[search.search_space.seed.seq_blocks_2.config]
name = ["integer"]
data_in_width = {list(data_in)}
data_in_frac_width = {list(data_frac)}
weight_width = [8, 8, 4, 16]
weight_frac_width = [4, 6, 2, 8]
bias_width = [8]
bias_frac_width = [4]
[search.strategy]
name = "optuna"
[search.strategy.setup]
n_trials = {n_trials}
sampler = "{sampler}"
[search.strategy.metrics.accuracy]
scale = 1.0
direction = "maximize"
[search.strategy.metrics.average_bitwidth]
scale = 0.2
direction = "minimize"
'''


def bf18_toml() -> str:
    """A 3 x 3 x 2 = 18-configuration brute-force space (long enough to kill in the middle)."""
    return bruteforce_toml(data_in=(8, 4, 16), data_frac=(4, 6, 2)).replace(
        "weight_width = [8, 8, 4, 16]", "weight_width = [8, 4]").replace(
        "weight_frac_width = [4, 6, 2, 8]", "weight_frac_width = [4]")


def search_files(tmp: Path, toml_text: str, name: str = "search.toml") -> tuple[Path, Path, Path]:
    """``(tmp, config, checkpoint)`` for searches run as subprocesses: a tiny checkpoint whose data are
    cached in ``tmp/data`` (give the subprocesses ``LAB_DATA_DIR=tmp/data``) and the config file."""
    import lab_utils.data as data  # the module attribute is swapped, so the module itself is needed here

    old = data.DEFAULT_DATA_DIR
    data.DEFAULT_DATA_DIR = tmp / "data"
    try:
        ckpt = tiny_checkpoint(tmp)
    finally:
        data.DEFAULT_DATA_DIR = old
    cfg = tmp / name
    cfg.write_text(toml_text)
    return tmp, cfg, ckpt


def small_toml(**kw) -> str:
    """A 3 x 2 = 6-configuration space (fast end-to-end runs)."""
    return bruteforce_toml(data_in=(8, 4, 16), data_frac=(4, 4), **kw).replace(
        "weight_width = [8, 8, 4, 16]", "weight_width = [8, 4]").replace(
        "weight_frac_width = [4, 6, 2, 8]", "weight_frac_width = [4]")


def run_search_cli(args, cwd=ROOT, timeout=300, **popen):
    """Run ``python -m lab_utils.search.cli ARGS`` (a list) and return the CompletedProcess (text)."""
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "lab_utils.search.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env, **popen)


def make_blobs(spread: float, train: int, val: int, test: int = 0, seed: int = 0) -> SimpleNamespace:
    """Seeded Gaussian blobs: five centres in 16-d drawn ``N(0, spread**2)``, then ``train``, ``val`` and
    ``test`` rows in that order from the same generator (label ``i % 5``, unit noise around its centre).

    Returns ``x_<split>``/``y_<split>`` for each split with rows and ``split(name) -> (x, y)``. ``spread=2``
    separates the classes well; ``spread=0.6`` overlaps them (a float MLP reaches about 0.86).
    """
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(5, 16, generator=g) * spread
    parts = {}
    for name, n in (("train", train), ("val", val), ("test", test)):
        if n:
            y = torch.arange(n) % 5
            parts[name] = (centers[y] + torch.randn(n, 16, generator=g), y)
    return SimpleNamespace(**{f"{v}_{name}": t for name, xy in parts.items() for v, t in zip("xy", xy)},
                           split=parts.__getitem__)


class BlobSplits:
    """A ``splits``-like view of the ``blobs`` fixture (only ``split(name)``)."""

    def __init__(self, blobs):
        self.b = blobs

    def split(self, s):
        return self.b.split(s)


def trained_on_blobs(name, blobs):
    """``name`` (without the logit ReLU) fitted for 60 Adam steps on 1,000 blob rows, seeded: a model
    whose accuracy is far from chance, for tests of quantization and search tables."""
    torch.manual_seed(0)
    m = build_model(name, logit_relu=False)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(blobs.x_train[:1000]), blobs.y_train[:1000]).backward()
        opt.step()
    return m.eval()


class Residual(nn.Module):
    """``x + Linear(x)`` on ``width`` features: a model that is not a chain of modules (an fx ``add``)."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.a = nn.Linear(width, width)

    def forward(self, x):
        return x + self.a(x)
