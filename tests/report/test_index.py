"""reports/index.html from constructed summary.json files: table of contents, sections titled by lab and
question, claims with verdicts and evidence, the report-check table, captions, provenance, run time and
peak memory, and a failed notebook's section; plus the provenance helpers on constructed /proc text."""

from __future__ import annotations

import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lab_utils.report import harness, provenance  # noqa: E402
from lab_utils.report.index import fmt_number, lab_title  # noqa: E402

PROV = {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": True, "date": "2026-01-02 03:04:05 UTC",
        "mode": "quick", "machine": {"cpu": "Test CPU 3000", "cores": 2, "ram_gb": 8.3, "os": "Linux 6"},
        "versions": {"python": "3.11.2", "torch": "2.13.0", "optuna": "5.0.0", "numpy": "2.4.6"}}
SUMMARY = {
    "task": "lab0", "question": "Which baseline generalises <best>?", "quick": True, "seed": 0,
    "dataset": "jsc-sim (SYNTHETIC)", "synthetic": True, "numbers": {"test accuracy": 0.712345678, "n": 30000},
    "claims": [
        {"statement": "Dropping the logit ReLU raises accuracy", "holds": True, "verdict": "holds",
         "evidence": "diff 1.20 points, 95% CI [0.40, 2.00], Welch t, n=5+5", "test": "Welch t-test", "numbers": {}},
        {"statement": "jsc-tiny beats jsc-mlp", "holds": False, "verdict": "refuted",
         "evidence": "diff -3.1 points, p = 0.002", "test": "", "numbers": {}},
        {"statement": "The seeds agree", "holds": None, "verdict": "not shown", "evidence": "n=1", "test": "",
         "numbers": {}},
        {"kind": "check", "statement": "each seed ran once", "holds": True, "verdict": "check passed",
         "evidence": "5 of 5", "test": "count", "numbers": {}}],
    "report_checks": [{"topic": "learning rate", "report_said": "lr 1e-5 trains jsc-tiny",
                       "run_shows": "lr 1e-5 stays at chance", "verdict": "disagrees"}],
    "figures": ["lab0_curve.png"], "captions": {"lab0_curve.png": "Validation accuracy per epoch for each model."},
    "tables": [], "notes": "", "seconds": 12.3, "peak_memory_mb": 456.7,
}


def constructed_report(tmp_path, monkeypatch):
    """An output root with lab0 (ran: summary, a 320x200 figure, a table's meta) and lab3_1 (failed); returns the index."""
    out = tmp_path / "out"
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(out))
    res = out / "results" / "lab0"
    res.mkdir(parents=True)
    (res / "summary.json").write_text(json.dumps(SUMMARY))
    (res / "variants.meta.json").write_text(json.dumps(
        {"table": "variants", "label": "jsc-sim (SYNTHETIC)", "sizes": {"train": 21600, "val": 2400, "test": 6000}}))
    (out / "figures").mkdir()
    fig, ax = plt.subplots(figsize=(3.2, 2.0))
    ax.plot([0, 1], [0, 1])
    fig.savefig(out / "figures" / "lab0_curve.png", dpi=100)
    plt.close(fig)
    runs = [{"stem": "lab0_data_and_baselines", "task": "lab0", "status": "ok", "error": "", "seconds": 13.0,
             "parameters": {"quick": True}},
            {"stem": "lab3_1_metrics", "task": "lab3_1", "status": "failed", "seconds": 2.0, "parameters": {"quick": True},
             "error": "notebook lab3_1_metrics.ipynb failed in cell 3 (cell index 4): ZeroDivisionError: division by zero"}]
    return harness.write_report(runs, PROV, ["lab0_data_and_baselines", "lab3_1_metrics"])


def test_index_shows_conclusions_provenance_and_failure(tmp_path, monkeypatch):
    index = constructed_report(tmp_path, monkeypatch)
    page = index.read_text()
    toc = page[page.index("<nav id='toc'>"):page.index("</nav>")]
    assert re.findall(r"href='#([\w]+)'", toc) == ["provenance", "lab0_data_and_baselines", "lab3_1_metrics"]
    assert "Which baseline generalises &lt;best&gt;?" in toc and "FAILED" in toc  # escaped question in the TOC
    assert "holds" not in toc and "refuted" not in toc  # no verdict counts that read like a score
    lab0 = page[page.index("<section id='lab0_data_and_baselines'>"):page.index("<section id='lab3_1_metrics'>")]
    assert "<h2>Lab 0: Which baseline generalises &lt;best&gt;?</h2>" in lab0
    for verdict, cls in (("holds", "ok"), ("refuted", "ref"), ("not shown", "unk"), ("check passed", "chk")):
        assert f"<span class='badge {cls}'>{verdict}</span>" in lab0
    # a refuted finding is not coloured as an error; the check sits apart from the findings
    assert "<h3>Implementation checks (1 passed, 0 failed)</h3>" in lab0
    assert lab0.index("Findings (computed") < lab0.index("each seed ran once") and lab0.index("Implementation checks") < lab0.index("each seed ran once")
    assert "Welch t, n=5+5" in lab0 and "Test: Welch t-test" in lab0
    assert "<td>lr 1e-5 trains jsc-tiny</td><td>lr 1e-5 stays at chance</td>" in lab0 and ">disagrees<" in lab0
    assert "Validation accuracy per epoch for each model." in lab0 and "data:image/png;base64," in lab0
    assert "SYNTHETIC DATA" in lab0 and "train 21,600, val 2,400, test 6,000" in lab0
    assert "0.7123" in lab0 and "0.712345678" not in page  # numbers rounded
    assert "457 MB" in lab0  # peak memory
    failed = page[page.index("<section id='lab3_1_metrics'>"):]
    assert "FAILED" in failed and "ZeroDivisionError: division by zero" in failed and "lab3_1_metrics.html" in failed
    for needle in ("0123456789abcdef", "uncommitted changes", "2026-01-02 03:04:05 UTC", "Test CPU 3000, 2 cores, 8.3 GB RAM",
                   "torch 2.13.0", "optuna 5.0.0", "numpy 2.4.6", "QUICK MODE", "<td>jsc-sim (SYNTHETIC) (train 21,600"):
        assert needle in page, needle


def test_partial_rerun_keeps_the_other_notebooks(tmp_path, monkeypatch):
    constructed_report(tmp_path, monkeypatch)
    rerun = [{"stem": "lab3_1_metrics", "task": "lab3_1", "status": "ok", "error": "", "seconds": 5.0, "parameters": {}}]
    page = harness.write_report(rerun, PROV, ["lab0_data_and_baselines", "lab3_1_metrics"]).read_text()
    runs = json.loads((tmp_path / "out" / "reports" / "runs.json").read_text())["runs"]
    assert [(r["stem"], r["status"]) for r in runs] == [("lab0_data_and_baselines", "ok"), ("lab3_1_metrics", "ok")]
    assert "FAILED" not in page and "Which baseline generalises" in page


def test_formatting_helpers():
    assert lab_title("lab3_1") == "Lab 3.1" and lab_title("lab0") == "Lab 0" and lab_title("other") == "other"
    assert fmt_number(0.123456) == "0.1235" and fmt_number(30000) == "30,000" and fmt_number(float("nan")) == "n/a"
    assert fmt_number(None) == "n/a" and fmt_number(True) == "True" and fmt_number([1e-5, 2]) == "[1e-05, 2]"


def test_provenance_parses_proc_files_and_git():
    cpuinfo = "processor\t: 0\nvendor_id\t: X\nmodel name\t: Intel(R) Xeon(R)   CPU @ 2.20GHz\n\nprocessor\t: 1\n"
    assert provenance.cpu_model(cpuinfo) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert provenance.ram_gb("MemFree: 1 kB\nMemTotal:        8148784 kB\n") == 8.3
    assert provenance.ram_gb("nothing here") is None
    state = provenance.git_state()
    assert re.fullmatch(r"[0-9a-f]{40}", state["commit"]) and isinstance(state["dirty"], bool)
    prov = provenance.collect(quick=False)
    assert prov["mode"] == "full" and prov["versions"]["torch"] and prov["machine"]["cores"] >= 1
    assert provenance.describe(PROV).startswith("commit 0123456789 with uncommitted changes, 2026-01-02")
