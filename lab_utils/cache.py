"""One content-addressed cache: a file per description of what was computed, found by its hash.

How it works:

- A *description* is a JSON-able dict of everything that determines a result (architecture,
  recipe, data set, configuration, the checkpoint's digest). :func:`canonical` is its JSON-normal
  form (tuples become lists, keys strings, at every level sorted); :func:`content_key` is the first
  ``n`` hex digits of the SHA-256 of its sorted JSON text. The data cache names its files with 12,
  trained candidates with 12, quantization-aware trials with 24 (the keys these callers computed
  before this module existed, byte for byte, so files written earlier keep their names).
- :class:`Cache` is a folder of entries ``<prefix><key><suffix>``: torch files (a dict) that hold
  their description under ``field``. :meth:`Cache.load` reads one with the caller's reader and
  returns it only when the stored description equals the canonical one; a torn, foreign or
  mismatching file is a miss, reported by one warning naming the file and the cause, and the caller
  computes it again (and stores over it). :meth:`Cache.store` writes an entry with
  :func:`lab_utils.atomic.torch_save` (a kill leaves the old file or the new one). A caller with its
  own file format (the trained candidates' checkpoints) writes it atomically itself.
- :meth:`Cache.locked` holds an exclusive ``flock`` on ``<prefix><key>.lock``
  (:func:`lab_utils.locking.flocked`): a second process wanting the same entry waits, then reads the
  file the first one stored; with ``wait=False`` it is told the entry is taken and goes on.

Why hand-written: the few lines that matter here (what is hashed, when a stored file counts, one
lock per entry that the kernel drops when a process dies) are this project's decisions; a cache
library (joblib.Memory, diskcache) would pickle arbitrary objects, hash them its own way and hide
the file names the search's resume relies on. The ground layer knows no file format: the reader
comes from the caller (:func:`lab_utils.training.checkpoints.load_checkpoint_file`, which unpickles
no code).

``tests/test_cache.py`` is the oracle: keys equal a separate ``hashlib`` computation, a mismatching
or torn file is a miss, a second holder of an entry's lock waits for the first, and a failed store
leaves the old file and no temporary one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from pathlib import Path

from lab_utils import atomic
from lab_utils.errors import LabError
from lab_utils.locking import flocked


def canonical(desc):
    """``desc`` as JSON stores it: dict keys sorted and made strings, tuples as lists, other objects as ``str``."""
    return json.loads(json.dumps(desc, sort_keys=True, default=str))


def content_key(desc, n: int = 12) -> tuple[str, dict]:
    """``(key, canonical desc)``: the first ``n`` hex digits of SHA-256 of the sorted JSON of ``desc``."""
    desc = canonical(desc)
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:n], desc


def file_digest(path) -> str:
    """SHA-256 (hex) of a file's bytes: how a description names a file it depends on (a checkpoint)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Cache:
    """Entries ``<folder>/<prefix><key><suffix>`` holding their description under ``field``.

    ``read(path) -> dict`` reads an entry (a :class:`LabError` when the file is torn or foreign);
    ``what`` names the cache in a warning (``"QAT cache"``), ``redo`` says what happens instead of a
    hit (``"training again"``).
    """

    def __init__(self, folder, *, what: str, read, prefix: str = "", suffix: str = ".pt", field: str = "desc",
                 redo: str = "computing again"):
        self.folder, self.what, self.read = Path(folder), what, read
        self.prefix, self.suffix, self.field, self.redo = prefix, suffix, field, redo

    def path(self, key: str) -> Path:
        return self.folder / f"{self.prefix}{key}{self.suffix}"

    def load(self, key: str, desc, use=None):
        """The stored entry of ``key`` (``use(entry)`` when given), or None on a miss.

        A miss is no file, or a file that is unusable: unreadable, its stored description is not
        :func:`canonical` ``(desc)``, or ``use`` raises :class:`LabError` or ``KeyError`` (a field
        missing, weights that do not fit); an unusable file is reported with one warning.
        """
        path = self.path(key)
        if not path.exists():
            return None
        try:
            entry = self.read(path)
            if entry.get(self.field) != canonical(desc):
                raise LabError("stored description does not match its key")
            return use(entry) if use is not None else entry
        except (LabError, KeyError) as exc:
            warnings.warn(f"{self.what} {path} unusable ({exc}); {self.redo}", stacklevel=3)
            return None

    def store(self, key: str, desc, entry: dict) -> Path:
        """Write ``{field: desc, **entry}`` to the entry's file atomically; returns its path."""
        path = self.path(key)
        atomic.torch_save(path, {self.field: desc, **entry})
        return path

    @contextlib.contextmanager
    def locked(self, key: str, *, wait: bool = True):
        """Hold the entry's lock for the ``with`` body; yields False when ``wait`` is False and another
        holder has it (the folder is created if missing)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with flocked(self.folder / f"{self.prefix}{key}.lock", wait=wait) as fd:
            yield fd is not None
