"""Test-only fault injection: make this process die by SIGKILL at a named point.

``LAB_FAULT_KILL=POINT:N`` (or ``POINT:N:WORKER``) makes the process send itself SIGKILL the
``N``-th time it reaches ``fault_point(POINT)`` (only in search worker ``WORKER`` when given; the
single-process search is worker 0). Unset, ``fault_point`` is one dict lookup and does nothing.
It exists so that ``tests/system/test_faults.py`` and ``bench/bench_faults.py`` can kill a real search
at exact moments (between two storage writes, in the middle of filling the queue) instead of
guessing them with sleeps; it never sleeps and is never set by the project itself.

Points: ``enqueued`` (after each trial put in the waiting queue), ``claimed`` (a trial taken,
before its evaluation), ``evaluated`` (metrics computed, nothing stored), ``result_written`` (the
trial's result attribute stored, the trial not yet COMPLETE), ``told`` (the trial COMPLETE),
``outputs`` (``trials.csv`` written, ``best.json`` not yet).
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("LAB_FAULT_KILL", "")
_counts: dict[str, int] = {}
worker_index = 0  # set by a search worker process


def fault_point(name: str) -> None:
    """SIGKILL this process if ``LAB_FAULT_KILL`` names this point and its count is reached."""
    if not _SPEC:
        return
    point, n, *worker = _SPEC.split(":")
    if point != name or (worker and int(worker[0]) != worker_index):
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == int(n):
        os.kill(os.getpid(), signal.SIGKILL)
