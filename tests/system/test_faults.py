"""Fault tests with real processes: SIGKILL (or Ctrl-C) at several moments, then the same command again.

Training: a run killed at any moment and continued with ``--resume`` ends with the same weights as
an uninterrupted run with the same seed (float tolerance), and its files are never torn. The training
kill is timed by polling ``last.ckpt`` (the fault hook ``LAB_FAULT_KILL`` has points in the search
only). Search: killed at exact moments through that hook, it loses and duplicates nothing. Also here,
because they need a real search: secrets never written, output paths that cannot escape, torn output
and cache files rewritten. (The grep rules over the source are in ``tests/test_rules.py``.)
"""

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch

from lab_utils.data import load_dataset
from lab_utils.models import build_model
from lab_utils.search.storage import open_storage
from lab_utils.training.candidates import trained_candidate
from lab_utils.training.checkpoints import load_checkpoint_file, save_checkpoint
from lab_utils.training.train import Recipe
from tests.helpers import (
    ROOT,
    assert_one_line_error,
    bf18_toml,
    bruteforce_toml,
    run_cli,
    search_files,
    small_toml,
)

TRAIN = ["train", "--model", "jsc-three-linear-layers", "--dataset", "jsc-sim", "--n-samples", "20000",
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
    # A child started from a background job inherits SIGINT as ignored, and Python then installs no
    # KeyboardInterrupt handler: restore the default so the test does not depend on how it was launched.
    proc = subprocess.Popen(_train_cmd(out), env=_env(tmp_path), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "last.ckpt").exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "--resume" in err and "Traceback" not in err
    assert load_checkpoint_file(out / "last.ckpt")["history"]["epochs"]


# ---------------------------------------------------------------------------- search: SIGKILL and rerun
# The search process kills itself at exact moments through the test-only hook LAB_FAULT_KILL
# (lab_utils/search/faults.py): no sleeps in production code, no guessing moments with timers.
def _search_cmd(cfg, ckpt, out, *extra):
    return [sys.executable, "-m", "lab_utils", "search", "--config", str(cfg), "--load", str(ckpt), "--out", str(out),
            "--quiet", *extra]


def _search_env(tmp, fault=None):
    env = {**_env(tmp), "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    env.pop("LAB_FAULT_KILL", None)
    if fault:
        env["LAB_FAULT_KILL"] = fault
    return env


def _complete(storage_url):
    """number -> configuration (JSON) of every COMPLETE trial; loading also proves the study is not torn."""
    if isinstance(storage_url, Path):  # a journal file, read only
        storage_url = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(storage_url)))
    study = optuna.load_study(study_name="search", storage=storage_url)
    return {t.number: json.dumps(t.user_attrs["result"]["config"], sort_keys=True)
            for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"}


def _outputs_parse(out):
    """Every output file that exists parses (a kill never leaves a torn one)."""
    if (out / "trials.csv").exists():
        pd.read_csv(out / "trials.csv")
    if (out / "best.json").exists():
        json.loads((out / "best.json").read_text())
    if (out / "config.toml").exists():
        tomllib.loads((out / "config.toml").read_text())


@pytest.fixture(scope="module")
def search_setup(tmp_path_factory):
    return search_files(tmp_path_factory.mktemp("searchkill"), bf18_toml(), "bf18.toml")


def test_search_killed_at_several_points_loses_and_duplicates_nothing(search_setup):
    tmp, cfg, ckpt = search_setup
    out = tmp / "killed"
    url = out / "study.journal"
    kept: dict = {}
    # while filling the queue, during an evaluation, between the result write and the COMPLETE write
    for fault in ("enqueued:5", "claimed:3", "result_written:2"):
        proc = subprocess.run(_search_cmd(cfg, ckpt, out), env=_search_env(tmp, fault), cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == -signal.SIGKILL, (fault, proc.returncode, proc.stderr)
        done = _complete(url)
        assert all(done.get(n) == c for n, c in kept.items()), f"{fault}: a completed trial was lost"
        assert len(set(done.values())) == len(done), f"{fault}: a configuration completed twice"
        _outputs_parse(out)
        kept = done
    assert 0 < len(kept) < 18
    proc = subprocess.run(_search_cmd(cfg, ckpt, out), env=_search_env(tmp), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "lost trial(s) re-queued" in proc.stdout
    done = _complete(url)
    assert all(done.get(n) == c for n, c in kept.items())
    assert len(done) == 18 and len(set(done.values())) == 18  # every configuration exactly once
    df = pd.read_csv(out / "trials.csv")
    assert (df.state == "COMPLETE").sum() == 18 and set(df.state) <= {"COMPLETE", "FAIL"}


@pytest.fixture(scope="module")
def workers_setup(tmp_path_factory):
    """The 144-configuration brute-force space: a trial takes about 10 ms, so 18 trials were over before the
    second spawned worker had started as often as not (the kill below then never happened); 144 keep both
    workers claiming trials for over a second."""
    return search_files(tmp_path_factory.mktemp("workerkill"), bruteforce_toml(), "bf144.toml")


def test_one_of_two_workers_killed_on_a_shared_journal(workers_setup):
    tmp, cfg, ckpt = workers_setup
    out = tmp / "workers"
    # worker 1 dies while evaluating its 2nd trial; worker 0 re-queues that trial (its pid is dead) and
    # finishes the study; the parent reports the lost worker, and the rerun has nothing left to do.
    proc = subprocess.run(_search_cmd(cfg, ckpt, out, "--workers", "2"), env=_search_env(tmp, "claimed:2:1"),
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [lines[0]] and "1 of 2 workers failed" in lines[0] and "rerun" in lines[0], proc.stderr
    url = f"journal:{out / 'study.journal'}"
    study = optuna.load_study(study_name="search", storage=open_storage(url))
    trials = study.get_trials(deepcopy=False)
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert len(failed) == 1 and "worker lost" in failed[0].system_attrs["lab:fail_reason"]
    first = {t.number: t.user_attrs["result"]["config_key"] for t in trials if t.state.name == "COMPLETE"}
    again = subprocess.run(_search_cmd(cfg, ckpt, out, "--workers", "2"), env=_search_env(tmp), cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    study = optuna.load_study(study_name="search", storage=open_storage(url))
    done = {t.number: t.user_attrs["result"]["config_key"] for t in study.get_trials(deepcopy=False)
            if t.state.name == "COMPLETE"}
    assert first.items() <= done.items()
    assert len(done) == 144 and len(set(done.values())) == 144


# ---------------------------------------------------------------------------- secrets and paths
def _all_output_text(out) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in Path(out).rglob("*") if p.is_file())


def test_storage_password_never_printed_or_written(search_setup, tmp_path):
    """A real search on a URL with a password (journal file: the secret is in a URL that works) and a
    failed PostgreSQL URL: the password is in no output file, stdout, stderr or error message."""
    tmp, cfg, ckpt = search_setup
    env = {"LAB_DATA_DIR": str(tmp / "data"), "PYTHONWARNINGS": "ignore"}
    bad = run_cli("search", "--config", cfg, "--load", ckpt, "--out", tmp_path / "o1", "--quiet",
                  "--storage", "postgresql://lab:Pa55word@127.0.0.1:1/db?password=Pa55word", env=env)
    assert bad.returncode == 2 and "Pa55word" not in bad.stdout + bad.stderr and "lab:***@" in bad.stderr
    assert not (tmp_path / "o1").exists() or "Pa55word" not in _all_output_text(tmp_path / "o1")


def test_password_of_a_working_database_never_written(search_setup, tmp_path, postgres):
    """A real search on PostgreSQL with a password in the URL: not in stdout, stderr or any output file."""
    tmp, cfg, ckpt = search_setup
    small = tmp_path / "small.toml"
    small.write_text(small_toml())
    secret = postgres.split(":")[2].split("@")[0]
    proc = run_cli("search", "--config", small, "--load", ckpt, "--out", tmp_path / "o", "--quiet", "--storage",
                   postgres, env={"LAB_DATA_DIR": str(tmp / "data"), "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    assert "lab:***@" in proc.stdout
    assert secret not in proc.stdout + proc.stderr + _all_output_text(tmp_path / "o")
    assert {p.name for p in (tmp_path / "o").iterdir()} >= {"trials.csv", "best.json", "config.toml"}


def test_config_paths_cannot_escape_the_output_directory(search_setup, tmp_path):
    """``project`` (MASE's output folder name) must be a plain name; the outputs land in --out only."""
    tmp, cfg, ckpt = search_setup
    bad = tmp_path / "bad.toml"
    bad.write_text('project = "../../etc"\n' + cfg.read_text())
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    proc = run_cli("search", "--config", bad, "--load", ckpt, "--out", tmp_path / "o", "--check",
                   env={"LAB_DATA_DIR": str(tmp / "data")})
    assert_one_line_error(proc, "project", "../../etc", "plain name")
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before and not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------- torn files
def test_torn_search_outputs_are_rewritten_on_rerun(search_setup, tmp_path):
    """trials.csv / best.json / config.toml torn by hand: the rerun (study intact) writes whole ones."""
    tmp, cfg, ckpt = search_setup
    small = tmp_path / "small.toml"
    small.write_text(small_toml())
    out = tmp_path / "out"
    env = _search_env(tmp)
    cmd = [sys.executable, "-m", "lab_utils", "search", "--config", str(small), "--load", str(ckpt), "--out",
           str(out), "--quiet"]
    assert subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=300).returncode == 0
    for name in ("trials.csv", "best.json", "config.toml"):
        blob = (out / name).read_bytes()
        (out / name).write_bytes(blob[: len(blob) // 2])
    (out / ".tmp-trials.csv.abc.csv").write_text("left by a SIGKILL\n")  # ignored, never read
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(out / "trials.csv")
    assert len(df) == 6 and (df.state == "COMPLETE").all()
    assert json.loads((out / "best.json").read_text())["summary"]["complete"] == 6


def test_torn_or_foreign_candidate_cache_is_reported_and_retrained(tmp_path):
    splits = load_dataset("jsc-sim", n_samples=600, data_dir=tmp_path / "data")
    recipe = Recipe(epochs=1, batch_size=128, lr=1e-2)
    args = {"hidden": (16, 32)}
    model, info = trained_candidate("jsc-three-linear-layers", args, splits, recipe, cache_dir=tmp_path / "c")
    assert not info["cached"]
    path = Path(info["path"])
    good = {k: v.clone() for k, v in model.state_dict().items()}
    path.write_bytes(path.read_bytes()[:200])  # torn
    with pytest.warns(UserWarning, match=r"candidate cache .*unusable.*retraining"):
        _, info2 = trained_candidate("jsc-three-linear-layers", args, splits, recipe, cache_dir=tmp_path / "c")
    assert not info2["cached"]
    model3, info3 = trained_candidate("jsc-three-linear-layers", args, splits, recipe, cache_dir=tmp_path / "c")
    assert info3["cached"]  # the rewritten file is whole
    assert all(torch.equal(good[k], v) for k, v in model3.state_dict().items())  # same seed, same weights
    save_checkpoint(path, build_model("jsc-three-linear-layers", hidden=(16, 32)), meta={"candidate": {"x": 1}})
    with pytest.warns(UserWarning, match="does not match its key"):  # a foreign file under the right name
        _, info4 = trained_candidate("jsc-three-linear-layers", args, splits, recipe, cache_dir=tmp_path / "c")
    assert not info4["cached"]
