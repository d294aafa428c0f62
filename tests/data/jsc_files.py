"""Real-format JSC files that are empty, too small or of the wrong shape, written with h5py and pandas
as a user's file would be (used by tests/data/test_jsc_files.py and the bad-input catalogue)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from lab_utils.data.jsc import JSC_CLASSES, JSC_FEATURES, JSC_H5_TABLE, JSC_LABEL_COLUMNS

KINDS = ("csv-empty", "csv-header", "csv-1", "csv-2", "csv-3", "h5-empty", "h5-header", "h5-1", "h5-2", "h5-3",
         "h5-strings", "h5-group", "h5-1d", "h5-2d")


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` distinct jets in OpenML's layout: the 16 features and a ``class`` column (g, q, w, z, t in turn)."""
    rng = np.random.default_rng(seed)
    out = pd.DataFrame(rng.normal(size=(n, 16)).astype(np.float32), columns=list(JSC_FEATURES))
    out["class"] = [JSC_CLASSES[i % 5] for i in range(n)]
    return out


def write_h5_table(path: Path, n: int, seed: int = 0) -> Path:
    """The hls4ml/MASE layout: a 1-D compound dataset ``t_allpar_new`` with the features and one-hot labels."""
    rng = np.random.default_rng(seed)
    table = np.zeros(n, dtype=[(c, "<f4") for c in (*JSC_FEATURES, *JSC_LABEL_COLUMNS)])
    for c in JSC_FEATURES:
        table[c] = rng.normal(size=n)
    for i in range(n):
        table[JSC_LABEL_COLUMNS[i % 5]][i] = 1.0
    with h5py.File(path, "w") as fh:
        fh.create_dataset(JSC_H5_TABLE, data=table)
    return path


def make(folder: Path, kind: str) -> Path:
    """Write the file ``kind`` (one of :data:`KINDS`) into ``folder``; its path."""
    fmt, what = kind.split("-", 1)
    path = Path(folder) / f"{kind}.{fmt}"
    if what == "empty":
        path.write_bytes(b"")
    elif fmt == "csv":
        frame(0 if what == "header" else int(what)).to_csv(path, index=False)
    elif what in ("header", "1", "2", "3"):
        write_h5_table(path, 0 if what == "header" else int(what))
    else:
        with h5py.File(path, "w") as fh:
            if what == "strings":
                fh.create_dataset(JSC_H5_TABLE, data=np.array([b"g", b"q", b"w"]))
            elif what == "group":
                fh.create_group(JSC_H5_TABLE).create_dataset("j_zlogz", data=np.zeros(5))
            elif what == "1d":
                fh.create_dataset(JSC_H5_TABLE, data=np.arange(21.0))
            else:
                fh.create_dataset(JSC_H5_TABLE, data=np.zeros((10, 21)))
    return path
