"""The one exception type for user mistakes.

Anything a user can get wrong (a flag, a TOML key, a data file, a checkpoint, a storage URL)
raises :class:`LabError` with a single line that names the problem and what is allowed. The CLI
catches it, prints ``error: <message>`` and exits with status 2; programming errors stay ordinary
exceptions with tracebacks.
"""


class LabError(Exception):
    """A user mistake, reported in one line (no traceback from the CLI)."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))  # always one line


def require_file(path, what: str):
    """``Path(path)`` if it names an existing file, else a :class:`LabError` naming ``what`` and the path.

    A path with a NUL byte or an over-long name is reported the same way (``is_file`` raises there).
    """
    from pathlib import Path

    path = Path(path)
    try:
        exists = path.is_file()
    except (OSError, ValueError):
        exists = False
    if not exists:
        raise LabError(f"{what} {str(path)[:200]!r} does not exist or is not a file")
    return path
