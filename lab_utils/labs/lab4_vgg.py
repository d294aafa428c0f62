"""Helpers of the VGG channel-search notebook (lab4_5): data, the search run, Pareto front, figures.

The notebook stays a sequence of short calls; everything with logic lives here and is tested:

- :func:`load_data` gives the real CIFAR-10 (default search order of :mod:`lab_utils.cifar10`) or,
  in quick mode, a tiny generated image set written under the results folder (labelled synthetic);
- :func:`search_config` builds the ``graph/architecture/vgg_channels`` search configuration (the
  same keys as ``configs/cifar10_vgg_channels.toml``) pointing at an already trained supernet, and
  :func:`run_search` runs it through the search engine (Optuna storage in ``<out>/study.db``) and
  returns the trials table with the evaluated channels and MACs of every trial;
- :func:`pareto_mask` marks the trials no other trial beats on both accuracy (higher) and MACs
  (lower); :func:`spread` picks ``k`` of them evenly along the front for the from-scratch check;
- :func:`quantized_accuracy` runs the best network through ``quantize_transform_pass`` with 8-bit
  ``Conv2dInteger`` / ``LinearInteger`` layers (fractional widths chosen per tensor, ``"auto"``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import torch

from lab_utils.data.cifar10 import load_cifar10
from lab_utils.data.tiny_images import make_tiny_image_set
from lab_utils.errors import LabError
from lab_utils.passes.quantize import lab_config, quantize_model
from lab_utils.search import outputs, storage
from lab_utils.search import run as search_run
from lab_utils.search.config import parse_config
from lab_utils.search.spaces.vgg_channels import KEYS
from lab_utils.training.train import evaluate

SPACE = "graph/architecture/vgg_channels"
REPORT_ACCURACY = 0.11  # the lab report's VGG search: untrained candidates, about chance level


def load_data(quick: bool, data_path: str = "", results_dir: Path | None = None, seed: int = 0):
    """Real CIFAR-10 (full mode) or a tiny generated set of 30 train / 10 test images per class (quick)."""
    if quick:
        folder = make_tiny_image_set(Path(results_dir) / "tiny_images", "npz", n_per_class=30, n_test_per_class=10,
                                     seed=seed)
        return load_cifar10(path=folder, data_seed=seed, download=False)
    return load_cifar10(path=data_path or None, data_seed=seed)


def search_config(*, supernet_path, choices, fc: int, n_trials: int, seed: int = 0, data_path=None,
                  n_startup_trials: int = 10, calib_batches: int = 8):
    """The search configuration (validated by the search engine's parser)."""
    raw = {"model": "vgg7", "dataset": "cifar10", "seed": int(seed), "data_seed": int(seed), "batch_size": 1,  # flops per image
           "search": {"search_space": {"name": SPACE, "setup": {
               "choices": [int(c) for c in choices], "fc": int(fc), "calib_batches": int(calib_batches),
               "supernet": str(supernet_path)}},
               "strategy": {"setup": {"n_trials": int(n_trials), "sampler": "tpe",
                                      "n_startup_trials": int(n_startup_trials)},
                            "metrics": {"accuracy": {"scale": 1.0, "direction": "maximize"},
                                        "flops": {"scale": 1.0, "direction": "minimize"}}}}}
    if data_path:
        raw["data_path"] = str(data_path)
    return parse_config(raw)


def run_search(cfg, out_dir) -> tuple[object, pd.DataFrame]:
    """Run the search in a fresh ``out_dir``; returns (space, trials table with channels and macs)."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a fresh study: the supernet behind the cached trials may have changed
    status = search_run.run_search(cfg, out_dir, progress=False, print_fn=lambda *a: None)
    if status != 0:
        raise LabError(f"the search stopped early (status {status}); rerun the notebook")
    space, _ = search_run.build_context(cfg, out_dir)
    study = optuna.load_study(study_name="search", storage=storage.open_storage(storage.default_storage_url(out_dir, 1)))
    df = outputs.trials_frame(study, space, cfg.strategy.metric_names)
    df = df[df.state == "COMPLETE"].reset_index(drop=True)
    rows = [space.describe({k: r[k] for k in KEYS}) for _, r in df.iterrows()]
    df["channels"] = [tuple(r["channels"]) for r in rows]
    df["repaired"] = [r["repaired"] for r in rows]
    df["macs"] = [r["macs"] for r in rows]
    return space, df


def pareto_mask(accuracy, macs) -> np.ndarray:
    """True where no other point has accuracy >= and macs <= with at least one strict."""
    a, m = np.asarray(accuracy, float), np.asarray(macs, float)
    better_eq = (a[None, :] >= a[:, None]) & (m[None, :] <= m[:, None])
    strict = (a[None, :] > a[:, None]) | (m[None, :] < m[:, None])
    return ~(better_eq & strict).any(axis=1)


def unique_candidates(df: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluated architecture (TPE repeats configurations; repairs merge others)."""
    return df.drop_duplicates("channels").sort_values("macs").reset_index(drop=True)


def spread(front: pd.DataFrame, k: int) -> pd.DataFrame:
    """``k`` rows evenly spaced along the front (sorted by MACs), always including both ends."""
    front = front.sort_values("macs").reset_index(drop=True)
    if k >= len(front):
        return front
    idx = sorted({int(round(i)) for i in np.linspace(0, len(front) - 1, k)})
    return front.iloc[idx].reset_index(drop=True)


def quantized_accuracy(model, splits, width: int = 8, split: str = "test") -> dict:
    """Accuracy of ``model`` with every Conv2d and Linear as 8-bit fixed point (Conv2dInteger/LinearInteger).

    Fractional widths are ``"auto"``: the largest that holds each weight / bias tensor, and for the
    inputs the largest that holds the inputs seen on 256 training images.
    """
    cfg = lab_config(data_in=(width, "auto"), weight=(width, "auto"), bias=(width, "auto"))
    q = quantize_model(model.eval(), {"by": "type", "default": {"config": cfg},
                                      "calibration": splits.x_train[:256].contiguous()})
    x, y = splits.split(split)
    return evaluate(q, x.contiguous(), y, chunk=1000)


def accuracy_vs_macs_figure(df: pd.DataFrame, retrained: pd.DataFrame | None = None, report_accuracy=REPORT_ACCURACY):
    """Every evaluated architecture (supernet accuracy on val) against MACs, Pareto front joined."""
    import matplotlib.pyplot as plt

    u = unique_candidates(df)
    front = u[pareto_mask(u["accuracy"], u["macs"])].sort_values("macs")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.scatter(u["macs"] / 1e6, u["accuracy"], s=16, color="tab:blue", alpha=0.6, label="candidates (supernet, val)")
    ax.plot(front["macs"] / 1e6, front["accuracy"], "-o", color="tab:red", ms=4, label="Pareto front")
    if retrained is not None and len(retrained):
        ax.scatter(retrained["macs"] / 1e6, retrained["scratch_val_accuracy"], marker="s", s=36, color="tab:green",
                   label="retrained from scratch (val)")
    ax.axhline(report_accuracy, color="gray", ls="--", lw=1, label=f"lab report ({report_accuracy:.0%}, untrained)")
    ax.set_xlabel("MACs per image (millions)")
    ax.set_ylabel("accuracy")
    ax.set_title("VGG7 channel search on CIFAR-10: accuracy vs MACs")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def supernet_curve_figure(history: list[dict]):
    """Training loss of the largest and the smallest candidate per supernet epoch."""
    import matplotlib.pyplot as plt

    h = pd.DataFrame(history)
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.plot(h["epoch"], h["loss_largest"], "-o", label="largest candidate")
    ax.plot(h["epoch"], h["loss_smallest"], "-o", label="smallest candidate")
    ax.set_xlabel("supernet epoch")
    ax.set_ylabel("training cross-entropy")
    ax.set_title("supernet training (sandwich rule)")
    ax.legend(fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def count_threads(threads: int) -> int:
    """Set torch's thread count (the notebook's ``threads`` parameter) and return it."""
    if threads < 1:
        raise LabError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(int(threads))
    return torch.get_num_threads()
