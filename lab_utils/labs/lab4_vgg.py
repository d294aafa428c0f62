"""Helpers of the VGG channel-search notebook (lab4_5): data, the search run, the front, int8 accuracy.

The notebook stays a sequence of short calls; everything with logic lives here and is tested:

- :func:`load_data` gives the real CIFAR-10 (default search order of :mod:`lab_utils.data.cifar10`)
  or, in quick mode, a tiny generated image set written under the results folder (labelled synthetic);
- :func:`search_config` builds the ``graph/architecture/vgg_channels`` search configuration (the
  same keys as ``configs/cifar10_vgg_channels.toml``) pointing at an already trained supernet, and
  :func:`run_search` runs it through the search engine (Optuna storage in ``<out>/study.db``) and
  returns the trials table with the evaluated channels and MACs of every trial, read from the
  study and space the engine returns (nothing is loaded twice);
- :func:`unique_candidates` keeps one row per architecture; the Pareto front is
  :func:`lab_utils.analysis.pareto.pareto_mask`; :func:`spread` picks ``k`` front rows evenly for
  the from-scratch check; :func:`check_quick_run` is quick mode's sanity check;
- :func:`quantized_accuracy` runs the best network through ``quantize_transform_pass`` with 8-bit
  ``Conv2dInteger`` / ``LinearInteger`` layers (fractional widths chosen per tensor, ``"auto"``).

The figures are :func:`lab_utils.report.plots.supernet_curve` and :func:`~lab_utils.report.plots.accuracy_vs_macs`;
the thread count is set with :func:`lab_utils.training.train.num_threads`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from lab_utils.data.cifar10 import load_cifar10
from lab_utils.data.tiny_images import make_tiny_image_set
from lab_utils.errors import LabError
from lab_utils.passes.quantize import lab_config, quantize_model
from lab_utils.search import outputs
from lab_utils.search import run as search_run
from lab_utils.search.config import parse_config
from lab_utils.search.spaces.vgg_channels import KEYS
from lab_utils.training import supernet as S
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
    raw = {"model": "vgg7", "dataset": "cifar10", "seed": int(seed), "data_seed": int(seed),
           "batch_size": 1,  # flops per image
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
    result = search_run.run_search(cfg, out_dir, progress=False, print_fn=lambda *a: None)
    if result.status != 0:
        raise LabError(f"the search stopped early (status {result.status}); rerun the notebook")
    space = result.space
    df = outputs.trials_frame(result.study, space, cfg.strategy.metric_names)
    df = df[df.state == "COMPLETE"].reset_index(drop=True)
    rows = [space.sampled_config({k: r[k] for k in KEYS}) for _, r in df.iterrows()]
    df["channels"] = [tuple(r["channels"]) for r in rows]
    df["repaired"] = [r["repaired"] for r in rows]
    df["macs"] = [r["macs"] for r in rows]
    return space, df


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


def check_quick_run(splits, history: list[dict], supernet, choices, quick: bool) -> int:
    """The number of candidates in the space; in quick mode, first the checks that everything ran (a
    failure stops the report): CIFAR-shaped synthetic images, a supernet loss that went down, and
    every candidate of the space builds and runs a forward pass."""
    if not quick:
        return len(S.all_candidates(choices))
    if not (splits.x_train.shape[1:] == (3, 32, 32) and splits.synthetic):
        raise LabError(f"quick mode expects the generated 3x32x32 images, got {tuple(splits.x_train.shape[1:])}")
    if not history[-1]["loss_largest"] < history[0]["loss_largest"]:
        raise LabError(f"supernet training did not lower the loss: {history}")
    candidates = S.all_candidates(choices)
    for c in candidates:
        if S.export(supernet, c)(splits.x_val[:2]).shape != (2, splits.num_classes):
            raise LabError(f"candidate {c} gives the wrong output shape")
    return len(candidates)
