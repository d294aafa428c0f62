"""An exclusive lock on an output folder for the command that owns it.

``with hold_folder(out, "search"):`` takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<out>/.lab.lock``
and writes who holds it (command line, pid, host, start time) into that file. A second command on
the same folder gets a one-line :class:`~lab_utils.errors.LabError` naming the holder instead of
writing beside it (two ``train`` runs overwriting each other's checkpoints, two ``search`` commands
filling one queue twice).

Why ``flock`` and not a lock file created with ``O_EXCL``: the kernel drops a ``flock`` when its
process dies (SIGKILL, out of memory, power cut of a container), so a crashed run never leaves a
stale lock a user must delete by hand; the file itself stays and is reused. Written by hand
because the standard library has no lock-with-holder-info and the ``filelock`` package would hide
who holds it. ``flock`` locks a folder on one host (and on NFS only where the server supports it);
searches on several machines share a study through a database and their own ``--out`` folders.

:func:`flocked` is the one ``flock`` of the package: :func:`hold_folder` takes it without waiting,
the content-addressed cache (:meth:`lab_utils.cache.Cache.locked`) per entry, waiting or not.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
from pathlib import Path

from lab_utils.errors import LabError

LOCK_NAME = ".lab.lock"


def _holder_text(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return (f"`{info.get('command', '?')}` (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
            f"since {info.get('since', '?')})")


@contextlib.contextmanager
def hold_folder(folder, what: str, *, flag: str = "--out"):
    """Hold the exclusive lock on ``folder`` (created if missing) for the ``with`` body.

    ``what`` names the command in the error (``"search"``, ``"train"``). Raises :class:`LabError`
    when another process holds the lock; the lock is released on exit, and by the kernel if the
    process dies.
    """
    folder = Path(folder)
    if not str(folder).strip():
        raise LabError(f"{flag} is empty; name a folder for the {what} run")
    if folder.exists() and not folder.is_dir():
        raise LabError(f"{flag} {folder} exists and is not a folder; choose a folder for the {what} run")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    with flocked(path, wait=False) as fd:
        if fd is None:
            raise LabError(f"{flag} {folder} is in use by {_holder_text(path)}; wait for it to finish, "
                           f"stop it, or choose another {flag} (a {what} run needs its folder alone)")
        info = {"command": " ".join(["python -m lab_utils", *sys.argv[1:]])[:300], "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)


@contextlib.contextmanager
def flocked(path, *, wait: bool = True):
    """Hold an exclusive ``flock`` on ``path`` (created if missing, never removed) for the ``with`` body.

    Yields the open descriptor, or None when ``wait`` is False and another open file holds the lock
    (another process, or another descriptor of this one; the descriptor is closed at once, so a
    caller holding many such contexts keeps no file open for the locks it did not get). The lock
    goes when the descriptor is closed on exit, or by the kernel when the process dies.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        yield None
        return
    except BaseException:  # interrupted while waiting
        os.close(fd)
        raise
    try:
        yield fd
    finally:
        os.close(fd)  # closing the descriptor drops the flock


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host is alive (a zombie, killed but not yet reaped, is not)."""
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
