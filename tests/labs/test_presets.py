"""Quick-mode presets: full mode passes the notebook's parameters through, quick mode replaces some of them
by values of the same type that are no larger (read against the notebooks' own parameters cells)."""

import dataclasses
import inspect
import math

import pytest

from lab_utils.errors import LabError
from lab_utils.labs import lab3_4, presets
from lab_utils.labs.baselines import QUICK_JETS, QUICK_RECIPE
from lab_utils.report import harness
from lab_utils.training.train import Recipe

LAB4_5 = {"choices": [16, 32, 48, 64], "fc": 256, "supernet_epochs": 3, "n_trials": 40, "n_random_baselines": 5,
          "seeds": 2, "scratch_epochs": 2, "final_epochs": 12, "threads": 2}


def test_full_mode_is_the_parameters():
    p = presets.resolve("lab4_5", False, **LAB4_5)
    assert {k: getattr(p, k) for k in LAB4_5} == LAB4_5 and not p.quick
    assert presets.resolve("lab4_2", False, epochs=10, n_seeds=3).n_seeds == 3
    assert presets.resolve("lab3_3", False).n_samples is None
    assert presets.resolve("lab4_4", False, epochs=10).n_samples == "NA"
    assert presets.resolve("lab3_4", False, seeds=20, large_budget=150, large_eval_samples=20000).large_space == {
        "eval_samples": 20000}


# Quick mode is cheaper than full mode, value by value. The one exception, with its reason: lab3_6's
# quick CNN (channels 8-16, fc 32) is so much narrower that 15 epochs of it cost less than the full
# CNN's 10. The test checks that each exception still is one, so the list cannot go stale.
LARGER_IN_QUICK = {("lab3_6", "epochs")}


def _no_larger(quick, full):
    """A number no larger than the full one; a list with no more entries, none beyond the full list's largest."""
    if isinstance(full, list):
        return len(quick) <= len(full) and max(quick) <= max(full)
    return quick <= full


def _same_type(quick, full):
    if isinstance(full, list):
        return isinstance(quick, list) and {type(v) for v in quick} == {type(v) for v in full}
    return type(quick) is type(full)


def test_quick_values_are_notebook_parameters_of_their_type_and_no_larger():
    notebooks = {harness.task_of(p): {k: v for k, v in harness.defaults(p).items() if k != "quick"}
                 for p in harness.notebook_paths()}
    assert set(presets.QUICK) <= set(notebooks)
    for task, quick in presets.QUICK.items():
        full = notebooks[task]
        assert quick and set(quick) <= set(full), (task, set(quick) - set(full))  # no quick value targets nothing
        for k, q in quick.items():
            assert _same_type(q, full[k]), (task, k, q, full[k])
            assert _no_larger(q, full[k]) != ((task, k) in LARGER_IN_QUICK), (task, k, q, full[k])
        # resolve: quick mode replaces the notebook's (or a user's) values, full mode keeps them
        assert {k: getattr(presets.resolve(task, True, **full), k) for k in quick} == quick
        assert {k: getattr(presets.resolve(task, False, **full), k) for k in quick} == {k: full[k] for k in quick}


def test_quick_mode_derived_values():
    # lab3_4's large space: a subset of each choice list of the full space (three_layer_space_config's defaults)
    q = presets.resolve("lab3_4", True, seeds=100, large_seeds=50, large_budget=150, large_eval_samples=20000,
                        workers=2)
    full_space = inspect.signature(lab3_4.three_layer_space_config).parameters
    assert q.large_space == presets.QUICK_LARGE_SPACE and q.large_space["eval_samples"] is None
    sizes = []
    for k, choices in q.large_space.items():
        if k != "eval_samples":
            assert set(choices) <= set(full_space[k].default), k
            sizes.append((len(choices), len(full_space[k].default)))
    assert math.prod(q for q, _ in sizes) < math.prod(f for _, f in sizes)  # fewer configurations
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
