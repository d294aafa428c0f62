"""The notebook API: start a notebook, save its figures and tables, write its summary.

Called from inside each notebook (``from lab_utils.report import notebook as report``)::

    ctx = report.setup("lab0", quick=quick, seed=seed)   # chdir to the repo root, seed, paths
    report.save_figure(ctx, fig, "confusion", dataset=splits)   # figures/<task>_<name>.png
    report.save_table(ctx, df, "metrics", dataset=splits)       # results/<task>/<name>.csv (+ .meta.json)
    report.write_summary(ctx, question="…", dataset=splits, numbers={...})  # results/<task>/summary.json

How it works: ``setup`` makes the run reproducible the way a notebook needs it, globally: it seeds
``random``, ``numpy`` and ``torch`` once, changes to the repository root (so relative config paths
work wherever Jupyter was started) and sets the figure style. Every write is atomic
(:mod:`lab_utils.atomic`), and every table and figure names its data set, with synthetic data flagged.
The harness (:mod:`lab_utils.report.harness`) reads the ``summary.json`` files to build the report.
"""

from __future__ import annotations

import os
import random
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import torch

from lab_utils import atomic
from lab_utils.report.paths import ROOT, figures_dir, results_dir


@dataclass
class Context:
    """Where a notebook writes, and what it has written so far."""
    task: str
    quick: bool
    seed: int
    results_dir: Path
    figures_dir: Path
    started: float = field(default_factory=time.perf_counter)
    figures: list = field(default_factory=list)
    captions: dict = field(default_factory=dict)
    tables: list = field(default_factory=list)

    def figure_path(self, name: str) -> Path:
        return self.figures_dir / f"{self.task}_{name}.png"

    def result_path(self, name: str) -> Path:
        return self.results_dir / name


def setup(task: str, quick: bool = False, seed: int = 0) -> Context:
    """Start a notebook: chdir to the repo root, seed everything, make the output folders."""
    os.chdir(ROOT)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    ctx = Context(task, bool(quick), int(seed), results_dir(task), figures_dir())
    ctx.results_dir.mkdir(parents=True, exist_ok=True)
    ctx.figures_dir.mkdir(parents=True, exist_ok=True)
    _style()
    return ctx


def _style() -> None:
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
                                "svg.hashsalt": "lab", "font.size": 9})


def _dataset_label(dataset) -> str:
    return getattr(dataset, "label", None) or str(dataset)


def _is_synthetic(dataset) -> bool:
    return bool(getattr(dataset, "synthetic", "SYNTHETIC" in str(dataset).upper()))


def save_figure(ctx: Context, fig, name: str, dataset, caption: str = "") -> Path:
    """Save ``fig`` as ``figures/<task>_<name>.png`` with the data set in its footer.

    Synthetic data gets a visible "SYNTHETIC DATA" footer, as every result on jsc-sim must.
    ``caption`` (what the figure shows, in a sentence) goes into ``summary.json`` for the report.
    """
    label = _dataset_label(dataset)
    text = f"data: {label}" + ("  —  SYNTHETIC DATA, not the real data set" if _is_synthetic(dataset) else "")
    fig.text(0.005, 0.005, text, fontsize=7, color="firebrick" if _is_synthetic(dataset) else "dimgray",
             ha="left", va="bottom")
    path = ctx.figure_path(name)
    atomic.savefig(fig, path)
    ctx.figures.append(path.name)
    if caption:
        ctx.captions[path.name] = caption
    return path


def save_table(ctx: Context, df, name: str, dataset) -> Path:
    """Write ``results/<task>/<name>.csv`` and a ``.meta.json`` naming the data set (synthetic or real)."""
    path = ctx.result_path(f"{name}.csv")
    atomic.write_text(path, df.to_csv(index=False))
    meta = dataset.describe() if hasattr(dataset, "describe") else {"dataset": str(dataset)}
    atomic.write_json(path.with_suffix(".meta.json"), {"table": name, **meta})
    ctx.tables.append(path.name)
    return path


def write_summary(ctx: Context, *, question: str, dataset, numbers: dict, notes: str = "", claims=(),
                  report_checks=()) -> dict:
    """Write ``results/<task>/summary.json``: what the report's section shows for this notebook.

    ``claims`` are the notebook's computed conclusions (:class:`lab_utils.analysis.claims.Claim`),
    ``report_checks`` the lab report's statements set against this run
    (:class:`lab_utils.analysis.claims.ReportCheck`); both are stored as dicts.
    """
    figures = list(dict.fromkeys(ctx.figures))
    out = {
        "task": ctx.task, "question": question, "quick": ctx.quick, "seed": ctx.seed,
        "dataset": _dataset_label(dataset), "synthetic": _is_synthetic(dataset),
        "numbers": numbers, "claims": [c.to_dict() for c in claims],
        "report_checks": [c.to_dict() for c in report_checks],
        "figures": figures, "captions": {f: ctx.captions[f] for f in figures if f in ctx.captions},
        "tables": list(dict.fromkeys(ctx.tables)),
        "notes": notes, "seconds": round(time.perf_counter() - ctx.started, 1),
        # the kernel's peak resident memory so far (Linux reports ru_maxrss in KiB)
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    atomic.write_json(ctx.result_path("summary.json"), out)
    return out
