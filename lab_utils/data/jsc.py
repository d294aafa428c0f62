"""The jet-substructure (JSC) data set: its columns and classes, MASE's preprocessing, the real
readers (HDF5, ARFF, CSV, parquet) and the OpenML download.

JSC preprocessing follows MASE with one deliberate difference:
1. drop duplicate rows over the 16 features + label (first kept);
2. ``train_test_split(test_size=0.2, random_state=42)``: 80 % train_val, 20 % test;
3. **new**: a seeded validation split (``val_fraction`` of train_val, default 10 %) carved out of
   train_val, because MASE's "validation" split *was* its training data;
4. ``StandardScaler`` fitted on the training part only, applied to all three splits.

Too few distinct rows for three splits (fewer than :func:`min_rows`: 4 with the default 10 %
validation split) is a one-line :class:`LabError` saying how many are needed, not scikit-learn's
``ValueError`` from inside ``train_test_split``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from lab_utils.data.splits import Splits, save_npz, to_splits, warn
from lab_utils.errors import LabError

JSC_FEATURES = (
    "j_zlogz", "j_c1_b0_mmdt", "j_c1_b1_mmdt", "j_c1_b2_mmdt", "j_c2_b1_mmdt", "j_c2_b2_mmdt",
    "j_d2_b1_mmdt", "j_d2_b2_mmdt", "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt", "j_m2_b1_mmdt",
    "j_m2_b2_mmdt", "j_n2_b1_mmdt", "j_n2_b2_mmdt", "j_mass_mmdt", "j_multiplicity",
)
JSC_CLASSES = ("g", "q", "w", "z", "t")
JSC_LABEL_COLUMNS = ("j_g", "j_q", "j_w", "j_z", "j_t")
JSC_OPENML_ID = 42468
JSC_FULL_SIZE = 830_000
JSC_H5_TABLE = "t_allpar_new"
MIN_TRAIN_ROWS = 2  # BatchNorm needs at least two rows in a training batch


def split_sizes(n: int, val_fraction: float) -> tuple[int, int, int]:
    """(train, val, test) sizes of ``n`` rows, by scikit-learn's rule: ``test = ceil(0.2 n)``, then
    ``val = ceil(val_fraction * rest)``, the remainder is train."""
    n_test = math.ceil(0.2 * n)
    n_val = math.ceil(val_fraction * (n - n_test))
    return n - n_test - n_val, n_val, n_test


def min_rows(val_fraction: float = 0.1) -> int:
    """The fewest distinct rows that give every split a row and train at least :data:`MIN_TRAIN_ROWS`."""
    n = 1
    while True:
        train, val, test = split_sizes(n, val_fraction)
        if train >= MIN_TRAIN_ROWS and val >= 1 and test >= 1:
            return n
        n += 1


def preprocess_jsc(x: np.ndarray, y: np.ndarray, val_fraction: float = 0.1, val_seed: int = 42,
                   where: str = "JSC data") -> dict:
    """MASE's JSC preprocessing plus a real validation split (see the module docstring); ``where``
    names the data in the error messages (a file, with its subsampling)."""
    from sklearn.model_selection import train_test_split  # local: ~1.2 s to import, every CLI start would pay it
    from sklearn.preprocessing import StandardScaler  # local: only building the splits (a cache miss) needs it

    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y).astype(np.int64)
    if x.ndim != 2 or x.shape[1] != len(JSC_FEATURES):
        raise LabError(f"JSC features must have shape (N, 16), got {tuple(x.shape)}")
    if y.shape != (x.shape[0],):
        raise LabError(f"JSC labels must have shape ({x.shape[0]},), got {tuple(y.shape)}")
    if x.shape[0] == 0:
        raise LabError(f"{where}: no rows; JSC needs at least {min_rows(val_fraction)} distinct jets")
    if not np.isfinite(x).all():
        raise LabError(f"JSC features contain {int((~np.isfinite(x)).sum())} NaN or infinite values")
    if y.min() < 0 or y.max() >= len(JSC_CLASSES):
        raise LabError(f"JSC labels must lie in 0..4, got {int(y.min())}..{int(y.max())}")
    if not 0.0 < val_fraction < 1.0:
        raise LabError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    frame = pd.DataFrame(x, columns=list(JSC_FEATURES))
    frame["label"] = y
    keep = ~frame.duplicated().to_numpy()
    n_raw = int(x.shape[0])
    x, y = x[keep], y[keep]
    if len(y) < min_rows(val_fraction):
        raise LabError(f"{where}: {len(y)} distinct row(s) ({n_raw - len(y)} duplicate(s) dropped) are too few to split "
                       f"into train, val and test; JSC needs at least {min_rows(val_fraction)} (train "
                       f"{MIN_TRAIN_ROWS}, val 1, test 1 with a {val_fraction:.0%} validation split)")
    x_tv, x_test, y_tv, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    x_train, x_val, y_train, y_val = train_test_split(x_tv, y_tv, test_size=val_fraction, random_state=val_seed)
    scaler = StandardScaler().fit(x_train)
    out = {}
    for s, xs, ys in (("train", x_train, y_train), ("val", x_val, y_val), ("test", x_test, y_test)):
        out[f"x_{s}"] = scaler.transform(xs).astype(np.float32)
        out[f"y_{s}"] = ys.astype(np.int64)
    out["n_raw"] = n_raw
    out["n_duplicates"] = n_raw - int(keep.sum())
    return out


# ---------------------------------------------------------------- the real JSC data set
JSC_VERSION = "openml42468"


def read_jsc_file(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read the real JSC data from a file: HDF5 (``t_allpar_new``), ARFF, CSV or parquet.

    Tabular files need the 16 feature columns and either a ``class`` column (OpenML's, values
    g/q/w/z/t or 0..4) or the one-hot ``j_g … j_t`` columns (MASE's).
    """
    path = Path(path)
    if not path.exists():
        raise LabError(f"JSC file {path} does not exist; pass an existing file or use --dataset jsc-sim")
    suffix = path.suffix.lower()
    if path.is_file() and path.stat().st_size == 0:
        raise LabError(f"{path}: empty file (0 bytes); expected JSC data (HDF5, ARFF, CSV or parquet) with at least "
                       f"{min_rows()} distinct jets")
    try:
        if suffix in (".h5", ".hdf5", ".z"):
            frame = _read_h5_table(path)
        elif suffix == ".arff":
            from scipy.io import arff  # local: needed only for an ARFF file

            data, _ = arff.loadarff(path)
            frame = pd.DataFrame(data)
            for col in frame.columns:
                if frame[col].dtype == object:
                    frame[col] = frame[col].str.decode("utf-8")
        elif suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raise LabError(f"{path}: unknown JSC file type {suffix!r}; use .h5/.z (HDF5), .arff, .csv or .parquet")
    except LabError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is a malformed user file
        raise LabError(f"{path}: cannot read JSC data ({type(exc).__name__}: {str(exc)[:120]})") from None
    return _frame_to_arrays(frame, path)


def _read_h5_table(path: Path) -> pd.DataFrame:
    """The hls4ml/MASE HDF5 table ``t_allpar_new`` (a 1-D compound dataset: one named field per column)."""
    import h5py  # local: optional, needed only for the HDF5 file

    expected = f"expected a 1-D table (compound dataset) with the 16 JSC feature columns and {', '.join(JSC_LABEL_COLUMNS)}"
    with h5py.File(path, "r") as fh:
        if JSC_H5_TABLE not in fh:
            raise LabError(f"{path}: HDF5 file has no table '{JSC_H5_TABLE}' (found: {', '.join(fh.keys()) or 'nothing'})")
        node = fh[JSC_H5_TABLE]
        if not isinstance(node, h5py.Dataset):
            raise LabError(f"{path}: HDF5 '{JSC_H5_TABLE}' is a {type(node).__name__.lower()}, not a table; {expected}")
        if node.dtype.names is None or node.ndim != 1:
            kind = "strings" if node.dtype.kind in "SUO" else str(node.dtype)
            raise LabError(f"{path}: HDF5 '{JSC_H5_TABLE}' is a {node.ndim}-D array of {kind} with shape "
                           f"{tuple(node.shape)}, not a table with named columns; {expected}")
        table = node[()]
    return pd.DataFrame({n: table[n] for n in table.dtype.names})


def _frame_to_arrays(frame, path) -> tuple[np.ndarray, np.ndarray]:
    missing = [c for c in JSC_FEATURES if c not in frame.columns]
    if missing:
        raise LabError(f"{path}: missing JSC feature columns {missing[:4]}{'…' if len(missing) > 4 else ''}")
    try:
        x = frame[list(JSC_FEATURES)].to_numpy(dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise LabError(f"{path}: JSC feature columns must be numeric ({str(exc)[:80]})") from None
    bad = ~np.isfinite(x)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise LabError(f"{path}: {int(bad.sum())} NaN or infinite feature values (first: row {int(rows[0])}, "
                       f"column {JSC_FEATURES[int(cols[0])]})")
    if all(c in frame.columns for c in JSC_LABEL_COLUMNS):
        y = frame[list(JSC_LABEL_COLUMNS)].to_numpy().argmax(axis=1)
    elif "class" in frame.columns:
        raw = frame["class"].astype(str).str.strip()
        mapping = {c: i for i, c in enumerate(JSC_CLASSES)} | {str(i): i for i in range(5)}
        bad = sorted(set(raw) - set(mapping))
        if bad:
            raise LabError(f"{path}: unknown class labels {bad[:5]}; expected g, q, w, z, t")
        y = raw.map(mapping).to_numpy()
    else:
        raise LabError(f"{path}: no label column; expected 'class' or one-hot {', '.join(JSC_LABEL_COLUMNS)}")
    return x, np.asarray(y, dtype=np.int64)


def load_jsc_real(path, n_samples, seed, val_fraction, data_dir: Path, download: bool) -> Splits:
    """The real JSC splits: from ``path``, else the raw cache in ``data_dir``, else the OpenML download.

    ``n_samples`` subsamples the jets (seeded by ``seed``, order kept) before the preprocessing.
    """
    source = None
    if path is not None:
        x, y = read_jsc_file(path)
        source = str(path)
    else:
        raw_cache = Path(data_dir) / "jsc-openml42468-raw.npz"
        cached = None
        if raw_cache.exists():
            try:
                with np.load(raw_cache, allow_pickle=False) as z:
                    cached = (z["x"], z["y"])
            except FileNotFoundError:  # removed since exists(): download it
                pass
            except Exception as exc:  # noqa: BLE001 - a torn cache is reported and re-downloaded
                warn(f"JSC cache {raw_cache} is corrupt ({type(exc).__name__}); downloading again")
        if cached is None:
            if not download:
                raise LabError(f"real JSC data not found at {raw_cache}; pass --data-path FILE, or use --dataset jsc-sim")
            cached = _download_jsc(data_dir)
            save_npz(raw_cache, x=cached[0], y=cached[1])  # optional: a read-only data/ warns and goes on
        x, y = cached
        source = f"OpenML {JSC_OPENML_ID}"
    where = source
    if n_samples is not None and n_samples < len(y):
        idx = np.random.default_rng(seed).permutation(len(y))[: int(n_samples)]
        x, y = x[np.sort(idx)], y[np.sort(idx)]
        where = f"{source} subsampled to {int(n_samples)} rows (n_samples / --n-samples)"
    arrays = preprocess_jsc(x, y, val_fraction=val_fraction, where=where)
    info = {"n_raw": int(arrays["n_raw"]), "n_duplicates": int(arrays["n_duplicates"]), "source": source}
    return to_splits("jsc", JSC_VERSION, False, arrays, JSC_FEATURES, JSC_CLASSES, info)


def _download_jsc(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Download OpenML 42468 with scikit-learn (cached by sklearn under ``data/openml``)."""
    from sklearn.datasets import fetch_openml  # local: slow to import, needed only for the download

    try:
        bunch = fetch_openml(data_id=JSC_OPENML_ID, as_frame=True, data_home=str(Path(data_dir) / "openml"),
                             parser="auto")
    except Exception as exc:  # noqa: BLE001 - network failures of any kind
        raise LabError(
            f"cannot download the real JSC data set (OpenML {JSC_OPENML_ID}): {type(exc).__name__}; "
            "pass a local file with --data-path, or use --dataset jsc-sim (the embedded simulator)"
        ) from None
    frame = bunch.frame if bunch.frame is not None else bunch.data.assign(**{"class": bunch.target})
    if "class" not in frame.columns and bunch.target is not None:
        frame = frame.assign(**{"class": bunch.target})
    return _frame_to_arrays(frame, f"OpenML {JSC_OPENML_ID}")
