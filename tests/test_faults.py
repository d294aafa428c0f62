"""Fault tests with real processes: SIGKILL at several moments, then the same command again.

Training: a run killed at any moment and continued with ``--resume`` ends with the same weights as
an uninterrupted run with the same seed (float tolerance), and its files are never torn.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT
from lab_utils.train import load_checkpoint_file

TRAIN = ["train", "--model", "jsc-three-linear-layers", "--dataset", "jsc-sim", "--n-samples", "6000",
         "--epochs", "30", "--batch-size", "256", "--lr", "3e-3", "--seed", "5", "--quiet"]


def _train_cmd(out, *extra):
    return [sys.executable, "-m", "lab_utils", *TRAIN, "--out", str(out), *extra]


def _env(tmp_path):
    return {**os.environ, "TQDM_DISABLE": "1", "LAB_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    subprocess.run(_train_cmd(tmp / "ref"), env=_env(tmp), cwd=ROOT, check=True, capture_output=True, timeout=600)
    return tmp, load_checkpoint_file(tmp / "ref" / "best.ckpt")


@pytest.mark.parametrize("kill_after_epochs", [1, 10])
def test_train_killed_then_resumed_matches_uninterrupted(reference_run, kill_after_epochs):
    tmp, ref = reference_run
    out = tmp / f"killed{kill_after_epochs}"
    env = _env(tmp)
    proc = subprocess.Popen(_train_cmd(out), env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    epochs_done = 0
    while time.time() < deadline and proc.poll() is None:
        if (out / "last.ckpt").exists():
            try:
                epochs_done = len(load_checkpoint_file(out / "last.ckpt")["history"]["epochs"])
            except Exception:  # noqa: BLE001 - being replaced right now is fine; atomic rename means never torn
                epochs_done = 0
            if epochs_done >= kill_after_epochs:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = load_checkpoint_file(out / "last.ckpt")  # never torn
    assert 1 <= len(state["history"]["epochs"]) < 30
    again = subprocess.run(_train_cmd(out, "--resume"), env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    got = load_checkpoint_file(out / "best.ckpt")
    for k, v in ref["state_dict"].items():
        assert torch.allclose(v.float(), got["state_dict"][k].float(), atol=1e-5), k
    assert got["metrics"]["test"]["accuracy"] == pytest.approx(ref["metrics"]["test"]["accuracy"], abs=1e-6)


def test_sigint_during_training_says_how_to_resume(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(_train_cmd(out), env=_env(tmp_path), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "last.ckpt").exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "--resume" in err and "Traceback" not in err
    assert load_checkpoint_file(out / "last.ckpt")["history"]["epochs"]
