"""Notebook rules (committed without outputs, a tagged parameters cell, code cells that only call the
package) and the quick report run."""

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

from lab_utils.analysis import claims
from lab_utils.errors import LabError
from lab_utils.report import harness
from tests.helpers import ROOT, summary_of

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BANNED_MODULES = {"subprocess", "shutil", "matplotlib", "json", "tomllib", "tomli_w", "os"}
ALIASES = {("pandas", "pd"), ("notebook", "report")}  # the conventional ones; a module goes by its own name


def test_there_are_notebooks():
    assert any(p.name == "lab0_data_and_baselines.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "committed with outputs"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged 'parameters'"
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
    names = []
    for line in code[0].source.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^(\w+): (\w+) = (.+?)\s+# \S.*$", line)
        assert m, f"parameter line needs 'name: type = literal  # comment': {line!r}"
        ast.literal_eval(m.group(3))  # flat literals only
        names.append(m.group(1))
    assert "quick" in names
    for cell in code[1:]:
        _check_calls_only(cell.source)


def _check_calls_only(source):
    """No definitions, no subprocesses or file plumbing, no figure code, no private names, no module
    under another name (one name per lab), and no quick-mode branches (quick values live in
    lab_utils.labs.presets)."""
    for n in ast.walk(_parse(source)):
        assert not isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)), \
            f"no definitions in notebooks: {ast.unparse(n)[:60]!r}"
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""]
            assert not any(m.split(".")[0] in BANNED_MODULES for m in modules), f"banned import: {ast.unparse(n)}"
            assert not any(a.name.startswith("_") for a in n.names), f"private name imported: {ast.unparse(n)}"
            renamed = {(a.name.split(".")[-1], a.asname) for a in n.names if a.asname} - ALIASES
            assert not renamed, f"a module or name imported under another name: {ast.unparse(n)}"
        if isinstance(n, ast.Attribute):
            assert not n.attr.startswith("_"), f"private name used: {ast.unparse(n)}"
        if isinstance(n, (ast.If, ast.IfExp)):
            assert "quick" not in {x.id for x in ast.walk(n.test) if isinstance(x, ast.Name)}, \
                f"quick-mode branch (use lab_utils.labs.presets): {ast.unparse(n.test)}"


def _parse(src):
    return ast.parse("\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))))


def test_failing_cell_names_notebook_and_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("quick: bool = False  # quick mode")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(LabError, match=r"broken.ipynb failed in cell .*ZeroDivisionError"):
        harness.run_notebook(path, tmp_path / "out", quick=True)
    executed = nbformat.read(tmp_path / "out" / "broken.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["ename"] == "ZeroDivisionError"


def test_task_names():
    assert harness.task_of(Path("lab0_data_and_baselines.ipynb")) == "lab0"
    assert harness.task_of(Path("lab3_4_sample_efficiency.ipynb")) == "lab3_4"


def test_quick_report_index(quick_report):
    index = (quick_report / "reports" / "index.html").read_text()
    for path in NOTEBOOKS:
        assert f"id='{path.stem}'" in index
        assert (quick_report / "reports" / f"{path.stem}.html").exists()
        summ = summary_of(quick_report, harness.task_of(path))
        assert summ["quick"] is True and summ["question"]
        for fig in summ["figures"]:
            assert (quick_report / "figures" / fig).stat().st_size > 1000
    assert "SYNTHETIC" in index
    runs = json.loads((quick_report / "reports" / "runs.json").read_text())["runs"]
    assert [r["stem"] for r in runs] == [p.stem for p in NOTEBOOKS] and all(r["status"] == "ok" for r in runs)
    prov = json.loads((quick_report / "reports" / "provenance.json").read_text())
    assert prov["mode"] == "quick" and len(prov["commit"]) == 40 and prov["versions"]["torch"]
    assert "<nav id='toc'>" in index and "QUICK MODE" in index


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_summary_uses_only_the_verdict_vocabulary(quick_report, path):
    """Every claim in every summary.json is a finding (holds / refuted / not shown / not applicable) or an
    implementation check (check passed / check failed); no check fails; report checks keep their four words."""
    summ = summary_of(quick_report, harness.task_of(path))
    for c in summ["claims"]:
        allowed = claims.CHECK_VERDICTS if c["kind"] == "check" else claims.FINDING_VERDICTS
        assert c["kind"] in claims.KINDS and c["verdict"] in allowed, (c["key"], c["kind"], c["verdict"])
        assert c["verdict"] != claims.CHECK_FAILED, (c["key"], c["evidence"])
    assert all(r["verdict"] in claims.VERDICTS for r in summ.get("report_checks", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_widget_warning_or_stderr_in_quick_report(quick_report, path):
    """No "IProgress not found" TqdmWarning (or any other stderr block) in the executed notebooks."""
    executed = nbformat.read(quick_report / "reports" / path.name, as_version=4)
    stderr = [o.get("text", "") for c in executed.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert not any("IProgress" in t or "TqdmWarning" in t for t in stderr), stderr

