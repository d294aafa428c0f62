"""Atomic writes (no kill here; the kill tests are in ``tests/system``): the target is replaced whole
or not at all, no temporary file is left behind, and the new file has the usual permissions."""

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from lab_utils import atomic


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


def test_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "out.txt"  # the folder is created
    atomic.write_text(path, "old\n")
    inode = path.stat().st_ino
    with atomic.atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp.name.startswith(".tmp-out.txt.") and tmp.suffix == ".txt"
        tmp.write_text("new, longer content\n")
        assert path.read_text() == "old\n"  # the target is untouched until the body finishes
    assert path.read_text() == "new, longer content\n"
    assert path.stat().st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert _leftovers(path.parent) == []


def test_a_failing_body_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    path = tmp_path / "out.json"
    atomic.write_json(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic.atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed in the middle")
    assert json.loads(path.read_text()) == {"a": 1}
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_permissions_are_those_of_a_plain_open(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic.write_bytes(tmp_path / "a.bin", b"x")
        with open(tmp_path / "plain.bin", "wb") as fh:
            fh.write(b"x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "a.bin").stat().st_mode)
    assert mode == 0o666 & ~umask == stat.S_IMODE((tmp_path / "plain.bin").stat().st_mode)


def test_writers_round_trip(tmp_path):
    atomic.write_json(tmp_path / "a.json", {"n": np.int64(3), "x": np.arange(2), "p": Path("a/b")})
    assert (tmp_path / "a.json").read_text() == '{\n  "n": 3,\n  "x": [\n    0,\n    1\n  ],\n  "p": "a/b"\n}\n'
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        atomic.write_json(tmp_path / "b.json", {"o": object()})
    assert not (tmp_path / "b.json").exists() and _leftovers(tmp_path) == []
    atomic.torch_save(tmp_path / "t.pt", {"w": torch.arange(3)})
    assert torch.equal(torch.load(tmp_path / "t.pt", weights_only=True)["w"], torch.arange(3))


def test_a_failed_write_names_the_target_not_the_temporary_file(tmp_path):
    """A real write failure (``RLIMIT_FSIZE``: the kernel refuses to grow a file, as a full disk does)
    names the file the user knows; the old file stays and no temporary file is left."""
    import errno
    import resource
    import signal

    from lab_utils import atomic

    path = tmp_path / "trials.csv"
    atomic.write_text(path, "old\n")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with pytest.raises(OSError) as info:
            atomic.write_text(path, "x" * 100_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert info.value.filename == str(path) and info.value.errno == errno.EFBIG
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["trials.csv"]
