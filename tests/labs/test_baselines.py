"""lab_utils.labs.baselines: a baseline that never predicts some class is refused, on constructed models (one whose
class 2 can never win the argmax, one that predicts every class) and on the loader itself (``ensure_baseline``
with the trained-candidate cache replaced by the constructed model)."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from lab_utils.errors import LabError
from lab_utils.labs import baselines
from lab_utils.training.train import Recipe


def _splits(n=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 16, generator=g), torch.arange(n) % 5
    return SimpleNamespace(split=lambda s: (x, y), num_classes=5, class_names=("g", "q", "t", "w", "z"))


def _linear(bias):
    """A 16 -> 5 linear model with small seeded weights and the given bias: a bias of -100 on a class means
    that class's logit never wins on unit-scale inputs (what a logit ReLU clipping it to 0 does)."""
    torch.manual_seed(0)
    m = nn.Linear(16, 5)
    with torch.no_grad():
        m.weight.mul_(0.1)
        m.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return m.eval()


def test_classes_never_predicted_on_constructed_models():
    s = _splits()
    assert baselines.classes_never_predicted(_linear([0.0] * 5), s) == []
    assert baselines.classes_never_predicted(_linear([0, 0, -100, 0, 0]), s) == [2]
    assert baselines.classes_never_predicted(_linear([0, -100, 0, 0, -100]), s) == [1, 4]
    # one class always wins: four never predicted
    assert baselines.classes_never_predicted(_linear([100, 0, 0, 0, 0]), s) == [1, 2, 3, 4]


def test_refuse_failed_names_the_model_and_the_missing_classes():
    s = _splits()
    baselines.refuse_failed(_linear([0.0] * 5), s, "fine")  # every class predicted: nothing raised
    with pytest.raises(LabError, match=r"broken never predicts class 2 \(t\) on val data: it failed to train"):
        baselines.refuse_failed(_linear([0, 0, -100, 0, 0]), s, "broken")


@pytest.mark.parametrize("bias, refused", [([0.0] * 5, False), ([0, -100, 0, 0, -100], True)])
def test_ensure_baseline_refuses_a_checkpoint_that_never_predicts_a_class(monkeypatch, tmp_path, bias, refused):
    model, path = _linear(bias), tmp_path / "jsc-three-linear-layers-abc.ckpt"
    seen = {}

    def fake(name, args, splits, recipe, cache_dir=None, progress=False):
        seen.update(name=name, args=args, recipe=recipe)
        return model, {"path": str(path), "cached": True}

    monkeypatch.setattr(baselines, "trained_candidate", fake)
    s, recipe = _splits(), Recipe(epochs=1, batch_size=64, lr=1e-2, seed=3)
    if refused:
        with pytest.raises(LabError) as err:
            baselines.ensure_baseline("jsc-three-linear-layers", s, recipe=recipe)
        msg = str(err.value)
        for needle in ("baseline jsc-three-linear-layers (logit_relu=True", "seed 3", str(path),
                       "never predicts class 1 (q), 4 (z) on val data", "without the logit ReLU"):
            assert needle in msg, (needle, msg)
    else:
        got, got_path = baselines.ensure_baseline("jsc-three-linear-layers", s, recipe=recipe, logit_relu=False)
        assert got is model and got_path == path
        assert seen == {"name": "jsc-three-linear-layers", "args": {"logit_relu": False}, "recipe": recipe}
