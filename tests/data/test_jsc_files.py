"""Real JSC files that are empty, header-only, one to three rows, or whose HDF5 table is of the wrong
type: each is one LabError naming the file and what is allowed (before: scikit-learn's ValueError or a
TypeError from deep inside pandas/h5py); the smallest file that splits loads."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from lab_utils.data import load_dataset
from lab_utils.data.jsc import min_rows, split_sizes
from lab_utils.errors import LabError
from tests.data.jsc_files import frame, make, write_h5_table


@pytest.mark.parametrize("kind", ["csv-empty", "h5-empty"])
def test_an_empty_file_is_named(tmp_path, kind):
    path = make(tmp_path, kind)
    with pytest.raises(LabError) as info:
        load_dataset("jsc", path=path, data_dir=tmp_path / "cache")
    assert str(info.value) == (f"{path}: empty file (0 bytes); expected JSC data (HDF5, ARFF, CSV or parquet) "
                               "with at least 4 distinct jets")


@pytest.mark.parametrize("kind", ["csv-header", "h5-header"])
def test_a_file_without_rows_says_how_many_are_needed(tmp_path, kind):
    path = make(tmp_path, kind)
    with pytest.raises(LabError) as info:
        load_dataset("jsc", path=path, data_dir=tmp_path / "cache")
    assert str(info.value) == f"{path}: no rows; JSC needs at least 4 distinct jets"


@pytest.mark.parametrize("kind", ["csv-1", "csv-2", "csv-3", "h5-1", "h5-2", "h5-3"])
def test_one_to_three_rows_are_too_few_to_split(tmp_path, kind):
    path = make(tmp_path, kind)
    n = int(kind[-1])
    with pytest.raises(LabError) as info:
        load_dataset("jsc", path=path, data_dir=tmp_path / "cache")
    assert str(info.value) == (f"{path}: {n} distinct row(s) (0 duplicate(s) dropped) are too few to split into train, "
                               "val and test; JSC needs at least 4 (train 2, val 1, test 1 with a 10% validation split)")


def test_the_smallest_file_that_splits_loads(tmp_path):
    for fmt in ("csv", "h5"):
        path = tmp_path / f"four.{fmt}"
        frame(4).to_csv(path, index=False) if fmt == "csv" else write_h5_table(path, 4)
        assert load_dataset("jsc", path=path, data_dir=tmp_path / "cache").sizes() == {"train": 2, "val": 1, "test": 1}


def test_duplicates_and_subsampling_are_counted_in_the_message(tmp_path):
    path = tmp_path / "dups.csv"
    f = frame(3)
    f.iloc[[0, 1, 2, 0, 1, 2]].to_csv(path, index=False)  # six rows, three distinct
    with pytest.raises(LabError, match=r"dups\.csv: 3 distinct row\(s\) \(3 duplicate\(s\) dropped\) are too few"):
        load_dataset("jsc", path=path, data_dir=tmp_path / "cache")
    frame(50).to_csv(path, index=False)
    with pytest.raises(LabError, match=r"dups\.csv subsampled to 3 rows \(n_samples / --n-samples\): 3 distinct"):
        load_dataset("jsc", path=path, n_samples=3, data_dir=tmp_path / "cache")


@pytest.mark.parametrize("kind,what", [("h5-strings", "is a 1-D array of strings with shape (3,)"),
                                       ("h5-group", "is a group, not a table"),
                                       ("h5-1d", "is a 1-D array of float64 with shape (21,)"),
                                       ("h5-2d", "is a 2-D array of float64 with shape (10, 21)")])
def test_an_hdf5_table_of_the_wrong_type_is_named(tmp_path, kind, what):
    path = make(tmp_path, kind)
    with pytest.raises(LabError) as info:
        load_dataset("jsc", path=path, data_dir=tmp_path / "cache")
    msg = str(info.value)
    assert msg.startswith(f"{path}: HDF5 't_allpar_new' {what}") and "cannot read" not in msg
    assert msg.endswith("expected a 1-D table (compound dataset) with the 16 JSC feature columns and "
                        "j_g, j_q, j_w, j_z, j_t")


@pytest.mark.parametrize("val_fraction", [0.1, 0.25, 0.5, 0.9])
def test_split_sizes_are_scikit_learns(val_fraction):
    """The oracle is scikit-learn itself: the sizes its two train_test_split calls give (or its refusal)."""
    for n in range(1, 60):
        x = np.arange(n)
        try:
            tv, test = train_test_split(x, test_size=0.2, random_state=0)
            train, val = train_test_split(tv, test_size=val_fraction, random_state=0)
        except ValueError:
            assert split_sizes(n, val_fraction)[0] <= 0
            continue
        assert split_sizes(n, val_fraction) == (len(train), len(val), len(test))
    def fits(n):
        train, val, test = split_sizes(n, val_fraction)
        return train >= 2 and val >= 1 and test >= 1

    assert fits(min_rows(val_fraction)) and not any(fits(n) for n in range(1, min_rows(val_fraction)))
