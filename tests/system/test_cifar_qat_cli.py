"""The shipped CIFAR-10 QAT search config (``configs/cifar10_cnn_qat.toml``) through the CLI, on a tiny
generated image set in CIFAR-10's format (``LAB_CIFAR10_DIR``) and a checkpoint of the config's own
architecture: ``--check`` accepts it, and a two-trial quantization-aware search completes, fine-tunes
each trial and reports the accuracy its stored fine-tuned weights give on the validation images."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import optuna
import pytest
import torch

from lab_utils.data import load_dataset
from lab_utils.data.tiny_images import make_tiny_image_set
from lab_utils.models import build_model
from lab_utils.search.storage import open_storage
from lab_utils.training.checkpoints import load_checkpoint_file, save_checkpoint
from lab_utils.training.qat import qat_model
from lab_utils.training.train import Recipe, evaluate, train
from tests.helpers import ROOT

CONFIG = ROOT / "configs" / "cifar10_cnn_qat.toml"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cifarqat")
    images = make_tiny_image_set(tmp / "tiny", "npz", n_per_class=10, n_test_per_class=2, seed=0)
    splits = load_dataset("cifar10", path=images, download=False)
    args = tomllib.loads(CONFIG.read_text())["model_args"]
    torch.manual_seed(0)
    model = build_model("vgg7", **args)
    train(model, splits, Recipe(epochs=1, batch_size=32, lr=0.01, optimizer="sgd"), progress=False)
    ckpt = tmp / "cnn.ckpt"
    save_checkpoint(ckpt, model, meta={"model": "vgg7", "model_args": args, "dataset": splits.describe()})
    return tmp, images, ckpt, splits


def _cli(images, *args):
    env = {**os.environ, "TQDM_DISABLE": "1", "LAB_CIFAR10_DIR": str(images), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "lab_utils", "search", "--config", str(CONFIG), *map(str, args)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_check_accepts_the_shipped_config(setup):
    tmp, images, ckpt, _ = setup
    proc = _cli(images, "--check", "--load", ckpt)
    assert proc.returncode == 0, proc.stderr
    assert "config ok: space graph/quantize/mixed_precision_ptq on vgg7, cifar10 (SYNTHETIC)" in proc.stdout
    # 2 weight widths x 2 weight frac widths, for conv2d and for linear
    assert "16 index combinations, 16 unique configurations" in proc.stdout
    assert not (tmp / "results").exists()  # --check writes nothing


def test_a_tiny_qat_search_completes_and_reports_its_fine_tuned_weights(setup):
    tmp, images, ckpt, splits = setup
    out = tmp / "out"
    proc = _cli(images, "--load", ckpt, "--out", out, "--n-trials", 2, "--quiet")
    assert proc.returncode == 0, proc.stderr
    study = optuna.load_study(study_name="cifar10-cnn-qat", storage=open_storage(f"journal:{out / 'study.journal'}"))
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 2 and all(t.user_attrs["result"]["trained_now"] for t in done)
    files = sorted((out / "qat-cache").glob("*.pt"))
    assert len(files) == 2
    # oracle: rebuild each fine-tuned quantized network from its cache file and evaluate it here
    base = build_model("vgg7", **tomllib.loads(CONFIG.read_text())["model_args"])
    base.load_state_dict(load_checkpoint_file(ckpt)["state_dict"])
    x, y = splits.split("val")
    mine = sorted(evaluate(qat_model(base, load_checkpoint_file(f)), x, y)["accuracy"] for f in files)
    assert mine == pytest.approx(sorted(t.values[0] for t in done), abs=1e-9)
    tuned = load_checkpoint_file(files[0])["state_dict"]
    assert any(not torch.equal(tuned[k], v) for k, v in base.state_dict().items() if k.endswith("weight"))
