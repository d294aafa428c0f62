"""The waiting queue (``strategy.QueueFiller``, ``strategy.claim``): filled in bounded batches, never
beyond the plan, lazily over huge spaces, each slot run once even when two fillers race, and a
sampler switch does not re-run what the study already holds."""

import json
import tomllib
import tracemalloc
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState

from lab_utils.search import strategy
from lab_utils.search.config import parse_config
from lab_utils.search.run import run_search
from lab_utils.search.space import SearchSpace, build_context
from tests.helpers import small_toml, tiny_checkpoint

optuna.logging.set_verbosity(optuna.logging.WARNING)


class Binary(SearchSpace):
    """``bits`` binary parameters (2**bits configurations); evaluation = number of ones."""
    name = "test/binary"

    def __init__(self, bits):
        super().__init__(None, None)
        self.bits = bits

    def choices(self):
        return {f"b{i:02d}": (0, 1) for i in range(self.bits)}

    def evaluate(self, config):
        return {"accuracy": float(sum(config.values()))}


def _cfg(sampler, seed=0, n_trials=10):
    strat = SimpleNamespace(sampler=sampler, n_trials=n_trials, metrics=(SimpleNamespace(name="accuracy", scale=1.0),),
                            metric_names=("accuracy",), sum_scaled_metrics=False)
    return SimpleNamespace(strategy=strat, seed=seed)


def _study():
    return optuna.create_study(direction="maximize")


def _drain(study, space, cfg, filler=None):
    return strategy.work(cfg, space, study, filler=filler, wait_for_others=False)


def test_configuration_j_is_the_products_jth():
    space = Binary(4)
    assert [space.configuration(j) for j in range(16)] == space.configurations()


def test_brute_force_over_2_to_the_30_holds_only_what_it_queues():
    space = Binary(30)
    study = _study()
    tracemalloc.start()
    filler = strategy.QueueFiller(_cfg("brute-force", n_trials=10), space, study, 10)
    assert filler.fill() == 10
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20_000_000  # 2**30 configurations as dicts would be > 100 GB; their numbers alone 8 GB
    queued = [t.system_attrs["fixed_params"] for t in study.get_trials(states=(TrialState.WAITING,))]
    assert len({json.dumps(p, sort_keys=True) for p in queued}) == 10 and filler.fill() == 0


def test_budget_trials_are_queued_in_batches_and_total_exactly_n_trials():
    space, study = Binary(3), _study()
    cfg = _cfg("random", n_trials=23)
    filler = strategy.QueueFiller(cfg, space, study, 23, batch=5)
    assert filler.fill() == 5 and len(study.get_trials(states=(TrialState.WAITING,))) == 5
    _drain(study, space, cfg, filler)
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 23 == len(study.trials)
    # a rerun of the same plan queues nothing
    assert strategy.QueueFiller(cfg, space, study, 23, batch=5).fill() == 0


@pytest.mark.parametrize("sampler", ["brute-force", "random"])
def test_two_racing_fillers_queue_twice_but_each_slot_runs_once(sampler):
    space, study = Binary(3), _study()
    cfg = _cfg(sampler, n_trials=8)
    a = strategy.QueueFiller(cfg, space, study, 8)
    b = strategy.QueueFiller(cfg, space, study, 8)
    snapshot = study._storage.get_all_trials(study._study_id)
    assert a.fill(snapshot) == 8 and b.fill(snapshot) == 8  # both saw an empty study: 16 queued
    _drain(study, space, cfg)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert len(complete) == 8 and len(pruned) == 8
    assert all(t.system_attrs["lab:duplicate_of"] < t.number for t in pruned)
    if sampler == "brute-force":
        assert len({json.dumps(t.params, sort_keys=True) for t in complete}) == 8


def test_a_requeued_trial_is_not_dropped_as_a_duplicate_of_the_trial_it_retries():
    space, study = Binary(2), _study()
    cfg = _cfg("brute-force", n_trials=4)
    strategy.QueueFiller(cfg, space, study, 4).fill()
    snapshot = study._storage.get_all_trials(study._study_id)
    first = strategy.claim(study, snapshot)
    from lab_utils.search import storage as st
    assert st.fail_and_requeue(study, first, "lost")
    _drain(study, space, cfg)  # the snapshot above still shows `first` RUNNING: claim must re-read it
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4 and len({json.dumps(t.params, sort_keys=True) for t in complete}) == 4


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def test_switching_from_tpe_to_brute_force_does_not_rerun_what_tpe_ran(tmp_path, ckpt):
    quiet = {"progress": False, "print_fn": lambda *a: None}
    tpe = parse_config(tomllib.loads(small_toml()), {"load": str(ckpt), "search.strategy.setup.sampler": "tpe",
                                                    "search.strategy.setup.n_trials": 4})
    ran = {json.dumps(t.params, sort_keys=True) for t in run_search(tpe, tmp_path, **quiet).study.trials}
    bf = parse_config(tomllib.loads(small_toml()), {"load": str(ckpt), "search.strategy.setup.sampler": "brute-force",
                                                   "search.strategy.setup.n_trials": 6})
    result = run_search(bf, tmp_path, **quiet)
    trials = result.study.trials
    per_config = {}
    for t in trials:
        if t.state == TrialState.COMPLETE:
            per_config.setdefault(json.dumps(t.params, sort_keys=True), []).append(t.number)
    assert len(per_config) == 6  # every configuration covered
    brute = [t for t in trials if t.number >= 4]
    assert all(json.dumps(t.params, sort_keys=True) not in ran for t in brute)  # nothing TPE ran, run again
    assert len(brute) == 6 - len(ran)


def test_a_search_whose_every_trial_fails_returns_1_naming_the_first_failure(tmp_path, ckpt, capsys):
    cfg = parse_config(tomllib.loads(small_toml()), {"load": str(ckpt)})
    space, _ = build_context(cfg, None)

    def broken(config):
        raise ValueError(f"cannot evaluate {sorted(config)[0]}")

    type(space).evaluate, old = (lambda self, c: broken(c)), type(space).evaluate
    try:
        result = run_search(cfg, tmp_path, progress=False, print_fn=lambda *a: None)
    finally:
        type(space).evaluate = old
    err = capsys.readouterr().err
    assert result.status == 1
    assert err.startswith("error: search failed, no trial completed: every trial failed; the first (trial 0): "
                          "ValueError: cannot evaluate")
    states = [t.state for t in result.study.trials]
    assert TrialState.COMPLETE not in states and states.count(TrialState.FAIL) == 18  # 6 configs x 3 tries
