"""Where a study lives, and how trials are handed out, kept alive and recovered.

Storage (Optuna's, never our own format):

- default (one worker or ``--workers N``): ``<out>/study.journal`` through
  ``JournalStorage(JournalFileBackend)``, one fsync'ed JSON line per storage write. It is as fast
  as an in-memory study for this project's searches (SQLite's per-write transactions made the lab
  report's brute-force search three times slower), safe for several processes on one host, and
  crash-safe: a record torn by a kill or a full disk is cut away (kept in a side file) before the
  next append, a file that is not a journal is refused, and the journal's lock file names its
  holder so a lock left by a killed process is taken over at once (:mod:`.journal`);
- an older study's ``<out>/study.db`` (no journal beside it) is resumed with SQLite
  (``RDBStorage``, WAL mode), one worker only (SQLite is not safe for several processes);
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

import logging
import os
import random
import re
import socket
import sqlite3
import threading
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState, create_trial

from lab_utils.errors import LabError, is_machine_fault, mask_secrets, os_error_line
from lab_utils.locking import pid_alive
from lab_utils.search.journal import JournalFile, JournalLock, check_journal

HEARTBEAT_S = 5.0
GRACE_S = 30.0
HOST = socket.gethostname()


def mask_url(url: str) -> str:
    """A storage URL with its password replaced by ``***`` (:func:`lab_utils.errors.mask_secrets`)."""
    return mask_secrets(url)


def default_storage_url(out_dir: Path, workers: int) -> str:
    """The study's storage in ``out_dir`` when no ``--storage`` is given (module docstring)."""
    journal, db = out_dir / "study.journal", out_dir / "study.db"
    if db.exists() and not journal.exists():  # a study made before the journal was the default
        if workers > 1:
            raise LabError(f"--workers {workers}: {db} is an SQLite study, which is not safe for several processes; "
                           "use --workers 1 to resume it, or a new --out")
        return f"sqlite:///{db}"
    return f"journal:{journal}"


def open_storage(url: str):
    """An Optuna storage for ``url`` (``journal:PATH`` or an SQLAlchemy URL).

    A journal is checked (and a torn last record cut away) first (:func:`.journal.check_journal`);
    an SQLite file gets ``PRAGMA quick_check`` so a corrupt page is one line naming the file now,
    not a driver error mid-search; an RDB opened by two processes at once is retried once (both
    would create Optuna's tables and stamp ``alembic_version``: the loser gets an IntegrityError).
    """
    try:
        if url.startswith("journal:"):
            path = url[len("journal:"):]
            if not path:
                raise LabError("--storage journal:FILE needs a file name")
            check_journal(path)
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(JournalFile(path, lock_obj=JournalLock(path)))
        if not re.match(r"^[a-z0-9+]+://", url):
            raise LabError(f"--storage: {mask_url(url)!r} is not a storage URL; use sqlite:///FILE, "
                           "postgresql://USER@HOST/DB or journal:FILE")
        if url.startswith("sqlite:///"):
            db = url[len("sqlite:///"):]
            _sqlite_check(db)
            Path(db).parent.mkdir(parents=True, exist_ok=True)
            return _rdb(url, {"creator": lambda: _sqlite_connect(db)})
        if url.startswith(("postgresql://", "postgres://")):
            # SQLAlchemy 2.1 defaults to psycopg 3; the pinned driver is psycopg2(-binary).
            return _rdb("postgresql+psycopg2://" + url.split("://", 1)[1], {"pool_pre_ping": True})
        return _rdb(url, {"pool_pre_ping": True})
    except LabError:
        raise
    except OSError as exc:
        if is_machine_fault(exc):
            raise  # disk full, I/O error: the exit policy's one line, status 1
        raise LabError(f"storage {mask_url(url)}: cannot open ({os_error_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - driver errors can quote the URL: never show it
        msg = mask_url(str(exc).splitlines()[0] if str(exc) else "")
        for secret in re.findall(r"://[^:/@]*:(.*)@", url) + re.findall(r"(?i)[?&](?:password|passwd|pwd)=([^&]*)", url):
            if secret:
                msg = msg.replace(secret, "***")
        raise LabError(f"storage {mask_url(url)}: cannot open ({type(exc).__name__}: {msg[:160]})") from None


def _rdb(url: str, engine_kwargs: dict):
    """``RDBStorage(url)``, tried a second time if a concurrent first open of the same database won
    the race to create Optuna's tables (IntegrityError on ``alembic_version`` / ``version_info``).

    The RDB storage's own warnings are silenced: on a lost connection it logs "Caught an error from
    sqlalchemy: <the whole SQL statement>. Falling back to a slower alternative", dozens of lines
    before the one-line ``error: storage failed (...)`` of the CLI."""
    logging.getLogger("optuna.storages._rdb.storage").setLevel(logging.ERROR)
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    except Exception as exc:
        # matched by name: importing sqlalchemy.exc here would load SQLAlchemy (0.4 s) for every search
        name = type(exc).__name__ if type(exc).__module__.startswith("sqlalchemy") else ""
        if not (name in ("IntegrityError", "ProgrammingError")
                or (name == "OperationalError" and "already exists" in str(exc))):
            raise  # e.g. a database that cannot be reached: no second try
        time.sleep(0.2 + random.random() * 0.3)  # the winner finishes its few statements meanwhile
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def _sqlite_check(db: str) -> None:
    """A LabError naming ``db`` if it is not an SQLite database or a page of it is corrupt."""
    if not os.path.isfile(db) or os.path.getsize(db) == 0:
        return
    try:
        conn = sqlite3.connect(Path(db).absolute().as_uri() + "?mode=ro", uri=True, timeout=60)  # read only
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        rows = [(str(exc),)]
    if rows != [("ok",)]:
        raise LabError(f"storage {db}: the SQLite database is corrupt or not a database ({str(rows[0][0])[:120]}); "
                       "it was left untouched: restore it from a copy, or use a new --out")


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


def is_stale(trial, now: float | None = None, grace: float = GRACE_S) -> bool:
    """A RUNNING trial whose worker died on this host, or whose heartbeat is older than ``grace`` s."""
    now = time.time() if now is None else now
    worker = trial.system_attrs.get("lab:worker")
    if worker and worker.get("host") == HOST and worker.get("pid") != os.getpid():
        if not pid_alive(int(worker["pid"])):
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
    params = trial.system_attrs.get("fixed_params") or trial.params
    attrs = {"fixed_params": params, "lab:retry_of": trial.number,
             "lab:retries": int(trial.system_attrs.get("lab:retries", 0)) + 1}
    if trial.system_attrs.get("lab:slot"):
        attrs["lab:slot"] = trial.system_attrs["lab:slot"]
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
