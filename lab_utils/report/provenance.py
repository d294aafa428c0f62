"""Where a report's numbers come from: the commit, the date, the machine, the package versions, the mode.

:func:`collect` gathers it once per report run (``git`` for the commit and whether the work tree has
uncommitted changes, ``/proc/cpuinfo`` and ``/proc/meminfo`` for the CPU model and RAM on Linux,
``importlib.metadata`` for the versions, so no heavy package is imported to ask it); the harness
stores it in ``reports/provenance.json`` and the index and the README's results section print it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from lab_utils.report.paths import ROOT

PACKAGES = ("torch", "optuna", "numpy", "scipy", "pandas", "scikit-learn", "matplotlib")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state() -> dict:
    """``{"commit": full hash or None, "dirty": bool or None}``; dirty = tracked files differ from the commit."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def cpu_model(cpuinfo: str | None = None) -> str:
    """The first ``model name`` in ``/proc/cpuinfo`` (or the given text); ``platform.processor()`` elsewhere."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        if line.lower().startswith("model name") and ":" in line:
            return " ".join(line.split(":", 1)[1].split())
    return platform.processor() or platform.machine() or "unknown"


def ram_gb(meminfo: str | None = None) -> float | None:
    """Total RAM in GB (10^9 bytes) from ``MemTotal`` in ``/proc/meminfo`` (in KiB); None if unknown."""
    if meminfo is None:
        try:
            meminfo = Path("/proc/meminfo").read_text()
        except OSError:
            return None
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) * 1024 / 1e9, 1)
    return None


def versions(packages=PACKAGES) -> dict:
    """Installed versions (``importlib.metadata``, nothing imported); "not installed" where missing."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def collect(quick: bool) -> dict:
    """Everything above, plus the date (UTC, ISO 8601) and the mode."""
    return {**git_state(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "mode": "quick" if quick else "full",
            "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "ram_gb": ram_gb(),
                        "os": f"{platform.system()} {platform.release()}", "python_executable": sys.executable},
            "versions": versions()}


def describe(prov: dict) -> str:
    """One line: ``commit 1234abcd (uncommitted changes), 2026-01-01 …, <cpu> (2 cores, 8.3 GB RAM), full mode``."""
    commit = (prov.get("commit") or "unknown")[:10]
    dirty = " with uncommitted changes" if prov.get("dirty") else ""
    m = prov.get("machine", {})
    return (f"commit {commit}{dirty}, {prov.get('date', '?')}, {m.get('cpu', '?')} ({m.get('cores', '?')} cores, "
            f"{m.get('ram_gb', '?')} GB RAM), {prov.get('mode', '?')} mode")
