"""Real processes: Ctrl-C during ``report``, an output folder in the way, and a data cache that
cannot be written.

- Ctrl-C: ``python -m lab_utils report --quick --only lab3_1`` is run once to the end, then again in a
  copy of its output, and stopped after the first cell output appears, by SIGINT to its process
  group (what a terminal sends) or SIGTERM to the parent only. Expected: exit 130, one line
  ``interrupted: lab3_1_metrics was stopped ...`` and no kernel traceback on stderr (before: ipykernel's
  "Exception in message handler" traceback beside it, and its transport warning at every start), the
  kernel process gone, the executed notebook, its HTML, the index and runs.json of the finished run
  byte for byte the same (before: the executed notebook was replaced by the partial one), every
  figure a whole PNG, no temporary file left.
- A file named ``reports`` under ``LAB_OUTPUT_DIR``: exit 2, one line, before any notebook runs.
- The data cache on a full disk (``RLIMIT_FSIZE``, so a write fails with EFBIG; SIGXFSZ ignored) or in a
  read-only folder (``chmod``, not as root: root ignores permission bits; the in-process test in
  tests/data/test_cache_faults.py covers root): ``eval`` succeeds with one warning line naming the
  folder, and no cache file or temporary file is left.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import ROOT, assert_one_line_error, run_cli, tiny_checkpoint

REPORT = [sys.executable, "-m", "lab_utils", "report", "--quick", "--only", "lab3_1"]


def _env(out: Path) -> dict:
    return {**os.environ, "TQDM_DISABLE": "1", "LAB_OUTPUT_DIR": str(out)}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The output root of one complete quick run of lab3_1."""
    out = tmp_path_factory.mktemp("report") / "out"
    proc = subprocess.run(REPORT, cwd=ROOT, env=_env(out), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert proc.stderr.strip() == "", proc.stderr  # before: ipykernel's transport warning on every run
    assert (out / "reports" / "lab3_1_metrics.ipynb").exists() and (out / "reports" / "index.html").exists()
    return out


def _digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _first_output(out: Path, proc, timeout=600) -> None:
    """Wait until papermill has saved a code cell with an output (the kernel is running the notebook)."""
    tmp = out / "reports" / ".tmp-lab3_1_metrics.ipynb"
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        assert proc.poll() is None, proc.communicate()
        try:
            cells = json.loads(tmp.read_text())["cells"]
            if any(c.get("outputs") for c in cells if c["cell_type"] == "code"):
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError("no cell output appeared")


def _kernels_of(pid: int) -> list[int]:
    """Processes started by ``pid`` as Jupyter kernels (jupyter_client sets JPY_PARENT_PID)."""
    found = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and f"JPY_PARENT_PID={pid}".encode() in (d / "environ").read_bytes().split(b"\0"):
                found.append(int(d.name))
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("how", ["sigint-process-group", "sigterm-parent"])
def test_interrupted_report_shuts_the_kernel_down_and_keeps_what_was_written(finished, tmp_path, how):
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    before = _digests(out / "reports")
    proc = subprocess.Popen(REPORT, cwd=ROOT, env=_env(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _first_output(out, proc)
        kernels = _kernels_of(proc.pid)
        assert len(kernels) == 1, kernels
        if how == "sigint-process-group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, (stdout, stderr)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr + stdout, stderr
    assert lines[0].startswith("interrupted: lab3_1_metrics was stopped and its kernel shut down;")
    assert "rerun `make report`" in lines[0]
    t0 = time.monotonic()
    while _alive(kernels[0]) and time.monotonic() - t0 < 30:
        time.sleep(0.2)
    assert not _alive(kernels[0])
    assert _digests(out / "reports") == before  # the finished run's executed notebook, HTML, index, runs.json: the same bytes
    assert not [p for p in out.rglob("*") if p.name.startswith(".tmp-")]
    figures = sorted((out / "figures").glob("*.png"))
    assert figures
    for fig in figures:
        with Image.open(fig) as im:
            im.load()  # a whole PNG (written atomically), old or new


def test_an_output_folder_in_the_way_stops_before_any_notebook(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "reports").write_text("my notes\n")
    proc = run_cli(*REPORT[3:], env={"LAB_OUTPUT_DIR": str(out)}, timeout=300)
    assert_one_line_error(proc, f"cannot write to {out / 'reports'}", "is not a folder", "nothing was run")
    assert sorted(p.name for p in out.iterdir()) == ["reports"] and (out / "reports").read_text() == "my notes\n"


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))


@pytest.mark.parametrize("fault", ["disk-full", "read-only"])
def test_an_unwritable_data_cache_is_a_warning(tmp_path, fault):
    ckpt = tiny_checkpoint(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    preexec = None
    if fault == "disk-full":
        preexec = _limit_file_size
    elif os.geteuid() == 0:
        pytest.skip("root ignores permission bits; tests/data/test_cache_faults.py covers a read-only folder as root")
    else:
        data.chmod(0o555)
    proc = subprocess.run([sys.executable, "-m", "lab_utils", "eval", "--model", "jsc-tiny", "--load", str(ckpt),
                           "--n-samples", "1000"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "LAB_DATA_DIR": str(data)}, preexec_fn=preexec)
    data.chmod(0o755)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)  # before: an OSError, exit 1 or 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"warning: data cache folder {data} cannot be written"), proc.stderr
    assert ("File too large (EFBIG)" if fault == "disk-full" else "Permission denied (EACCES)") in lines[0]
    assert json.loads(proc.stdout)["split"] == "test"
    assert list(data.iterdir()) == []
