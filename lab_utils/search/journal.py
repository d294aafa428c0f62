"""Check, and repair, an Optuna journal file before anything is appended to it.

Optuna's ``JournalFileBackend`` keeps a study as one JSON object per line (each with ``op_code``
and ``worker_id``), appended under ``JournalFileOpenLock`` (a ``<file>.lock`` created with
``O_EXCL``) and fsync'ed. A write cut short (SIGKILL or a power cut inside the append, a full disk)
leaves a torn last line with no ``\\n``. Optuna's reader skips a torn *last* line, but its next
append is glued onto it: that record is lost at once (Optuna 5.0 then fails inside
``create_new_trial``) and every later read stops at the glued line, so the study is unreadable for
good. :func:`check_journal` runs before Optuna opens the file (:func:`~.storage.open_storage`):

- a missing or empty file is a new journal;
- a torn last line (no ``\\n``, or not valid JSON) is cut away under the journal's own lock (so a
  live writer's half-written line is never taken for a torn one), the torn bytes are kept in a side
  file ``<file>.torn-<UTC time>`` and one ``note:`` line on stderr names both files;
- a file whose first line is not an Optuna journal record (a user's file given as
  ``--storage journal:FILE``) is refused with a :class:`LabError`, untouched;
- a line in the middle that is not a journal record is corruption, not a torn write: refused with
  its line number, untouched;
- a lock file left by a process killed inside an append is taken over at once when it names its
  holder, a dead process on this host (:class:`JournalLock`); a lock of a plain Optuna writer
  (no holder written) is only announced: Optuna takes it over after a 30 s grace period.

Written by hand because Optuna has no check or repair of its journal file. Reading the whole file
costs about what Optuna's own replay of it costs (one ``json.loads`` per line).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import sys
import time
from pathlib import Path

from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from lab_utils import atomic
from lab_utils.errors import LabError
from lab_utils.locking import pid_alive

KEYS = ("op_code", "worker_id")  # every record Optuna's JournalStorage writes has both
FIRST_LINE_LIMIT = 16 << 20  # a first "line" longer than this is no journal record (a binary file)
HOST = socket.gethostname()
STALE_NOTE_S = 2.0  # a journal lock held longer than this gets a note (writers hold it for milliseconds)


def _record(line: bytes) -> bool:
    """True if ``line`` (with or without its ``\\n``) is one Optuna journal record."""
    try:
        obj = json.loads(line)
    except ValueError:  # also UnicodeDecodeError
        return False
    return isinstance(obj, dict) and all(k in obj for k in KEYS)


def _scan(path: Path) -> tuple[int, int]:
    """(bytes of complete records, bytes read); refuses a foreign or corrupt file. The bytes
    between the two offsets (if any) are one torn record."""
    with open(path, "rb") as f:
        first = f.readline(FIRST_LINE_LIMIT)
        if not first:
            return 0, 0
        if (first.endswith(b"\n") and not _record(first)) or not first.startswith(b"{"):
            raise LabError(f"journal {path}: not an Optuna journal file (its first line is not a journal record); "
                           "--storage journal:FILE must name an Optuna journal or a new file")
        good, torn_at = 0, None
        f.seek(0)
        for number, line in enumerate(f, start=1):
            if torn_at is not None:
                raise LabError(f"journal {path}: line {torn_at} is not a journal record (the file is corrupt, "
                               "not torn at its end); it was left untouched: move it away to start a new study")
            if line.endswith(b"\n") and _record(line):
                good += len(line)
            else:
                torn_at = number
        if torn_at == 1 and not first.startswith(b'{"op_code"'):
            raise LabError(f"journal {path}: not an Optuna journal file (its only line is not a journal record); "
                           "--storage journal:FILE must name an Optuna journal or a new file")
        return good, f.tell()


class JournalLock(JournalFileOpenLock):
    """Optuna's ``JournalFileOpenLock`` (the same ``<file>.lock`` created with ``O_EXCL``, so it
    excludes plain Optuna writers too) that also writes its holder (``pid host``) into the lock file.
    A lock whose holder is a dead process on this host (killed inside an append) is taken over at
    once instead of after Optuna's 30 s grace period; a lock with no holder written (a plain Optuna
    process) or held on another host keeps Optuna's grace period."""

    def __init__(self, filepath: str, grace_period: int | None = 30):
        super().__init__(filepath, grace_period)
        self._path = filepath + ".lock"  # the same name JournalFileOpenLock uses

    def acquire(self) -> bool:
        self.take_over_dead()
        super().acquire()
        with contextlib.suppress(OSError):  # the holder is only a hint for the next process (no atomic write needed)
            fd = os.open(self._path, os.O_WRONLY)
            try:
                os.write(fd, f"{os.getpid()} {HOST}".encode())
            finally:
                os.close(fd)
        return True

    def take_over_dead(self, say=None) -> bool:
        """Release the lock if its holder is a dead process on this host; True if it did."""
        try:
            pid, host = Path(self._path).read_text().split()
        except (OSError, ValueError):
            return False  # no lock, or no holder written: Optuna's rules
        if host != HOST or not pid.isdigit() or pid_alive(int(pid)):
            return False
        try:
            self.release()
        except RuntimeError:  # another process took it over first
            return False
        (say or _stderr)(f"note: {self._path} was left by process {pid}, killed while writing the journal; "
                         "taken over")
        return True


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _note_stale_lock(path: Path, say) -> None:
    """Say why the next append will wait: a writer holds ``<file>.lock`` for milliseconds, so one
    older than :data:`STALE_NOTE_S` was most likely left by a process killed inside an append, and
    Optuna's ``JournalFileOpenLock`` takes it over only after its 30 s grace period."""
    lock_file = path.with_name(path.name + ".lock")  # JournalFileOpenLock's file
    try:
        age = time.time() - lock_file.stat().st_mtime
    except OSError:
        return
    if age > STALE_NOTE_S:
        say(f"note: {lock_file} has been held for {age:.0f} s (by a writer, or left by a process killed while "
            "writing): Optuna waits up to 30 s, then takes it over")


def check_journal(path, *, print_fn=None) -> int:
    """Check ``path`` (module docstring) and cut a torn last record away; returns the bytes cut (0 if none).

    Raises :class:`LabError` (the file untouched) for a file that is not a journal or is corrupt in
    the middle. ``print_fn`` gets the ``note:`` lines (default: stderr).
    """
    path = Path(path)
    if path.is_dir():
        raise LabError(f"journal {path}: is a directory; --storage journal:FILE must name a file")
    if not path.exists():
        return 0
    say = print_fn or _stderr
    lock = JournalLock(str(path))
    if not lock.take_over_dead(say):
        _note_stale_lock(path, say)
    good, size = _scan(path)
    if good == size:
        return 0  # the common case: no lock taken
    lock.acquire()  # a writer that holds it is mid-append: wait, then look again
    try:
        good, size = _scan(path)
        if good == size:
            return 0
        with open(path, "rb") as f:
            f.seek(good)
            torn = f.read()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        side = path.with_name(f"{path.name}.torn-{stamp}")
        atomic.write_bytes(side, torn)  # kept before anything is cut
        # Cut in place (not an atomic replace): only a torn tail goes, the complete records stay where
        # they are; a kill before the truncate leaves the file as it was, and the next run cuts again.
        with open(path, "rb+") as f:
            f.truncate(good)
            os.fsync(f.fileno())
    finally:
        lock.release()
    note = (f"note: journal {path} ended in a torn record ({len(torn)} bytes, from a write cut short by a kill or "
            f"a full disk); cut it away and kept it in {side}")
    say(note)
    return len(torn)


class JournalFile(JournalFileBackend):
    """Optuna's ``JournalFileBackend`` whose write errors name the journal: a full disk inside an
    append raises ``OSError`` from the buffered file without a file name, which the CLI would print
    as a bare ``No space left on device``. The record torn by that write is cut by the next
    :func:`check_journal`."""

    def append_logs(self, logs):
        try:
            super().append_logs(logs)
        except OSError as exc:
            if exc.filename is not None or exc.errno is None:
                raise
            raise OSError(exc.errno, exc.strerror, self._file_path) from exc
