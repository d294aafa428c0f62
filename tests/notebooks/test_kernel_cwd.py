"""A notebook runs with the kernel's working directory in notebooks/ (as JupyterLab starts it), importing
lab_utils from the installed package: no PYTHONPATH, no sys.path edits in any notebook."""

from __future__ import annotations

from importlib import metadata

import nbformat

from lab_utils.report import harness
from tests.helpers import ROOT, summary_of

NOTEBOOK = ROOT / "notebooks" / "lab0_data_and_baselines.ipynb"


def test_no_notebook_edits_sys_path():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert not any("sys.path" in c.source or "PYTHONPATH" in c.source for c in nb.cells), path.name


def test_lab0_runs_from_the_notebooks_folder(tmp_path, monkeypatch):
    assert metadata.distribution("lab-utils"), "lab_utils is not installed: run `make install`"
    assert not (ROOT / "notebooks" / "lab_utils").exists()  # nothing beside the notebooks to import by accident
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    harness.run_notebook(NOTEBOOK, tmp_path / "executed", quick=True, cwd=ROOT / "notebooks")
    assert summary_of(tmp_path / "out", "lab0")["quick"] is True
    executed = nbformat.read(tmp_path / "executed" / NOTEBOOK.name, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
