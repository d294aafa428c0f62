"""A quantization-aware search (``eval_mode = false`` + ``[search.strategy.sw_runner.basic_train]``):
killed in the middle of a trial and resumed, nothing is lost and nothing is trained twice."""

import os
import signal
import subprocess
import sys

import optuna
import pytest

from lab_utils.search.storage import open_storage
from tests.helpers import ROOT, search_files, small_toml

QAT = """
[search.strategy.sw_runner.basic_train]
max_epochs = 1
learning_rate = 1e-3
optimizer = "adam"
lr_scheduler = "linear"
"""


def qat_toml() -> str:
    return small_toml().replace('name = "optuna"', 'name = "optuna"\neval_mode = false') + QAT


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return search_files(tmp_path_factory.mktemp("qatsearch"), qat_toml(), "qat.toml")


def _run(tmp, cfg, ckpt, out, fault=None):
    env = {**os.environ, "TQDM_DISABLE": "1", "LAB_DATA_DIR": str(tmp / "data"), "OMP_NUM_THREADS": "1"}
    env.pop("LAB_FAULT_KILL", None)
    if fault:
        env["LAB_FAULT_KILL"] = fault
    return subprocess.run([sys.executable, "-m", "lab_utils", "search", "--config", str(cfg), "--load", str(ckpt),
                           "--out", str(out), "--quiet"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_a_qat_search_killed_mid_trial_resumes_without_training_anything_twice(setup):
    tmp, cfg, ckpt = setup
    out = tmp / "out"
    # SIGKILL right after the 3rd configuration's fine-tuned weights were stored (the first trial
    # fine-tunes the queued configurations with its own in one batched call), before any trial is told
    proc = _run(tmp, cfg, ckpt, out, fault="qat_trained:3")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    trained = {p: p.stat().st_mtime_ns for p in (out / "qat-cache").glob("*.pt")}
    assert len(trained) == 3
    again = _run(tmp, cfg, ckpt, out)
    assert again.returncode == 0, again.stderr
    study = optuna.load_study(study_name="search", storage=open_storage(f"journal:{out / 'study.journal'}"))
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    configs = [str(sorted(t.user_attrs["result"]["config"].items())) for t in complete]
    assert len(complete) == 6 == len(set(configs))  # nothing lost, nothing duplicated
    files = {p: p.stat().st_mtime_ns for p in (out / "qat-cache").glob("*.pt")}
    assert len(files) == 6 and all(files[p] == m for p, m in trained.items())  # none trained (written) again
    now = [t.user_attrs["result"]["trained_now"] for t in complete]
    assert now.count(True) == 3 and now.count(False) == 3  # what the killed run trained came from the cache
    # a rerun of the finished study trains nothing
    assert _run(tmp, cfg, ckpt, out).returncode == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "qat-cache").glob("*.pt")} == files
