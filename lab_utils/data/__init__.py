"""Data sets as in-memory tensor splits: JSC (real or simulated) and CIFAR-10.

``load_dataset(name, ...)`` is the one entry point (the CLI, the search and the notebooks call it);
it returns a :class:`~lab_utils.data.splits.Splits` with ``train`` / ``val`` / ``test`` tensors.
The package, bottom to top:

- :mod:`.splits`: :class:`~lab_utils.data.splits.Splits` (the tensors and what they are),
  ``DEFAULT_DATA_DIR`` (``data/`` in the checkout, or ``$LAB_DATA_DIR``) and the preprocessed-split
  cache ``data/<name>-<version>-<hash>.npz`` (written atomically; a corrupt file is reported and
  rebuilt; a folder that cannot be written costs one warning line, the data stays in memory);
- :mod:`.jsc`: the JSC columns and classes, MASE's preprocessing (with a real validation split),
  the readers of the real data (HDF5, ARFF, CSV, parquet; an empty, too small or wrongly shaped file is
  one error line saying what is needed) and the one-time OpenML download;
- :mod:`.jsc_sim`: the embedded, deterministic JSC simulator;
- :mod:`.cifar10`: CIFAR-10 from any of three formats, the download, and batch augmentation;
- :mod:`.tiny_images`: small *generated* CIFAR-shaped image sets for tests and quick runs.

The names :func:`load_dataset` accepts (:data:`DATASETS`):

- ``jsc-sim``: the simulator (:mod:`lab_utils.data.jsc_sim`); synthetic, always labelled so.
- ``jsc``: the real data set, read from a user path (OpenML ARFF/CSV/parquet or the hls4ml/MASE
  HDF5 file with table ``t_allpar_new``), else from the cache under ``data/``, else downloaded once
  from OpenML (``hls4ml_lhc_jets_hlf``, id 42468) through scikit-learn's ``fetch_openml``
  (:mod:`lab_utils.data.jsc`, which also describes the preprocessing).
- ``cifar10``: the real images or a generated set (:mod:`lab_utils.data.cifar10`, which lists
  where it looks).
"""

from __future__ import annotations

import os
from pathlib import Path

from lab_utils.data import cifar10
from lab_utils.data.jsc import JSC_FULL_SIZE, load_jsc_real
from lab_utils.data.jsc_sim import load_jsc_sim
from lab_utils.data.splits import DEFAULT_DATA_DIR, Splits
from lab_utils.errors import LabError

DATASETS = ("jsc-sim", "jsc", "cifar10")


def load_dataset(
    name: str = "jsc-sim",
    *,
    n_samples: int | None = None,
    data_seed: int = 0,
    val_fraction: float = 0.1,
    path: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Splits:
    """Load a data set by name as train/val/test tensors (see the module docstring).

    ``n_samples`` sizes jsc-sim (default 830,000 jets) or subsamples the real sets (for quick runs);
    ``data_seed`` seeds the simulator and the subsampling (not the split: that is fixed, as MASE's).
    """
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    if name == "jsc-sim":
        return load_jsc_sim(n_samples or JSC_FULL_SIZE, data_seed, val_fraction, data_dir)
    if name == "jsc":
        return load_jsc_real(path, n_samples, data_seed, val_fraction, data_dir, download)
    if name == "cifar10":
        return cifar10.load_cifar10(path=path, data_dir=data_dir, n_samples=n_samples, data_seed=data_seed,
                                    val_fraction=val_fraction, download=download)
    raise LabError(f"unknown data set {name!r}; choose one of: {', '.join(DATASETS)}")
