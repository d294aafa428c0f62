import pytest
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.training import checkpoints as ckpts
from lab_utils.training import train as tr
from lab_utils.training.supernet import SupernetRecipe


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


@pytest.mark.parametrize("kwargs,key", [({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"),
                                        ({"optimizer": "lbfgs"}, "optimizer"), ({"batch_size": 2.5}, "batch_size")])
def test_bad_recipe(kwargs, key):
    with pytest.raises(LabError, match=key):
        tr.Recipe(**kwargs)


def test_recipe_checks_are_shared_with_the_supernet_recipe():
    """One check per rule: the same words for Recipe and SupernetRecipe, only the field name differs."""
    with pytest.raises(LabError) as a:
        tr.Recipe(epochs=0)
    with pytest.raises(LabError) as b:
        SupernetRecipe(epochs=0)
    assert str(a.value) == "epochs must be a whole number >= 1, got 0"
    assert str(b.value) == "supernet epochs must be a whole number >= 1, got 0"
    with pytest.raises(LabError, match=r"^supernet lr must be a number in \(0, 10\], got 11$"):
        SupernetRecipe(lr=11)
    with pytest.raises(LabError, match=r"^supernet batch_size must be a whole number >= 2, got 1$"):
        SupernetRecipe(batch_size=1)
    with pytest.raises(LabError, match=r"^n_random must be a whole number >= 0, got 1.5$"):
        SupernetRecipe(n_random=1.5)


def test_history_records_rows_and_the_best_epoch():
    h = tr.History()
    assert h.best_val() == {"loss": None, "accuracy": None, "macro_accuracy": None}
    assert h.record(1, 2.0, {"loss": 1.5, "accuracy": 0.5, "macro_accuracy": 0.4})
    assert not h.record(2, 1.0, {"loss": float("nan"), "accuracy": 0.9, "macro_accuracy": 0.9})
    assert not h.record(3, 1.0, {"loss": float("inf"), "accuracy": 0.9, "macro_accuracy": 0.9})
    assert h.record(4, 0.5, {"loss": 1.25, "accuracy": 0.75, "macro_accuracy": 0.7})
    assert not h.record(5, 0.5, {"loss": 1.25, "accuracy": 0.8, "macro_accuracy": 0.8})  # a tie is not better
    assert [r["epoch"] for r in h.epochs] == [1, 2, 3, 4, 5]
    assert h.epochs[0] == {"epoch": 1, "train_loss": 2.0, "val_loss": 1.5, "val_accuracy": 0.5,
                           "val_macro_accuracy": 0.4}
    assert (h.best_epoch, h.best_val_loss) == (4, 1.25)
    assert h.best_val() == {"loss": 1.25, "accuracy": 0.75, "macro_accuracy": 0.7}


def test_num_threads_sets_and_restores():
    before = torch.get_num_threads()
    with tr.num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with tr.num_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), tr.num_threads(1):
        raise RuntimeError
    assert torch.get_num_threads() == before
