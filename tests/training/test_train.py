import argparse

import pytest
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.training import checkpoints as ckpts
from lab_utils.training import train as tr


def test_metrics_against_torchmetrics():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(5000, 5, generator=g)
    y = torch.randint(0, 5, (5000,), generator=g)
    y[:900] = 0  # unbalanced, so micro and macro differ
    m = tr.metrics_from_logits(logits, y)
    assert m["accuracy"] == pytest.approx(float(MulticlassAccuracy(5, average="micro")(logits, y)), abs=1e-6)
    assert m["macro_accuracy"] == pytest.approx(float(MulticlassAccuracy(5, average="macro")(logits, y)), abs=1e-6)
    assert m["loss"] == pytest.approx(float(F.cross_entropy(logits, y)), abs=1e-6)
    assert m["n"] == 5000
    assert m["accuracy"] != pytest.approx(m["macro_accuracy"], abs=1e-4)


def test_evaluate_chunks_equal_one_pass(blobs):
    model = build_model("jsc-tiny")
    whole = tr.evaluate(model, blobs.x_val, blobs.y_val, chunk=10**9)
    chunked = tr.evaluate(model, blobs.x_val, blobs.y_val, chunk=97)
    assert whole == pytest.approx(chunked, abs=1e-6)
    assert model.training  # mode restored


def test_training_learns_and_keeps_best(blobs):
    model = build_model("jsc-tiny", logit_relu=False)
    before = tr.evaluate(model, blobs.x_val, blobs.y_val)
    hist = tr.train(model, blobs, tr.Recipe(epochs=4, batch_size=128, lr=1e-2), progress=False)
    after = tr.evaluate(model, blobs.x_val, blobs.y_val)
    assert after["accuracy"] > 0.9 > before["accuracy"]
    best = min(hist.epochs, key=lambda r: r["val_loss"])
    assert hist.best_epoch == best["epoch"]
    assert after["loss"] == pytest.approx(best["val_loss"], rel=1e-5)


def test_same_seed_same_weights(blobs):
    a, b = build_model("jsc-tiny"), build_model("jsc-tiny")
    for m in (a, b):
        torch.manual_seed(123)
        m.load_state_dict(build_model("jsc-tiny").state_dict())
        tr.train(m, blobs, tr.Recipe(epochs=2, batch_size=256, seed=7), progress=False)
    for k in a.state_dict():
        assert torch.equal(a.state_dict()[k], b.state_dict()[k])


def test_resume_gives_same_weights(blobs, tmp_path, monkeypatch):
    recipe = tr.Recipe(epochs=4, batch_size=256, lr=5e-3, seed=3)
    init = build_model("jsc-three-linear-layers").state_dict()
    ref = build_model("jsc-three-linear-layers")
    ref.load_state_dict(init)
    tr.train(ref, blobs, recipe, progress=False, out_dir=tmp_path / "ref")

    model = build_model("jsc-three-linear-layers")
    model.load_state_dict(init)
    real_evaluate, calls = tr.evaluate, {"n": 0}

    def dying_evaluate(*a, **k):  # a Ctrl-C in the third epoch, after two complete ones
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_evaluate(*a, **k)

    monkeypatch.setattr(tr, "evaluate", dying_evaluate)
    with pytest.raises(KeyboardInterrupt):
        tr.train(model, blobs, recipe, progress=False, out_dir=tmp_path / "run")
    monkeypatch.setattr(tr, "evaluate", real_evaluate)
    assert len(ckpts.load_checkpoint_file(tmp_path / "run" / "last.ckpt")["history"]["epochs"]) == 2
    fresh = build_model("jsc-three-linear-layers")  # a new process would start from scratch weights
    hist = tr.train(fresh, blobs, recipe, progress=False, out_dir=tmp_path / "run", resume=True)
    assert len(hist.epochs) == 4
    for k, v in ref.state_dict().items():
        assert torch.allclose(v.float(), fresh.state_dict()[k].float(), atol=1e-6), k


def test_resume_with_other_recipe_is_refused(blobs, tmp_path):
    tr.train(build_model("jsc-tiny"), blobs, tr.Recipe(epochs=1), progress=False, out_dir=tmp_path)
    with pytest.raises(LabError, match="recipe"):
        tr.train(build_model("jsc-tiny"), blobs, tr.Recipe(epochs=2), progress=False, out_dir=tmp_path, resume=True)


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
    torch.save({"state_dict": model.state_dict(), "evil": argparse.Namespace(a=1)}, tmp_path / "code.ckpt")  # needs unpickling a class
    with pytest.raises(LabError, match="cannot be read"):
        ckpts.load_weights(other, tmp_path / "code.ckpt")


@pytest.mark.parametrize("kwargs,key", [({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"),
                                        ({"optimizer": "lbfgs"}, "optimizer"), ({"batch_size": 2.5}, "batch_size")])
def test_bad_recipe(kwargs, key):
    with pytest.raises(LabError, match=key):
        tr.Recipe(**kwargs)
