"""The process plumbing of the slot trainers (:mod:`.batched`, :mod:`.qat`): groups, workers, hand-off.

Both trainers cut their runs into groups of slots (:func:`equal_parts`), train each group with a
module-level function ``fn(*job, data, recipe)`` and collect the results by group. :func:`run_groups`
runs the groups here (one process, ``data`` as given) or in ``workers`` spawned processes: the
``spawn`` context starts a clean interpreter (no forked torch/OpenMP state), and each worker gets the
training and validation tensors once, as numpy arrays (:data:`SPLITS`; numpy pickles plainly between
processes and :func:`torch.from_numpy` shares the memory), in :func:`_init_worker`, which also sets one
torch thread as the trainers do in-process (:func:`lab_utils.training.train.num_threads`). A group's
result goes back the same way (:func:`to_numpy`, :func:`from_numpy`). A group's result depends only on
its job, so one process and several give the same numbers bit for bit
(``tests/training/test_batched.py``, ``tests/training/test_qat.py``).

:func:`run_jobs` is the pool itself (the package's one ``ProcessPoolExecutor``), also used without
shared data by :func:`lab_utils.search.replay.sampler_study`.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from types import SimpleNamespace

import numpy as np
import torch

SPLITS = ("x_train", "y_train", "x_val", "y_val")  # the tensors a worker trains and selects on

_WORKER: dict = {}  # in a spawned worker: "data" (the SPLITS as tensors) and "recipe", set once


def equal_parts(idx, max_slots: int, workers: int = 1) -> list[list[int]]:
    """``idx`` cut, in order, into the fewest equal parts (sizes differ by at most one) of at most
    ``max_slots`` each; with ``workers > 1`` their number is raised to a multiple of ``workers``
    (at most one part per index), so every worker gets as many parts."""
    idx = np.asarray(idx, dtype=np.int64)
    k = math.ceil(len(idx) / max_slots)
    k = min(len(idx), workers * math.ceil(k / workers)) if workers > 1 else k
    return [list(map(int, part)) for part in np.array_split(idx, max(k, 1))]


def to_numpy(tensors: dict) -> dict[str, np.ndarray]:
    """A dict of tensors (a state dict) as numpy arrays, sharing memory: what crosses between processes."""
    return {k: v.detach().numpy() for k, v in tensors.items()}


def from_numpy(arrays: dict) -> dict[str, torch.Tensor]:
    """The inverse of :func:`to_numpy` (sharing memory)."""
    return {k: torch.from_numpy(v) for k, v in arrays.items()}


def run_jobs(fn, jobs: list[tuple], workers: int, initializer=None, initargs: tuple = ()):
    """``fn(*job)`` for every job, yielded as ``(job index, result)``: here, in order, when
    ``workers <= 1`` or there is one job; else in a pool of ``workers`` spawned processes (each
    started with ``initializer(*initargs)``), as they complete. ``fn`` must be a module-level function
    (it is pickled by name)."""
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            yield i, fn(*job)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=initializer,
                             initargs=initargs) as pool:
        futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def run_groups(fn, jobs: list[tuple], splits, recipe, workers: int):
    """``fn(*job, data, recipe)`` for every job, yielded as ``(job index, result)`` (:func:`run_jobs`):
    here with ``data = splits``, or in spawned workers with the :data:`SPLITS` of ``splits`` sent once."""
    if workers <= 1 or len(jobs) <= 1:
        yield from run_jobs(fn, [(*job, splits, recipe) for job in jobs], 1)
        return
    arrays = to_numpy({k: getattr(splits, k) for k in SPLITS})
    yield from run_jobs(_in_worker, [(fn, *job) for job in jobs], workers, _init_worker, (arrays, recipe))


def _init_worker(arrays: dict, recipe) -> None:
    """A spawned worker: one torch thread, the training and validation tensors (sent once, as numpy)."""
    torch.set_num_threads(1)
    _WORKER["data"] = SimpleNamespace(**from_numpy(arrays))
    _WORKER["recipe"] = recipe


def _in_worker(fn, *job):
    """One job in a spawned worker, on the data and recipe :func:`_init_worker` received."""
    return fn(*job, _WORKER["data"], _WORKER["recipe"])
