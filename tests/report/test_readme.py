"""The README's results section generated from constructed summary.json files: only the text between the
markers changes; it names the commit, machine, date and mode; quick runs, failed runs and mixed commits
are refused."""

from __future__ import annotations

import copy
import json

import pytest

from lab_utils.errors import LabError
from lab_utils.report import readme
from tests.helpers import run_cli
from tests.report.test_index import PROV, SUMMARY

README = "# Title\n\nIntro.\n\n## Results\n\n<!-- results:start -->\nstale hand-written numbers\n<!-- results:end -->\n\n## After\nkept\n"


def _root(tmp_path, monkeypatch, quick=False, runs=None):
    out = tmp_path / "out"
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(out))
    full = {**PROV, "mode": "quick" if quick else "full", "dirty": False}
    for task, question in (("lab4_1", "Does doubling the width help?"), ("lab0", SUMMARY["question"])):
        s = copy.deepcopy(SUMMARY)
        s.update(task=task, question=question, quick=quick)
        (out / "results" / task).mkdir(parents=True)
        (out / "results" / task / "summary.json").write_text(json.dumps(s))
    (out / "reports").mkdir()
    (out / "reports" / "provenance.json").write_text(json.dumps(full))
    runs = runs if runs is not None else [{"task": t, "stem": t, "status": "ok", "seconds": 130.0, "commit": full["commit"]}
                                          for t in ("lab0", "lab4_1")]
    (out / "reports" / "runs.json").write_text(json.dumps({"runs": runs}))
    path = tmp_path / "README.md"
    path.write_text(README)
    return path


def test_section_is_generated_between_the_markers(tmp_path, monkeypatch):
    path = readme.update_readme(_root(tmp_path, monkeypatch))
    text = path.read_text()
    assert text.startswith("# Title\n\nIntro.\n\n## Results\n\n<!-- results:start -->\n")
    assert text.endswith("<!-- results:end -->\n\n## After\nkept\n") and "stale" not in text
    body = text[text.index("<!-- results:start -->"):text.index("<!-- results:end -->")]
    assert "commit 0123456789, 2026-01-02 03:04:05 UTC, Test CPU 3000 (2 cores, 8.3 GB RAM), full mode" in body
    assert "torch 2.13.0" in body and "Quick mode" not in body
    assert body.index("### Lab 0: Which baseline") < body.index("### Lab 4.1: Does doubling")  # lab order
    assert "| **holds** | Dropping the logit ReLU raises accuracy | diff 1.20 points, 95% CI [0.40, 2.00], Welch t, n=5+5 (Welch t-test) |" in body
    assert "| **refuted** | jsc-tiny beats jsc-mlp |" in body and "| **not shown** |" in body
    assert "Implementation checks: 1 passed, 0 failed." in body and "| **check passed** | each seed ran once |" in body
    assert body.index("| verdict | finding |") < body.index("| verdict | check |")
    assert "| learning rate: lr 1e-5 trains jsc-tiny | lr 1e-5 stays at chance | **disagrees** |" in body
    assert "test accuracy = 0.7123; n = 30,000" in body and "run time 2 min 10 s" in body and "457 MB" in body
    assert readme.update_readme(path).read_text() == text  # idempotent


def test_quick_results_are_refused_unless_asked(tmp_path, monkeypatch):
    path = _root(tmp_path, monkeypatch, quick=True)
    with pytest.raises(LabError, match="quick-mode results .*--allow-quick"):
        readme.update_readme(path)
    assert path.read_text() == README
    assert "**Quick mode" in readme.update_readme(path, allow_quick=True).read_text()


def test_failed_or_other_commit_runs_are_refused(tmp_path, monkeypatch):
    runs = [{"task": "lab0", "status": "failed", "commit": PROV["commit"]}, {"task": "lab4_1", "status": "ok", "commit": "f" * 40}]
    path = _root(tmp_path, monkeypatch, runs=runs)
    with pytest.raises(LabError, match="failed notebooks \\(lab0\\)"):
        readme.update_readme(path)
    runs[0]["status"] = "ok"
    (tmp_path / "out" / "reports" / "runs.json").write_text(json.dumps({"runs": runs}))
    with pytest.raises(LabError, match="lab4_1 ran at another commit"):
        readme.update_readme(path)


def test_markers_are_required(tmp_path, monkeypatch):
    path = _root(tmp_path, monkeypatch)
    path.write_text("# no markers\n")
    with pytest.raises(LabError, match="needs exactly one"):
        readme.update_readme(path)
    assert readme.replace_section("a\n<!-- results:start -->\nx\n<!-- results:end -->\nb", "new") == \
        "a\n<!-- results:start -->\nnew\n<!-- results:end -->\nb"


@pytest.mark.slow  # a CLI process
def test_no_results_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path))
    proc = run_cli("report", "--readme", env={"LAB_OUTPUT_DIR": str(tmp_path)})
    assert proc.returncode == 2 and "run `make report` first" in proc.stderr
