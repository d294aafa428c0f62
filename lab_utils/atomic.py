"""Atomic file writes: a kill at any moment leaves the old file or the new one, never a torn one.

Every file this project writes (checkpoints, caches, CSV, JSON, figures) goes through
:func:`atomic_path`: the content is written to a temporary file in the same directory, flushed and
fsync'ed, then ``os.replace``'d over the target, which POSIX guarantees to be atomic. The new
file gets the permissions a plain ``open(path, "w")`` would give (``0o666`` minus the umask), not
the ``0o600`` of ``tempfile.mkstemp``. Written by hand: the standard library has no atomic write,
and these few lines replace a dependency.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    If the body raises (or the process dies) the target is untouched and the temporary file is
    removed (or, after SIGKILL, left as an ignorable ``.tmp-*`` file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if exc.filename not in (None, tmp, str(tmp)):
            raise
        # a write to the temporary file failed (a full disk): name the file the user knows
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj, indent: int = 2) -> None:
    """Write ``obj`` as indented JSON plus a newline, atomically (numpy scalars/arrays and paths allowed)."""
    write_text(path, json.dumps(obj, indent=indent, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def torch_save(path, obj) -> None:
    """``torch.save(obj)`` to ``path`` atomically (checkpoints).

    Serialised in memory first, then written as bytes: torch's own file writer turns a failed write
    (a full disk) into a ``RuntimeError`` ("unexpected pos ...") that drops the operating system's
    error, while a plain write raises ``OSError(ENOSPC)``, re-raised here naming ``path``.
    Checkpoints here are at most tens of MB, so the in-memory copy costs little.
    """
    buf = io.BytesIO()
    torch.save(obj, buf)
    try:
        write_bytes(path, buf.getbuffer())
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None


def savefig(fig, path, dpi: int = 110) -> None:
    """Save a matplotlib figure atomically and byte-stable (no timestamps in the PNG metadata)."""
    with atomic_path(path) as tmp:
        # bbox_inches="tight": a suptitle placed at y=1.0 by a notebook is kept whole, not clipped.
        fig.savefig(tmp, dpi=dpi, metadata={"Software": None}, format=Path(path).suffix.lstrip(".") or "png",
                    bbox_inches="tight", pad_inches=0.1)
