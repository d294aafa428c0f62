"""Fault tests with real processes: SIGKILL at several moments, then the same command again.

Training: a run killed at any moment and continued with ``--resume`` ends with the same weights as
an uninterrupted run with the same seed (float tolerance), and its files are never torn.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lab_utils.training.checkpoints import load_checkpoint_file
from tests.helpers import ROOT

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


# ---------------------------------------------------------------------------- search: SIGKILL and rerun
# The search process kills itself at exact moments through the test-only hook LAB_FAULT_KILL
# (lab_utils/faults.py): no sleeps in production code, no guessing moments with timers.
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
    import json

    import optuna

    study = optuna.load_study(study_name="search", storage=storage_url)
    return {t.number: json.dumps(t.user_attrs["result"]["config"], sort_keys=True)
            for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"}


def _outputs_parse(out):
    """Every output file that exists parses (a kill never leaves a torn one)."""
    import json

    import pandas as pd

    if (out / "trials.csv").exists():
        pd.read_csv(out / "trials.csv")
    if (out / "best.json").exists():
        json.loads((out / "best.json").read_text())
    if (out / "config.toml").exists():
        import tomllib

        tomllib.loads((out / "config.toml").read_text())


@pytest.fixture(scope="module")
def search_setup(tmp_path_factory):
    from tests.helpers import bruteforce_toml, tiny_checkpoint

    tmp = tmp_path_factory.mktemp("searchkill")
    import lab_utils.data as data

    old = data.DEFAULT_DATA_DIR
    data.DEFAULT_DATA_DIR = tmp / "data"  # the same cache the subprocesses use
    try:
        ckpt = tiny_checkpoint(tmp)
    finally:
        data.DEFAULT_DATA_DIR = old
    cfg = tmp / "bf18.toml"  # 3 x 3 x 2 = 18 unique configurations
    cfg.write_text(bruteforce_toml(data_in=(8, 4, 16), data_frac=(4, 6, 2)).replace(
        "weight_width = [8, 8, 4, 16]", "weight_width = [8, 4]").replace(
        "weight_frac_width = [4, 6, 2, 8]", "weight_frac_width = [4]"))
    return tmp, cfg, ckpt


def test_search_killed_at_several_points_loses_and_duplicates_nothing(search_setup):
    tmp, cfg, ckpt = search_setup
    out = tmp / "killed"
    url = f"sqlite:///{out / 'study.db'}"
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
    import pandas as pd

    df = pd.read_csv(out / "trials.csv")
    assert (df.state == "COMPLETE").sum() == 18 and set(df.state) <= {"COMPLETE", "FAIL"}


def test_one_of_two_workers_killed_on_a_shared_journal(search_setup):
    tmp, cfg, ckpt = search_setup
    out = tmp / "workers"
    # worker 1 dies while evaluating its 2nd trial; worker 0 re-queues that trial (its pid is dead) and
    # finishes the study; the parent reports the lost worker, and the rerun has nothing left to do.
    proc = subprocess.run(_search_cmd(cfg, ckpt, out, "--workers", "2"), env=_search_env(tmp, "claimed:2:1"),
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [lines[0]] and "1 of 2 workers failed" in lines[0] and "rerun" in lines[0], proc.stderr
    from lab_utils.search.storage import open_storage

    url = f"journal:{out / 'study.journal'}"
    import optuna

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
    assert len(done) == 18 and len(set(done.values())) == 18


# ---------------------------------------------------------------------------- safety
def test_every_torch_load_is_weights_only():
    import re

    calls = []
    for path in sorted((ROOT / "lab_utils").rglob("*.py")):
        text = path.read_text()
        for m in re.finditer(r"torch\.load\(", text):
            call = text[m.start(): text.find(")", m.start()) + 1]
            calls.append((path.name, call))
    assert calls, "no torch.load found: the grep is broken"
    assert all("weights_only=True" in c for _, c in calls), calls


class _Payload:
    """Unpickling this would create ``marker``: a stand-in for code in a malicious checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_with_code_is_refused(tmp_path):
    from lab_utils.errors import LabError
    from lab_utils.training.checkpoints import load_weights

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hook": _Payload(marker)}, evil)
    assert not marker.exists()
    with pytest.raises(LabError, match=r"evil\.ckpt.*cannot be read.*UnpicklingError"):
        load_checkpoint_file(evil)
    with pytest.raises(LabError, match="cannot be read"):
        load_weights(torch.nn.Linear(2, 2), evil)
    assert not marker.exists()


def _all_output_text(out) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in Path(out).rglob("*") if p.is_file())


def test_storage_password_never_printed_or_written(search_setup, tmp_path):
    """A real search on a URL with a password (journal file: the secret is in a URL that works) and a
    failed PostgreSQL URL: the password is in no output file, stdout, stderr or error message."""
    tmp, cfg, ckpt = search_setup
    from tests.helpers import run_cli

    env = {"LAB_DATA_DIR": str(tmp / "data"), "PYTHONWARNINGS": "ignore"}
    bad = run_cli("search", "--config", cfg, "--load", ckpt, "--out", tmp_path / "o1", "--quiet",
                  "--storage", "postgresql://lab:Pa55word@127.0.0.1:1/db?password=Pa55word", env=env)
    assert bad.returncode == 2 and "Pa55word" not in bad.stdout + bad.stderr and "lab:***@" in bad.stderr
    assert not (tmp_path / "o1").exists() or "Pa55word" not in _all_output_text(tmp_path / "o1")


def test_config_paths_cannot_escape_the_output_directory(search_setup, tmp_path):
    """``project`` (MASE's output folder name) must be a plain name; the outputs land in --out only."""
    tmp, cfg, ckpt = search_setup
    from tests.helpers import run_cli

    bad = tmp_path / "bad.toml"
    bad.write_text('project = "../../etc"\n' + cfg.read_text())
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    proc = run_cli("search", "--config", bad, "--load", ckpt, "--out", tmp_path / "o", "--check",
                   env={"LAB_DATA_DIR": str(tmp / "data")})
    from tests.helpers import assert_one_line_error

    assert_one_line_error(proc, "project", "../../etc", "plain name")
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before and not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------- atomic writes, torn files
WRITE_PATTERNS = (r"open\([^)]*['\"][wa]b?['\"]", r"\.write_text\(", r"\.write_bytes\(", r"\.to_csv\(\s*[^)\s]",
                  r"savefig\(", r"torch\.save\(", r"np\.savez?(_compressed)?\(", r"json\.dump\(", r"\.to_parquet\(")
# (file, text on the line): writes into a temporary file of atomic_path, or into a stream
ALLOWED = {("atomic.py", ""), ("splits.py", "open(tmp, \"wb\")"), ("splits.py", "np.savez(fh"),
           ("jsc.py", "open(tmp, \"wb\")"), ("jsc.py", "np.savez(fh"),
           ("tiny_images.py", "open(tmp, \"wb\")"), ("tiny_images.py", "np.savez(fh"),
           ("cifar10.py", "open(tmp, \"wb\")"), ("cifar10.py", "np.savez(fh"),
           ("tiny_images.py", 'tarfile.open(folder / ARCHIVE, "w:gz")'),  # test-only synthetic image set
           ("outputs.py", "frame.to_csv(buf"), ("notebook.py", "df.to_csv(index=False)")}


def test_no_plain_file_writes_in_lab_utils():
    """Every user-visible file goes through lab_utils.atomic (temp file + rename)."""
    import re

    offenders = []
    for path in sorted((ROOT / "lab_utils").rglob("*.py")):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if any(re.search(p, code) for p in WRITE_PATTERNS):
                if path.name == "atomic.py" or any(path.name == f and t and t in code for f, t in ALLOWED):
                    continue
                if re.search(r"atomic\.|Image\.fromarray", code):  # atomic helpers; test image folder
                    continue
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_torn_search_outputs_are_rewritten_on_rerun(search_setup, tmp_path):
    """trials.csv / best.json / config.toml torn by hand: the rerun (study intact) writes whole ones."""
    import json

    import pandas as pd

    tmp, cfg, ckpt = search_setup
    from tests.helpers import small_toml

    small = tmp_path / "small.toml"
    small.write_text(small_toml())
    out = tmp_path / "out"
    env = _search_env(tmp)
    cmd = [sys.executable, "-m", "lab_utils", "search", "--config", str(small), "--load", str(ckpt), "--out",
           str(out), "--quiet"]
    assert subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=300).returncode == 0
    for name in ("trials.csv", "best.json", "config.toml"):
        data = (out / name).read_bytes()
        (out / name).write_bytes(data[: len(data) // 2])
    (out / ".tmp-trials.csv.abc.csv").write_text("left by a SIGKILL\n")  # ignored, never read
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(out / "trials.csv")
    assert len(df) == 6 and (df.state == "COMPLETE").all()
    assert json.loads((out / "best.json").read_text())["summary"]["complete"] == 6


def test_torn_or_foreign_candidate_cache_is_reported_and_retrained(tmp_path):
    from lab_utils.data import load_dataset
    from lab_utils.training.candidates import trained_candidate
    from lab_utils.training.train import Recipe
    from lab_utils.training.checkpoints import save_checkpoint

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
    from lab_utils.models import build_model

    save_checkpoint(path, build_model("jsc-three-linear-layers", hidden=(16, 32)), meta={"candidate": {"x": 1}})
    with pytest.warns(UserWarning, match="does not match its key"):  # a foreign file under the right name
        _, info4 = trained_candidate("jsc-three-linear-layers", args, splits, recipe, cache_dir=tmp_path / "c")
    assert not info4["cached"]


def test_torn_data_cache_is_reported_and_regenerated(tmp_path):
    from lab_utils.data import load_dataset

    a = load_dataset("jsc-sim", n_samples=300, data_dir=tmp_path)
    (cache,) = tmp_path.glob("jsc-sim-*.npz")
    cache.write_bytes(cache.read_bytes()[:100])
    with pytest.warns(UserWarning, match="corrupt or foreign.*regenerating"):
        b = load_dataset("jsc-sim", n_samples=300, data_dir=tmp_path)
    assert torch.equal(a.x_val, b.x_val)
    load_dataset("jsc-sim", n_samples=300, data_dir=tmp_path)  # whole again: no warning




def test_password_of_a_working_database_never_written(search_setup, tmp_path, postgres):
    """A real search on PostgreSQL with a password in the URL: not in stdout, stderr or any output file."""
    tmp, cfg, ckpt = search_setup
    from tests.helpers import run_cli, small_toml

    small = tmp_path / "small.toml"
    small.write_text(small_toml())
    secret = postgres.split(":")[2].split("@")[0]
    proc = run_cli("search", "--config", small, "--load", ckpt, "--out", tmp_path / "o", "--quiet", "--storage",
                   postgres, env={"LAB_DATA_DIR": str(tmp / "data"), "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    assert "lab:***@" in proc.stdout
    assert secret not in proc.stdout + proc.stderr + _all_output_text(tmp_path / "o")
    assert {p.name for p in (tmp_path / "o").iterdir()} >= {"trials.csv", "best.json", "config.toml"}
