"""One search from a parsed configuration: prepare the study, run the workers, finish.

:func:`run_search` runs three phases and returns a :class:`SearchResult` (the exit status, and the
space, study and splits built in this process, so a notebook needs no second context):

1. :func:`prepare_study`: the configuration, data, model, checkpoint and search space (e.g. node
   names) are all validated (:func:`~lab_utils.search.space.build_context`) before the storage is
   opened: an existing study stays untouched by a bad command. Only then is the study created or
   resumed, lost trials re-queued and the waiting queue filled (:mod:`.strategy`).
2. :func:`run_workers`: one worker in this process, or ``workers > 1`` processes started with
   ``multiprocessing`` (spawn: a clean interpreter, no forked torch thread pools), each rebuilding
   its own context and joining the study, with a progress bar polled from the study. Ctrl-C gives
   status 130.
3. :func:`finish`: ``trials.csv``, ``best.json`` and ``config.toml`` (:mod:`.outputs`), written
   also when a worker failed or the search was interrupted, then the printed summary.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from lab_utils.errors import LabError
from lab_utils.progress import progress_bar
from lab_utils.search import faults, outputs, strategy
from lab_utils.search import storage as st
from lab_utils.search.samplers import make_sampler
from lab_utils.search.space import SearchSpace, build_context
from lab_utils.training.train import num_threads


@dataclass
class SearchResult:
    """What :func:`run_search` returns: ``status`` (0, or 130 if interrupted), the ``space`` and
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


def _worker_main(cfg, out_dir, url, study_name, index, timeout, quiet):
    """Body of one worker process (spawned): one torch thread, its own context, then work."""
    faults.worker_index = index  # LAB_FAULT_KILL=POINT:N:WORKER (tests only)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with num_threads(1):
            space, _ = build_context(cfg, out_dir)
            sampler = make_sampler(cfg.strategy.sampler, cfg.seed + index, space.choices(),
                                   n_startup_trials=cfg.strategy.n_startup_trials)
            study = optuna.load_study(study_name=study_name, storage=st.open_storage(url), sampler=sampler)
            strategy.work(cfg, space, study, timeout=timeout)
    except LabError as exc:
        print(f"error: worker {index}: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def prepare_study(cfg, out_dir: Path, *, storage_url: str | None, study_name: str, workers: int,
                  print_fn=print) -> _Prepared:
    """Build and check everything, then create or resume the study and fill its queue."""
    space, splits = build_context(cfg, out_dir, progress=False)
    url = storage_url or st.default_storage_url(out_dir, workers)
    n_conf, n_idx = space.n_configurations(), space.index_combinations()
    sampler = make_sampler(cfg.strategy.sampler, cfg.seed, space.choices(),
                           n_startup_trials=cfg.strategy.n_startup_trials)
    storage = st.open_storage(url)
    study, created = strategy.create_or_load(cfg, space, storage, study_name, sampler)
    out_dir.mkdir(parents=True, exist_ok=True)
    recovered = st.recover_stale(study) if workers == 1 and storage_url is None else []
    n_trials = cfg.strategy.n_trials
    if cfg.strategy.sampler in strategy.EXHAUSTIVE and n_trials < n_conf:
        print_fn(f"note: n_trials={n_trials} covers {n_trials} of {n_conf} unique configurations; "
                 f"raise --n-trials to {n_conf} to cover them all")
    filled = strategy.fill_queue(cfg, space, study, n_trials)
    print_fn(f"search {cfg.space.name} on {cfg.model}, {splits.label}, split {cfg.eval_split}: "
             f"{n_idx} index combinations, {n_conf} unique configurations; sampler {cfg.strategy.sampler}; "
             f"study {study_name!r} in {st.mask_url(url)} ({'new' if created else 'resumed'}"
             f"{f', {len(recovered)} lost trial(s) re-queued' if recovered else ''}); "
             f"{filled['enqueued']} trial(s) queued, {workers} worker(s)")
    return _Prepared(space, splits, study, url)


def run_workers(cfg, prep: _Prepared, out_dir: Path, *, study_name: str, workers: int, progress: bool) -> int:
    """Work the queue (here, or in ``workers`` spawned processes); 0, or 130 on Ctrl-C."""
    study = prep.study

    def n_done():
        return sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    total = n_done() + sum(1 for _ in study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)))
    bar = progress_bar(total=total, initial=n_done(), desc="search", progress=progress, leave=False)
    try:
        if workers == 1:
            strategy.work(cfg, prep.space, study, timeout=cfg.strategy.timeout, progress=bar)
            return 0
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_worker_main, args=(cfg, out_dir, prep.url, study_name, i, cfg.strategy.timeout,
                                                        not progress)) for i in range(workers)]
        for p in procs:
            p.start()
        try:
            # poll EVERY child (a list, not any()'s short-circuit): is_alive() reaps a killed
            # worker, which would otherwise linger as a zombie whose pid looks alive to the others
            while any([p.is_alive() for p in procs]):
                time.sleep(0.5)
                bar.n = n_done()
                bar.refresh()
        finally:
            for p in procs:
                p.join()
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


def finish(cfg, prep: _Prepared, out_dir: Path, status: int | None, print_fn=print) -> None:
    """Write the outputs; then, unless an error is on its way up (``status`` None), print the summary."""
    result = outputs.write_outputs(out_dir, cfg, prep.study, prep.space, prep.splits)
    if status is None:
        return
    s = result["summary"]
    if status == 130:
        print_fn(f"interrupted: the running trial was marked failed and re-queued; {s['complete']} trial(s) kept "
                 f"in {out_dir}. Run the same command again to resume.")
        return
    print_fn(f"{s['complete']} trials complete ({s['failed']} failed, {s['waiting']} waiting); "
             f"{s['unique_configurations_evaluated']} unique configurations evaluated of {s['unique_configurations']} "
             f"({s['index_combinations']} index combinations); {s['evaluations_from_cache']} from the evaluation cache")
    if result["best"]:
        print_fn("Best trial(s):\n" + outputs.best_table(result["best"]))
    print_fn(f"outputs: {out_dir}/trials.csv, best.json, config.toml")


def run_search(cfg, out_dir, *, storage_url: str | None = None, study_name: str = "search", workers: int = 1,
               progress: bool = True, print_fn=print) -> SearchResult:
    """Run (or resume) a search, write its outputs and print its summary (module docstring)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out_dir = Path(out_dir)
    if workers < 1:
        raise LabError(f"--workers: must be >= 1, got {workers}")
    prep = prepare_study(cfg, out_dir, storage_url=storage_url, study_name=study_name, workers=workers,
                         print_fn=print_fn)
    status = None
    try:
        status = run_workers(cfg, prep, out_dir, study_name=study_name, workers=workers, progress=progress)
    finally:  # also after a failed worker: keep what finished
        finish(cfg, prep, out_dir, status, print_fn)
    return SearchResult(status, prep.space, prep.study, prep.splits)
