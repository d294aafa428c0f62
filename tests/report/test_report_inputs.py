"""``report`` on bad input, in-process and without kernels: ``--only`` with no name, an output folder
that cannot be written (checked before any notebook runs), a torn or foreign ``summary.json`` of
another notebook while the index is built, and Ctrl-C inside papermill (the previous executed notebook
is kept). The real-process cases (Ctrl-C to a running kernel, a folder in the way) are in
tests/system/test_report_faults.py.

Read-only folders: ``chmod 0o555`` when not root; as root (permission bits do not stop root)
``tempfile.mkstemp`` is made to raise the EROFS a read-only mount gives, for that folder only.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import pytest

from lab_utils import cli
from lab_utils.errors import LabError
from lab_utils.report import harness, readme
from lab_utils.report.paths import NOTEBOOKS
from tests.report.test_index import PROV, SUMMARY

STEMS = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


def call(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main([str(a) for a in argv])
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def no_kernels(tmp_path, monkeypatch):
    """An empty output root; every notebook the harness would run is recorded instead of run."""
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path / "out"))
    ran = []
    monkeypatch.setattr(harness, "_run_one", lambda path, *a, **k: ran.append(path.stem) or
                        {"stem": path.stem, "task": harness.task_of(path), "status": "ok", "error": "", "seconds": 0.0})
    return ran


def test_only_without_a_name_is_refused_and_runs_nothing(no_kernels):
    rc, out, err = call(["report", "--quick", "--only"])
    assert rc == 2 and no_kernels == [], (rc, no_kernels)  # before: every notebook ran
    assert err == f"error: --only needs at least one notebook name; choose from: {', '.join(STEMS)}\n"


def test_only_unknown_name_lists_the_names(no_kernels):
    rc, out, err = call(["report", "--quick", "--only", "lab9_nothing"])
    assert rc == 2 and no_kernels == []
    assert err == f"error: unknown notebook(s) ['lab9_nothing']; choose from: {', '.join(STEMS)}\n"


def test_only_takes_stems_or_task_names():
    assert [p.stem for p in harness.notebook_paths(["lab3_1", "lab0_data_and_baselines"])] == [
        "lab0_data_and_baselines", "lab3_1_metrics"]
    assert harness.notebook_paths(None) == sorted(NOTEBOOKS.glob("*.ipynb"))


def _read_only(folder: Path, monkeypatch) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == folder:
            raise OSError(errno.EROFS, "Read-only file system", str(folder))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("where", ["reports", "figures", "results/lab3_1", "results"])
def test_a_read_only_output_folder_stops_before_any_notebook(tmp_path, no_kernels, monkeypatch, where):
    folder = tmp_path / "out" / where
    _read_only(folder, monkeypatch)
    rc, out, err = call(["report", "--quick", "--only", "lab3_1"])
    folder.chmod(0o755)
    assert rc == 2 and no_kernels == [], (rc, out, err)  # before: the notebook ran, then writing failed
    assert err.count("\n") == 1 and err.startswith("error: cannot write to ") and f"{folder}" in err
    assert "Read-only file system (EROFS)" in err or "Permission denied (EACCES)" in err
    assert "nothing was run" in err and "LAB_OUTPUT_DIR" in err
    assert not list((tmp_path / "out").rglob(".tmp-*"))  # the probe file is gone


def test_an_output_folder_that_is_a_file_stops_before_any_notebook(tmp_path, no_kernels):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "reports").write_text("my notes\n")
    rc, out, err = call(["report", "--quick", "--only", "lab3_1"])
    assert rc == 2 and no_kernels == []
    reports = tmp_path / "out" / "reports"
    assert err == (f"error: cannot write to {reports} ({reports} is not a folder); nothing was run. Fix: make it "
                   "writable, or set LAB_OUTPUT_DIR to a writable folder\n")
    assert reports.read_text() == "my notes\n"


def test_writable_folders_pass(tmp_path, no_kernels):
    rc, out, err = call(["report", "--quick", "--only", "lab3_1"])
    assert rc == 0 and no_kernels == ["lab3_1_metrics"], err


# ---------------------------------------------------------------- the index with a torn summary
def _two_notebooks(tmp_path, monkeypatch, damage: bytes) -> str:
    out = tmp_path / "out"
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(out))
    for task in ("lab0", "lab3_1"):
        (out / "results" / task).mkdir(parents=True)
        (out / "results" / task / "summary.json").write_text(json.dumps({**SUMMARY, "task": task, "figures": []}))
    torn = out / "results" / "lab3_1" / "summary.json"
    torn.write_bytes(damage(torn.read_bytes()))
    runs = [{"stem": "lab0_data_and_baselines", "task": "lab0", "status": "ok", "error": "", "seconds": 3.0,
             "parameters": {}},
            {"stem": "lab3_1_metrics", "task": "lab3_1", "status": "ok", "error": "", "seconds": 4.0, "parameters": {}}]
    return harness.write_report(runs, PROV, ["lab0_data_and_baselines", "lab3_1_metrics"]).read_text()


@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 2], lambda b: b"\x89PNG\r\n\x1a\n\0\0",
                                    lambda b: b"[1, 2, 3]"], ids=["torn", "binary", "json-list"])
def test_a_torn_summary_of_another_notebook_is_shown_as_unreadable(tmp_path, monkeypatch, damage):
    page = _two_notebooks(tmp_path, monkeypatch, damage)  # before: JSONDecodeError / AttributeError, no index
    lab0 = page[page.index("<section id='lab0_data_and_baselines'>"):page.index("<section id='lab3_1_metrics'>")]
    assert "Which baseline generalises &lt;best&gt;?" in lab0 and "unreadable" not in lab0  # the others are fine
    lab3 = page[page.index("<section id='lab3_1_metrics'>"):]
    assert "summary unreadable (torn or foreign file): rerun it" in lab3
    assert f"{tmp_path / 'out' / 'results' / 'lab3_1' / 'summary.json'}: summary unreadable" in lab3
    toc = page[page.index("<nav id='toc'>"):page.index("</nav>")]
    assert "summary unreadable (torn or foreign file): rerun it" in toc


def test_readme_names_a_foreign_summary(tmp_path, monkeypatch):
    _two_notebooks(tmp_path, monkeypatch, lambda b: b"[1, 2, 3]")
    with pytest.raises(LabError, match=r"lab3_1/summary\.json: summary unreadable \(torn or foreign file: a JSON list"):
        readme.load_summaries()


# ---------------------------------------------------------------- Ctrl-C inside papermill
def test_ctrl_c_keeps_the_previous_executed_notebook(tmp_path, monkeypatch):
    import papermill as pm

    out_dir = tmp_path / "reports"
    out_dir.mkdir()
    previous = out_dir / "lab3_1_metrics.ipynb"
    previous.write_text('{"cells": [], "previous": "complete run"}')
    digest = hashlib.sha256(previous.read_bytes()).hexdigest()

    def interrupted(inp, outp, **kwargs):
        Path(outp).write_text('{"cells": [], "partial": true}')  # papermill saved the first cells
        raise KeyboardInterrupt

    monkeypatch.setattr(pm, "execute_notebook", interrupted)
    with pytest.raises(harness.ReportInterrupted) as info:
        harness.run_notebook(NOTEBOOKS / "lab3_1_metrics.ipynb", out_dir, quick=True)
    assert info.value.notebook == "lab3_1_metrics"
    assert hashlib.sha256(previous.read_bytes()).hexdigest() == digest  # before: replaced by the partial one
    assert sorted(p.name for p in out_dir.iterdir()) == ["lab3_1_metrics.ipynb"]


def test_the_interrupt_message_is_one_line(monkeypatch):
    def stopped(**kwargs):
        raise harness.ReportInterrupted("lab3_1_metrics")

    monkeypatch.setattr(cli, "run_report", stopped)
    rc, out, err = call(["report", "--quick", "--only", "lab3_1"])
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 130 and len(lines) == 1 and lines[0].startswith("interrupted: lab3_1_metrics was stopped")
    assert "make report" in lines[0]


def test_notebooks_finished_before_ctrl_c_are_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path / "out"))

    def one(path, *args):
        if path.stem == "lab3_1_metrics":
            raise harness.ReportInterrupted(path.stem)
        return {"stem": path.stem, "task": harness.task_of(path), "status": "ok", "error": "", "seconds": 1.0}

    monkeypatch.setattr(harness, "_run_one", one)
    with pytest.raises(harness.ReportInterrupted):
        harness.run_report(quick=True, names=["lab0", "lab3_1"], progress=False)
    runs = json.loads((tmp_path / "out" / "reports" / "runs.json").read_text())["runs"]
    assert [(r["stem"], r["status"]) for r in runs] == [("lab0_data_and_baselines", "ok")]
    assert (tmp_path / "out" / "reports" / "index.html").exists()


def test_readme_names_a_torn_provenance_or_run_record(tmp_path, monkeypatch):
    _two_notebooks(tmp_path, monkeypatch, lambda b: b)  # whole summaries; write_report wrote provenance and runs
    reports = tmp_path / "out" / "reports"
    prov = (reports / "provenance.json").read_bytes()
    (reports / "provenance.json").write_bytes(prov[: len(prov) // 2])
    with pytest.raises(LabError, match=r"provenance\.json: provenance unreadable \(torn or foreign file"):
        readme.update_readme(tmp_path / "README.md", allow_quick=True)
    (reports / "provenance.json").write_bytes(prov)
    (reports / "runs.json").write_text('{"runs": [1, 2]}')
    with pytest.raises(LabError, match=r"runs\.json: run record unreadable"):
        readme.update_readme(tmp_path / "README.md", allow_quick=True)
