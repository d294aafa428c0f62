"""One search from a parsed configuration: prepare the study, run the workers, finish.

:func:`run_search` runs three phases and returns a :class:`SearchResult` (the exit status, and the
space, study and splits built in this process, so a notebook needs no second context):

1. :func:`prepare_study`: the configuration, data, model, checkpoint and search space (e.g. node
   names) are all validated (:func:`~lab_utils.search.space.build_context`) before anything is
   written: an existing study stays untouched by a bad command. Then ``--out`` is locked for this
   command (:func:`lab_utils.locking.hold_folder`: a second command on the same folder is refused
   naming the holder), the study is created or resumed, lost trials re-queued and the first batch
   of the plan queued (:mod:`.strategy`).
2. :func:`run_workers`: one worker in this process, or ``workers > 1`` processes (at most 4 per
   core) started with ``multiprocessing`` (spawn: a clean interpreter, no forked torch thread
   pools), each rebuilding its own context and joining the study, with a progress bar polled from
   the study. Ctrl-C, SIGTERM and SIGHUP give status 130: workers re-queue their running trial and
   exit, live ones are stopped by the parent (:func:`_stop_workers`), and a worker whose parent
   dies (even by SIGKILL) gets SIGTERM from the kernel, so none is left orphaned.
3. :func:`finish`: ``trials.csv``, ``best.json`` and ``config.toml`` (:mod:`.outputs`), written
   also when a worker failed or the search was interrupted, then the printed summary. A search in
   which no trial completed returns 1 with the first failure's message.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from lab_utils.errors import LabError, interrupt_on_signals
from lab_utils.locking import hold_folder
from lab_utils.progress import progress_bar
from lab_utils.search import faults, outputs, strategy
from lab_utils.search import storage as st
from lab_utils.search.config import MAX_TRIALS, max_workers
from lab_utils.search.samplers import make_sampler
from lab_utils.search.space import SearchSpace, build_context
from lab_utils.training.train import num_threads


@dataclass
class SearchResult:
    """What :func:`run_search` returns: ``status`` (0; 1 if no trial completed; 130 if interrupted), the ``space`` and
    ``splits`` built in this process, and the ``study`` (the Optuna study the search ran on)."""
    status: int
    space: SearchSpace
    study: optuna.Study
    splits: Any  # lab_utils.data.Splits


@dataclass
class _Prepared:
    space: SearchSpace
    splits: Any
    study: optuna.Study
    url: str
    filler: strategy.QueueFiller
    run_id: str
    lock: contextlib.ExitStack


STOP_GRACE_S = 20.0  # after an interrupt, how long workers get to re-queue their trial before SIGKILL


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when its parent dies (prctl PR_SET_PDEATHSIG), so a search killed
    with SIGKILL leaves no orphans; its trials are recovered as stale by the next run."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _worker_main(cfg, out_dir, url, study_name, index, timeout, quiet, run_id="", parent=0):
    """Body of one worker process (spawned): one torch thread, its own context, then work."""
    faults.worker_index = index  # LAB_FAULT_KILL=POINT:N:WORKER (tests only)
    interrupt_on_signals()  # SIGTERM/SIGHUP (the parent stopping us) = Ctrl-C: re-queue the trial, exit 130
    _die_with_parent()
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(130)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with num_threads(1):
            space, _ = build_context(cfg, out_dir)
            sampler = make_sampler(cfg.strategy.sampler, cfg.seed + index, space.choices(),
                                   n_startup_trials=cfg.strategy.n_startup_trials)
            study = optuna.load_study(study_name=study_name, storage=st.open_storage(url), sampler=sampler)
            filler = strategy.QueueFiller(cfg, space, study, cfg.strategy.n_trials, run_id)
            strategy.work(cfg, space, study, timeout=timeout, filler=filler, run_id=run_id)
    except LabError as exc:
        print(f"error: worker {index}: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def prepare_study(cfg, out_dir: Path, *, storage_url: str | None, study_name: str, workers: int,
                  print_fn=print) -> _Prepared:
    """Build and check everything, lock ``out_dir``, then create or resume the study and queue its
    first batch (the rest is queued as workers drain it, :class:`~lab_utils.search.strategy.QueueFiller`)."""
    space, splits = build_context(cfg, out_dir, progress=False)
    lock = contextlib.ExitStack()
    lock.enter_context(hold_folder(out_dir, "search"))  # after validation: a bad command writes nothing
    try:
        url = storage_url or st.default_storage_url(out_dir, workers)
        n_conf, n_idx = space.n_configurations(), space.index_combinations()
        sampler = make_sampler(cfg.strategy.sampler, cfg.seed, space.choices(),
                               n_startup_trials=cfg.strategy.n_startup_trials)
        storage = st.open_storage(url)
        study, created = strategy.create_or_load(cfg, space, storage, study_name, sampler)
        recovered = st.recover_stale(study) if storage_url is None else []
        n_trials = cfg.strategy.n_trials
        if cfg.strategy.sampler in strategy.EXHAUSTIVE and n_trials < n_conf:
            print_fn(f"note: n_trials={n_trials} covers {n_trials} of {n_conf:,} unique configurations; "
                     f"{'raise --n-trials to ' + format(n_conf, ',') + ' to cover them all' if n_conf <= MAX_TRIALS else 'the space is too large to cover (at most ' + format(MAX_TRIALS, ',') + ' trials)'}")
        run_id = uuid.uuid4().hex
        filler = strategy.QueueFiller(cfg, space, study, n_trials, run_id)
        enqueued = filler.fill()
    except BaseException:
        lock.close()
        raise
    print_fn(f"search {cfg.space.name} on {cfg.model}, {splits.label}, split {cfg.eval_split}: "
             f"{n_idx:,} index combinations, {n_conf:,} unique configurations; sampler {cfg.strategy.sampler}; "
             f"study {study_name!r} in {st.mask_url(url)} ({'new' if created else 'resumed'}"
             f"{f', {len(recovered)} lost trial(s) re-queued' if recovered else ''}); "
             f"{enqueued} trial(s) queued{' (more as they finish)' if enqueued >= filler.batch else ''}, "
             f"{workers} worker(s)")
    return _Prepared(space, splits, study, url, filler, run_id, lock)


def run_workers(cfg, prep: _Prepared, out_dir: Path, *, study_name: str, workers: int, progress: bool) -> int:
    """Work the queue (here, or in ``workers`` spawned processes); 0, or 130 on Ctrl-C."""
    study = prep.study

    def n_done():
        return sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    done0 = n_done()
    total = max(prep.filler.planned, done0 + sum(1 for _ in study.get_trials(
        deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING))))
    bar = progress_bar(total=total, initial=done0, desc="search", progress=progress, leave=False)
    try:
        if workers == 1:
            strategy.work(cfg, prep.space, study, timeout=cfg.strategy.timeout, progress=bar, filler=prep.filler,
                          run_id=prep.run_id)
            return 0
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_worker_main, args=(cfg, out_dir, prep.url, study_name, i, cfg.strategy.timeout,
                                                        not progress, prep.run_id, os.getpid()))
                 for i in range(workers)]
        try:
            for p in procs:
                p.start()
            # poll EVERY child (a list, not any()'s short-circuit): is_alive() reaps a killed
            # worker, which would otherwise linger as a zombie whose pid looks alive to the others
            while any([p.is_alive() for p in procs]):
                time.sleep(0.5)
                bar.n = n_done()
                bar.refresh()
        finally:
            _stop_workers(procs)
        bad = [p.exitcode for p in procs if p.exitcode not in (0, None)]
        if 130 in bad or -2 in bad:
            raise KeyboardInterrupt
        if bad:
            raise LabError(f"{len(bad)} of {workers} workers failed (exit {bad}); see their errors above; "
                           "rerun the same command to resume")
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        bar.close()


def _stop_workers(procs) -> None:
    """Stop every worker still alive (the parent was interrupted, or failed) and reap them all.

    A terminal's Ctrl-C reaches the workers itself; ``kill PARENT`` (SIGTERM) or a closed terminal
    (SIGHUP) does not, so live workers get SIGTERM (each re-queues its running trial and exits 130),
    and SIGKILL after :data:`STOP_GRACE_S` seconds (their trials are then recovered as stale).
    """
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    try:
        deadline = time.monotonic() + 2.0
        while any(p.is_alive() for p in procs if p.pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # a terminal's Ctrl-C: they are stopping on their own
        for p in procs:
            if p.pid and p.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            if p.pid:
                p.join(STOP_GRACE_S)
                if p.is_alive():
                    p.kill()
                    p.join()
    finally:
        signal.signal(signal.SIGINT, old)


def finish(cfg, prep: _Prepared, out_dir: Path, status: int | None, print_fn=print) -> int | None:
    """Write the outputs; then, unless an error is on its way up (``status`` None), print the summary.

    Returns the command's status: ``status``, or 1 with an ``error:`` line naming the first failure
    when no trial completed (a search whose every trial failed is not a success)."""
    if status is None:  # an error is on its way up: write what can be written, never hide that error
        with contextlib.suppress(Exception):
            outputs.write_outputs(out_dir, cfg, prep.study, prep.space, prep.splits)
        return None
    result = outputs.write_outputs(out_dir, cfg, prep.study, prep.space, prep.splits)
    s = result["summary"]
    if status == 130:
        print_fn(f"interrupted: the running trial was marked failed and re-queued; {s['complete']} trial(s) kept "
                 f"in {out_dir}. Run the same command again to resume.")
        return status
    dropped = f", {s['duplicates_dropped']} duplicate queue entries dropped" if s["duplicates_dropped"] else ""
    print_fn(f"{s['complete']} trials complete ({s['failed']} failed, {s['waiting']} waiting{dropped}); "
             f"{s['unique_configurations_evaluated']} unique configurations evaluated of {s['unique_configurations']} "
             f"({s['index_combinations']} index combinations); {s['evaluations_from_cache']} from the evaluation cache")
    if result["best"]:
        print_fn("Best trial(s):\n" + outputs.best_table(result["best"]))
    print_fn(f"outputs: {out_dir}/trials.csv, best.json, config.toml")
    if s["complete"] == 0:
        first = min((t for t in prep.study.get_trials(deepcopy=False, states=(TrialState.FAIL,))),
                    key=lambda t: t.number, default=None)
        why = (f"every trial failed; the first (trial {first.number}): {first.system_attrs.get('lab:fail_reason')}"
               if first is not None else "no trial was run (timeout reached before the first one finished?)")
        print(f"error: search failed, no trial completed: {why}", file=sys.stderr)
        return 1
    return status


def run_search(cfg, out_dir, *, storage_url: str | None = None, study_name: str = "search", workers: int = 1,
               progress: bool = True, print_fn=print) -> SearchResult:
    """Run (or resume) a search, write its outputs and print its summary (module docstring)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out_dir = Path(out_dir)
    if not 1 <= workers <= max_workers():
        raise LabError(f"--workers: must be 1..{max_workers()} (4 per core of this machine), got {workers}")
    prep = prepare_study(cfg, out_dir, storage_url=storage_url, study_name=study_name, workers=workers,
                         print_fn=print_fn)
    status = None
    with prep.lock:
        try:
            status = run_workers(cfg, prep, out_dir, study_name=study_name, workers=workers, progress=progress)
        finally:  # also after a failed worker: keep what finished
            status = finish(cfg, prep, out_dir, status, print_fn)
    return SearchResult(status, prep.space, prep.study, prep.splits)
