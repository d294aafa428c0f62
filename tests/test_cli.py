"""The train / eval commands end to end (real ``python -m lab_utils`` processes), and their one-line errors."""

import json

import pytest
import torch

from lab_utils.cli import main
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
