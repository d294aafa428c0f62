"""Checkpoint files: our format round trip, MASE/Lightning and bare state dicts, refused files, and
the resume state that ``train`` writes to ``last.ckpt``."""

import argparse

import pytest
import torch

from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.training import checkpoints as ckpts
from lab_utils.training import train as tr


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    model = build_model("jsc-three-linear-layers")
    ckpts.save_checkpoint(tmp_path / "a.ckpt", model, meta={"model": "jsc-three-linear-layers", "model_args": {}})
    loaded, obj = ckpts.load_model(tmp_path / "a.ckpt")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
    with pytest.raises(LabError) as exc:
        ckpts.load_weights(build_model("jsc-tiny"), tmp_path / "a.ckpt")
    msg = str(exc.value)
    assert "seq_blocks.2.weight (16, 16) vs model (5, 16)" in msg and "seq_blocks.4.weight unexpected" in msg
    assert "\n" not in msg


def test_lightning_checkpoint_and_bad_files(tmp_path):
    model = build_model("jsc-tiny")
    torch.save({"epoch": 3, "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}},
               tmp_path / "pl.ckpt")
    other = build_model("jsc-tiny")
    ckpts.load_weights(other, tmp_path / "pl.ckpt")
    assert torch.equal(other.seq_blocks[2].weight, model.seq_blocks[2].weight)
    with pytest.raises(LabError, match="does not exist"):
        ckpts.load_weights(other, tmp_path / "missing.ckpt")
    (tmp_path / "torn.ckpt").write_bytes((tmp_path / "pl.ckpt").read_bytes()[:100])
    with pytest.raises(LabError, match="cannot be read"):
        ckpts.load_weights(other, tmp_path / "torn.ckpt")
    # a file that needs a class unpickled
    torch.save({"state_dict": model.state_dict(), "evil": argparse.Namespace(a=1)}, tmp_path / "code.ckpt")
    with pytest.raises(LabError, match="cannot be read"):
        ckpts.load_weights(other, tmp_path / "code.ckpt")


def test_last_checkpoint_holds_the_resume_state(blobs, tmp_path):
    recipe = tr.Recipe(epochs=2, batch_size=256, seed=5)
    model = build_model("jsc-tiny")
    meta = {"model": "jsc-tiny", "model_args": {}}
    hist = tr.train(model, blobs, recipe, progress=False, out_dir=tmp_path, meta=meta)
    last = ckpts.load_checkpoint_file(tmp_path / "last.ckpt")
    assert list(last) == ["format", "model", "model_args", "recipe", "state_dict", "optimizer", "scheduler",
                          "generator", "torch_rng", "history", "best_state_dict"]
    assert last["format"] == ckpts.CKPT_FORMAT and last["recipe"] == recipe.as_dict()
    assert last["history"]["epochs"] == hist.epochs and last["history"]["best_epoch"] == hist.best_epoch
    assert last["scheduler"]["last_epoch"] == 2
    assert all(torch.equal(v, last["best_state_dict"][k]) for k, v in model.state_dict().items())
    best = ckpts.load_checkpoint_file(tmp_path / "best.ckpt")
    assert best["metrics"]["epoch"] == hist.best_epoch
    assert best["metrics"]["val"]["loss"] == hist.best_val_loss
    loaded, _ = ckpts.load_model(tmp_path / "best.ckpt")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())


def test_bare_state_dict_loads_and_load_model_needs_a_name(tmp_path):
    model = build_model("jsc-tiny")
    torch.save(model.state_dict(), tmp_path / "bare.ckpt")
    other = build_model("jsc-tiny")
    ckpts.load_weights(other, tmp_path / "bare.ckpt")
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in model.state_dict().items())
    with pytest.raises(LabError, match="does not name its model"):
        ckpts.load_model(tmp_path / "bare.ckpt")
