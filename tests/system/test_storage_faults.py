"""Storage faults with real processes: the default journal killed mid-append or truncated, a full
disk under the journal, a user's file given as a journal, a corrupt SQLite page, PostgreSQL stopping
mid-search, and several processes racing to create one study. Each ends in one line (exit 1 for a
fault of the machine or the storage, 2 for a bad input) with nothing already written damaged, and a
rerun of the same command completes every configuration exactly once."""

import errno
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

import lab_utils.search.journal as journal_mod
from lab_utils.search.storage import open_storage
from tests.conftest import postgres_server
from tests.helpers import ROOT, bruteforce_toml, search_files, small_toml

N_CONF = 6  # small_toml's unique configurations


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return search_files(tmp_path_factory.mktemp("storagefaults"), small_toml(), "small.toml")


def _search(setup, out, *extra, fault=None, timeout=300, popen=False):
    tmp, cfg, ckpt = setup
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1",
           "LAB_DATA_DIR": str(tmp / "data")}
    env.pop("LAB_FAULT_KILL", None)
    if fault:
        env["LAB_FAULT_KILL"] = fault
    cmd = [sys.executable, "-m", "lab_utils", "search", "--config", str(cfg), "--load", str(ckpt), "--out", str(out),
           "--quiet", *map(str, extra)]
    if popen:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _complete(storage):
    """number -> configuration of every COMPLETE trial (read only: nothing appended or repaired)."""
    if isinstance(storage, Path):
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(storage)))
    study = optuna.load_study(study_name="search", storage=storage)
    return {t.number: json.dumps(t.user_attrs["result"]["config"], sort_keys=True)
            for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"}


def _one_line(proc, status, *needles):
    assert proc.returncode == status, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tear(journal: Path, keep: int) -> bytes:
    """Cut the last record after ``keep`` of its bytes (a write cut short by a kill); returns them."""
    whole = journal.read_bytes()
    start = whole.rstrip(b"\n").rfind(b"\n") + 1
    journal.write_bytes(whole[:start + keep])
    return whole[start:start + keep]


# ---------------------------------------------------------------------------- the default journal
@pytest.mark.parametrize("fault,keep", [("result_written:3", 40), ("told:2", 1), ("enqueued:4", 25)])
def test_journal_killed_mid_append_resumes_each_configuration_once(setup, tmp_path, fault, keep):
    """SIGKILL at a storage write (the hook), with the record being written cut at a byte as the
    kernel leaves a write cut short: the rerun cuts it away (a side file keeps it), appends
    readable records after it and completes every configuration exactly once. Before the repair,
    the rerun's first append was glued onto the torn line and the study was unreadable for good."""
    out = tmp_path / "out"
    proc = _search(setup, out, fault=fault)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    journal = out / "study.journal"
    torn = _tear(journal, keep)
    kept = _complete(journal)  # Optuna's reader skips the torn last line
    again = _search(setup, out)
    assert again.returncode == 0, again.stderr
    notes = [ln for ln in again.stderr.splitlines() if "torn record" in ln]
    sides = list(out.glob("study.journal.torn-*"))
    assert len(notes) == 1 and len(sides) == 1 and sides[0].read_bytes() == torn and sides[0].name in notes[0]
    done = _complete(journal)
    assert kept.items() <= done.items()
    assert len(done) == N_CONF and len(set(done.values())) == N_CONF
    assert journal.read_bytes().endswith(b"\n")


def test_default_storage_is_the_journal_and_an_older_sqlite_study_is_resumed(setup, tmp_path):
    out = tmp_path / "out"
    first = _search(setup, out)
    assert first.returncode == 0, first.stderr
    assert (out / "study.journal").exists() and not (out / "study.db").exists()
    old = tmp_path / "old"  # a study made when SQLite was the default: resumed with SQLite
    made = _search(setup, old, "--storage", f"sqlite:///{old / 'study.db'}", "--n-trials", "3")
    assert made.returncode == 0, made.stderr
    again = _search(setup, old)
    assert again.returncode == 0, again.stderr
    assert "sqlite:///" in again.stdout and "resumed" in again.stdout and not (old / "study.journal").exists()
    assert len(set(_complete(f"sqlite:///{old / 'study.db'}").values())) == N_CONF


def test_journal_on_a_user_file_is_refused_and_the_file_unchanged(setup, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\nsecond line, no trailing newline")
    before = _sha(notes)
    proc = _search(setup, tmp_path / "out", "--storage", f"journal:{notes}")
    _one_line(proc, 2, "notes.txt", "not an Optuna journal")
    assert _sha(notes) == before and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "out"]


def test_journal_write_error_names_the_journal(tmp_path, monkeypatch):
    """The buffered file raises ENOSPC without a file name; the journal backend adds it (the CLI
    prints ``error: FILE: No space left on device (ENOSPC)``, exit 1)."""
    path = tmp_path / "study.journal"
    study = optuna.create_study(study_name="s", storage=open_storage(f"journal:{path}"))

    def full(self, logs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_mod.JournalFileBackend, "append_logs", full)
    with pytest.raises(OSError) as info:
        study.enqueue_trial({"x": 1})
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs (root only): a real full disk."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_journal_on_a_full_disk_one_line_then_repaired(setup, small_disk):
    """A real full disk during the search: exit 1 with one line; once space is freed, the rerun cuts
    the torn record and completes every configuration exactly once."""
    filler = small_disk / "filler"
    filler.write_bytes(b"x" * (52 << 10))  # leaves about 12 KiB: the journal fills it mid-search
    out = small_disk / "out"
    proc = _search(setup, out)
    _one_line(proc, 1, "No space left on device (ENOSPC)")
    assert not (out / "study.journal").read_bytes().endswith(b"\n")  # the write was cut short
    kept = _complete(out / "study.journal")
    filler.unlink()
    again = _search(setup, out)
    assert again.returncode == 0, again.stderr
    assert "torn record" in again.stderr and list(out.glob("study.journal.torn-*"))
    done = _complete(out / "study.journal")
    assert kept.items() <= done.items() and len(done) == N_CONF and len(set(done.values())) == N_CONF


# ---------------------------------------------------------------------------- SQLite
def test_corrupt_sqlite_page_is_one_line_naming_the_file_untouched(setup, tmp_path):
    out = tmp_path / "out"
    db = out / "study.db"
    made = _search(setup, out, "--storage", f"sqlite:///{db}", "--n-trials", "3")
    assert made.returncode == 0, made.stderr
    with sqlite3.connect(db) as conn:  # every committed page into the main file, the WAL emptied
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(db.read_bytes())
    page = 4096
    assert len(raw) >= 4 * page
    raw[2 * page:4 * page] = os.urandom(2 * page)  # garbage in the middle of the file
    db.write_bytes(bytes(raw))
    before = _sha(db)
    proc = _search(setup, out)  # the default: an older study's study.db
    _one_line(proc, 2, str(db), "corrupt")
    assert _sha(db) == before
    assert not (out / "study.journal").exists()


# ---------------------------------------------------------------------------- racing creation
RACE = """
import sys, time, optuna
from lab_utils.search.storage import open_storage
optuna.logging.set_verbosity(optuna.logging.ERROR)
url, start = sys.argv[1], float(sys.argv[2])
while time.time() < start:
    pass
optuna.create_study(storage=open_storage(url), study_name="race", load_if_exists=True)
"""


def _race(url: str, n: int = 3) -> list:
    start = time.time() + 6  # every process imported and waiting: they open the storage together
    procs = [subprocess.Popen([sys.executable, "-c", RACE, url, str(start)], cwd=ROOT, stderr=subprocess.PIPE,
                              text=True) for _ in range(n)]
    return [(p.wait(timeout=120), p.stderr.read()) for p in procs]


def test_processes_racing_to_create_an_sqlite_study_all_succeed(tmp_path):
    """Plain Optuna: about two in three of these processes died with an IntegrityError on
    ``alembic_version`` (or ``table ... already exists``); the open is now retried once."""
    for i in range(3):
        results = _race(f"sqlite:///{tmp_path / f'race{i}.db'}")
        assert [rc for rc, _ in results] == [0, 0, 0], [err[-600:] for _, err in results]


def test_open_retries_once_after_losing_the_creation_race(tmp_path, monkeypatch):
    """Deterministic: the first RDBStorage() raises what the loser of the race gets; the retry opens it."""
    import sqlalchemy.exc

    real = optuna.storages.RDBStorage
    calls = []

    class LoserFirst(real):
        def __init__(self, *args, **kwargs):
            calls.append(1)
            super().__init__(*args, **kwargs)  # the first time, the "winner" has created the tables
            if len(calls) == 1:
                raise sqlalchemy.exc.IntegrityError("INSERT INTO alembic_version", {}, Exception("UNIQUE failed"))

    monkeypatch.setattr(optuna.storages, "RDBStorage", LoserFirst)
    storage = open_storage(f"sqlite:///{tmp_path / 'x.db'}")
    assert len(calls) == 2 and optuna.create_study(storage=storage, study_name="s")


# ---------------------------------------------------------------------------- PostgreSQL
@pytest.fixture
def pg():
    """A PostgreSQL server the test can stop and start again: (url, stop, start)."""
    with postgres_server() as server:
        yield server


def test_postgres_stopping_mid_search_is_one_line_and_resumable(setup, tmp_path, pg):
    url, stop, start = pg
    tmp, _, ckpt = setup
    big = tmp_path / "big.toml"  # 144 configurations: long enough to stop the server in the middle
    big.write_text(bruteforce_toml())
    out = tmp_path / "out"
    proc = _search((tmp, big, ckpt), out, "--storage", url, popen=True)
    storage = open_storage(url)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            if len(_complete(storage)) >= 5:
                break
        except (KeyError, ValueError):
            pass  # the study is not created yet
        time.sleep(0.2)
    assert proc.poll() is None, "the search finished before the server could be stopped"
    kept = _complete(storage)
    storage.engine.dispose()
    stop()
    out_text, err = proc.communicate(timeout=300)
    line = _one_line(subprocess.CompletedProcess(proc.args, proc.returncode, out_text, err), 1, "storage failed")
    assert "secretpw" not in out_text + err, line
    start()
    again = _search((tmp, big, ckpt), out, "--storage", url, timeout=600)
    assert again.returncode == 0, again.stderr
    done = _complete(open_storage(url))
    assert kept.items() <= done.items()
    assert len(done) == 144 and len(set(done.values())) == 144
