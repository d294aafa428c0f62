"""Optuna samplers by name, and the seeded order in which brute force visits a space.

How it works: :func:`make_sampler` maps a sampler name of the TOML / ``--sampler`` (:data:`SAMPLERS`)
to a seeded Optuna sampler. Every parameter is suggested as a choice INDEX
(``trial.suggest_int(key, 0, len - 1)``, see :mod:`.space`), so ``grid`` is Optuna's
``GridSampler`` over the index range of each parameter with more than one choice. The search
engine (:mod:`.run`, :mod:`.strategy`) and the sampler replay (:mod:`.replay`) both build their
samplers here; they differ in one place only, ``brute-force``:

- the engine uses Optuna's ``BruteForceSampler`` (its trials are enqueued by
  ``strategy.fill_queue``; the sampler's ``after_trial`` hook is what ``strategy.work`` tolerates);
- the replay (``replay=True``) enqueues every brute-force trial of its in-memory study and runs
  ``study.optimize``, so every parameter is fixed by the queue and the sampler is never asked for a
  value: a plain ``RandomSampler(seed)``.

:func:`brute_force_order` is the ONE seeded visiting order of brute force: ``strategy.fill_queue``
enqueues the configurations in it and ``replay.replay`` replays them in it, so a replayed
brute-force run is the engine's queue (``tests/search/test_samplers.py`` checks it on a real study).

Optuna's ``BruteForceSampler`` and ``QMCSampler`` emit an ``ExperimentalWarning`` when built; it is
silenced here (noise on every run's stderr and in every notebook, nothing to act on).
"""

from __future__ import annotations

import random
import warnings

import optuna

from lab_utils.errors import LabError

SAMPLERS = ("tpe", "random", "brute-force", "grid", "nsgaii", "qmc")
DIRECTIONS = ("maximize", "minimize")


def make_sampler(name: str, seed: int, choices: dict | None = None, *, n_startup_trials: int = 10,
                 replay: bool = False):
    """A seeded Optuna sampler by name (one of :data:`SAMPLERS`).

    ``choices`` (parameter -> tuple of choices) is needed by ``grid`` only: its grid is the index
    range of every parameter with more than one choice. ``n_startup_trials`` is TPE's. ``replay``:
    the caller enqueues every brute-force trial and never consults the sampler (module docstring).
    """
    if name not in SAMPLERS:
        raise LabError(f"sampler: unknown sampler {name!r}; choose one of: {', '.join(SAMPLERS)}")
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    if name == "random" or (name == "brute-force" and replay):
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        if choices is None:
            raise LabError("sampler: grid needs the space's choices")
        return optuna.samplers.GridSampler({k: list(range(len(v))) for k, v in choices.items() if len(v) > 1},
                                           seed=seed)
    if name == "nsgaii":
        return optuna.samplers.NSGAIISampler(seed=seed)
    with warnings.catch_warnings():  # the "experimental" notice (module docstring)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "brute-force":
            return optuna.samplers.BruteForceSampler(seed=seed)
        return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)


ORDER_LIMIT = 2**20  # spaces up to this size are shuffled whole (the replay's order); larger ones sampled


def brute_force_positions(n: int, seed: int, budget: int):
    """The first ``budget`` configuration numbers brute force visits, lazily, in memory O(budget).

    Up to :data:`ORDER_LIMIT` configurations this is ``brute_force_order(n, seed)[:budget]`` (so the
    engine's queue is the replay's order). Beyond, shuffling ``range(n)`` would hold ``n`` numbers
    (2**30 of them: out of memory before the first trial), so ``random.Random(seed).sample(range(n),
    budget)`` draws the budget without replacement, holding only what it returns; the order is still
    seeded and uniform.
    """
    budget = min(budget, n)
    if n <= ORDER_LIMIT:
        yield from brute_force_order(n, seed)[:budget]
    else:
        yield from random.Random(seed).sample(range(n), budget)


def brute_force_order(n: int, seed: int) -> list[int]:
    """Configuration numbers ``0 .. n-1`` (product order) in brute force's seeded visiting order.

    ``random.Random(seed).shuffle``: the permutation depends only on ``n`` and ``seed``, so early
    stops still spread over the space and a rerun with the same seed queues the same order.
    """
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order
