"""One search from a parsed configuration: check everything, prepare the study, run the workers.

Order matters for "an existing study untouched": the configuration, data, model, checkpoint and
search space (e.g. node names) are all validated before the storage is opened; only then is the
study created or resumed. With ``workers > 1`` the parent prepares the study once, then starts the
workers with ``multiprocessing`` (spawn: a clean interpreter, no forked torch thread pools), each
rebuilding its own context and joining the study, and shows a progress bar by polling the study.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from lab_utils.data import load_dataset
from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.progress import progress_bar
from lab_utils.search import faults, outputs, strategy
from lab_utils.search import storage as st
from lab_utils.search.space import SpaceContext, get_space
from lab_utils.training.checkpoints import load_checkpoint_file, load_weights


def build_context(cfg, out_dir: Path | None, progress: bool = False, dry_run: bool = False):
    """Data, model (+ checkpoint) and the search space, all validated; returns (space, splits).

    ``dry_run`` (``search --check``): a space must not train or write anything while being built.
    """
    space_cls = get_space(cfg.space.name)
    model_args = dict(cfg.model_args)
    ckpt = None
    if cfg.load is not None:
        ckpt = Path(cfg.load)
        try:
            obj = load_checkpoint_file(ckpt)
        except LabError as exc:  # name the key, as every config error does
            raise LabError(f"load: {exc}") from None
        if obj.get("model") not in (None, cfg.model):
            raise LabError(f"load: checkpoint {ckpt} is for model {obj['model']!r}, the config searches {cfg.model!r}")
        model_args = {**obj.get("model_args", {}), **model_args}
    elif space_cls.needs_checkpoint:
        raise LabError(f"load: space {cfg.space.name!r} searches a trained model; pass --load CKPT (or load = \"...\")")
    model = build_model(cfg.model, **model_args)
    if ckpt is not None:
        try:
            load_weights(model, ckpt)
        except LabError as exc:
            raise LabError(f"load: {exc}") from None
    model.eval()
    splits = load_dataset(cfg.dataset, n_samples=cfg.n_samples, data_seed=cfg.data_seed, path=cfg.data_path)
    try:
        with torch.inference_mode():
            model(splits.x_val[:2])
    except Exception as exc:  # noqa: BLE001 - shape mismatch between model and data set
        raise LabError(f"model {cfg.model!r} does not accept {cfg.dataset} inputs ({type(exc).__name__})") from None
    ctx = SpaceContext(model_name=cfg.model, model=model, splits=splits, model_args=model_args, checkpoint=ckpt,
                       eval_split=cfg.eval_split, seed=cfg.seed, out_dir=out_dir, recipe=cfg.recipe(),
                       batch_size=cfg.batch_size, metrics=cfg.strategy.metric_names, progress=progress,
                       eval_samples=cfg.strategy.eval_samples, compare_to=cfg.strategy.compare_to, dry_run=dry_run)
    return space_cls(cfg.space, ctx), splits


def _worker_main(cfg, out_dir, url, study_name, index, timeout, quiet):
    """Body of one worker process (spawned)."""
    faults.worker_index = index  # LAB_FAULT_KILL=POINT:N:WORKER (tests only)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        space, _ = build_context(cfg, out_dir)
        sampler = strategy.make_sampler(cfg.strategy.sampler, cfg.seed + index, space, cfg.strategy.n_startup_trials)
        study = optuna.load_study(study_name=study_name, storage=st.open_storage(url), sampler=sampler)
        strategy.work(cfg, space, study, timeout=timeout)
    except LabError as exc:
        print(f"error: worker {index}: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def run_search(cfg, out_dir, *, storage_url: str | None = None, study_name: str = "search", workers: int = 1,
               progress: bool = True, print_fn=print) -> int:
    """Run (or resume) a search; write outputs; return an exit status (0, or 130 if interrupted)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out_dir = Path(out_dir)
    if workers < 1:
        raise LabError(f"--workers: must be >= 1, got {workers}")
    space, splits = build_context(cfg, out_dir, progress=False)
    url = storage_url or st.default_storage_url(out_dir, workers)
    n_conf, n_idx = space.n_configurations(), space.index_combinations()
    sampler = strategy.make_sampler(cfg.strategy.sampler, cfg.seed, space, cfg.strategy.n_startup_trials)
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

    def n_done():
        return sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    total = n_done() + sum(1 for _ in study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)))
    bar = progress_bar(total=total, initial=n_done(), desc="search", progress=progress, leave=False)
    status = 0
    try:
        if workers == 1:
            strategy.work(cfg, space, study, timeout=cfg.strategy.timeout, progress=bar)
        else:
            ctx = mp.get_context("spawn")
            procs = [ctx.Process(target=_worker_main, args=(cfg, out_dir, url, study_name, i, cfg.strategy.timeout,
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
    except KeyboardInterrupt:
        status = 130
    finally:
        bar.close()
        result = outputs.write_outputs(out_dir, cfg, study, space, splits)
    s = result["summary"]
    if status == 130:
        print_fn(f"interrupted: the running trial was marked failed and re-queued; {s['complete']} trial(s) kept "
                 f"in {out_dir}. Run the same command again to resume.")
        return status
    print_fn(f"{s['complete']} trials complete ({s['failed']} failed, {s['waiting']} waiting); "
             f"{s['unique_configurations_evaluated']} unique configurations evaluated of {n_conf} "
             f"({n_idx} index combinations); {s['evaluations_from_cache']} from the evaluation cache")
    if result["best"]:
        print_fn("Best trial(s):\n" + outputs.best_table(result["best"]))
    print_fn(f"outputs: {out_dir}/trials.csv, best.json, config.toml")
    return status
