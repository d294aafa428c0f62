"""The one exception type for user mistakes.

Anything a user can get wrong (a flag, a TOML key, a data file, a checkpoint, a storage URL)
raises :class:`LabError` with a single line that names the problem and what is allowed. The CLI
catches it, prints ``error: <message>`` and exits with status 2; programming errors stay ordinary
exceptions with tracebacks. :func:`run_command` is the one exit-status policy of every entry point.
"""

import argparse
import sys
from pathlib import Path


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


def run_command(func, args) -> int:
    """Run a command function with the one exit-status policy of every entry point.

    0 (or the function's own status) on success; a :class:`LabError` is printed as one line
    ``error: <message>`` on stderr and gives 2; Ctrl-C says how to resume and gives 130.
    """
    try:
        return int(func(args) or 0)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume", file=sys.stderr)
        return 130


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line (exit 2) instead of usage + error."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")
