import math
from types import SimpleNamespace

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


# ---------------------------------------------------------------------------- issue 13: the lone last row
def _old_train_epoch(model, x, y, batch_size, opt, gen):
    """The loop as it was before issue 13 (``range(0, n, batch_size)`` slices): the pinned reference."""
    model.train()
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen)
    xs, ys = x[perm], y[perm]
    total, count = torch.zeros((), dtype=torch.float64), 0
    for i in range(0, n, batch_size):
        xb, yb = xs[i:i + batch_size], ys[i:i + batch_size]
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * yb.shape[0]
        count += yb.shape[0]
    return float(total) / max(count, 1)


def _two_epochs(epoch_fn, x, y, batch_size):
    torch.manual_seed(0)
    model = build_model("jsc-toy")  # BatchNorm after every Linear: the most sensitive model
    opt, _ = tr.make_optimizer(model, tr.Recipe(batch_size=batch_size, lr=1e-2))
    gen = torch.Generator().manual_seed(4)
    losses = [epoch_fn(model, x, y, batch_size, opt, gen) for _ in range(2)]
    return model.state_dict(), losses


def test_minibatches_merge_only_a_lone_last_row():
    for n in range(1, 300):
        for bs in (1, 2, 3, 7, 16, 64, 128, 512):
            old = [(i, min(i + bs, n)) for i in range(0, n, bs)]
            got = tr.minibatches(n, bs)
            assert [a for a, _ in got] == sorted({a for a, _ in got}) and got[0][0] == 0 and got[-1][1] == n
            assert all(b1 == a2 for (_, b1), (a2, _) in zip(got, got[1:]))  # every row once, in order
            if n % bs == 1 and n > bs:
                assert got == old[:-2] + [(old[-2][0], n)] and got[-1][1] - got[-1][0] == bs + 1
            else:
                assert got == old  # every other size: exactly the minibatches it had before


def test_other_sizes_train_bit_for_bit_as_before(blobs):
    """n % batch_size != 1: the weights equal those of the old loop exactly (the README's numbers hold)."""
    x, y = blobs.x_train[:1000], blobs.y_train[:1000]
    for bs in (128, 999, 1000, 3000):  # 1000 % 999 == 1 is the lone-row case, checked below
        if 1000 % bs == 1:
            continue
        new, new_losses = _two_epochs(lambda m, x, y, b, o, g: tr._train_epoch(m, x, y, b, o, g, None), x, y, bs)
        old, old_losses = _two_epochs(_old_train_epoch, x, y, bs)
        assert new_losses == old_losses
        assert all(torch.equal(new[k], old[k]) for k in old), bs


def test_a_lone_last_row_is_trained_with_the_batch_before_it(blobs):
    """1,025 rows at batch size 512 (``train --model jsc-tiny --n-samples 1424``): BatchNorm raised before;
    now the last minibatch holds 513 rows, as a reference loop over those two slices computes."""
    x, y = blobs.x_train[:1025], blobs.y_train[:1025]
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        _two_epochs(_old_train_epoch, x, y, 512)
    new, losses = _two_epochs(lambda m, x, y, b, o, g: tr._train_epoch(m, x, y, b, o, g, None), x, y, 512)

    ref, ref_losses = _two_epochs(lambda m, x, y, b, o, g: _merged_epoch(m, x, y, o, g), x, y, 512)
    assert losses == ref_losses and all(torch.equal(new[k], ref[k]) for k in ref)
    assert all(torch.isfinite(v.float()).all() for v in new.values())


def _merged_epoch(model, x, y, opt, gen):
    model.train()
    perm = torch.randperm(x.shape[0], generator=gen)
    xs, ys = x[perm], y[perm]
    total = torch.zeros((), dtype=torch.float64)
    for a, b in ((0, 512), (512, 1025)):
        loss = F.cross_entropy(model(xs[a:b]), ys[a:b])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * (b - a)
    return float(total) / 1025


def test_train_on_a_split_with_a_lone_last_row_and_the_unfit_sizes(blobs):
    data = SimpleNamespace(x_train=blobs.x_train[:1025], y_train=blobs.y_train[:1025], x_val=blobs.x_val,
                           y_val=blobs.y_val)
    hist = tr.train(build_model("jsc-tiny"), data, tr.Recipe(epochs=2, batch_size=512), progress=False)
    assert len(hist.epochs) == 2 and all(math.isfinite(r["train_loss"]) for r in hist.epochs)
    one = SimpleNamespace(x_train=blobs.x_train[:1], y_train=blobs.y_train[:1], x_val=blobs.x_val, y_val=blobs.y_val)
    with pytest.raises(LabError, match=r"^the training split has 1 row: BatchNorm cannot train on fewer than 2"):
        tr.train(build_model("jsc-tiny"), one, tr.Recipe(epochs=1), progress=False)
    with pytest.raises(LabError, match=r"^batch size 1: BatchNorm cannot train on minibatches of one row"):
        tr.train(build_model("jsc-tiny"), data, tr.Recipe(epochs=1, batch_size=1), progress=False)


# ---------------------------------------------------------------------------- issue 13: --resume checks
def test_resume_with_other_data_or_model_arguments_is_refused(blobs, tmp_path):
    meta = {"model": "jsc-tiny", "model_args": {"logit_relu": True}, "dataset": {"dataset": "blobs", "n_raw": 6000}}
    recipe = tr.Recipe(epochs=1, batch_size=256)
    tr.train(build_model("jsc-tiny"), blobs, recipe, progress=False, out_dir=tmp_path, meta=meta)
    before = (tmp_path / "last.ckpt").read_bytes()
    other_data = {**meta, "dataset": {"dataset": "blobs", "n_raw": 7000}}
    with pytest.raises(LabError, match=r"data set n_raw was 6000, now 7000; .*--n-samples"):
        tr.train(build_model("jsc-tiny"), blobs, recipe, progress=False, out_dir=tmp_path, meta=other_data,
                 resume=True)
    other_args = {**meta, "model_args": {"logit_relu": False}}
    with pytest.raises(LabError, match=r"model argument logit_relu was True, now False; .*--no-logit-relu"):
        tr.train(build_model("jsc-tiny", logit_relu=False), blobs, recipe, progress=False, out_dir=tmp_path,
                 meta=other_args, resume=True)
    assert (tmp_path / "last.ckpt").read_bytes() == before


def test_weight_decay_must_be_finite():
    with pytest.raises(LabError, match="weight_decay must be a finite number >= 0, got inf"):
        tr.Recipe(weight_decay=math.inf)
