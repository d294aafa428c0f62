"""Fail fast: before the first notebook runs, check that the output folders can be written
(:func:`check_writable`) and that every real data set the selected notebooks will read is there
(:func:`check`), and stop within seconds with one message naming the folder, or every place looked,
and the fix.

A folder is writable if a file can be created in it (or, if it does not exist yet, in the nearest
folder above it that does): the honest test, since permission bits say nothing about a read-only
mount, and root ignores them. The probe file is removed at once.

Which notebook reads which real data set is decided from its (effective) parameters:

- ``jsc-sim`` is generated, so never checked;
- a notebook whose ``dataset`` parameter is ``"jsc"`` reads the real JSC data: from its
  ``data_path`` parameter, else the raw cache ``<data_dir>/jsc-openml42468-raw.npz``, else the OpenML
  download (:mod:`lab_utils.data.jsc`);
- a notebook whose ``dataset`` parameter is ``"cifar10"`` reads CIFAR-10 outside quick mode (quick
  mode generates a tiny image set): from ``data_path``, else the places :func:`lab_utils.data.cifar10.candidates`
  lists, each read with :func:`lab_utils.data.cifar10.read_source` (so a malformed file is found now,
  not twenty minutes in), else the official archive's download.

With ``download=True`` a data set found nowhere is downloaded here, once, before anything runs (as
the loaders would do later); without it, or when the download fails, the run stops.
"""

from __future__ import annotations

import errno
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lab_utils.data import cifar10, load_dataset
from lab_utils.data.splits import DEFAULT_DATA_DIR
from lab_utils.errors import LabError

JSC_RAW_CACHE = "jsc-openml42468-raw.npz"


@dataclass(frozen=True)
class Need:
    """Notebook ``notebook`` reads real data set ``dataset`` (from ``path`` if given)."""
    notebook: str
    dataset: str
    path: str | None = None


def _unwritable(folder: Path) -> str | None:
    """None if a file can be created in ``folder`` (or in its nearest existing ancestor); else why not."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a folder"
    try:
        fd, name = tempfile.mkstemp(prefix=".tmp-write-check-", dir=probe)
    except OSError as exc:
        cause = f"{exc.strerror or exc}{f' ({errno.errorcode[exc.errno]})' if exc.errno in errno.errorcode else ''}"
        return cause if probe == folder else f"{probe}: {cause}"
    os.close(fd)
    os.unlink(name)
    return None


def check_writable(folders: list[Path]) -> None:
    """A :class:`LabError` naming the first output folder that cannot be written, before anything runs."""
    for folder in dict.fromkeys(Path(f) for f in folders):
        why = _unwritable(folder)
        if why:
            raise LabError(f"cannot write to {folder} ({why}); nothing was run. Fix: make it writable, "
                           "or set LAB_OUTPUT_DIR to a writable folder")


def needs_of(notebook: str, params: dict, quick: bool) -> list[Need]:
    """The real data sets one notebook will read, given its effective parameters (its ``dataset``
    and ``data_path``; the report layer knows no notebook by name)."""
    path = str(params.get("data_path") or "") or None
    out = []
    if params.get("dataset") == "jsc":
        out.append(Need(notebook, "jsc", path))
    if params.get("dataset") == "cifar10" and not quick:
        out.append(Need(notebook, "cifar10", path))
    return out


def _check_cifar10(need: Need, download: bool, data_dir: Path) -> str | None:
    """None if CIFAR-10 is readable; else what was looked at and how to fix it."""
    looked = []
    for src in cifar10.candidates(need.path, data_dir):
        try:
            if cifar10.read_source(src) is not None:
                return None
            looked.append(f"{src} ({'no CIFAR-10 files in it' if src.is_dir() else 'does not exist'})")
        except LabError as exc:
            looked.append(f"{src} (unreadable: {exc})")
    if need.path is None and download:
        try:
            cifar10.download_archive(data_dir)
            return None
        except LabError as exc:
            looked.append(f"download ({exc})")
    fix = ("put train.npz+test.npz, cifar-10-python.tar.gz, cifar-10-batches-py/ or train|test/<class>/*.png in "
           f"{data_dir / 'cifar10'}, or set LAB_CIFAR10_DIR=FOLDER, or pass --param data_path=FOLDER")
    if need.path is None and not download:
        fix += ", or drop --no-download to fetch the official archive"
    return f"{need.notebook} needs CIFAR-10; looked in: {'; '.join(looked)}. Fix: {fix}"


def _check_jsc(need: Need, download: bool, data_dir: Path) -> str | None:
    """None if the real JSC data is there (or was downloaded now); else where it looked and the fix."""
    if need.path is not None:
        if Path(need.path).is_file():
            return None
        looked = [f"{need.path} (data_path parameter: no such file)"]
    else:
        cache = data_dir / JSC_RAW_CACHE
        if cache.is_file():
            return None
        looked = [f"{cache} (no such file)"]
        if download:
            try:
                load_dataset("jsc", n_samples=1000, data_dir=data_dir, download=True)  # downloads + writes the cache
                return None
            except LabError as exc:
                looked.append(f"OpenML download ({exc})")
    return (f"{need.notebook} needs the real JSC data (parameter dataset=jsc); looked in: {'; '.join(looked)}. "
            "Fix: pass --param data_path=FILE (HDF5/ARFF/CSV/parquet), allow the OpenML download, "
            "or use --param dataset=jsc-sim")


def check(needs: list[Need], download: bool = True, data_dir: Path | None = None) -> None:
    """Check every need (each data set and path once); one :class:`LabError` listing every problem."""
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    checkers = {"cifar10": _check_cifar10, "jsc": _check_jsc}
    seen, problems = {}, []
    for need in needs:
        key = (need.dataset, need.path)
        if key not in seen:
            seen[key] = checkers[need.dataset](need, download, data_dir)
        if seen[key]:
            problems.append(seen[key] if seen[key].startswith(need.notebook) else
                            f"{need.notebook}: same data as above")
    if problems:
        raise LabError("missing data, nothing was run (checked before the first notebook): "
                       + " ".join(f"({i}) {p}" for i, p in enumerate(problems, 1)))
