"""The slot trainers' process plumbing: group cuts by hand count, the numpy hand-off, jobs run here.

Spawned workers are checked where they matter, bit for bit against one process, by
``tests/training/test_batched.py``, ``tests/training/test_qat.py`` and ``tests/search/test_replay.py``.
"""

import operator

import torch

from lab_utils.training import slots


def test_equal_parts_by_hand():
    assert slots.equal_parts(range(5), 48) == [[0, 1, 2, 3, 4]]
    assert [len(p) for p in slots.equal_parts(range(49), 48)] == [25, 24]  # two parts, not 48 + 1
    assert [len(p) for p in slots.equal_parts(range(144), 48, workers=2)] == [36] * 4  # 3 parts -> 4
    assert slots.equal_parts(range(3), 48, workers=4) == [[0], [1], [2]]  # never an empty part
    assert slots.equal_parts([7, 3, 9], 2) == [[7, 3], [9]]  # the given order, plain ints
    assert all(type(i) is int for p in slots.equal_parts([7, 3, 9], 2) for i in p)
    assert slots.equal_parts([], 48) == [[]]


def test_numpy_hand_off_round_trips_and_shares_memory():
    state = {"w": torch.arange(6.0).view(2, 3), "n": torch.tensor(3)}
    back = slots.from_numpy(slots.to_numpy(state))
    assert back.keys() == state.keys() and all(torch.equal(back[k], state[k]) for k in state)
    back["w"][0, 0] = 9.0
    assert state["w"][0, 0] == 9.0


def test_jobs_run_here_in_order_with_one_worker_or_one_job():
    assert list(slots.run_jobs(operator.add, [(1, 2), (3, 4)], workers=1)) == [(0, 3), (1, 7)]
    got = list(slots.run_groups(slice, [(1,), (2,)], "data", "recipe", workers=1))
    assert got == [(0, slice(1, "data", "recipe")), (1, slice(2, "data", "recipe"))]
    assert list(slots.run_groups(slice, [(1,)], "data", "recipe", workers=2)) == [(0, slice(1, "data", "recipe"))]
