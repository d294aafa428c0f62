"""Data sets: JSC (real or simulated) and CIFAR-10, as in-memory tensor splits.

``load_dataset(name)`` returns a :class:`Splits` with ``train`` / ``val`` / ``test`` tensors:

- ``jsc-sim``: the embedded jet-substructure simulator (:mod:`lab_utils.data.jsc_sim`). Synthetic,
  always labelled so.
- ``jsc``: the real data set, read from a user path (OpenML ARFF/CSV/parquet or the hls4ml/MASE
  HDF5 file with table ``t_allpar_new``), else from the cache under ``data/``, else downloaded once
  from OpenML (``hls4ml_lhc_jets_hlf``, id 42468) through scikit-learn's ``fetch_openml``.
- ``cifar10``: see :mod:`lab_utils.cifar10`.

JSC preprocessing follows MASE with one deliberate difference:
1. drop duplicate rows over the 16 features + label (first kept);
2. ``train_test_split(test_size=0.2, random_state=42)``: 80 % train_val, 20 % test;
3. **new**: a seeded validation split (``val_fraction`` of train_val, default 10 %) carved out of
   train_val, because MASE's "validation" split *was* its training data;
4. ``StandardScaler`` fitted on the training part only, applied to all three splits.

Preprocessed splits are cached as ``data/<name>-<version>-<hash>.npz`` (written atomically; a new
generator version or other arguments give another file; a corrupt file is reported and rebuilt).
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


