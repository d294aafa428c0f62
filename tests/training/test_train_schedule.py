"""train.Recipe's per-step warm-up + cosine schedule and ``keep="last"`` (opt-in options: the defaults, and
so every other caller, are unchanged). Oracles: the schedule written out by hand; last.ckpt's weights."""

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from lab_utils.errors import LabError
from lab_utils.training.checkpoints import load_checkpoint_file
from lab_utils.training.train import Recipe, make_optimizer, train, warmup_cosine_factor


def test_defaults_are_unchanged():
    r = Recipe()
    assert (r.schedule, r.warmup_epochs, r.keep) == ("cosine", 0.0, "best")
    assert Recipe().as_dict() == {"epochs": 10, "batch_size": 512, "lr": 1e-3, "weight_decay": 0.0, "optimizer": "adam",
                                  "seed": 0}  # old checkpoints and cache keys describe the same recipe
    _, sched = make_optimizer(nn.Linear(2, 2), Recipe(epochs=4))
    assert isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR)
    assert Recipe(schedule="warmup_cosine", warmup_epochs=1, epochs=2, keep="last").as_dict()["keep"] == "last"


def test_recipe_checks_the_new_fields():
    for bad, match in (({"schedule": "step"}, "schedule"), ({"warmup_epochs": 1}, "needs schedule"),
                       ({"schedule": "warmup_cosine", "warmup_epochs": 3}, "warmup_epochs"), ({"keep": "first"}, "keep")):
        with pytest.raises(LabError, match=match):
            Recipe(epochs=3, **bad)
    with pytest.raises(LabError, match="per minibatch"):  # a trainer that cannot step it per minibatch refuses it
        make_optimizer(nn.Linear(2, 2), Recipe(epochs=3, schedule="warmup_cosine"))


def test_warmup_cosine_by_hand():
    assert [warmup_cosine_factor(s, 10, 4) for s in (0, 2, 4)] == pytest.approx([0.04, 0.52, 1.0])
    assert warmup_cosine_factor(7, 10, 4) == pytest.approx(0.5 * (1 + math.cos(math.pi * 3 / 6)))
    assert warmup_cosine_factor(10, 10, 4) == pytest.approx(0.0) and warmup_cosine_factor(12, 10, 4) == pytest.approx(0.0)
    assert warmup_cosine_factor(10, 10, 4, floor=0.1) == pytest.approx(0.1)
    assert warmup_cosine_factor(0, 10, 0) == 1.0  # no warm-up: the cosine starts at the peak
    model = nn.Linear(2, 2)
    recipe = Recipe(epochs=2, lr=0.1, optimizer="sgd", schedule="warmup_cosine", warmup_epochs=1)
    opt, sched = make_optimizer(model, recipe, steps_per_epoch=3)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.1 * warmup_cosine_factor(s, 6, 3) for s in range(6)])


def _data(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long()
    return SimpleNamespace(x_train=x, y_train=y, x_val=x[:10], y_val=y[:10])


def test_train_steps_per_minibatch_and_keeps_the_last_epoch(tmp_path):
    data = _data()
    recipe = Recipe(epochs=3, batch_size=8, lr=0.5, optimizer="sgd", schedule="warmup_cosine", warmup_epochs=1,
                    keep="last")
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    train(model, data, recipe, progress=False, out_dir=tmp_path)
    last = load_checkpoint_file(tmp_path / "last.ckpt")
    assert last["scheduler"]["last_epoch"] == 3 * 5  # stepped after each of 5 minibatches per epoch
    for k, v in model.state_dict().items():
        assert torch.equal(v, last["state_dict"][k])  # the last epoch's weights are kept
    torch.manual_seed(0)
    again = nn.Linear(4, 2)
    train(again, data, recipe, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))  # seeded
