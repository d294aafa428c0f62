"""The report harness (``make report`` → ``python -m lab_utils report``): every ``notebooks/*.ipynb`` in
name order is executed with papermill (kernel ``python3``, working directory the repo root,
serially, ``TQDM_DISABLE=1``), saved executed under ``reports/`` with its HTML (nbconvert), and
``reports/index.html`` gets one section per notebook: the question, the parameters, the figures
(embedded), the key numbers, the run time and the data set label. ``LAB_OUTPUT_DIR`` moves
results/figures/reports elsewhere (the tests use a temporary directory).
"""

from __future__ import annotations

import base64
import html
import os
import re
import time
from pathlib import Path

from lab_utils import atomic
from lab_utils.errors import LabError
from lab_utils.report.paths import NOTEBOOKS, ROOT, figures_dir, read_summary, reports_dir


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    """The notebooks in name order (the order they must run in), or only the named stems."""
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
    import papermill as pm  # heavy (pulls in nbclient, jupyter_client): imported only to run a notebook

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
    """The executed notebook as ``<name>.html`` beside it."""
    from nbconvert import HTMLExporter  # heavy (pulls in jinja2, bleach, ...): imported only to build a report

    body, _ = HTMLExporter().from_filename(str(executed))
    out = executed.with_suffix(".html")
    atomic.write_text(out, body)
    return out


def run_report(quick: bool = False, names: list[str] | None = None, progress: bool = True) -> Path:
    """Run the notebooks, convert them to HTML and write ``reports/index.html``; returns its path."""
    os.environ["TQDM_DISABLE"] = "1"
    os.environ.setdefault("PYTHONHASHSEED", "0")
    reports = reports_dir()
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
    earlier = [(p, read_summary(task_of(p)).get("seconds", float("nan"))) for p in notebook_paths()
               if p not in ran and (reports / p.name).exists() and read_summary(task_of(p))]
    index = write_index(sorted(runs + earlier), quick)
    if progress:
        print(f"[report] wrote {index}")
    return index


def _parameters(path: Path) -> dict:
    import papermill as pm  # heavy: see run_notebook

    return {k: {"default": v["default"], "type": v["inferred_type_name"], "help": v["help"]}
            for k, v in pm.inspect_notebook(str(path)).items()}


def write_index(runs: list, quick: bool) -> Path:
    """``reports/index.html``: one section per notebook, figures embedded (a self-contained file)."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Lab 3 / Lab 4 report</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
             "section{border-top:2px solid #ccc;margin-top:2em}table{border-collapse:collapse;font-size:90%}"
             "td,th{border:1px solid #ddd;padding:2px 6px}.syn{color:#b22222;font-weight:bold}"
             "img{max-width:100%}</style></head><body>",
             "<h1>Quantization search and network-architecture search: MASE Lab 3 and Lab 4</h1>",
             f"<p>Mode: {'QUICK (small parameters; numbers are not the lab results)' if quick else 'full'}.</p>"]
    for path, seconds in runs:
        summ = read_summary(task_of(path))
        parts.append(f"<section id='{html.escape(path.stem)}'><h2>{html.escape(path.stem)}</h2>")
        parts.append(f"<p><b>Question.</b> {html.escape(summ.get('question', '(no summary written)'))}</p>")
        label = summ.get("dataset", "?")
        cls = "syn" if summ.get("synthetic") else ""
        parts.append(f"<p><b>Data.</b> <span class='{cls}'>{html.escape(label)}"
                     f"{' — SYNTHETIC DATA' if summ.get('synthetic') else ''}</span>. "
                     f"<b>Run time.</b> {seconds:.1f} s. "
                     f"<a href='{html.escape(path.stem)}.html'>Executed notebook</a>.</p>")
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
            fp = figures_dir() / fig
            if fp.exists():
                b64 = base64.b64encode(fp.read_bytes()).decode()
                parts.append(f"<figure><img alt='{html.escape(fig)}' src='data:image/png;base64,{b64}'>"
                             f"<figcaption>{html.escape(fig)}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    index = reports_dir() / "index.html"
    atomic.write_text(index, "\n".join(parts))
    return index
