"""Samplers by name against Optuna built directly, and brute force's one visiting order: the engine's
queue (``fill_queue`` on a real study) is the order the replay replays."""

import tomllib
import warnings

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from lab_utils.errors import LabError
from lab_utils.search import replay, strategy
from lab_utils.search.config import parse_config
from lab_utils.search.samplers import SAMPLERS, brute_force_order, make_sampler
from lab_utils.search.space import build_context
from tests.helpers import bruteforce_toml, tiny_checkpoint

CHOICES = {"a": (1, 2, 3), "b": (10, 20), "c": (0,), "d": (5, 6, 7, 8)}
VARIABLE = {k: len(v) for k, v in CHOICES.items() if len(v) > 1}


def _direct(name, seed, n_startup_trials, replay_mode):
    """The sampler each caller built before the factory was shared, written with Optuna directly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return {
            "tpe": lambda: optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials),
            "random": lambda: optuna.samplers.RandomSampler(seed=seed),
            "brute-force": lambda: (optuna.samplers.RandomSampler(seed=seed) if replay_mode
                                    else optuna.samplers.BruteForceSampler(seed=seed)),
            "grid": lambda: optuna.samplers.GridSampler({"a": [0, 1, 2], "b": [0, 1], "d": [0, 1, 2, 3]}, seed=seed),
            "nsgaii": lambda: optuna.samplers.NSGAIISampler(seed=seed),
            "qmc": lambda: optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False),
        }[name]()


def _suggestions(sampler, n=12):
    """The index suggestions a sampler makes over CHOICES (the engine's encoding) in ``n`` trials."""
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: float(sum(t.suggest_int(k, 0, m - 1) * 10**i for i, (k, m) in enumerate(VARIABLE.items()))),
                   n_trials=n)
    return [t.params for t in study.trials]


@pytest.mark.parametrize("replay_mode", [False, True], ids=["engine", "replay"])
@pytest.mark.parametrize("name", SAMPLERS)
def test_every_name_gives_the_sampler_optuna_builds(name, replay_mode):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("error", optuna.exceptions.ExperimentalWarning)  # silenced by the factory
        got = make_sampler(name, 5, CHOICES, n_startup_trials=4, replay=replay_mode)
    want = _direct(name, 5, 4, replay_mode)
    assert type(got) is type(want)
    attrs = ["_n_startup_trials", "_warn_independent_sampling", "_seed"]
    if isinstance(want, optuna.samplers.GridSampler):
        attrs.append("_search_space")
    for attr in attrs:
        if hasattr(want, attr):
            assert getattr(got, attr) == getattr(want, attr), attr
    # same seed and arguments: the same suggestions, trial by trial
    assert _suggestions(got) == _suggestions(want)


def test_unknown_sampler_and_grid_without_choices():
    with pytest.raises(LabError, match="choose one of: tpe, random, brute-force, grid, nsgaii, qmc"):
        make_sampler("anneal", 0)
    with pytest.raises(LabError, match="grid"):
        make_sampler("grid", 0)


def test_brute_force_order_is_a_seeded_permutation():
    assert sorted(brute_force_order(50, 3)) == list(range(50))
    assert brute_force_order(50, 3) == brute_force_order(50, 3) != brute_force_order(50, 4)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.mark.parametrize("n_trials", [None, 10])
def test_engine_queue_order_is_the_replay_order(ckpt, n_trials):
    cfg = parse_config(tomllib.loads(bruteforce_toml()), {"load": str(ckpt), "seed": 7})
    space, _ = build_context(cfg, None)
    n = space.n_configurations() if n_trials is None else n_trials
    study = optuna.create_study(directions=cfg.strategy.directions)  # a real (in-memory) Optuna study
    strategy.fill_queue(cfg, space, study, n)
    queued = [t.system_attrs["fixed_params"] for t in sorted(study.get_trials(states=(TrialState.WAITING,)),
                                                            key=lambda t: t.number)]
    choices = space.choices()
    table = replay.ReplayTable(choices, np.zeros(space.n_configurations()))
    fixed = {k: 0 for k, v in choices.items() if len(v) == 1}
    engine = [table.flat_index({**fixed, **p}) for p in queued]
    trace = replay.replay(table, "brute-force", cfg.seed, n_trials=n)
    assert len(engine) == n and engine == trace.configs.tolist()
    assert [table.config(j) for j in engine] == [space.decode({**fixed, **p}) for p in queued]
