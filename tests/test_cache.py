"""The content-addressed cache (``lab_utils.cache``): keys equal a separate ``hashlib`` computation
(and the file names the callers wrote before the module existed), a foreign or torn entry is a miss
with one warning, a second holder of an entry's lock waits for the first (seen blocked in
``/proc/locks``, no timing), and a store is whole or not at all."""

import contextlib
import errno
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lab_utils import atomic
from lab_utils.cache import Cache, canonical, content_key, file_digest
from lab_utils.data.splits import cache_file
from lab_utils.training import candidates
from lab_utils.training.checkpoints import load_checkpoint_file
from lab_utils.training.train import Recipe
from tests.helpers import ROOT

DESC = {"b": {"c": 0.5}, "a": (1, 2)}


def _cache(folder) -> Cache:
    return Cache(folder, what="test cache", read=load_checkpoint_file, redo="computing again")


def _misses(cache, key, desc, use=None):
    """``cache.load`` that must miss with one warning; returns the warning's text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cache.load(key, desc, use) is None
    assert len(caught) == 1
    return str(caught[0].message)


# ---------------------------------------------------------------- keys
def test_canonical_is_what_json_stores():
    out = canonical({"b": (1, (2, 3)), "p": Path("x/y"), "a": {10: 1.5, 2: None}})
    assert out == {"a": {"10": 1.5, "2": None}, "b": [1, [2, 3]], "p": "x/y"}
    assert list(out) == ["a", "b", "p"] and list(out["a"]) == ["2", "10"]  # sorted as numbers, then made strings


def test_key_is_the_sha256_of_the_sorted_json():
    text = b'{"a": [1, 2], "b": {"c": 0.5}}'  # DESC written out by hand
    assert hashlib.sha256(text).hexdigest() == "67d53d0982d27339114bfef30da9b4eea239bc88dd2eb2160e69ffd7170bd520"
    assert content_key(DESC) == ("67d53d0982d2", {"a": [1, 2], "b": {"c": 0.5}})
    assert content_key(DESC, 24)[0] == "67d53d0982d27339114bfef3"


def test_the_callers_keys_are_those_they_computed_before():
    # the data cache: jsc-sim's generator arguments; the name the data cache file had before
    args = {"n": 600, "seed": 0, "val_fraction": 0.2}
    assert hashlib.sha256(b'{"n": 600, "seed": 0, "val_fraction": 0.2}').hexdigest()[:12] == "917d542c5f53"
    assert cache_file(Path("d"), "jsc-sim", "v2", args) == Path("d/jsc-sim-v2-917d542c5f53.npz")
    # trained candidates: the old formula, sha256 of json.dumps(desc, sort_keys=True), 12 digits
    splits = SimpleNamespace(describe=lambda: {"dataset": "blobs", "sizes": {"train": 4000, "val": 1000}})
    recipe = Recipe(epochs=2, batch_size=256, lr=3e-3, seed=1)
    key, desc = candidates.candidate_key("jsc-tiny", {"hidden": (16, 32)}, splits, recipe, {"augment": "flip"})
    assert list(desc) == ["format", "model", "model_args", "recipe", "data", "augment"]  # stored in this order
    assert desc["model_args"] == {"hidden": [16, 32]}
    assert key == hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:12]


# ---------------------------------------------------------------- load and store
def test_a_stored_entry_is_a_hit_for_its_description_only(tmp_path):
    cache = _cache(tmp_path / "c")
    key, desc = content_key(DESC)
    assert cache.load(key, DESC) is None  # no file: a miss without a warning
    path = cache.store(key, desc, {"value": torch.arange(3)})
    assert path == tmp_path / "c" / f"{key}.pt"
    hit = cache.load(key, {"a": [1, 2], "b": {"c": 0.5}})  # the same description, written another way
    assert list(hit) == ["desc", "value"] and torch.equal(hit["value"], torch.arange(3))
    assert cache.load(key, DESC, lambda entry: entry["value"].sum().item()) == 3
    msg = _misses(cache, key, {**DESC, "a": (1, 3)})  # a file whose content disagrees with its name
    assert msg == f"test cache {path} unusable (stored description does not match its key); computing again"
    assert "'missing'" in _misses(cache, key, DESC, lambda entry: entry["missing"])  # use fails: a miss too


def test_a_torn_or_foreign_file_is_a_miss_and_storing_over_it_mends_it(tmp_path):
    cache = _cache(tmp_path)
    key, desc = content_key(DESC)
    path = cache.store(key, desc, {"value": 1})
    path.write_bytes(path.read_bytes()[:100])  # torn
    assert "cannot be read" in _misses(cache, key, DESC)
    path.write_text("not a torch file")
    assert "cannot be read" in _misses(cache, key, DESC)
    torch.save([1, 2], path)  # a torch file, not an entry
    assert "not a checkpoint dictionary" in _misses(cache, key, DESC)
    cache.store(key, desc, {"value": 2})
    assert cache.load(key, DESC)["value"] == 2


def test_a_store_leaves_no_temporary_file_and_a_failed_one_keeps_the_old_entry(tmp_path, monkeypatch):
    cache = Cache(tmp_path, what="test cache", read=load_checkpoint_file, prefix="m-", suffix=".ckpt")
    key, desc = content_key(DESC)
    path = cache.store(key, desc, {"value": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"m-{key}.ckpt"]
    blob = path.read_bytes()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full_disk)  # the new file is written, then cannot be synced
    with pytest.raises(OSError, match="No space left on device") as exc:
        cache.store(key, desc, {"value": 2})
    assert exc.value.filename == str(path)
    monkeypatch.undo()
    assert path.read_bytes() == blob and cache.load(key, DESC)["value"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"m-{key}.ckpt"]


# ---------------------------------------------------------------- the per-entry lock
HOLD = """import sys
from lab_utils.cache import Cache, content_key
from lab_utils.training.checkpoints import load_checkpoint_file
cache = Cache(sys.argv[1], what="test cache", read=load_checkpoint_file)
key, desc = content_key({"b": {"c": 0.5}, "a": (1, 2)})
with cache.locked(key):
    print("held", flush=True)
    sys.stdin.readline()
    cache.store(key, desc, {"value": "from the holder"})
"""


def _blocked_on(path: Path) -> bool:
    """Whether /proc/locks lists a process waiting (``->``) for a flock on ``path``."""
    inode = f":{path.stat().st_ino} "
    return any("->" in line and "FLOCK" in line and inode in line
               for line in Path("/proc/locks").read_text().splitlines())


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks to see a waiter")
def test_a_second_holder_waits_for_the_first_then_reads_its_entry(tmp_path):
    cache = _cache(tmp_path)
    key, _ = content_key(DESC)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with cache.locked(key, wait=False) as mine:
            assert mine is False  # taken: told so at once
        open_fds = len(os.listdir("/proc/self/fd"))
        with contextlib.ExitStack() as refused:  # as prefetch holds them: a refused lock keeps no file open
            assert not any(refused.enter_context(cache.locked(key, wait=False)) for _ in range(20))
            assert len(os.listdir("/proc/self/fd")) == open_fds
        seen = []

        def second():
            with cache.locked(key) as mine:
                seen.append((mine, cache.load(key, DESC)))

        waiter = threading.Thread(target=second)
        waiter.start()
        deadline = time.monotonic() + 60  # a bound against hanging, not a measurement
        while not _blocked_on(tmp_path / f"{key}.lock"):
            assert time.monotonic() < deadline, "the second holder never blocked on the lock"
            time.sleep(0.01)
        assert waiter.is_alive() and seen == []
        holder.stdin.write("go\n")
        holder.stdin.flush()
        waiter.join(60)
        assert holder.wait(60) == 0
        assert len(seen) == 1 and seen[0][0] is True and seen[0][1]["value"] == "from the holder"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    with cache.locked(key, wait=False) as mine:
        assert mine is True  # released by both
    assert sorted(os.listdir(tmp_path)) == [f"{key}.lock", f"{key}.pt"]


def test_file_digest_is_sha256_of_the_bytes(tmp_path):
    f = tmp_path / "ckpt.pt"
    f.write_bytes(b"weights")
    assert file_digest(f) == "9a129038d9a00aed0cf6a7ea059ca50a813449061ab87848cf1a13eafdf33b2c"  # printf weights | sha256sum
