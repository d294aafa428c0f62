"""Faults of ``train`` with real processes (issue 13): signals, a second run on the same ``--out``, a full
disk, a read-only folder, and the last minibatch of one row in a width search.

- SIGTERM and SIGHUP stop a training run as Ctrl-C does (exit 130, "--resume" said, ``last.ckpt``
  whole), and ``--resume`` then ends with the weights of an uninterrupted run. The moment is timed by
  polling ``last.ckpt``, as ``tests/system/test_faults.py`` does.
- While a run holds its ``--out`` (the first process is stopped with SIGSTOP, so nothing moves), a second
  ``train`` on it, with or without ``--resume``, is refused in one line naming the holder's pid, and the
  folder's bytes are unchanged.
- A real full disk and a real read-only folder need a small ``tmpfs`` (root and ``mount``): without them
  those tests are skipped (tests/test_cli.py simulates the full disk in-process, and
  tests/training/test_checkpoints.py uses ``RLIMIT_FSIZE`` for a real refused write).
"""

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from lab_utils.training.checkpoints import load_checkpoint_file
from tests.helpers import ROOT, assert_one_line_error, run_cli

EPOCHS = 15
TRAIN = ["train", "--model", "jsc-three-linear-layers", "--dataset", "jsc-sim", "--n-samples", "20000",
         "--epochs", str(EPOCHS), "--batch-size", "256", "--lr", "3e-3", "--seed", "5", "--quiet"]


def _cmd(out, *extra):
    return [sys.executable, "-m", "lab_utils", *TRAIN, "--out", str(out), *extra]


def _env(data):
    return {**os.environ, "TQDM_DISABLE": "1", "LAB_DATA_DIR": str(data)}


def _digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _epochs_saved(out: Path) -> int:
    try:
        return len(load_checkpoint_file(out / "last.ckpt")["history"]["epochs"])
    except Exception:  # noqa: BLE001 - missing or being replaced right now (atomic rename: never torn)
        return 0


def _start_and_wait(out: Path, env: dict, epochs: int) -> subprocess.Popen:
    """A training run started and let run until ``last.ckpt`` holds ``epochs`` epochs."""
    proc = subprocess.Popen(_cmd(out), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and _epochs_saved(out) < epochs:
        time.sleep(0.02)
    assert proc.poll() is None, "training finished (or failed) before the test could stop it: " + proc.stderr.read()
    return proc


def _same_weights(got_path: Path, ref: dict) -> None:
    got = load_checkpoint_file(got_path)
    for k, v in ref["state_dict"].items():
        assert torch.allclose(v.float(), got["state_dict"][k].float(), atol=1e-5), k


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: (folder for the module's runs, the data cache, its best.ckpt)."""
    tmp = tmp_path_factory.mktemp("trainfaults")
    subprocess.run(_cmd(tmp / "ref"), env=_env(tmp / "data"), cwd=ROOT, check=True, capture_output=True, timeout=600)
    return tmp, tmp / "data", load_checkpoint_file(tmp / "ref" / "best.ckpt")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_training_like_ctrl_c_and_resume_matches(reference, sig):
    tmp, data, ref = reference
    out = tmp / f"run-{sig.name}"
    env = _env(data)
    proc = _start_and_wait(out, env, 2)
    if sig == signal.SIGTERM:  # once: a second train on the held folder, while the first is frozen
        proc.send_signal(signal.SIGSTOP)
        try:
            before = _digests(out)
            for extra in ([], ["--resume"]):
                second = run_cli(*TRAIN, "--out", out, *extra, env={"LAB_DATA_DIR": str(data)})
                assert_one_line_error(second, f"--out {out} is in use by", "train", f"pid {proc.pid}")
                assert _digests(out) == before
        finally:
            proc.send_signal(signal.SIGCONT)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted: the last complete epoch is saved in" in err and "--resume" in err
    assert "Traceback" not in err
    assert 2 <= _epochs_saved(out) < EPOCHS
    again = subprocess.run(_cmd(out, "--resume"), env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    _same_weights(out / "best.ckpt", ref)


# ---------------------------------------------------------------------------- a real full disk, a read-only folder
@contextlib.contextmanager
def _tmpfs(where: Path, size: str):
    """A small tmpfs mounted at ``where`` (skips the test when this process may not mount)."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` with one file until ENOSPC, then give back ``leave`` bytes; returns the file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    block = b"\0" * 65536
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError:
                break
        while True:
            try:
                os.write(fd, block[:4096])
            except OSError:
                break
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_during_training_and_resume_keeps_every_file(reference):
    """A run stopped after 2 epochs on a 2 MB tmpfs; the disk is then filled. ``--resume`` on the full disk,
    then with one page free (the lock fits, a checkpoint does not): exit 1, one line naming the file and
    the cause, every file byte for byte as before. Space freed, ``--resume`` ends as an uninterrupted run."""
    tmp, data, ref = reference
    with _tmpfs(tmp / "disk", "2m") as disk:
        out = disk / "run"
        proc = _start_and_wait(out, _env(data), 2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 130
        before = _digests(out)
        filler = _fill(disk, 0)
        full = run_cli(*TRAIN, "--out", out, "--resume", env={"LAB_DATA_DIR": str(data)})
        assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
        assert full.stderr.startswith(f"error: {out}/.lab.lock: No space left on device") and \
            full.stderr.count("\n") == 1, full.stderr
        assert _digests(out) == before
        filler.unlink()
        filler = _fill(disk, 4096)
        page = run_cli(*TRAIN, "--out", out, "--resume", env={"LAB_DATA_DIR": str(data)})
        assert page.returncode == 1 and page.stderr.count("\n") == 1 and "Traceback" not in page.stderr, page.stderr
        line = page.stderr.strip()
        assert line.startswith((f"error: {out}/last.ckpt: ", f"error: {out}/best.ckpt: ")), line
        assert "No space left on device" in line and "--resume" in line and line.endswith("(ENOSPC)")
        assert _digests(out) == before and sorted(p.name for p in out.iterdir()) == sorted(before)
        filler.unlink()
        again = run_cli(*TRAIN, "--out", out, "--resume", env={"LAB_DATA_DIR": str(data)})
        assert again.returncode == 0, again.stderr
        _same_weights(out / "best.ckpt", ref)


def test_a_read_only_out_is_one_line(reference):
    """``--out`` on a read-only file system: a new folder, and an existing one holding a run."""
    tmp, data, _ = reference
    with _tmpfs(tmp / "ro", "1m") as disk:
        (disk / "run").mkdir()
        (disk / "run" / "notes.txt").write_text("mine\n")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        env = {"LAB_DATA_DIR": str(data)}
        new = run_cli(*TRAIN, "--out", disk / "new", env=env)
        assert_one_line_error(new, f"--out {disk / 'new'} cannot be used as a folder", "Read-only file system", "EROFS")
        existing = run_cli(*TRAIN, "--out", disk / "run", env=env)
        assert_one_line_error(existing, f"--out {disk / 'run'} is not writable", "Read-only file system", "EROFS")
        assert sorted(p.name for p in (disk / "run").iterdir()) == ["notes.txt"]


# ---------------------------------------------------------------------------- the lone last row in a width search
def test_a_width_search_on_a_lone_last_row_completes(tmp_path):
    """jsc-sim 1,424 samples: 1,025 training rows, 256 per batch (1,025 % 256 == 1). Before issue 13
    BatchNorm failed every trial of this search."""
    text = (ROOT / "configs" / "jsc_network_search.toml").read_text()
    text = text.replace("n_samples = 50000", "n_samples = 1424").replace("epochs = 5", "epochs = 1")
    text = text.replace("channel_multiplier = [1, 2, 3, 4, 5]", "channel_multiplier = [1, 2]")
    text = text.replace("n_trials = 25", "n_trials = 4")
    assert "batch_size = 256" in text and "n_samples = 1424" in text
    cfg = tmp_path / "width.toml"
    cfg.write_text(text)
    proc = run_cli("search", "--config", cfg, "--out", tmp_path / "out", "--quiet",
                   env={"LAB_DATA_DIR": str(tmp_path / "data"), "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    trials = pd.read_csv(tmp_path / "out" / "trials.csv")
    assert len(trials) == 4 and (trials.state == "COMPLETE").all()
