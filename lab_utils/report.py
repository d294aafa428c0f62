"""The report harness: run every notebook headlessly, then build ``reports/index.html``.

Notebook side (called from inside each notebook)::

    ctx = report.setup("lab0", quick=quick, seed=seed)   # chdir to the repo root, seed, paths
    report.save_figure(ctx, fig, "confusion", dataset=splits)   # figures/<task>_<name>.png
    report.save_table(ctx, df, "metrics", dataset=splits)       # results/<task>/<name>.csv (+ .meta.json)
    report.summary(ctx, question="…", dataset=splits, numbers={...})  # results/<task>/summary.json

Harness side (``make report`` → ``python -m lab_utils report``): every ``notebooks/*.ipynb`` in
name order is executed with papermill (kernel ``python3``, working directory the repo root,
serially, ``TQDM_DISABLE=1``), saved executed under ``reports/`` with its HTML (nbconvert), and
``reports/index.html`` gets one section per notebook: the question, the parameters, the figures
(embedded), the key numbers, the run time and the data set label. ``LAB_OUTPUT_DIR`` moves
results/figures/reports elsewhere (the tests use a temporary directory).
"""

from __future__ import annotations

import base64
import html
import json
import os
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import atomic
from .errors import LabError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def output_root() -> Path:
    return Path(os.environ.get("LAB_OUTPUT_DIR", ROOT)).resolve()


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
    tables: list = field(default_factory=list)

    def figure_path(self, name: str) -> Path:
        return self.figures_dir / f"{self.task}_{name}.png"

    def result_path(self, name: str) -> Path:
        return self.results_dir / name


def setup(task: str, quick: bool = False, seed: int = 0) -> Context:
    """Start a notebook: chdir to the repo root, seed everything, make the output folders."""
    import numpy as np
    import torch

    os.chdir(ROOT)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    out = output_root()
    ctx = Context(task, bool(quick), int(seed), out / "results" / task, out / "figures")
    ctx.results_dir.mkdir(parents=True, exist_ok=True)
    ctx.figures_dir.mkdir(parents=True, exist_ok=True)
    _style()
    return ctx


def _style() -> None:
    import matplotlib

    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
                                "svg.hashsalt": "lab", "font.size": 9})


def _dataset_label(dataset) -> str:
    return getattr(dataset, "label", None) or str(dataset)


def _is_synthetic(dataset) -> bool:
    return bool(getattr(dataset, "synthetic", "SYNTHETIC" in str(dataset).upper()))


def save_figure(ctx: Context, fig, name: str, dataset) -> Path:
    """Save ``fig`` as ``figures/<task>_<name>.png`` with the data set in its footer.

    Synthetic data gets a visible "SYNTHETIC DATA" footer, as every result on jsc-sim must.
    """
    label = _dataset_label(dataset)
    text = f"data: {label}" + ("  —  SYNTHETIC DATA, not the real data set" if _is_synthetic(dataset) else "")
    fig.text(0.005, 0.005, text, fontsize=7, color="firebrick" if _is_synthetic(dataset) else "dimgray",
             ha="left", va="bottom")
    path = ctx.figure_path(name)
    atomic.savefig(fig, path)
    ctx.figures.append(path.name)
    return path


def save_table(ctx: Context, df, name: str, dataset) -> Path:
    """Write ``results/<task>/<name>.csv`` and a ``.meta.json`` naming the data set (synthetic or real)."""
    path = ctx.result_path(f"{name}.csv")
    atomic.write_text(path, df.to_csv(index=False))
    meta = dataset.describe() if hasattr(dataset, "describe") else {"dataset": str(dataset)}
    atomic.write_json(path.with_suffix(".meta.json"), {"table": name, **meta})
    ctx.tables.append(path.name)
    return path


def summary(ctx: Context, *, question: str, dataset, numbers: dict, notes: str = "") -> dict:
    """Write ``results/<task>/summary.json``: what the report's section shows for this notebook."""
    out = {
        "task": ctx.task, "question": question, "quick": ctx.quick, "seed": ctx.seed,
        "dataset": _dataset_label(dataset), "synthetic": _is_synthetic(dataset),
        "numbers": numbers, "figures": list(dict.fromkeys(ctx.figures)), "tables": list(dict.fromkeys(ctx.tables)),
        "notes": notes, "seconds": round(time.perf_counter() - ctx.started, 1),
    }
    atomic.write_json(ctx.result_path("summary.json"), out)
    return out


# ---------------------------------------------------------------- the harness
def notebook_paths(names: list[str] | None = None) -> list[Path]:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if names:
        wanted = set(names)
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            raise LabError(f"unknown notebook(s) {sorted(unknown)}; choose from: {', '.join(p.stem for p in paths)}")
        paths = [p for p in paths if p.stem in wanted]
    return paths


def task_of(path: Path) -> str:
    """``lab3_1_metrics.ipynb`` → ``lab3_1``; ``lab0_data_and_baselines.ipynb`` → ``lab0``."""
    m = re.match(r"(lab\d+(?:_\d+)?)", Path(path).stem)
    return m.group(1) if m else Path(path).stem


def run_notebook(path: Path, out_dir: Path, quick: bool) -> float:
    """Execute one notebook with papermill; a failing cell raises LabError naming notebook and cell.

    The executed notebook is kept (also when it fails, for inspection) under ``out_dir``.
    """
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # papermill rewrites its output after every cell: run into a temporary name and rename it at the
    # end (also after a failure, for inspection), so a kill never leaves a torn executed notebook.
    tmp = out_dir / f".tmp-{path.name}"
    try:
        pm.execute_notebook(str(path), str(tmp), parameters={"quick": bool(quick)},
                            kernel_name="python3", cwd=str(ROOT), progress_bar=False, log_output=False)
    except pm.PapermillExecutionError as exc:
        raise LabError(f"notebook {path.name} failed in cell {exc.exec_count} (cell index {exc.cell_index}): "
                       f"{exc.ename}: {str(exc.evalue)[:200]}") from None
    finally:
        if tmp.exists():
            os.replace(tmp, out_dir / path.name)
    return time.perf_counter() - t0


def to_html(executed: Path) -> Path:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(executed))
    out = executed.with_suffix(".html")
    atomic.write_text(out, body)
    return out


def run_report(quick: bool = False, names: list[str] | None = None, progress: bool = True) -> Path:
    """Run the notebooks, convert them to HTML and write ``reports/index.html``; returns its path."""
    os.environ["TQDM_DISABLE"] = "1"
    os.environ.setdefault("PYTHONHASHSEED", "0")
    out = output_root()
    reports = out / "reports"
    runs = []
    for path in notebook_paths(names):
        if progress:
            print(f"[report] running {path.name}{' (quick)' if quick else ''} …", flush=True)
        seconds = run_notebook(path, reports, quick)
        to_html(reports / path.name)
        runs.append((path, seconds))
        if progress:
            print(f"[report] {path.name} done in {seconds:.1f} s", flush=True)
    ran = {p for p, _ in runs}
    # Notebooks run earlier (``--only`` runs a subset) keep their sections, with their recorded times.
    earlier = [(p, _summary(out, p).get("seconds", float("nan"))) for p in notebook_paths()
               if p not in ran and (reports / p.name).exists() and _summary(out, p)]
    index = write_index(sorted(runs + earlier), quick)
    if progress:
        print(f"[report] wrote {index}")
    return index


def _parameters(path: Path) -> dict:
    import papermill as pm

    return {k: {"default": v["default"], "type": v["inferred_type_name"], "help": v["help"]}
            for k, v in pm.inspect_notebook(str(path)).items()}


def _summary(out: Path, path: Path) -> dict:
    summ_path = out / "results" / task_of(path) / "summary.json"
    return json.loads(summ_path.read_text()) if summ_path.exists() else {}


def write_index(runs: list, quick: bool) -> Path:
    """``reports/index.html``: one section per notebook, figures embedded (a self-contained file)."""
    out = output_root()
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Lab 3 / Lab 4 report</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
             "section{border-top:2px solid #ccc;margin-top:2em}table{border-collapse:collapse;font-size:90%}"
             "td,th{border:1px solid #ddd;padding:2px 6px}.syn{color:#b22222;font-weight:bold}"
             "img{max-width:100%}</style></head><body>",
             "<h1>Quantization search and network-architecture search: MASE Lab 3 and Lab 4</h1>",
             f"<p>Mode: {'QUICK (small parameters; numbers are not the lab results)' if quick else 'full'}.</p>"]
    for path, seconds in runs:
        summ = _summary(out, path)
        parts.append(f"<section id='{html.escape(path.stem)}'><h2>{html.escape(path.stem)}</h2>")
        parts.append(f"<p><b>Question.</b> {html.escape(summ.get('question', '(no summary written)'))}</p>")
        label = summ.get("dataset", "?")
        cls = "syn" if summ.get("synthetic") else ""
        parts.append(f"<p><b>Data.</b> <span class='{cls}'>{html.escape(label)}"
                     f"{' — SYNTHETIC DATA' if summ.get('synthetic') else ''}</span>. "
                     f"<b>Run time.</b> {seconds:.1f} s. <a href='{html.escape(path.stem)}.html'>Executed notebook</a>.</p>")
        params = _parameters(path)
        parts.append("<details><summary>Parameters</summary><table><tr><th>name</th><th>value</th><th>meaning</th></tr>")
        for k, v in params.items():
            val = "True" if k == "quick" and quick else v["default"]
            parts.append(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(val))}</td><td>{html.escape(str(v['help']))}</td></tr>")
        parts.append("</table></details>")
        nums = summ.get("numbers", {})
        if nums:
            parts.append("<table><tr><th>key number</th><th>value</th></tr>")
            for k, v in nums.items():
                shown = f"{v:.4g}" if isinstance(v, float) else str(v)
                parts.append(f"<tr><td>{html.escape(k)}</td><td>{html.escape(shown)}</td></tr>")
            parts.append("</table>")
        if summ.get("notes"):
            parts.append(f"<p>{html.escape(summ['notes'])}</p>")
        for fig in summ.get("figures", []):
            fp = out / "figures" / fig
            if fp.exists():
                b64 = base64.b64encode(fp.read_bytes()).decode()
                parts.append(f"<figure><img alt='{html.escape(fig)}' src='data:image/png;base64,{b64}'>"
                             f"<figcaption>{html.escape(fig)}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    index = out / "reports" / "index.html"
    atomic.write_text(index, "\n".join(parts))
    return index
