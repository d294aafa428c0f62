"""The train / eval commands end to end (real ``python -m lab_utils`` processes), and their one-line errors."""

import contextlib
import errno
import hashlib
import io
import json
import math
import re
from pathlib import Path

import pytest
import torch

import lab_utils.data as data
from lab_utils import atomic
from lab_utils.cli import main
from lab_utils.locking import hold_folder
from lab_utils.models import build_model
from lab_utils.training.checkpoints import load_checkpoint_file
from tests.helpers import assert_one_line_error, run_cli


def test_help_lists_subcommands(capsys):
    proc = run_cli("--help")  # one real process: ``python -m lab_utils`` starts
    assert proc.returncode == 0
    for sub in ("train", "eval", "search", "report"):
        assert sub in proc.stdout
        with pytest.raises(SystemExit) as exc:  # each subcommand's help, in-process (fast)
            main([sub, "--help"])
        assert exc.value.code == 0 and f"python -m lab_utils {sub}" in capsys.readouterr().out


@pytest.mark.slow  # CLI processes
def test_train_then_eval(tmp_path):
    env = {"LAB_DATA_DIR": str(tmp_path / "data")}
    out = tmp_path / "run"
    proc = run_cli("train", "--model", "jsc-tiny", "--dataset", "jsc-sim", "--n-samples", "5000", "--epochs", "2",
                   "--batch-size", "256", "--lr", "1e-2", "--seed", "0", "--out", out, "--quiet", env=env)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["val"]) >= {"accuracy", "macro_accuracy", "loss", "n"} and metrics["test"]["n"] > 0
    assert metrics["dataset"]["synthetic"] is True and metrics["params"] == 117
    assert 0.2 < metrics["test"]["accuracy"] <= 1.0
    ckpt = load_checkpoint_file(out / "best.ckpt")
    assert ckpt["model"] == "jsc-tiny" and ckpt["recipe"]["lr"] == 1e-2 and ckpt["dataset"]["version"]
    proc = run_cli("eval", "--model", "jsc-tiny", "--dataset", "jsc-sim", "--n-samples", "5000", "--load",
                   out / "best.ckpt", "--split", "test", env=env)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert abs(printed["accuracy"] - metrics["test"]["accuracy"]) < 1e-9
    # same command again refuses to clobber the run; --resume on a finished run keeps it intact
    before = (out / "best.ckpt").read_bytes()
    again = run_cli("train", "--model", "jsc-tiny", "--n-samples", "5000", "--epochs", "2", "--out", out, env=env)
    assert_one_line_error(again, "--resume")
    assert (out / "best.ckpt").read_bytes() == before


@pytest.mark.slow  # nine CLI processes
def test_errors_are_one_line(tmp_path):
    assert_one_line_error(run_cli("train", "--model", "resnet", "--out", tmp_path), "unknown model 'resnet'")
    assert_one_line_error(run_cli("train", "--model", "jsc-tiny", "--dataset", "mnist", "--out", tmp_path),
                          "mnist")
    assert_one_line_error(run_cli("train", "--model", "jsc-tiny", "--epochs", "0", "--out", tmp_path), "epochs")
    assert_one_line_error(run_cli("train", "--model", "jsc-tiny", "--epochs", "ten", "--out", tmp_path), "--epochs")
    assert_one_line_error(run_cli("eval", "--model", "jsc-tiny", "--load", tmp_path / "none.ckpt"), "does not exist")
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": build_model("jsc-three-linear-layers").state_dict()}, other)
    assert_one_line_error(run_cli("eval", "--model", "jsc-tiny", "--n-samples", "2000", "--load", other,
                                  env={"LAB_DATA_DIR": str(tmp_path / "d")}), "does not fit", "seq_blocks.2.weight")
    torn = tmp_path / "torn.ckpt"
    torn.write_bytes(other.read_bytes()[:64])
    assert_one_line_error(run_cli("eval", "--model", "jsc-tiny", "--load", torn), "cannot be read")
    assert_one_line_error(run_cli("train", "--model", "jsc-tiny", "--dataset", "jsc", "--data-path",
                                  tmp_path / "nope.h5", "--out", tmp_path / "x"), "does not exist", "jsc-sim")
    assert_one_line_error(run_cli("train", "--model", "vgg7", "--out", tmp_path / "v"), "cifar10")


# ---------------------------------------------------------------------------- issue 13: train's folder, sizes, faults
def _call(argv) -> tuple[int, str, str]:
    """``python -m lab_utils ARGV`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def _digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path / "data")


TRAIN = ["train", "--model", "jsc-tiny", "--n-samples", "600", "--epochs", "3", "--batch-size", "128", "--quiet"]


def test_a_lone_last_row_trains_at_the_default_batch_size(tmp_path, data_dir):
    """``--n-samples 1424``: 1,025 training rows, 512 per batch; BatchNorm raised on the last row before."""
    rc, out, err = _call(["train", "--model", "jsc-tiny", "--n-samples", "1424", "--epochs", "2", "--out",
                          tmp_path / "run", "--quiet"])
    assert rc == 0, err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["dataset"]["sizes"]["train"] % 512 == 1 and math.isfinite(metrics["test"]["loss"])


def test_a_second_train_on_a_held_folder_is_refused_and_writes_nothing(tmp_path, data_dir):
    """A run in its first epoch (empty folder) and one with a last.ckpt (with or without --resume), each
    held by another train run: the holder is named, not "already holds a training run"."""
    run, fresh = tmp_path / "run", tmp_path / "fresh"
    assert _call([*TRAIN, "--out", run])[0] == 0
    before = _digests(run)
    for folder, extra in ((fresh, []), (run, []), (run, ["--resume"])):
        with hold_folder(folder, "train"):
            held = _digests(folder)
            rc, out, err = _call([*TRAIN, "--out", folder, *extra])
            assert rc == 2 and err.count("\n") == 1, err
            assert err.startswith(f"error: --out {folder} is in use by `python -m lab_utils") and "pid" in err
            assert _digests(folder) == held
    assert _digests(run) == before and _digests(fresh) == {".lab.lock": hashlib.sha256(b"").hexdigest()}


def test_out_empty_never_writes_into_the_current_folder(tmp_path, data_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listing = sorted(p.name for p in tmp_path.iterdir())
    for out in ("", " \t"):
        rc, _, err = _call([*TRAIN, "--out", out])
        assert rc == 2 and err == f"error: --out must name a folder, got {out!r}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_a_full_disk_while_saving_is_one_line_exit_1_and_keeps_the_last_epoch(tmp_path, data_dir, monkeypatch):
    """The disk fills during the second epoch's saves (simulated: each write after the first two raises
    ENOSPC half-way, inside the atomic temporary file): exit 1, one line naming the file and --resume,
    last.ckpt still the first epoch's, no temporary file left; freed, --resume finishes the run."""
    run = tmp_path / "run"
    real, calls = atomic.torch_save, {"n": 0}

    def filling(path, obj):
        calls["n"] += 1
        if calls["n"] <= 2:  # epoch 1: best.ckpt and last.ckpt
            return real(path, obj)
        with atomic.atomic_path(path) as tmp:
            tmp.write_bytes(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "torch_save", filling)
    rc, out, err = _call([*TRAIN, "--out", run])
    assert rc == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert re.match(rf"error: {run}/(best|last)\.ckpt: No space left on device; the files already in {run} are "
                    r"kept: free space, then rerun the same command with --resume \(ENOSPC\)$", err), err
    assert len(load_checkpoint_file(run / "last.ckpt")["history"]["epochs"]) == 1
    assert sorted(p.name for p in run.iterdir()) == [".lab.lock", "best.ckpt", "last.ckpt"]
    monkeypatch.setattr(atomic, "torch_save", real)
    rc, out, err = _call([*TRAIN, "--out", run, "--resume"])
    assert rc == 0, err
    assert len(json.loads((run / "metrics.json").read_text())["history"]) == 3


def test_a_full_disk_while_writing_metrics_names_metrics_json(tmp_path, data_dir, monkeypatch):
    run = tmp_path / "run"

    def full(path, obj):
        with atomic.atomic_path(path) as tmp:
            tmp.write_bytes(b"{")
            raise OSError(errno.ENOSPC, "No space left on device")  # as a write() says it: no file name

    monkeypatch.setattr(atomic, "write_json", full)
    rc, out, err = _call([*TRAIN, "--out", run])
    assert rc == 1 and err.startswith(f"error: {run}/metrics.json: No space left on device; ") and "--resume" in err
    assert sorted(p.name for p in run.iterdir()) == [".lab.lock", "best.ckpt", "last.ckpt"]
