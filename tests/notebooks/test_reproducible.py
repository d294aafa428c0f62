"""Reproducibility: the same commit and parameters give identical summary.json numbers and claims (run
times, latencies and memory aside). Two quick notebooks (lab0 and the training notebook lab4_1, which
reads lab0's models) run twice, each time in a fresh output root: once in the session's quick report
(every notebook), once alone here; NaN equals NaN."""

from __future__ import annotations

import math
import re

import pytest

from tests.helpers import run_cli, summary_of

NOTEBOOKS = ("lab0_data_and_baselines", "lab4_1_double_width")
TASKS = ("lab0", "lab4_1")
COMPARED = ("question", "dataset", "synthetic", "numbers", "claims", "report_checks", "figures", "captions", "tables")
# measured, not computed: wall time, latency, throughput and memory differ between runs by nature
VOLATILE = re.compile(r"seconds|latency|time|throughput|memory|duration|\bms\b|per second", re.IGNORECASE)


def differences(a, b, where: str = "") -> list[str]:
    """Every place where ``a`` and ``b`` differ (recursively), skipping keys that match :data:`VOLATILE`."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if VOLATILE.search(str(k)):
                continue
            if k not in a or k not in b:
                out.append(f"{where}/{k}: only in {'the second' if k in b else 'the first'} run")
            else:
                out += differences(a[k], b[k], f"{where}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    return [] if (a == b and type(a) is type(b)) else [f"{where}: {a!r} vs {b!r}"]


def test_differences_finds_changes_and_ignores_times():
    a = {"numbers": {"acc": 0.5, "nan": float("nan"), "latency ms": 1.0, "seconds": 3},
         "claims": [{"statement": "s", "holds": True, "numbers": {"p": 0.01}}]}
    b = {"numbers": {"acc": 0.5, "nan": float("nan"), "latency ms": 2.0, "seconds": 4},
         "claims": [{"statement": "s", "holds": True, "numbers": {"p": 0.01}}]}
    assert differences(a, b) == []
    b["numbers"]["acc"] = 0.5000001
    b["claims"][0]["holds"] = False
    b["claims"].append({})
    assert differences(a, b) == ["/claims: 1 items vs 2", "/numbers/acc: 0.5 vs 0.5000001"]
    assert differences({"x": 1}, {"x": 1.0}) == ["/x: 1 vs 1.0"] and differences({"x": 1}, {}) == ["/x: only in the first run"]


def _summaries(root):
    return {t: {k: summary_of(root, t).get(k) for k in COMPARED} for t in TASKS}


@pytest.mark.slow
def test_two_runs_give_identical_summaries(quick_report, tmp_path):
    proc = run_cli("report", "--quick", "--only", *NOTEBOOKS, env={"LAB_OUTPUT_DIR": str(tmp_path)}, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    first, second = _summaries(quick_report), _summaries(tmp_path)
    assert first["lab0"]["numbers"] and first["lab4_1"]["numbers"]
    diffs = differences(first, second)
    assert not diffs, "\n".join(diffs[:30])
