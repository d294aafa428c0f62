"""Checkpoint files: our format round trip, MASE/Lightning and bare state dicts, refused files, and
the resume state that ``train`` writes to ``last.ckpt``."""

import argparse
import errno
import resource
import signal

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


# ---------------------------------------------------------------------------- issue 13: resume files, failed writes
def _training_state(blobs, tmp_path):
    meta = {"model": "jsc-tiny", "model_args": {"logit_relu": True}, "dataset": {"dataset": "blobs", "sizes": [4000]}}
    recipe = tr.Recipe(epochs=1, batch_size=256)
    tr.train(build_model("jsc-tiny"), blobs, recipe, progress=False, out_dir=tmp_path, meta=meta)
    return ckpts.load_checkpoint_file(tmp_path / "last.ckpt"), recipe.as_dict(), meta


def test_a_file_that_is_not_a_resume_checkpoint_is_one_line_not_a_key_error(blobs, tmp_path):
    state, recipe, meta = _training_state(blobs, tmp_path)
    ckpts.check_resume_state(state, "last.ckpt", recipe=recipe, meta=meta)  # the real one passes
    best = ckpts.load_checkpoint_file(tmp_path / "best.ckpt")  # same recipe and meta, no optimizer
    bare = {"seq_blocks.0.weight": torch.zeros(16)}
    lightning = {"state_dict": {"model.w": torch.zeros(2)}, "optimizer_states": [], "epoch": 3}
    for obj, words in [(best, "it lacks optimizer, scheduler, generator"), (bare, "it lacks state_dict"),
                       (lightning, "it lacks optimizer"), ({**state, "format": "other/1"}, "its format is 'other/1'")]:
        with pytest.raises(LabError) as info:
            ckpts.check_resume_state(obj, "run/last.ckpt", recipe=recipe, meta=meta)
        assert str(info.value).startswith("run/last.ckpt is not a resume checkpoint of `train`") and words in str(info.value)
    broken = {**state, "history": {"epochs": [], "no_such_field": 1}}  # passes the key check, fails to load
    torch.save(broken, tmp_path / "last.ckpt")
    with pytest.raises(LabError, match=r"last.ckpt cannot be resumed \(TypeError: .*choose another --out"):
        tr.train(build_model("jsc-tiny"), blobs, tr.Recipe(epochs=1, batch_size=256), progress=False,
                 out_dir=tmp_path, meta=meta, resume=True)


def test_every_difference_is_named_was_and_now(blobs, tmp_path):
    state, recipe, meta = _training_state(blobs, tmp_path)
    now = {"model": "jsc-toy", "model_args": {"logit_relu": False}, "dataset": {"dataset": "blobs", "sizes": [10]}}
    with pytest.raises(LabError) as info:
        ckpts.check_resume_state(state, "last.ckpt", recipe={**recipe, "lr": 0.5}, meta=now)
    msg = str(info.value)
    for words in ("recipe lr was 0.001, now 0.5", "model was 'jsc-tiny', now 'jsc-toy'",
                  "model argument logit_relu was True, now False", "data set sizes was [4000], now [10]",
                  "use the same flags to resume", "--n-samples", "--no-logit-relu", "--model", "--lr"):
        assert words in msg, (words, msg)
    ckpts.check_resume_state(state, "last.ckpt", recipe=recipe, meta={"model": "jsc-tiny"})  # absent: not compared


def test_a_failed_checkpoint_write_names_the_file_and_keeps_the_old_one(tmp_path):
    """A real write failure (``RLIMIT_FSIZE``: the kernel refuses to grow a file, as a full disk does):
    torch's writer says only "unexpected pos"; the error raised names the checkpoint and the OS cause."""
    path = tmp_path / "last.ckpt"
    ckpts.write_torch_file(path, {"w": torch.zeros(10)})
    before = path.read_bytes()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(OSError) as info:
            ckpts.write_torch_file(path, {"w": torch.zeros(100_000)})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert info.value.filename == str(path) and info.value.errno == errno.EFBIG, info.value
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
