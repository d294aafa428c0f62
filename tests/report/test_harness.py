"""The harness on a fake notebook list: a failing notebook does not stop the others, the index is
written with the failure shown, and the run ends with a LabError (exit status 2 from the CLI)."""

from __future__ import annotations

import json

import nbformat
import pytest

from lab_utils.errors import LabError
from lab_utils.report import harness

pytestmark = pytest.mark.slow  # three kernels

OK = ('from lab_utils.report import notebook as report\n'
      'ctx = report.setup("{task}", quick=quick)\n'
      'report.write_summary(ctx, question="Does {task} run?", dataset="toy (real)", numbers={{"answer": 42}})')


def _notebook(folder, name, body):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("quick: bool = False  # quick mode\nlevel: int = 1  # a parameter")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, folder / name)


def test_failure_is_shown_and_the_others_still_run(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder, "lab91_first.ipynb", OK.format(task="lab91"))
    _notebook(folder, "lab92_broken.ipynb", "assert level == 7, 'level was ' + str(level)\n1 / 0")
    _notebook(folder, "lab93_last.ipynb", OK.format(task="lab93"))
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path / "out"))
    with pytest.raises(LabError, match=r"1 of 3 notebook\(s\) failed \(lab92_broken\)"):
        harness.run_report(quick=True, folder=folder, progress=False, params=["lab92.level=7"])
    reports = tmp_path / "out" / "reports"
    runs = {r["stem"]: r for r in json.loads((reports / "runs.json").read_text())["runs"]}
    assert [runs[s]["status"] for s in ("lab91_first", "lab92_broken", "lab93_last")] == ["ok", "failed", "ok"]
    assert "ZeroDivisionError" in runs["lab92_broken"]["error"]  # the scoped parameter reached lab92 only
    assert runs["lab92_broken"]["overrides"] == {"quick": True, "level": 7} and runs["lab91_first"]["overrides"] == {"quick": True}
    assert runs["lab91_first"]["parameters"] == {"quick": True, "level": 1}  # every parameter, as it ran
    page = (reports / "index.html").read_text()
    assert "Does lab91 run?" in page and "Does lab93 run?" in page
    failed = page[page.index("<section id='lab92_broken'>"):page.index("<section id='lab93_last'>")]
    assert "FAILED" in failed and "ZeroDivisionError" in failed
    assert (reports / "lab92_broken.html").exists()  # the executed notebook shows the failing cell
    assert json.loads((reports / "provenance.json").read_text())["mode"] == "quick"
