"""The journal check and repair (lab_utils.search.journal) and its use by ``open_storage``: a torn
last record is cut away (kept in a side file) so that the next append stays readable; a file that
is not a journal, or is corrupt in the middle, is refused byte for byte untouched."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time

import optuna
import pytest

from lab_utils.errors import LabError
from lab_utils.search.journal import JournalLock, check_journal
from lab_utils.search.storage import open_storage


def _journal(tmp_path, n_trials=3):
    """A real Optuna journal with ``n_trials`` complete trials; returns its path."""
    path = tmp_path / "study.journal"
    study = optuna.create_study(study_name="s", storage=open_storage(f"journal:{path}"))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n_trials)
    return path


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load(path):
    return optuna.load_study(study_name="s", storage=open_storage(f"journal:{path}"))


@pytest.mark.parametrize("cut", [1, 15, 60])
def test_torn_tail_is_cut_kept_aside_and_the_next_append_stays_readable(tmp_path, capsys, cut):
    path = _journal(tmp_path)
    whole = path.read_bytes()
    last_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(whole[:-cut])  # a kill or a full disk inside the last append
    study = _load(path)  # repaired here, before anything is appended
    err = capsys.readouterr().err
    sides = list(tmp_path.glob("study.journal.torn-*"))
    assert len(sides) == 1 and sides[0].read_bytes() == whole[last_start:-cut]
    assert path.read_bytes() == whole[:last_start]
    assert "torn record" in err and str(path) in err and sides[0].name in err and len(err.strip().splitlines()) == 1
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    again = _load(path)  # before the repair: the append was glued onto the torn line, unreadable for good
    assert sum(t.state.name == "COMPLETE" for t in again.trials) >= 4
    assert capsys.readouterr().err == ""  # nothing left to repair


def test_a_last_line_that_is_not_json_is_cut(tmp_path):
    path = _journal(tmp_path)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"op_code":5,"wor\x00\x00\n')
    assert check_journal(path, print_fn=lambda m: None) == len(b'{"op_code":5,"wor\x00\x00\n')
    assert path.read_bytes() == whole


def test_a_torn_first_record_is_cut(tmp_path):
    path = tmp_path / "study.journal"
    path.write_bytes(b'{"op_code":0,"worker_id":"ab')
    assert check_journal(path, print_fn=lambda m: None) == len(b'{"op_code":0,"worker_id":"ab')
    assert path.read_bytes() == b""
    study = optuna.create_study(study_name="s", storage=open_storage(f"journal:{path}"))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert len(_load(path).trials) == 1


@pytest.mark.parametrize("content", [b"my notes\nline two\n", b"no newline at all", b'{"a": 1}\n{"b": 2}\n',
                                     b'{"a": 1}', b"\x89PNG\r\n\x1a\n\x00\x00", b"[1, 2]\n"])
def test_a_file_that_is_not_a_journal_is_refused_untouched(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(LabError, match="not an Optuna journal"):
        open_storage(f"journal:{path}")
    assert path.read_bytes() == content
    assert list(tmp_path.iterdir()) == [path]  # no lock file, no side file


def test_corruption_in_the_middle_is_refused_naming_the_line(tmp_path):
    path = _journal(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"op_code":4,"wor{"op_code":5,"worker_id":"x"}\n'  # what an append onto a torn line made
    path.write_bytes(b"".join(lines))
    before = _sha(path)
    with pytest.raises(LabError, match="line 3 is not a journal record"):
        open_storage(f"journal:{path}")
    assert _sha(path) == before
    assert not list(tmp_path.glob("*.torn-*"))


def test_empty_or_missing_file_is_a_new_journal(tmp_path):
    empty = tmp_path / "empty.journal"
    empty.write_bytes(b"")
    assert check_journal(empty) == 0 and check_journal(tmp_path / "missing.journal") == 0
    study = optuna.create_study(study_name="s", storage=open_storage(f"journal:{empty}"))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert len(_load(empty).trials) == 1


def test_a_sound_journal_is_not_touched(tmp_path):
    path = _journal(tmp_path)
    before = _sha(path)
    assert check_journal(path) == 0
    assert _sha(path) == before and list(tmp_path.iterdir()) == [path]


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(LabError, match="is a directory"):
        open_storage(f"journal:{tmp_path}")


def test_a_lock_left_by_a_killed_writer_is_announced(tmp_path):
    """Optuna waits 30 s before taking over a lock file left by a process killed inside an append:
    the user is told why the search pauses (a live writer holds it for milliseconds: no note)."""
    path = _journal(tmp_path)
    lock = tmp_path / "study.journal.lock"
    lock.touch()
    said = []
    assert check_journal(path, print_fn=said.append) == 0 and said == []  # just taken: a live writer
    os.utime(lock, (time.time() - 12, time.time() - 12))
    assert check_journal(path, print_fn=said.append) == 0
    assert len(said) == 1 and "study.journal.lock" in said[0] and "30 s" in said[0]
    assert lock.exists()  # Optuna's lock: taken over by Optuna, not removed by us


HOLD = """
import sys, time
from lab_utils.search.journal import JournalLock
JournalLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_lock_of_a_writer_killed_inside_an_append_is_taken_over_at_once(tmp_path):
    """Optuna's lock file stays when its holder is SIGKILLed inside an append; a plain
    JournalFileOpenLock waits 30 s before taking it over. JournalLock names its holder, so the next
    process sees the holder is dead and takes the lock at once (and says so)."""
    path = _journal(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    proc.kill()
    proc.wait()
    lock = tmp_path / "study.journal.lock"
    assert lock.read_text().split() == [str(proc.pid), socket.gethostname()]
    said = []
    assert check_journal(path, print_fn=said.append) == 0
    assert not lock.exists() and len(said) == 1 and f"process {proc.pid}" in said[0] and "taken over" in said[0]
    _load(path).optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)  # appends without waiting
    assert len(_load(path).trials) == 4


def test_a_lock_of_a_live_holder_is_kept(tmp_path):
    path = _journal(tmp_path)
    lock = tmp_path / "study.journal.lock"
    lock.write_text(f"{os.getpid()} {socket.gethostname()}")
    assert not JournalLock(str(path)).take_over_dead(print)
    lock.write_text(f"{os.getpid()} some-other-host")
    assert not JournalLock(str(path)).take_over_dead(print) and lock.exists()
