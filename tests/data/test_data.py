"""Tests of lab_utils.data: MASE preprocessing, the cache, the real-data readers and their errors."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from lab_utils.data import jsc, jsc_sim, load_dataset
from lab_utils.data.jsc import JSC_CLASSES, JSC_FEATURES, JSC_LABEL_COLUMNS, preprocess_jsc, read_jsc_file
from lab_utils.errors import LabError


def _raw(n=500, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.lognormal(size=(n, 16)).astype(np.float32) * np.arange(1, 17, dtype=np.float32)
    y = rng.integers(0, 5, n).astype(np.int64)
    return x, y


# ---------------------------------------------------------------- preprocessing
def test_preprocess_matches_an_independent_sklearn_pipeline():
    x, y = _raw(500)
    # 40 exact duplicate rows (features and label) and 5 rows with equal features, other label.
    x = np.concatenate([x, x[:40], x[40:45]])
    y = np.concatenate([y, y[:40], (y[40:45] + 1) % 5])
    out = preprocess_jsc(x, y, val_fraction=0.1)
    # Oracle: first occurrences of each (features, label) row, found with a plain dict.
    seen, keep = set(), []
    for i in range(len(y)):
        key = (x[i].tobytes(), int(y[i]))
        if key not in seen:
            seen.add(key)
            keep.append(i)
    assert len(keep) == 505 and out["n_duplicates"] == 40 and out["n_raw"] == 545
    xk, yk = x[keep], y[keep]
    x_tv, x_te, y_tv, y_te = train_test_split(xk, yk, test_size=0.2, random_state=42)
    x_tr, x_va, y_tr, y_va = train_test_split(x_tv, y_tv, test_size=0.1, random_state=42)
    scaler = StandardScaler().fit(x_tr)
    assert out["x_train"].shape == (363, 16) and out["x_val"].shape == (41, 16) and out["x_test"].shape == (101, 16)
    for split, xs, ys in (("train", x_tr, y_tr), ("val", x_va, y_va), ("test", x_te, y_te)):
        np.testing.assert_allclose(out[f"x_{split}"], scaler.transform(xs), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(out[f"y_{split}"], ys)
        assert out[f"x_{split}"].dtype == np.float32 and out[f"y_{split}"].dtype == np.int64
    # Fitted on train only: train is standardised (population std), val/test only roughly so.
    np.testing.assert_allclose(out["x_train"].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out["x_train"].std(axis=0), 1, atol=1e-4)
    assert np.abs(out["x_test"].mean(axis=0)).max() > 1e-3


@pytest.mark.parametrize("x_shape,y_shape,match", [((10, 15), (10,), "shape"), ((10, 16), (9,), "labels must have shape"),
                                                   ((10,), (10,), "shape")])
def test_preprocess_rejects_wrong_shapes(x_shape, y_shape, match):
    with pytest.raises(LabError, match=match):
        preprocess_jsc(np.zeros(x_shape, np.float32), np.zeros(y_shape, np.int64))


def test_preprocess_rejects_nans_and_bad_labels():
    x, y = _raw(50)
    x[3, 7] = np.nan
    with pytest.raises(LabError, match="NaN"):
        preprocess_jsc(x, y)
    x, y = _raw(50)
    y[0] = 7
    with pytest.raises(LabError, match="0..4"):
        preprocess_jsc(x, y)
    with pytest.raises(LabError, match="val_fraction"):
        preprocess_jsc(*_raw(50), val_fraction=1.5)


# ---------------------------------------------------------------- the jsc-sim cache
def _npz_files(d: Path):
    return sorted(p.name for p in Path(d).glob("*.npz"))


def test_sim_cache_written_then_read(tmp_path, monkeypatch):
    a = load_dataset("jsc-sim", n_samples=1500, data_seed=1, data_dir=tmp_path)
    assert a.synthetic and "SYNTHETIC" in a.label and a.version == jsc_sim.VERSION
    files = _npz_files(tmp_path)
    assert len(files) == 1 and jsc_sim.VERSION in files[0]
    assert sum(a.sizes().values()) == 1500 - a.info["n_duplicates"]

    def no_generate(*args, **kwargs):
        raise AssertionError("the second load must read the cache")

    monkeypatch.setattr(jsc_sim, "generate", no_generate)
    b = load_dataset("jsc-sim", n_samples=1500, data_seed=1, data_dir=tmp_path)
    for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, k), getattr(b, k))
    assert b.info == a.info


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_sim_cache_is_reported_and_regenerated(tmp_path, damage, capsys):
    a = load_dataset("jsc-sim", n_samples=1000, data_dir=tmp_path)
    (path,) = Path(tmp_path).glob("*.npz")
    blob = path.read_bytes()
    path.write_bytes({"truncate": blob[: len(blob) // 2], "garbage": b"not a zip file" * 50, "empty": b""}[damage])
    capsys.readouterr()
    b = load_dataset("jsc-sim", n_samples=1000, data_dir=tmp_path)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("warning: data cache ") and str(path) in err[0] and "corrupt" in err[0]
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert path.read_bytes() == blob  # rebuilt, byte for byte
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # now healthy: no warning
        load_dataset("jsc-sim", n_samples=1000, data_dir=tmp_path)
    assert capsys.readouterr().err == ""


def test_new_version_or_arguments_give_a_new_cache_file(tmp_path, monkeypatch):
    load_dataset("jsc-sim", n_samples=1000, data_dir=tmp_path)
    load_dataset("jsc-sim", n_samples=1000, data_seed=2, data_dir=tmp_path)
    assert len(_npz_files(tmp_path)) == 2
    monkeypatch.setattr(jsc_sim, "VERSION", "sim-test-next")
    s = load_dataset("jsc-sim", n_samples=1000, data_dir=tmp_path)
    files = _npz_files(tmp_path)
    assert len(files) == 3 and sum("sim-test-next" in f for f in files) == 1 and s.version == "sim-test-next"
    assert not list(Path(tmp_path).glob(".tmp-*"))


def test_unknown_dataset_and_too_small_sim(tmp_path):
    with pytest.raises(LabError, match="unknown data set 'mnist'.*jsc-sim"):
        load_dataset("mnist", data_dir=tmp_path)
    with pytest.raises(LabError, match="at least 100"):
        load_dataset("jsc-sim", n_samples=50, data_dir=tmp_path)


def test_split_accessor_and_describe(tmp_path):
    s = load_dataset("jsc-sim", n_samples=500, data_dir=tmp_path)
    x, y = s.split("val")
    assert x is s.x_val and y is s.y_val and s.num_classes == 5
    assert s.describe()["synthetic"] is True and s.describe()["sizes"] == s.sizes()
    with pytest.raises(LabError, match="unknown split 'dev'"):
        s.split("dev")


# ---------------------------------------------------------------- the real JSC readers
def _write_h5(path, x, y, table="t_allpar_new"):
    import h5py

    names = list(JSC_FEATURES) + list(JSC_LABEL_COLUMNS) + ["j_pt"]
    rec = np.zeros(len(y), dtype=[(n, "<f4") for n in names])
    for i, n in enumerate(JSC_FEATURES):
        rec[n] = x[:, i]
    for c, n in enumerate(JSC_LABEL_COLUMNS):
        rec[n] = (y == c).astype(np.float32)
    rec["j_pt"] = 1000.0  # extra columns (the real file has many) are ignored
    with h5py.File(path, "w") as fh:
        fh.create_dataset(table, data=rec)


def _write_arff(path, x, y):
    lines = ["% hand-written ARFF in OpenML's layout", "@RELATION hls4ml_lhc_jets_hlf", ""]
    lines += [f"@ATTRIBUTE {n} NUMERIC" for n in JSC_FEATURES]
    lines += ["@ATTRIBUTE class {" + ",".join(JSC_CLASSES) + "}", "", "@DATA"]
    lines += [",".join(f"{v!r}" for v in row.tolist()) + f",{JSC_CLASSES[c]}" for row, c in zip(x, y)]
    Path(path).write_text("\n".join(lines) + "\n")


def _write_csv(path, x, y, drop=None, labels="letters"):
    cols = [n for n in JSC_FEATURES if n != drop]
    rows = [",".join(cols + ["class"])]
    for row, c in zip(x, y):
        vals = [repr(float(v)) if not np.isnan(v) else "" for n, v in zip(JSC_FEATURES, row) if n != drop]
        rows.append(",".join(vals + [JSC_CLASSES[c] if labels == "letters" else str(c)]))
    Path(path).write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("fmt", ["h5", "z", "arff", "csv", "csv-int"])
def test_readers_parse_the_real_formats(tmp_path, fmt):
    x, y = _raw(60, seed=4)
    path = tmp_path / f"jets.{fmt.split('-')[0]}"
    if fmt in ("h5", "z"):
        _write_h5(path, x, y)
    elif fmt == "arff":
        _write_arff(path, x, y)
    else:
        _write_csv(path, x, y, labels="letters" if fmt == "csv" else "ints")
    xr, yr = read_jsc_file(path)
    np.testing.assert_array_equal(yr, y)
    np.testing.assert_allclose(xr, x, rtol=1e-6)
    assert xr.dtype == np.float32 and yr.dtype == np.int64


def test_load_real_jsc_from_a_user_file(tmp_path):
    x, y = _raw(300, seed=5)
    _write_h5(tmp_path / "jets.h5", x, y)
    s = load_dataset("jsc", path=tmp_path / "jets.h5", data_dir=tmp_path / "cache")
    assert not s.synthetic and "real" in s.label and s.info["source"].endswith("jets.h5")
    ref = preprocess_jsc(x, y)
    assert torch.equal(s.x_test, torch.from_numpy(ref["x_test"])) and torch.equal(s.y_train, torch.from_numpy(ref["y_train"]))
    assert not (tmp_path / "cache").exists()  # a user file is read, not copied into the cache


def test_reader_errors_name_the_file_and_problem(tmp_path):
    x, y = _raw(20, seed=6)
    with pytest.raises(LabError, match=r"missing\.h5 does not exist.*jsc-sim"):
        read_jsc_file(tmp_path / "missing.h5")
    _write_csv(tmp_path / "nomass.csv", x, y, drop="j_mass_mmdt")
    with pytest.raises(LabError, match=r"nomass\.csv: missing JSC feature columns \['j_mass_mmdt'\]"):
        read_jsc_file(tmp_path / "nomass.csv")
    _write_h5(tmp_path / "other.h5", x, y, table="jets")
    with pytest.raises(LabError, match=r"other\.h5: HDF5 file has no table 't_allpar_new' \(found: jets\)"):
        read_jsc_file(tmp_path / "other.h5")
    (tmp_path / "torn.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(LabError, match=r"torn\.h5: cannot read JSC data"):
        read_jsc_file(tmp_path / "torn.h5")
    (tmp_path / "jets.txt").write_text("a,b\n")
    with pytest.raises(LabError, match="unknown JSC file type '.txt'"):
        read_jsc_file(tmp_path / "jets.txt")
    bad = tmp_path / "badclass.csv"
    _write_csv(bad, x, y)
    bad.write_text(bad.read_text().replace(",g\n", ",gluon\n"))
    with pytest.raises(LabError, match=r"badclass\.csv: unknown class labels \['gluon'\]"):
        read_jsc_file(bad)


def test_nan_in_a_real_file_names_the_file(tmp_path):
    x, y = _raw(30, seed=7)
    x[4, 2] = np.nan
    _write_csv(tmp_path / "holes.csv", x, y)
    with pytest.raises(LabError, match=r"holes\.csv.*NaN"):
        load_dataset("jsc", path=tmp_path / "holes.csv", data_dir=tmp_path)


def test_non_numeric_feature_is_a_lab_error(tmp_path):
    x, y = _raw(10, seed=8)
    _write_csv(tmp_path / "text.csv", x, y)
    p = tmp_path / "text.csv"
    lines = p.read_text().splitlines()
    lines[3] = "oops," + lines[3].split(",", 1)[1]
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(LabError, match=r"text\.csv"):
        read_jsc_file(p)


# ---------------------------------------------------------------- download and its cache
def _no_leftovers(d: Path):
    return [p.name for p in Path(d).rglob("*") if p.suffix == ".npz" or p.name.startswith(".tmp-")]


def test_offline_without_a_file_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    import sklearn.datasets

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    with pytest.raises(LabError, match=r"cannot download the real JSC data set \(OpenML 42468\).*--data-path.*jsc-sim"):
        load_dataset("jsc", data_dir=tmp_path)
    assert _no_leftovers(tmp_path) == []
    with pytest.raises(LabError, match="not found.*jsc-sim"):
        load_dataset("jsc", data_dir=tmp_path, download=False)


def test_download_is_cached_and_a_torn_cache_downloads_again(tmp_path, monkeypatch, capsys):
    x, y = _raw(400, seed=9)
    calls = []

    def fake_download(data_dir):
        calls.append(data_dir)
        return x, y

    monkeypatch.setattr(jsc, "_download_jsc", fake_download)
    a = load_dataset("jsc", data_dir=tmp_path)
    assert len(calls) == 1 and (tmp_path / "jsc-openml42468-raw.npz").exists()
    b = load_dataset("jsc", data_dir=tmp_path, n_samples=200)
    assert len(calls) == 1 and sum(b.sizes().values()) == 200  # from the cache, subsampled
    assert torch.equal(load_dataset("jsc", data_dir=tmp_path).x_test, a.x_test)
    (tmp_path / "jsc-openml42468-raw.npz").write_bytes(b"PK\x03\x04torn")
    capsys.readouterr()
    c = load_dataset("jsc", data_dir=tmp_path)
    assert re.fullmatch(r"warning: JSC cache \S+raw\.npz is corrupt \(\w+\); downloading again\n", capsys.readouterr().err)
    assert len(calls) == 2 and torch.equal(c.x_test, a.x_test)

    def failing(data_dir):
        raise LabError("cannot download the real JSC data set; use --dataset jsc-sim")

    (tmp_path / "jsc-openml42468-raw.npz").unlink()
    monkeypatch.setattr(jsc, "_download_jsc", failing)
    with pytest.raises(LabError, match="jsc-sim"):
        load_dataset("jsc", data_dir=tmp_path)
    assert _no_leftovers(tmp_path) == []
