"""Quick-mode presets: full mode passes the notebook's parameters through, quick mode replaces them
with exactly the values the notebooks used before the presets existed."""

import dataclasses

import pytest

from lab_utils.errors import LabError
from lab_utils.labs import presets
from lab_utils.labs.baselines import QUICK_JETS, QUICK_RECIPE
from lab_utils.training.train import Recipe

LAB4_5 = {"choices": [16, 32, 48, 64], "fc": 256, "supernet_epochs": 3, "n_trials": 40, "n_random_baselines": 5,
          "searched_seeds": 2, "final_epochs": 4, "threads": 2}


def test_full_mode_is_the_parameters():
    p = presets.resolve("lab4_5", False, **LAB4_5)
    assert {k: getattr(p, k) for k in LAB4_5} == LAB4_5 and not p.quick
    assert presets.resolve("lab4_2", False, epochs=10, n_seeds=3).n_seeds == 3
    assert presets.resolve("lab3_3", False).n_samples is None
    assert presets.resolve("lab4_4", False, epochs=10).n_samples == "NA"
    assert presets.resolve("lab3_4", False, seeds=20, large_budget=150, large_eval_samples=20000).large_space == {
        "eval_samples": 20000}


def test_quick_mode_values():
    p = presets.resolve("lab4_5", True, **LAB4_5)
    assert ([p.choices, p.fc, p.supernet_epochs, p.n_trials, p.n_random_baselines, p.searched_seeds, p.final_epochs,
             p.threads] == [[4, 8], 16, 3, 8, 3, 2, 1, 1])
    assert presets.resolve("lab3_1", True, latency_s=0.3).latency_s == 0.05
    q = presets.resolve("lab3_4", True, seeds=100, large_seeds=50, large_budget=150, large_eval_samples=20000,
                        workers=2)
    assert (q.seeds, q.large_seeds, q.large_budget, q.workers) == (12, 8, 40, 1)
    assert q.large_space["eval_samples"] is None and q.large_space["weight_widths"] == (2, 8)
    for task in ("lab4_1", "lab4_2", "lab4_3", "lab4_4"):
        assert presets.resolve(task, True, epochs=10, n_seeds=3).epochs == 1
    q = presets.resolve("lab4_3", True, epochs=10, n_seeds=3, n_confirm=4, workers=2)
    assert (q.n_seeds, q.n_confirm, q.workers) == (2, 2, 1)
    assert presets.resolve("lab3_3", True).n_samples == QUICK_JETS
    assert presets.resolve("lab4_4", True, epochs=3).n_samples == QUICK_JETS


def test_lab0_recipes():
    args = {"seed": 0, "epochs": 10, "lr": 1e-3, "report_lr": 1e-5, "batch_size": 512}
    quick = presets.resolve("lab0", True, **args)
    assert quick.recipe == QUICK_RECIPE and quick.report_recipe == Recipe(epochs=3, batch_size=512, lr=1e-5, seed=0)
    full = presets.resolve("lab0", False, **{**args, "seed": 2})
    assert full.recipe == Recipe(epochs=10, batch_size=512, lr=1e-3, seed=2)
    assert full.report_recipe == Recipe(epochs=10, batch_size=512, lr=1e-5, seed=2)


def test_frozen_and_errors():
    p = presets.resolve("lab4_1", False, epochs=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.epochs = 4
    with pytest.raises(AttributeError, match="no parameter 'lr'"):
        _ = p.lr
    with pytest.raises(LabError, match="threads must be >= 1, got 0"):
        presets.resolve("lab4_5", False, **{**LAB4_5, "threads": 0})
