"""In-memory train/val/test splits and their on-disk cache.

:class:`Splits` holds the three tensor splits of one data set and says what they are (name, version,
synthetic or real). Preprocessed splits are cached as ``data/<name>-<version>-<hash>.npz`` (written
atomically; a new generator version or other arguments give another file; a corrupt file is reported
and rebuilt).

The cache is optional: a folder that cannot be written (read-only, full disk, not a folder) costs a
one-line warning naming it, and the run goes on with the data in memory (:func:`save_npz`). Warnings
are one ``warning: ...`` line on stderr (:func:`warn`), not :func:`warnings.warn`, whose format adds a
second line (the source line of the caller) to every message a command-line user sees.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lab_utils import atomic
from lab_utils.cache import content_key
from lab_utils.errors import LabError

DEFAULT_DATA_DIR = Path(os.environ.get("LAB_DATA_DIR", Path(__file__).resolve().parents[2] / "data"))


@dataclass(frozen=True)
class Splits:
    """Train / val / test tensors of one data set, plus what they are."""
    name: str
    version: str
    synthetic: bool
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    info: dict = field(default_factory=dict)

    def split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if split not in ("train", "val", "test"):
            raise LabError(f"unknown split {split!r}; choose one of: train, val, test")
        return getattr(self, f"x_{split}"), getattr(self, f"y_{split}")

    @property
    def label(self) -> str:
        """How every figure and table names the data: ``jsc-sim (SYNTHETIC)`` or ``jsc (real)``."""
        return f"{self.name} ({'SYNTHETIC' if self.synthetic else 'real'})"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def sizes(self) -> dict[str, int]:
        return {s: int(self.split(s)[1].shape[0]) for s in ("train", "val", "test")}

    def describe(self) -> dict:
        """What these splits are (name, version, synthetic, label, sizes, ``info``): the data set's metadata.

        Written beside every result computed on these splits, and part of a trained candidate's
        cache key (:mod:`lab_utils.training.candidates`), so the returned keys must stay stable.
        """
        return {"dataset": self.name, "version": self.version, "synthetic": self.synthetic,
                "label": self.label, "sizes": self.sizes(), **self.info}


def cache_file(data_dir: Path, name: str, version: str, args: dict) -> Path:
    """``<data_dir>/<name>-<version>-<key of args>.npz`` (:func:`lab_utils.cache.content_key`): other
    generator arguments, another file."""
    return Path(data_dir) / f"{name}-{version}-{content_key(args, 12)[0]}.npz"


_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def warn(message: str) -> None:
    """Print one line ``warning: <message>`` on stderr (a problem the run survives)."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def read_cache(path: Path) -> dict | None:
    """Read a cache file; None if there is none; a torn or foreign file is reported (one warning line) and ignored."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in (*_ARRAYS, "meta")}
        meta = json.loads(str(arrays.pop("meta")))
        return {**arrays, **meta}
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as exc:
        warn(f"data cache {path} is corrupt or foreign ({type(exc).__name__}); regenerating it")
        return None


def save_npz(path: Path, **arrays) -> bool:
    """Write an optional cache file atomically; False (and one warning line naming the folder) if it cannot be.

    A read-only folder, a full disk or a path through a file is no reason to stop a run whose data is
    already in memory: the caller goes on without the cache. ``atomic_path`` removes its temporary file.
    """
    try:
        with atomic.atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        return True
    except OSError as exc:
        cause = f"{exc.strerror or exc}{f' ({errno.errorcode[exc.errno]})' if exc.errno in errno.errorcode else ''}"
        warn(f"data cache folder {Path(path).parent} cannot be written ({cause}); going on with the data in memory, "
             "uncached (set LAB_DATA_DIR to a writable folder to cache it)")
        return False


def write_cache(path: Path, arrays: dict) -> bool:
    """Write the six split arrays and the JSON metadata (every other key) to ``path`` (see :func:`save_npz`)."""
    meta = {k: v for k, v in arrays.items() if k not in _ARRAYS}
    return save_npz(path, meta=np.array(json.dumps(meta)), **{k: arrays[k] for k in _ARRAYS})


def to_splits(name, version, synthetic, arrays, feature_names, class_names, info) -> Splits:
    """A :class:`Splits` from the numpy arrays of a cache or a reader (``torch.from_numpy``: contiguous arrays are not copied)."""
    t = {k: torch.from_numpy(np.ascontiguousarray(arrays[k])) for k in _ARRAYS}
    return Splits(name, version, synthetic, tuple(feature_names), tuple(class_names), **t, info=info)


