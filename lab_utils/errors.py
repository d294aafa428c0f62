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
