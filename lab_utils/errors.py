"""The one exception type for user mistakes, and the one exit-status policy of every entry point.

Anything a user can get wrong (a flag, a TOML key, a data file, a checkpoint, a storage URL)
raises :class:`LabError` with a single line that names the problem and what is allowed. The CLI
catches it, prints ``error: <message>`` and exits with status 2; programming errors stay ordinary
exceptions with tracebacks. :func:`run_command` is the one exit-status policy of every entry point:

===========  ==========================================================================================
status       when
===========  ==========================================================================================
0            success (or the command's own status)
1            a fault of the machine: disk full, I/O error, out of memory, the storage (database)
             failing or lost mid-run. One line names the file or storage and the cause.
2            a mistake in the input: a :class:`LabError`, or an operating-system error about a path the
             user gave (read-only, not a directory, name too long, permission denied, missing)
130          interrupted: Ctrl-C, SIGTERM or SIGHUP (all three raise ``KeyboardInterrupt``, see
             :func:`interrupt_on_signals`), after saying how to resume
141          stdout closed early (``| head``): stop quietly, as a process killed by SIGPIPE would
===========  ==========================================================================================
"""

import argparse
import errno
import os
import re
import signal
import sys
from pathlib import Path

MACHINE_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.ENOMEM}
STORAGE_MODULES = ("sqlalchemy", "sqlite3", "psycopg2", "optuna.storages", "optuna.exceptions")


class LabError(Exception):
    """A user mistake, reported in one line (no traceback from the CLI)."""
    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))  # always one line


def require_file(path, what: str):
    """``Path(path)`` if it names an existing file, else a :class:`LabError` naming ``what`` and the path.

    A path with a NUL byte or an over-long name is reported the same way (``is_file`` raises there).
    """
    path = Path(path)
    try:
        exists = path.is_file()
    except (OSError, ValueError):
        exists = False
    if not exists:
        raise LabError(f"{what} {str(path)[:200]!r} does not exist or is not a file")
    return path


def mask_secrets(text: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db`` (also ``?password=secret``).

    The password runs to the LAST ``@``: an unencoded ``@`` or ``/`` inside it must not leak its tail.
    """
    text = re.sub(r"(://[^:/@\s]*):\S*@", r"\1:***@", str(text))
    return re.sub(r"(?i)([?&](?:password|passwd|pwd)=)[^&\s]*", r"\1***", text)


def os_error_line(exc: OSError) -> str:
    """One line for an operating-system error: the file(s), the cause and its errno name."""
    name = errno.errorcode.get(exc.errno, "") if exc.errno else ""
    files = " -> ".join(str(f)[:200] for f in (exc.filename, exc.filename2) if f is not None)
    cause = exc.strerror or str(exc) or type(exc).__name__
    return f"{files + ': ' if files else ''}{cause}{f' ({name})' if name else ''}"


def is_machine_fault(exc: BaseException) -> bool:
    """Disk full, I/O error, out of memory: the machine's fault, not the input's (exit status 1)."""
    return isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno in MACHINE_ERRNOS)


def is_storage_error(exc: BaseException) -> bool:
    """An error raised by a database driver or Optuna's storage layer (exit status 1, one line)."""
    return type(exc).__module__.startswith(STORAGE_MODULES)


def interrupt_on_signals() -> None:
    """Make SIGTERM and SIGHUP raise ``KeyboardInterrupt`` like Ctrl-C, in this (main) thread.

    So ``kill PID``, a closed terminal or a batch system's stop take the same path as Ctrl-C: the
    running trial is marked failed and re-queued, a training run keeps its last complete epoch,
    worker processes are stopped, and the command exits with 130. Called by :func:`run_command` and
    by every search worker process.
    """
    def handler(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def run_command(func, args) -> int:
    """Run a command function with the one exit-status policy of every entry point (module docstring).

    0 (or the function's own status) on success; a :class:`LabError` is printed as one line
    ``error: <message>`` on stderr and gives 2; an operating-system error one line naming the file
    (2, or 1 for a fault of the machine); a storage error one line with secrets masked (1);
    Ctrl-C, SIGTERM and SIGHUP say how to resume and give 130; a closed stdout gives 141 quietly.
    """
    interrupt_on_signals()
    try:
        return int(func(args) or 0)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `... | head` closed stdout: say nothing more (any further write would raise again)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # stdout is not a real file (captured)
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until the process exits
        return 141
    except OSError as exc:
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 1 if is_machine_fault(exc) else 2
    except MemoryError:
        print("error: out of memory; use a smaller data set (--n-samples), batch size or search space", file=sys.stderr)
        return 1
    except Exception as exc:
        if not is_storage_error(exc):
            raise
        root = exc  # Optuna wraps the driver's error ("An exception is raised during the commit"): show the cause
        while isinstance(root.__cause__ or root.__context__, Exception) and is_storage_error(root.__cause__ or root.__context__):
            root = root.__cause__ or root.__context__
        first = (str(root).splitlines() or [""])[0]
        print(f"error: storage failed ({type(root).__name__}: {mask_secrets(first)[:200]}); completed trials are "
              "kept: run the same command again to resume", file=sys.stderr)
        return 1


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line (exit 2) instead of usage + error."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")
