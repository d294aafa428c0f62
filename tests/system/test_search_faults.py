"""Search faults with real processes (issue 13): one owner per --out, no orphans after SIGTERM or
SIGKILL of a multi-worker search, brute force over a huge space in bounded memory, a huge trial
budget queued in batches. Each run is checked for lost and duplicated trials afterwards."""

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

from tests.helpers import ROOT, bf18_toml, bruteforce_toml, search_files

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return search_files(tmp_path_factory.mktemp("searchfaults"), bf18_toml(), "bf18.toml")


def _cmd(cfg, ckpt, out, *extra):
    return [sys.executable, "-m", "lab_utils", "search", "--config", str(cfg), "--load", str(ckpt), "--out", str(out),
            "--quiet", *map(str, extra)]


def _env(tmp, **extra):
    env = {**os.environ, "TQDM_DISABLE": "1", "LAB_DATA_DIR": str(tmp / "data"), "PYTHONWARNINGS": "ignore",
           "OMP_NUM_THREADS": "1", **extra}
    env.pop("LAB_FAULT_KILL", None) if "LAB_FAULT_KILL" not in extra else None
    return env


def _study(out):
    url = f"journal:{out / 'study.journal'}" if (out / "study.journal").exists() else f"sqlite:///{out / 'study.db'}"
    from lab_utils.search.storage import open_storage
    return optuna.load_study(study_name="search", storage=open_storage(url))


def _complete_configs(out):
    return [json.dumps(t.user_attrs["result"]["config"], sort_keys=True)
            for t in _study(out).get_trials(deepcopy=False) if t.state.name == "COMPLETE"]


def _children(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(pred, what, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).iterdir())
            if p.is_file() and not p.name.startswith(".lab.lock") and not p.name.endswith(("-wal", "-shm"))}


def test_a_second_search_on_the_same_out_is_refused_naming_the_holder(setup):
    tmp, cfg, ckpt = setup
    out = tmp / "locked"
    first = subprocess.Popen(_cmd(cfg, ckpt, out), env=_env(tmp), cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        # the first search has made its study (its queue is being filled or worked): freeze it there
        _wait_for(lambda: any((out / n).exists() for n in ("study.journal", "study.db")), "the first study")
        first.send_signal(signal.SIGSTOP)
        before = _digest(out)
        second = subprocess.run(_cmd(cfg, ckpt, out), env=_env(tmp), cwd=ROOT, capture_output=True, text=True,
                                timeout=300)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: --out {out} is in use by"), second.stderr
        assert f"pid {first.pid}" in lines[0] and "Traceback" not in second.stderr
        assert _digest(out) == before  # the refused command wrote nothing
    finally:
        first.send_signal(signal.SIGCONT)
    out_text, err_text = first.communicate(timeout=300)
    assert first.returncode == 0, err_text
    configs = _complete_configs(out)
    assert len(configs) == 18 == len(set(configs))  # the queue was filled once: no duplicates


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_stopping_a_two_worker_search_leaves_no_orphan_and_a_resumable_study(setup, sig):
    tmp, cfg, ckpt = setup
    out = tmp / f"stop-{sig.name}"
    parent = subprocess.Popen(_cmd(cfg, ckpt, out, "--workers", 2), env=_env(tmp), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(_children(parent.pid)) >= 2 and (out / "study.journal").exists()
              and 1 <= len(_complete_configs(out)) < 18 or parent.poll() is not None, "workers at work")
    assert parent.poll() is None, "the search finished before it could be stopped; make it longer"
    workers = _children(parent.pid)
    parent.send_signal(sig)
    out_text, err = parent.communicate(timeout=120)
    if sig == signal.SIGKILL:
        assert parent.returncode == -signal.SIGKILL
    else:
        assert parent.returncode == 130, err
        assert "Traceback" not in out_text + err and "Run the same command again to resume" in out_text
    _wait_for(lambda: not any(_alive(w) for w in workers), "the workers to exit", timeout=60)  # no orphans
    kept = _complete_configs(out)
    assert len(kept) == len(set(kept))
    again = subprocess.run(_cmd(cfg, ckpt, out, "--workers", 2), env=_env(tmp), cwd=ROOT, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    configs = _complete_configs(out)
    assert set(kept) <= set(configs) and len(configs) == 18 == len(set(configs))


def _huge_toml():
    """jsc-tiny by name, 6 parameters of 32 choices each: 32**6 = 2**30 configurations."""
    widths = list(range(1, 33))
    text = bruteforce_toml(n_trials=10)
    for key in ("data_in_width", "data_in_frac_width", "weight_width", "weight_frac_width"):
        text = "\n".join(f"{key} = {widths}" if line.startswith(f"{key} =") else line for line in text.splitlines())
    text = text.replace("bias_width = [8]", f"bias_width = {widths}").replace(
        "bias_frac_width = [4]", f"bias_frac_width = {widths}")
    return text


def test_brute_force_over_two_to_the_30_configurations_runs_in_bounded_memory(setup):
    tmp, _, ckpt = setup
    cfg = tmp / "huge.toml"
    cfg.write_text(_huge_toml())
    out = tmp / "huge"
    r = subprocess.run(_cmd(cfg, ckpt, out), env=_env(tmp), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "1,073,741,824 unique configurations" in r.stdout and "covers 10 of 1,073,741,824" in r.stdout
    df = pd.read_csv(out / "trials.csv")
    assert (df.state == "COMPLETE").sum() == 10 and len(df) == 10
    # the whole product as dicts would need > 100 GB, its shuffled numbers alone > 30 GB
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 3_000_000  # kB


def test_a_huge_trial_budget_is_queued_in_batches(setup):
    tmp, cfg, ckpt = setup
    out = tmp / "budget"
    r = subprocess.run(_cmd(cfg, ckpt, out, "--sampler", "random", "--n-trials", 1_000_000, "--timeout", 3),
                       env=_env(tmp), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "512 trial(s) queued (more as they finish)" in r.stdout
    trials = _study(out).get_trials(deepcopy=False)
    done = sum(t.state.name == "COMPLETE" for t in trials)
    assert 1 <= done and len(trials) <= done + 2 * 512  # never the million queued up front


def test_output_piped_into_a_reader_that_stops_early_is_not_a_traceback(setup):
    tmp, cfg, ckpt = setup
    out = tmp / "piped"
    # `| head -1`: the reader takes the first line and closes the pipe; the search then prints its summary
    proc = subprocess.Popen(_cmd(cfg, ckpt, out), env=_env(tmp), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=300)
    assert first.startswith("search graph/quantize/mixed_precision_ptq")
    assert proc.returncode == 141 and "Traceback" not in err and "BrokenPipe" not in err, err
    configs = _complete_configs(out)
    assert len(configs) == 18 == len(set(configs))  # the work was done and kept; only the printing stopped
