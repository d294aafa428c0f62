"""The report harness (``make report`` → ``python -m lab_utils report``).

How a report run goes:

1. the notebooks (``notebooks/*.ipynb`` in name order, or the ``--only`` stems or task names) and their effective
   parameters: each notebook's defaults (papermill's ``inspect_notebook``) with ``quick`` and the
   ``--param NAME=VALUE`` / ``--param TASK.NAME=VALUE`` overrides applied where the notebook declares
   that parameter;
2. **fail fast**: the output folders (``reports/``, ``figures/``, ``results/<task>/``) are checked
   writable, and every real data set those parameters will read is checked, before the first
   notebook runs (:mod:`lab_utils.report.preflight`); either problem stops the run within seconds;
3. each notebook is executed with papermill (kernel ``python3``, working directory the repository
   root, serially, ``TQDM_DISABLE=1``), saved executed under ``reports/`` with its HTML (nbconvert).
   The kernel's own log is limited to critical messages (:data:`KERNEL_ARGS`).
   A failing notebook is recorded with its error and the others still run. Ctrl-C (or SIGTERM/SIGHUP,
   see :func:`lab_utils.errors.interrupt_on_signals`) stops the run: nbclient interrupts and shuts
   down the kernel, the executed notebook of the previous run is kept (the partial one is dropped),
   the notebooks finished before are recorded as in step 4, and :class:`ReportInterrupted` says which
   notebook was stopped;
4. ``reports/runs.json`` (status, run time, error and parameters per notebook; earlier entries of
   notebooks not run this time are kept), ``reports/provenance.json`` and ``reports/index.html``
   (:mod:`lab_utils.report.index`) are written, also when notebooks failed; then a failure is
   reported as a :class:`LabError` (exit status 2).

``LAB_OUTPUT_DIR`` moves results/figures/reports elsewhere (the tests use a temporary directory).
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import time
from pathlib import Path

from lab_utils import atomic
from lab_utils.errors import LabError
from lab_utils.report import preflight, provenance
from lab_utils.report.index import write_index
from lab_utils.report.paths import NOTEBOOKS, ROOT, figures_dir, reports_dir, results_dir


class ReportInterrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP while ``notebook`` ran (its kernel has been shut down)."""
    def __init__(self, notebook: str):
        super().__init__(notebook)
        self.notebook = notebook


# ipykernel logs to the terminal beside the harness's one-line messages: a transport warning at every
# start, and a traceback when the shutdown after Ctrl-C races the interrupted cell's reply. Only its
# critical messages are kept; the notebook's own outputs and errors come through the kernel protocol,
# and a kernel that dies is reported by nbclient (DeadKernelError) as a failed notebook.
KERNEL_ARGS = ("--IPKernelApp.log_level=CRITICAL",)


def notebook_paths(names: list[str] | None = None, folder: Path | None = None) -> list[Path]:
    """The notebooks in name order (the order they must run in); ``names`` (stems or task names such
    as ``lab3_1``) selects some; ``None`` is all, an empty list is a :class:`LabError`."""
    paths = sorted(Path(folder or NOTEBOOKS).glob("*.ipynb"))
    if names is None:
        return paths
    choices = ", ".join(p.stem for p in paths)
    if not names:
        raise LabError(f"--only needs at least one notebook name; choose from: {choices}")
    wanted = set(names)
    unknown = wanted - {p.stem for p in paths} - {task_of(p) for p in paths}
    if unknown:
        raise LabError(f"unknown notebook(s) {sorted(unknown)}; choose from: {choices}")
    return [p for p in paths if p.stem in wanted or task_of(p) in wanted]


def task_of(path: Path) -> str:
    """``lab3_1_metrics.ipynb`` → ``lab3_1``; ``lab0_data_and_baselines.ipynb`` → ``lab0``."""
    m = re.match(r"(lab\d+(?:_\d+)?)", Path(path).stem)
    return m.group(1) if m else Path(path).stem


def parse_overrides(items: list[str] | None) -> list[tuple[str | None, str, object]]:
    """``["data_path=/x", "lab4_5.n_trials=10"]`` → ``[(None, "data_path", "/x"), ("lab4_5", "n_trials", 10)]``.

    A value is read as a Python literal when it is one (``10``, ``True``, ``[1, 2]``), else kept as text.
    """
    out = []
    for item in items or ():
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise LabError(f"--param needs NAME=VALUE or TASK.NAME=VALUE, got {item!r}")
        task, _, name = key.strip().rpartition(".")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out.append((task or None, name, value))
    return out


def defaults(path: Path) -> dict:
    """A notebook's parameters and their default values (the tagged parameters cell, via papermill)."""
    import papermill as pm  # heavy (pulls in nbclient, jupyter_client): imported only when notebooks are used

    out = {}
    for k, v in pm.inspect_notebook(str(path)).items():
        try:
            out[k] = ast.literal_eval(v["default"])
        except (ValueError, SyntaxError):
            out[k] = v["default"]
    return out


def effective_parameters(paths: list[Path], quick: bool, overrides: list) -> dict[Path, tuple[dict, dict]]:
    """``{path: (all effective parameters, the ones passed to papermill)}``; an override no selected
    notebook declares is a :class:`LabError` (a typo must not be silently ignored)."""
    out, used = {}, set()
    for path in paths:
        params = defaults(path)
        passed = {"quick": bool(quick)} if "quick" in params else {}
        for i, (task, name, value) in enumerate(overrides):
            if name in params and task in (None, task_of(path)):
                passed[name] = value
                used.add(i)
        out[path] = ({**params, **passed}, passed)
    unused = [f"{t + '.' if t else ''}{n}" for i, (t, n, _) in enumerate(overrides) if i not in used]
    if unused:
        raise LabError(f"--param {', '.join(unused)}: no selected notebook has such a parameter")
    return out


def run_notebook(path: Path, out_dir: Path, quick: bool, parameters: dict | None = None, cwd: Path | None = None) -> float:
    """Execute one notebook with papermill; a failing cell raises LabError naming notebook and cell.

    The executed notebook is kept (also when it fails, for inspection) under ``out_dir``. The kernel
    starts in ``cwd`` (default the repository root; the notebooks also work from ``notebooks/``).
    """
    import papermill as pm  # heavy: see defaults

    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # papermill rewrites its output after every cell: run into a temporary name and rename it at the
    # end (also after a failure, for inspection), so a kill never leaves a torn executed notebook.
    # After Ctrl-C the partial notebook is dropped: the previous run's executed notebook stays whole.
    tmp = out_dir / f".tmp-{path.name}"
    params = {"quick": bool(quick), **(parameters or {})}
    # Ctrl-C reaches the kernel too (one process group): nbclient may then log "Kernel died while waiting
    # for execute reply" and asyncio an unretrieved DeadKernelError beside our one line. A real failure
    # still surfaces as the exception handled below, so these loggers only speak when critical.
    for name in ("papermill", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        pm.execute_notebook(str(path), str(tmp), parameters=params, kernel_name="python3",
                            cwd=str(cwd or ROOT), progress_bar=False, log_output=False,
                            extra_arguments=list(KERNEL_ARGS))  # a copy: nbclient appends to it
    except pm.PapermillExecutionError as exc:
        raise LabError(f"notebook {path.name} failed in cell {exc.exec_count} (cell index {exc.cell_index}): "
                       f"{exc.ename}: {str(exc.evalue)[:300]}") from None
    except KeyboardInterrupt:
        tmp.unlink(missing_ok=True)
        raise ReportInterrupted(path.stem) from None
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


def _run_one(path: Path, quick: bool, params: tuple[dict, dict], say) -> dict:
    """Run one notebook (effective parameters, the ones to pass); its record for ``runs.json``."""
    reports = reports_dir()
    say(f"running {path.name}{' (quick)' if quick else ''} …")
    t0 = time.perf_counter()
    effective, passed = params
    run = {"stem": path.stem, "task": task_of(path), "parameters": effective, "overrides": passed}
    try:
        run_notebook(path, reports, quick, passed)
        run.update(status="ok", error="")
    except LabError as exc:
        run.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a kernel that dies or will not start fails this notebook only
        run.update(status="failed", error=f"{type(exc).__name__}: {str(exc)[:300]}")
    run["seconds"] = round(time.perf_counter() - t0, 1)
    if (reports / path.name).exists():
        try:
            to_html(reports / path.name)
        except Exception as exc:  # noqa: BLE001 - a broken executed notebook must not stop the report
            run["error"] += f" (HTML conversion failed: {type(exc).__name__})"
    say(f"{path.name} {'done' if run['status'] == 'ok' else 'FAILED'} in {run['seconds']:.1f} s"
        + (f": {run['error']}" if run["error"] else ""))
    return run


def run_report(quick: bool = False, names: list[str] | None = None, progress: bool = True, params: list[str] | None = None,
               download: bool = True, folder: Path | None = None) -> Path:
    """Check the data, run the notebooks, write ``reports/index.html`` (see the module docstring).

    Returns the index's path; raises :class:`LabError` after writing it when a notebook failed.
    """
    def say(msg):
        if progress:
            print(f"[report] {msg}", flush=True)

    os.environ["TQDM_DISABLE"] = "1"
    os.environ.setdefault("PYTHONHASHSEED", "0")
    paths = notebook_paths(names, folder)
    preflight.check_writable([reports_dir(), figures_dir(), *(results_dir(task_of(p)) for p in paths)])
    eff = effective_parameters(paths, quick, parse_overrides(params))
    needs = [n for p in paths for n in preflight.needs_of(p.stem, eff[p][0], quick)]
    preflight.check(needs, download=download)
    say(f"data checked ({len(needs)} real data set need(s)); running {len(paths)} notebook(s)")
    prov = provenance.collect(quick)
    all_stems = [p.stem for p in notebook_paths(folder=folder)]
    runs = []
    try:
        for p in paths:
            runs.append({**_run_one(p, quick, eff[p], say), "commit": prov["commit"], "dirty": prov["dirty"]})
    except KeyboardInterrupt:
        if runs:  # the notebooks that finished before Ctrl-C go into runs.json and the index
            write_report(runs, prov, all_stems)
        raise
    index = write_report(runs, prov, all_stems)
    say(f"wrote {index}")
    failed = [r for r in runs if r["status"] != "ok"]
    if failed:
        raise LabError(f"{len(failed)} of {len(runs)} notebook(s) failed ({', '.join(r['stem'] for r in failed)}); "
                       f"{index} shows the others and each failure; the executed notebooks under "
                       f"{reports_dir()} show the failing cells")
    return index


def write_report(runs: list[dict], prov: dict, all_stems: list[str]) -> Path:
    """Merge ``runs`` into ``reports/runs.json`` (earlier runs of other notebooks kept, in notebook order),
    store the provenance and write the index."""
    reports = reports_dir()
    reports.mkdir(parents=True, exist_ok=True)
    store = reports / "runs.json"
    earlier = {}
    if store.exists():
        try:
            earlier = {r["stem"]: r for r in json.loads(store.read_text()).get("runs", [])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # torn or foreign: start afresh
            earlier = {}
    merged = {**earlier, **{r["stem"]: r for r in runs}}
    order = {s: i for i, s in enumerate(all_stems)}
    ordered = sorted(merged.values(), key=lambda r: (order.get(r["stem"], len(order)), r["stem"]))
    atomic.write_json(store, {"runs": ordered})
    atomic.write_json(reports / "provenance.json", prov)
    return write_index(ordered, prov)
