"""The Optuna search strategy: the objective, study set-up and the worker loop.

How a search runs (``run_search`` in :mod:`.run`):

1. **Prepare** (once per command, before any worker): create the study (or load it, checking it
   was made by the same space, metrics and data), recover trials left RUNNING by killed workers
   (:mod:`.storage`), then fill Optuna's waiting queue. Exhaustive samplers (``brute-force``,
   ``grid``) enqueue every unique configuration not yet queued or done, in the seeded order of
   :func:`~lab_utils.search.samplers.brute_force_order` (the replay's order too): Optuna's
   ``BruteForceSampler`` alone is not exactly-once across processes (three processes on one
   journal file completed 147 trials for a 144-point space), the queue is. Other samplers enqueue
   empty "budget" trials up to ``n_trials`` in total; the sampler fills in their parameters when a
   worker takes one, so the total is exact across workers and a rerun of a finished study does
   nothing.
2. **Work** (one process, or ``--workers N`` processes on one study): take a waiting trial, suggest
   every parameter (:meth:`SearchSpace.suggest`), evaluate, tell. Evaluation is cached by
   configuration: a repeated configuration (TPE repeats) reuses the metrics of a completed trial,
   also across processes and resumes. A trial that fails (exception, Ctrl-C) is marked FAIL and
   its parameters are re-enqueued, so rerunning the same command retries it.
3. The objective is MASE's: ``scaled[m] = scale_m * metric_m`` over the configured metrics in
   alphabetical order; their sum with ``direction`` when ``sum_scaled_metrics``, else one objective
   per metric with its own direction (Pareto front).

The sampler (:func:`~lab_utils.search.samplers.make_sampler`) is not stored with a study, so it is
rebuilt (with its seed) on every run; worker ``i`` of several uses ``seed + i`` (seeded results
repeat only with one worker).

Private Optuna API: the queue and the trials are read and written through ``study._storage`` and
``study._study_id`` (``get_all_trials``, ``create_new_trial`` with a WAITING template trial,
``get_trial``, ``set_trial_system_attr``; :mod:`.storage` adds ``set_trial_state_values``), the
interface Optuna's own samplers and ``Study.ask`` use from inside Optuna. It is not public, so
Optuna is pinned at 5.0.0 (``requirements.txt``); check these calls before upgrading it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState, create_trial

from lab_utils.errors import LabError
from lab_utils.search import storage as st
from lab_utils.search.faults import fault_point
from lab_utils.search.samplers import brute_force_order
from lab_utils.search.space import HARDWARE_METRICS, SOFTWARE_METRICS

EXHAUSTIVE = ("brute-force", "grid")


def config_key(config: dict) -> str:
    """The evaluation cache's key of a configuration (JSON, keys sorted)."""
    return json.dumps(config, sort_keys=True, default=str)


def fingerprint(cfg, space) -> dict:
    """What must not change when a study is resumed (else its trials mean something else)."""
    return {"space": cfg.space.name, "choices": {k: list(v) for k, v in space.choices().items()},
            "metrics": [[m.name, m.scale, m.direction] for m in sorted(cfg.strategy.metrics, key=lambda m: m.name)],
            "sum_scaled_metrics": cfg.strategy.sum_scaled_metrics, "direction": cfg.strategy.direction,
            "model": cfg.model, "dataset": cfg.dataset, "n_samples": cfg.n_samples, "data_seed": cfg.data_seed,
            "eval_split": cfg.eval_split, "eval_samples": cfg.strategy.eval_samples}


@dataclass
class Objective:
    """Evaluate configurations with a cache keyed by configuration (shared through the study)."""
    cfg: object
    space: object

    def __post_init__(self):
        self.cache: dict[str, dict] = {}
        self.evaluations = 0

    def refresh(self, trials) -> None:
        """Cache the metrics of every completed trial (this process's, other workers', earlier runs')."""
        for t in trials:
            r = t.user_attrs.get("result")
            if t.state == TrialState.COMPLETE and r and r["config_key"] not in self.cache:
                self.cache[r["config_key"]] = {**r["software_metrics"], **r["hardware_metrics"]}

    def metrics(self, config: dict) -> tuple[dict, bool]:
        key = config_key(config)
        if key in self.cache:
            return self.cache[key], True
        metrics = self.space.evaluate(config)
        missing = [m for m in self.cfg.strategy.metric_names if m not in metrics]
        if missing:
            raise LabError(f"search.strategy.metrics: space {self.space.name!r} does not measure {', '.join(missing)}")
        self.cache[key] = metrics
        self.evaluations += 1
        return metrics, False

    def values(self, metrics: dict) -> tuple[list[float], dict]:
        specs = {m.name: m for m in self.cfg.strategy.metrics}
        scaled = {n: specs[n].scale * float(metrics[n]) for n in self.cfg.strategy.metric_names}
        if self.cfg.strategy.sum_scaled_metrics:
            return [sum(scaled.values())], scaled
        return list(scaled.values()), scaled

    def run_trial(self, trial) -> list[float]:
        t0 = time.perf_counter()
        config = self.space.suggest(trial)
        metrics, cached = self.metrics(config)
        fault_point("evaluated")
        values, scaled = self.values(metrics)
        # One user attribute (one storage write) holding MASE's per-trial attributes and ours.
        trial.set_user_attr("result", {
            "config_key": config_key(config), "config": config,
            "software_metrics": {k: v for k, v in metrics.items() if k in SOFTWARE_METRICS},
            "hardware_metrics": {k: v for k, v in metrics.items() if k in HARDWARE_METRICS},
            "scaled_metrics": scaled, "sampled_config": self.space.sampled_config(config),
            "cached": cached, "eval_seconds": time.perf_counter() - t0})
        fault_point("result_written")
        return values


# ---------------------------------------------------------------------------- study set-up
def create_or_load(cfg, space, storage, study_name: str, sampler=None):
    """Create the study (recording its fingerprint) or load it and check the fingerprint."""
    fp = fingerprint(cfg, space)
    directions = cfg.strategy.directions
    try:
        study = optuna.create_study(storage=storage, study_name=study_name, directions=directions,
                                    sampler=sampler)
        study.set_user_attr("lab:fingerprint", fp)
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
    old = study.user_attrs.get("lab:fingerprint")
    for _ in range(50):  # a creator on another process may not have written it yet
        if old is not None:
            break
        time.sleep(0.1)
        old = optuna.load_study(study_name=study_name, storage=storage).user_attrs.get("lab:fingerprint")
    if old != json.loads(json.dumps(fp)):
        diff = sorted(k for k in fp if (old or {}).get(k) != json.loads(json.dumps(fp[k])))
        raise LabError(f"study {study_name!r} was made with a different {', '.join(diff) or 'configuration'}; "
                       "use another --out or --study-name to start a new search")
    return study, False


def fill_queue(cfg, space, study, n_trials: int) -> dict:
    """Enqueue what is missing (see the module docstring); returns counts for the summary."""
    storage = study._storage
    trials = storage.get_all_trials(study._study_id, deepcopy=False)
    live = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)]
    if cfg.strategy.sampler in EXHAUSTIVE:
        product = space.configurations()
        configs = [product[j] for j in brute_force_order(len(product), cfg.seed)]  # the replay's order too
        budget = min(n_trials, len(configs))
        have = {json.dumps(t.system_attrs.get("fixed_params", t.params), sort_keys=True) for t in live}
        todo = [p for p in (space.encode(c) for c in configs[:budget])
                if json.dumps(p, sort_keys=True) not in have]
    else:
        todo = [{}] * max(0, n_trials - len(live))
    for p in todo:
        storage.create_new_trial(study._study_id, template_trial=create_trial(
            state=TrialState.WAITING, system_attrs={"fixed_params": p}))
        fault_point("enqueued")
    return {"enqueued": len(todo), "already": len(live)}


# ---------------------------------------------------------------------------- the worker loop
def work(cfg, space, study, *, timeout: float | None = None, progress=None, wait_for_others: bool = True) -> dict:
    """Take waiting trials until the queue is empty (and no other worker's trial may come back)."""
    objective = Objective(cfg, space)
    t_end = None if timeout is None else time.monotonic() + timeout
    done = 0
    while t_end is None or time.monotonic() < t_end:
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        objective.refresh(trials)
        st.recover_stale(study, trials=trials)
        trial_id = st.claim_waiting(study)
        if trial_id is None:
            running = [t for t in trials if t.state == TrialState.RUNNING]
            if running and wait_for_others:  # a killed worker's trial comes back to the queue
                time.sleep(0.5)
                continue
            break
        trial = optuna.Trial(study, trial_id)
        fault_point("claimed")
        try:
            with st.Heartbeat(study._storage, trial_id):
                values = objective.run_trial(trial)
            study.tell(trial, values)
            fault_point("told")
        except KeyboardInterrupt:
            st.fail_and_requeue(study, trial_id, "interrupted (Ctrl-C)")
            raise
        except Exception as exc:
            frozen = study._storage.get_trial(trial_id)
            if frozen.state == TrialState.COMPLETE:
                # Optuna stores the result in a `finally` after the sampler's after_trial; that hook
                # can raise (BruteForceSampler: "param_name mismatch" once the study holds a trial
                # that failed before its first suggest, i.e. a worker killed right after taking it).
                # The trial is complete and kept; the queue, not the sampler, decides when to stop.
                done += 1
                if progress is not None:
                    progress.update(1)
                continue
            retries = int(frozen.system_attrs.get("lab:retries", 0))
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            if retries < 2:  # retried on the next take or rerun; a deterministic bug stops after 2
                st.fail_and_requeue(study, trial_id, reason)
            else:
                study._storage.set_trial_system_attr(trial_id, "lab:fail_reason", reason)
                study.tell(trial, state=TrialState.FAIL)
            if isinstance(exc, LabError):
                raise
            continue
        done += 1
        if progress is not None:
            progress.update(1)
    return {"trials": done, "evaluations": objective.evaluations}
