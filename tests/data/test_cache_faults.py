"""The split cache is optional: a data folder that cannot be written (read-only, a file on the way,
a full disk) costs one ``warning:`` line on stderr naming the folder, and the data is returned from
memory, equal to a normal load (before: the OSError ended the command with a traceback).

The read-only case uses ``chmod 0o555`` when not root; as root (permission bits do not stop root) it
makes ``tempfile.mkstemp`` raise the EROFS a read-only mount gives. The path-through-a-file case is
real for everyone. The disk-full case here replaces ``np.savez`` with one that writes part of the
file and raises ENOSPC; tests/system/test_report_faults.py runs a real process under RLIMIT_FSIZE.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lab_utils.data import jsc, load_dataset, splits


def _same(a, b) -> bool:
    return all(torch.equal(getattr(a, k), getattr(b, k)) for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"))


def _one_warning(err: str, folder: Path) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"warning: data cache folder {folder} cannot be written (") and "in memory" in lines[0]
    return lines[0]


@pytest.fixture
def reference(tmp_path):
    return load_dataset("jsc-sim", n_samples=1000, data_dir=tmp_path / "good")


def test_a_data_folder_below_a_file_warns_and_goes_on(tmp_path, reference, capsys):
    (tmp_path / "a-file").write_text("not a folder\n")
    folder = tmp_path / "a-file" / "data"
    capsys.readouterr()
    s = load_dataset("jsc-sim", n_samples=1000, data_dir=folder)
    line = _one_warning(capsys.readouterr().err, folder)
    assert "ENOTDIR" in line or "EEXIST" in line
    assert _same(s, reference) and (tmp_path / "a-file").read_text() == "not a folder\n"


def test_a_read_only_data_folder_warns_and_goes_on(tmp_path, reference, capsys, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
    else:  # root ignores permission bits: raise what a read-only mount raises
        real = tempfile.mkstemp

        def read_only(*args, dir=None, **kwargs):
            if Path(dir) == folder:
                raise OSError(errno.EROFS, "Read-only file system", str(folder))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", read_only)
    capsys.readouterr()
    for _ in range(2):  # every load warns again and still works
        s = load_dataset("jsc-sim", n_samples=1000, data_dir=folder)
        _one_warning(capsys.readouterr().err, folder)
        assert _same(s, reference)
    folder.chmod(0o755)
    assert list(folder.iterdir()) == []


def test_a_full_disk_warns_leaves_no_partial_file_and_goes_on(tmp_path, reference, capsys, monkeypatch):
    real = np.savez

    def disk_full(fh, **arrays):
        fh.write(b"PK\x03\x04" + b"\0" * 4096)  # part of the file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    folder = tmp_path / "full"
    capsys.readouterr()
    s = load_dataset("jsc-sim", n_samples=1000, data_dir=folder)
    assert "No space left on device (ENOSPC)" in _one_warning(capsys.readouterr().err, folder)
    assert _same(s, reference) and list(folder.iterdir()) == []  # no torn cache, no temporary file
    monkeypatch.setattr(np, "savez", real)
    load_dataset("jsc-sim", n_samples=1000, data_dir=folder)  # space again: the cache is written
    assert capsys.readouterr().err == "" and len(list(folder.glob("*.npz"))) == 1


def test_the_downloaded_raw_cache_is_optional_too(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 16)).astype(np.float32), rng.integers(0, 5, 300)
    monkeypatch.setattr(jsc, "_download_jsc", lambda data_dir: (x, y))
    (tmp_path / "a-file").write_text("")
    folder = tmp_path / "a-file" / "data"
    capsys.readouterr()
    s = load_dataset("jsc", data_dir=folder)
    _one_warning(capsys.readouterr().err, folder)
    assert sum(s.sizes().values()) == 300


def test_save_npz_reports_success(tmp_path):
    assert splits.save_npz(tmp_path / "x.npz", a=np.arange(3)) is True
    with np.load(tmp_path / "x.npz") as z:
        assert z["a"].tolist() == [0, 1, 2]
