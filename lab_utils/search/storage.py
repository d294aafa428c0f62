"""Where a study lives, and how trials are handed out, kept alive and recovered.

Storage (Optuna's, never our own format):

- default, one worker: ``<out>/study.db`` through ``optuna.storages.RDBStorage`` (SQLite);
- default, ``--workers N``: ``<out>/study.journal`` through ``JournalStorage(JournalFileBackend)``,
  the backend Optuna recommends for several processes on one host (SQLite is not safe there);
  once a journal exists in ``<out>`` it is used again, whatever ``--workers`` says;
- ``--storage postgresql://user:pass@host/db`` (or any SQLAlchemy URL, or ``journal:PATH``):
  several machines share one study. A password in a URL is never printed (:func:`mask_url`).

Trials are handed out from Optuna's waiting queue (``enqueue_trial``): :func:`claim_waiting`
flips one WAITING trial to RUNNING with ``storage.set_trial_state_values`` (the storages grant
that transition once, which is how Optuna's own ``ask`` pops the queue), and returns None when the
queue is empty, so a worker never creates a trial outside the queue.

Killed workers. A worker writes ``lab:worker`` (host, pid) on the trial it claims and a
``lab:heartbeat`` timestamp every :data:`HEARTBEAT_S` seconds from a thread (one mechanism for all
storages: the journal file has no heartbeat of its own). :func:`recover_stale` marks a RUNNING
trial failed when its worker is a dead process on this host, or when its heartbeat is older than
:data:`GRACE_S` (another host, or a worker killed before it wrote its attributes); the process whose
FAIL write succeeds (the storages refuse to finish a trial twice) re-enqueues the trial's
parameters, so each lost trial is retried exactly once.

Private Optuna API: claiming, failing, re-queueing and the worker attributes go through
``study._storage`` / ``study._study_id`` (``get_all_trials``, ``set_trial_state_values``,
``set_trial_system_attr``, ``create_new_trial``, ``get_trial``), the storage interface Optuna's
own ``Study.ask`` and samplers use from inside Optuna; the public ``Study`` has no "take this
WAITING trial" or "fail a trial another process runs". Because that interface is private, Optuna
is pinned at 5.0.0 (``requirements.txt``); check these calls before upgrading it.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import threading
import time
from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
from optuna.trial import TrialState, create_trial

from lab_utils.errors import LabError, mask_secrets

HEARTBEAT_S = 5.0
GRACE_S = 30.0
HOST = socket.gethostname()


def mask_url(url: str) -> str:
    """A storage URL with its password replaced by ``***`` (:func:`lab_utils.errors.mask_secrets`)."""
    return mask_secrets(url)


def default_storage_url(out_dir: Path, workers: int) -> str:
    """The study's storage in ``out_dir`` when no ``--storage`` is given (module docstring)."""
    journal, db = out_dir / "study.journal", out_dir / "study.db"
    if journal.exists():
        return f"journal:{journal}"
    if db.exists() and workers > 1:
        raise LabError(f"--workers {workers}: {db} is an SQLite study, which is not safe for several processes; "
                       "use --workers 1 to resume it, or a new --out")
    return f"journal:{journal}" if workers > 1 else f"sqlite:///{db}"


def open_storage(url: str):
    """An Optuna storage for ``url`` (``journal:PATH`` or an SQLAlchemy URL)."""
    try:
        if url.startswith("journal:"):
            path = url[len("journal:"):]
            Path(path).parent.mkdir(parents=True, exist_ok=True)

            return optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
        if not re.match(r"^[a-z0-9+]+://", url):
            raise LabError(f"--storage: {mask_url(url)!r} is not a storage URL; use sqlite:///FILE, "
                           "postgresql://USER@HOST/DB or journal:FILE")
        if url.startswith("sqlite:///"):
            db = url[len("sqlite:///"):]
            Path(db).parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.RDBStorage(url, engine_kwargs={"creator": lambda: _sqlite_connect(db)})
        if url.startswith(("postgresql://", "postgres://")):
            # SQLAlchemy 2.1 defaults to psycopg 3; the pinned driver is psycopg2(-binary).
            return optuna.storages.RDBStorage("postgresql+psycopg2://" + url.split("://", 1)[1],
                                              engine_kwargs={"pool_pre_ping": True})
        return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    except LabError:
        raise
    except Exception as exc:  # noqa: BLE001 - driver errors can quote the URL: never show it
        msg = mask_url(str(exc).splitlines()[0] if str(exc) else "")
        for secret in re.findall(r"://[^:/@]*:(.*)@", url) + re.findall(r"(?i)[?&](?:password|passwd|pwd)=([^&]*)", url):
            if secret:
                msg = msg.replace(secret, "***")
        raise LabError(f"storage {mask_url(url)}: cannot open ({type(exc).__name__}: {msg[:160]})") from None


def _sqlite_connect(path: str):
    """SQLite in WAL mode with synchronous=NORMAL: a commit no longer waits for fsync (30 ms each
    on this machine), and a killed process still loses nothing (WAL keeps committed pages)."""
    conn = sqlite3.connect(path, timeout=60, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def claim_waiting(study) -> int | None:
    """Take one WAITING trial (exactly once across processes); None if the queue is empty."""
    storage = study._storage
    for t in storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                storage.set_trial_system_attr(t._trial_id, "lab:worker", {"host": HOST, "pid": os.getpid()})
                return t._trial_id
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


class Heartbeat:
    """Context manager: a daemon thread that stamps ``lab:heartbeat`` on a trial."""
    def __init__(self, storage, trial_id: int, interval: float = HEARTBEAT_S):
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.storage.set_trial_system_attr(self.trial_id, "lab:heartbeat", time.time())
            except Exception:  # noqa: BLE001 - the trial finished meanwhile; nothing to keep alive
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process not yet reaped by its parent (a zombie) still answers kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_stale(trial, now: float | None = None, grace: float = GRACE_S) -> bool:
    """A RUNNING trial whose worker died on this host, or whose heartbeat is older than ``grace`` s."""
    now = time.time() if now is None else now
    worker = trial.system_attrs.get("lab:worker")
    if worker and worker.get("host") == HOST and worker.get("pid") != os.getpid():
        if not _pid_alive(int(worker["pid"])):
            return True
    if worker and worker.get("host") == HOST and worker.get("pid") == os.getpid():
        return False  # our own trial (we are the only thread that runs trials in this process)
    last = trial.system_attrs.get("lab:heartbeat")
    if last is None and trial.datetime_start is not None:
        start = trial.datetime_start
        if start.tzinfo is None:
            start = start.astimezone()  # naive local time (RDB storages)
        last = start.timestamp()
    return last is not None and now - float(last) > grace


def requeue(study, trial) -> None:
    """Enqueue a failed trial's parameters again (retry bookkeeping in system attrs)."""
    params = trial.system_attrs.get("fixed_params", trial.params)
    attrs = {"fixed_params": params, "lab:retry_of": trial.number,
             "lab:retries": int(trial.system_attrs.get("lab:retries", 0)) + 1}
    study._storage.create_new_trial(study._study_id, template_trial=create_trial(state=TrialState.WAITING,
                                                                                 system_attrs=attrs))


def fail_and_requeue(study, trial_id: int, reason: str) -> bool:
    """Mark a RUNNING trial FAIL; if this process did it, re-enqueue its parameters. True if requeued."""
    storage = study._storage
    try:
        storage.set_trial_system_attr(trial_id, "lab:fail_reason", reason)
        if not storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
            return False
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    requeue(study, storage.get_trial(trial_id))
    return True


def recover_stale(study, grace: float = GRACE_S, trials=None) -> list[int]:
    """Fail and re-queue every stale RUNNING trial (of ``trials`` if given); returns their numbers."""
    done = []
    now = time.time()
    if trials is None:
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,))
    for t in [t for t in trials if t.state == TrialState.RUNNING]:
        if is_stale(t, now, grace) and fail_and_requeue(study, t._trial_id, "worker lost (killed or stale)"):
            done.append(t.number)
    return done
