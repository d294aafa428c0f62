"""The Optuna search strategy: the objective, study set-up and the worker loop.

How a search runs (``run_search`` in :mod:`.run`):

1. **Prepare** (once per command, before any worker): create the study (or load it, checking it
   was made by the same space, metrics and data), recover trials left RUNNING by killed workers
   (:mod:`.storage`), then queue the first batch of the plan (:class:`QueueFiller`; the rest is
   queued batch by batch as the queue drains, so the first trial starts at once whatever
   ``n_trials`` is). Exhaustive samplers (``brute-force``, ``grid``) plan the first ``n_trials``
   unique configurations in the seeded order of
   :func:`~lab_utils.search.samplers.brute_force_positions` (the replay's order too), decoded one
   at a time: a space of 2**30 configurations costs only what is queued. Optuna's
   ``BruteForceSampler`` alone is not exactly-once across processes (three processes on one
   journal file completed 147 trials for a 144-point space), the queue is. Other samplers queue
   empty "budget" trials up to ``n_trials`` in total; the sampler fills in their parameters when a
   worker takes one, so the total is exact across workers and a rerun of a finished study does
   nothing. Every queued trial names its slot (``lab:slot``); a slot queued twice by racing
   fillers is run once (:func:`claim`), and configurations the study already ran under another
   sampler are not queued again.
2. **Work** (one process, or ``--workers N`` processes on one study): take a waiting trial (topping
   up the queue from the plan when it is empty), suggest
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

from lab_utils.cache import canonical
from lab_utils.errors import LabError, is_storage_error
from lab_utils.search import storage as st
from lab_utils.search.faults import fault_point
from lab_utils.search.samplers import brute_force_positions
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
            "eval_split": cfg.eval_split, "eval_samples": cfg.strategy.eval_samples,
            **({"qat": cfg.qat_recipe().as_dict()} if cfg.strategy.basic_train is not None else {})}


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

    def prefetch(self, config: dict, waiting) -> None:
        """Let a space that trains (``prefetch(config, upcoming)``) train ``config`` together with the
        configurations of queued trials (``waiting``: their fixed parameters) not yet evaluated."""
        if not self.space.prefetches or config_key(config) in self.cache:
            return  # post-training spaces: nothing to do, and no per-trial decoding of the queue
        upcoming = []
        for params in waiting:
            try:
                other = self.space.decode(params)
            except (KeyError, IndexError, TypeError):  # a budget trial (no parameters yet)
                continue
            if config_key(other) not in self.cache and other != config:
                upcoming.append(other)
        self.space.prefetch(config, upcoming)

    def run_trial(self, trial, waiting=()) -> list[float]:
        t0 = time.perf_counter()
        config = self.space.suggest(trial)
        self.prefetch(config, waiting)
        metrics, cached = self.metrics(config)
        fault_point("evaluated")
        values, scaled = self.values(metrics)
        # One user attribute (one storage write) holding MASE's per-trial attributes and ours.
        trial.set_user_attr("result", {
            "config_key": config_key(config), "config": config,
            "software_metrics": {k: v for k, v in metrics.items() if k in SOFTWARE_METRICS},
            "hardware_metrics": {k: v for k, v in metrics.items() if k in HARDWARE_METRICS},
            "scaled_metrics": scaled, "sampled_config": self.space.sampled_config(config),
            "cached": cached, "eval_seconds": time.perf_counter() - t0,
            **({"trained_now": bool(self.space.last_trained) and not cached}
               if self.space.last_trained is not None else {})})
        fault_point("result_written")
        return values


# ---------------------------------------------------------------------------- study set-up
def create_or_load(cfg, space, storage, study_name: str, sampler=None):
    """Create the study (recording its fingerprint) or load it and check the fingerprint."""
    fp = fingerprint(cfg, space)
    directions = cfg.strategy.directions
    try:  # load first: a failed create would still append a record to a journal file
        study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
    except KeyError:
        try:
            study = optuna.create_study(storage=storage, study_name=study_name, directions=directions,
                                        sampler=sampler)
            study.set_user_attr("lab:fingerprint", fp)
            return study, True
        except optuna.exceptions.DuplicatedStudyError:  # another process created it just now
            study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
    old = study.user_attrs.get("lab:fingerprint")
    for _ in range(50):  # a creator on another process may not have written it yet
        if old is not None:
            break
        time.sleep(0.1)
        old = optuna.load_study(study_name=study_name, storage=storage).user_attrs.get("lab:fingerprint")
    if old != canonical(fp):
        diff = sorted(k for k in fp if (old or {}).get(k) != canonical(fp[k]))
        raise LabError(f"study {study_name!r} was made with a different {', '.join(diff) or 'configuration'}; "
                       "use another --out or --study-name to start a new search")
    return study, False


QUEUE_BATCH = 512  # trials enqueued at a time: the first trial starts after one batch, not the whole plan
LIVE = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)


def params_key(params: dict) -> str:
    """The queue slot of a configuration (its index parameters, keys sorted)."""
    return "c:" + json.dumps(params, sort_keys=True)


def slots_of(trial) -> set[str]:
    """The queue slots a trial occupies: its ``lab:slot`` (``b:<i>`` for the i-th budget trial of a
    non-exhaustive sampler, ``c:<params>`` for an exhaustive one) and, once it has parameters, its
    configuration (so switching from TPE to brute force does not queue what TPE already ran)."""
    out = set()
    if trial.system_attrs.get("lab:slot"):
        out.add(trial.system_attrs["lab:slot"])
    fixed = trial.system_attrs.get("fixed_params")
    if fixed:
        out.add(params_key(fixed))
    elif trial.params:
        out.add(params_key(trial.params))
    return out


def queue_slot(trial) -> str | None:
    """The one slot a queued trial was enqueued for (older versions' trials: their fixed parameters)."""
    fixed = trial.system_attrs.get("fixed_params")
    return trial.system_attrs.get("lab:slot") or (params_key(fixed) if fixed else None)


class QueueFiller:
    """Fill Optuna's waiting queue in batches of at most ``batch`` trials, never more than planned.

    The plan: exhaustive samplers (brute force, grid) queue the first ``min(n_trials, n)``
    configurations of the seeded order (:func:`~lab_utils.search.samplers.brute_force_positions`,
    decoded one at a time with :meth:`SearchSpace.configuration`: nothing else is materialised);
    other samplers queue empty budget trials ``b:0 .. b:n_trials-1`` minus those the study already
    holds. A slot counts as taken when a COMPLETE, RUNNING or WAITING trial holds it, or a trial that
    gave up in this run (``run_id``: its failures are not retried until the next command).

    Two fillers racing (two workers topping up at once, two machines on one database) can queue a
    slot twice; :func:`claim` drops the later copy (PRUNED, ``lab:duplicate_of``) so each slot is
    run once. ``fill`` scans forward from a cursor, so topping up a plan of a million trials costs
    one pass over it in total.
    """

    def __init__(self, cfg, space, study, n_trials: int, run_id: str = "", batch: int = QUEUE_BATCH):
        self.cfg, self.space, self.study, self.run_id, self.batch = cfg, space, study, run_id, batch
        self.exhaustive = cfg.strategy.sampler in EXHAUSTIVE
        n_conf = space.n_configurations()
        self.planned = min(n_trials, n_conf) if self.exhaustive else n_trials
        self._positions = brute_force_positions(n_conf, cfg.seed, n_trials) if self.exhaustive else None

    def _taken(self, trials) -> set[str]:
        taken = set()
        for t in trials:
            if t.state in LIVE or (t.state == TrialState.FAIL and self.run_id
                                   and t.system_attrs.get("lab:gave_up") == self.run_id):
                taken |= slots_of(t)
        return taken

    def fill(self, trials=None) -> int:
        """Enqueue up to ``batch`` missing trials of the plan; returns how many were enqueued."""
        storage = self.study._storage
        if trials is None:
            trials = storage.get_all_trials(self.study._study_id, deepcopy=False)
        taken = self._taken(trials)
        if self._positions is None:
            # n_trials is the study's total: live trials without a budget slot (an exhaustive
            # sampler's, or an older version's) take budget slots 0, 1, ... first
            other = sum(1 for t in trials if t.state in LIVE
                        and not str(t.system_attrs.get("lab:slot", "")).startswith("b:"))
            self._positions = iter(range(min(other, self.planned), self.planned))
        n = 0
        for j in self._positions:
            if self.exhaustive:
                params = self.space.encode(self.space.configuration(j))
                slot = params_key(params)
            else:
                params, slot = {}, f"b:{j}"
            if slot in taken:
                continue
            storage.create_new_trial(self.study._study_id, template_trial=create_trial(
                state=TrialState.WAITING, system_attrs={"fixed_params": params, "lab:slot": slot}))
            fault_point("enqueued")
            n += 1
            if n >= self.batch:
                break
        return n


def fill_queue(cfg, space, study, n_trials: int, batch: int | None = None) -> dict:
    """Enqueue the whole plan (``batch=None``) or its next batch; returns counts for the summary."""
    trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
    already = sum(t.state in LIVE for t in trials)
    filler = QueueFiller(cfg, space, study, n_trials, batch=batch or n_trials + 1)
    return {"enqueued": filler.fill(trials), "already": already}


def claim(study, trials) -> int | None:
    """Take one WAITING trial exactly once (:func:`~lab_utils.search.storage.claim_waiting`), dropping
    duplicate queue entries: a claimed trial whose slot a COMPLETE or RUNNING trial, or an earlier
    WAITING one, still holds is marked PRUNED with ``lab:duplicate_of`` and the next one is taken.

    ``trials`` is the caller's recent snapshot; a trial queued after it (another filler's) makes
    this read the study again, and a holder is re-read before anything is dropped.
    """
    storage = study._storage
    while True:
        trial_id = st.claim_waiting(study)
        if trial_id is None:
            return None
        mine = storage.get_trial(trial_id)
        slot = queue_slot(mine)
        if slot is None:
            return trial_id
        if all(t._trial_id != trial_id for t in trials):
            trials = storage.get_all_trials(study._study_id, deepcopy=False)
        dup = None
        for o in trials:
            if o._trial_id == trial_id or queue_slot(o) != slot or o.state not in LIVE:
                continue
            if o.state == TrialState.WAITING and o.number > mine.number:
                continue
            if storage.get_trial(o._trial_id).state in LIVE:
                dup = o
                break
        if dup is None:
            return trial_id
        storage.set_trial_system_attr(trial_id, "lab:duplicate_of", dup.number)
        storage.set_trial_system_attr(trial_id, "lab:fail_reason", f"duplicate queue entry of trial {dup.number}")
        storage.set_trial_state_values(trial_id, state=TrialState.PRUNED)


# ---------------------------------------------------------------------------- the worker loop
def work(cfg, space, study, *, timeout: float | None = None, progress=None, wait_for_others: bool = True,
         filler: QueueFiller | None = None, run_id: str = "") -> dict:
    """Take waiting trials until the plan is done (and no other worker's trial may come back).

    When the queue is empty, ``filler`` (if given) tops it up with the next batch of the plan; a
    trial that fails three times gives up for this run (``lab:gave_up`` = ``run_id``).
    """
    objective = Objective(cfg, space)
    t_end = None if timeout is None else time.monotonic() + timeout
    done = 0
    while t_end is None or time.monotonic() < t_end:
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        objective.refresh(trials)
        st.recover_stale(study, trials=trials)
        trial_id = claim(study, trials)
        if trial_id is None:
            if filler is not None and filler.fill() > 0:
                continue
            running = [t for t in trials if t.state == TrialState.RUNNING]
            if running and wait_for_others:  # a killed worker's trial comes back to the queue
                time.sleep(0.5)
                continue
            break
        trial = optuna.Trial(study, trial_id)
        fault_point("claimed")
        try:
            waiting = [t.system_attrs.get("fixed_params") for t in trials
                        if t.state == TrialState.WAITING and t._trial_id != trial_id and t.system_attrs.get("fixed_params")]
            with st.Heartbeat(study._storage, trial_id):
                values = objective.run_trial(trial, waiting)
            study.tell(trial, values)
            fault_point("told")
        except KeyboardInterrupt:
            st.fail_and_requeue(study, trial_id, "interrupted (Ctrl-C, SIGTERM or SIGHUP)")
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
            if is_storage_error(exc):
                raise  # the storage itself failed: nothing can be recorded; the command says so
            retries = int(frozen.system_attrs.get("lab:retries", 0))
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            if retries < 2:  # retried on the next take or rerun; a deterministic bug stops after 2
                st.fail_and_requeue(study, trial_id, reason)
            else:
                study._storage.set_trial_system_attr(trial_id, "lab:fail_reason", reason)
                study._storage.set_trial_system_attr(trial_id, "lab:gave_up", run_id or "-")
                # through the storage, not study.tell: the sampler's after_trial hook may raise
                # (BruteForceSampler calls study.stop() outside optimize once its grid is used up)
                study._storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
            if isinstance(exc, LabError):
                raise
            continue
        done += 1
        if progress is not None:
            progress.update(1)
    return {"trials": done, "evaluations": objective.evaluations}
