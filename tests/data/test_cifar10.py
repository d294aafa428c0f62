"""CIFAR-10 loader and augmentation: small files written here in all three formats (the oracle is
the raw uint8 arrays the test wrote), the search order, errors, the download path, and the
vectorised crop/flip against a per-image loop."""

import io
import pickle
import tarfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lab_utils.data import cifar10
from lab_utils.data.tiny_images import make_tiny_image_set
from lab_utils.errors import LabError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path):
    """No test may find the shared subset or a user's LAB_CIFAR10_DIR by accident."""
    monkeypatch.delenv("LAB_CIFAR10_DIR", raising=False)
    monkeypatch.setattr(cifar10, "SHARED_SUBSET", tmp_path / "no-shared-subset")


def _raw(n_per_class, seed):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), n_per_class).astype(np.uint8)
    x = rng.integers(0, 256, size=(len(y), 32, 32, 3), dtype=np.uint8)
    return x, y


def _write_npz(d, train, test):
    d.mkdir(parents=True, exist_ok=True)
    np.savez(d / "train.npz", x=train[0], y=train[1])
    np.savez(d / "test.npz", x=test[0], y=test[1])


def _batch(x, y):
    # CIFAR's layout: rows of 3072 = 1024 R, then 1024 G, then 1024 B values.
    return pickle.dumps({b"data": x.transpose(0, 3, 1, 2).reshape(len(y), 3072), b"labels": [int(v) for v in y]})


def _write_python(d, train, test, as_archive=True):
    parts = np.array_split(np.arange(len(train[1])), 5)
    files = {f"data_batch_{i + 1}": _batch(train[0][p], train[1][p]) for i, p in enumerate(parts)}
    files["test_batch"] = _batch(*test)
    d.mkdir(parents=True, exist_ok=True)
    if as_archive:
        with tarfile.open(d / "cifar-10-python.tar.gz", "w:gz") as tar:
            for name, blob in files.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    else:
        (d / "cifar-10-batches-py").mkdir()
        for name, blob in files.items():
            (d / "cifar-10-batches-py" / name).write_bytes(blob)


def _write_folder(d, train, test):
    from PIL import Image

    for split, (x, y) in (("train", train), ("test", test)):
        for i, (img, label) in enumerate(zip(x, y)):
            p = d / split / cifar10.CLASSES[label]
            p.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(p / f"{i}.png")


def _uint8(splits, split):
    """Undo the normalisation: back to uint8 HWC images."""
    x, _ = splits.split(split)
    mean = torch.tensor(splits.info["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(splits.info["std"]).view(1, 3, 1, 1)
    return (x * std + mean).mul(255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def _as_set(x, y):
    return sorted(img.tobytes() + bytes([int(label)]) for img, label in zip(x, y))


@pytest.mark.parametrize("fmt", ["npz", "archive", "batches", "folder"])
def test_every_format_gives_the_written_images(tmp_path, fmt):
    train, test = _raw(6, seed=1), _raw(2, seed=2)
    d = tmp_path / "src"
    {"npz": _write_npz, "folder": _write_folder,
     "archive": lambda d, a, b: _write_python(d, a, b, True),
     "batches": lambda d, a, b: _write_python(d, a, b, False)}[fmt](d, train, test)
    s = cifar10.load_cifar10(path=d, data_dir=tmp_path / "cache", val_fraction=0.2, download=False)
    assert s.x_train.shape == (48, 3, 32, 32) and s.x_val.shape == (12, 3, 32, 32)
    assert s.x_test.shape == (20, 3, 32, 32) and s.x_train.dtype == torch.float32
    assert not s.synthetic and s.num_classes == 10
    # train + val together are exactly the written training images, test the test images
    got = np.concatenate([_uint8(s, "train"), _uint8(s, "val")])
    labels = np.concatenate([s.y_train.numpy(), s.y_val.numpy()])
    assert _as_set(got, labels) == _as_set(*train)
    assert _as_set(_uint8(s, "test"), s.y_test.numpy()) == _as_set(*test)
    # stratified: 6 per class, 20 % to val -> 1 or 2 per class, 12 in total
    assert np.bincount(s.y_val.numpy(), minlength=10).min() >= 1


def test_normalisation_uses_training_split_statistics(tmp_path):
    train, test = _raw(10, seed=3), _raw(3, seed=4)
    _write_npz(tmp_path / "d", train, test)
    s = cifar10.load_cifar10(path=tmp_path / "d", val_fraction=0.1, download=False)
    raw = _uint8(s, "train").astype(np.float64) / 255.0  # the exact training pixels
    np.testing.assert_allclose(s.info["mean"], raw.reshape(-1, 3).mean(0), atol=1e-6)
    np.testing.assert_allclose(s.info["std"], raw.reshape(-1, 3).std(0), atol=1e-6)
    np.testing.assert_allclose(s.x_train.mean((0, 2, 3)).numpy(), 0, atol=1e-4)
    np.testing.assert_allclose(s.x_train.std((0, 2, 3), correction=0).numpy(), 1, atol=1e-4)


def test_split_is_seeded_and_subsample_stratified(tmp_path):
    _write_npz(tmp_path / "d", _raw(10, 5), _raw(10, 6))
    a = cifar10.load_cifar10(path=tmp_path / "d", data_seed=0, download=False)
    b = cifar10.load_cifar10(path=tmp_path / "d", data_seed=0, download=False)
    c = cifar10.load_cifar10(path=tmp_path / "d", data_seed=1, download=False)
    assert torch.equal(a.x_val, b.x_val) and not torch.equal(a.x_val, c.x_val)
    s = cifar10.load_cifar10(path=tmp_path / "d", n_samples=50, download=False)
    assert s.sizes()["train"] + s.sizes()["val"] == 50 and s.sizes()["test"] == 50
    assert np.bincount(s.y_test.numpy(), minlength=10).tolist() == [5] * 10


def test_search_order_env_then_data_dir(tmp_path, monkeypatch):
    _write_npz(tmp_path / "data" / "cifar10", _raw(4, 7), _raw(2, 8))
    s = cifar10.load_cifar10(data_dir=tmp_path / "data", download=False)
    assert s.info["source"] == str(tmp_path / "data" / "cifar10") and s.info["format"] == "npz"
    _write_python(tmp_path / "env", _raw(4, 9), _raw(2, 10))
    monkeypatch.setenv("LAB_CIFAR10_DIR", str(tmp_path / "env"))
    s = cifar10.load_cifar10(data_dir=tmp_path / "data", download=False)
    assert s.info["source"] == str(tmp_path / "env") and s.info["format"] == "python-archive"


def test_generated_sets_are_labelled_synthetic(tmp_path):
    for fmt in ("npz", "python", "folder"):
        d = make_tiny_image_set(tmp_path / fmt, fmt=fmt, n_per_class=3, n_test_per_class=2)
        s = cifar10.load_cifar10(path=d, val_fraction=0.34, download=False)
        assert s.synthetic and "SYNTHETIC" in s.label and s.sizes() == {"train": 19, "val": 11, "test": 20}


def test_missing_and_malformed_sources(tmp_path):
    with pytest.raises(LabError, match="looked in"):
        cifar10.load_cifar10(data_dir=tmp_path / "empty", download=False)
    with pytest.raises(LabError, match="no CIFAR-10 data at"):
        cifar10.load_cifar10(path=tmp_path / "nothing", download=False)
    (tmp_path / "half").mkdir()
    np.savez(tmp_path / "half" / "train.npz", x=_raw(1, 0)[0], y=_raw(1, 0)[1])
    with pytest.raises(LabError, match="both train.npz and test.npz"):
        cifar10.load_cifar10(path=tmp_path / "half", download=False)
    np.savez(tmp_path / "half" / "test.npz", x=np.zeros((3, 28, 28), np.uint8), y=np.zeros(3))
    with pytest.raises(LabError, match=r"shape \(N, 32, 32, 3\)"):
        cifar10.load_cifar10(path=tmp_path / "half", download=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "cifar-10-python.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(LabError, match="not a readable .tar.gz"):
        cifar10.load_cifar10(path=tmp_path / "bad", download=False)


def test_download_failure_md5_and_success(tmp_path, monkeypatch):
    def offline(url, dest):
        raise OSError("network is unreachable")

    monkeypatch.setattr(cifar10, "_fetch", offline)
    with pytest.raises(LabError, match="cannot download CIFAR-10 from https://"):
        cifar10.load_cifar10(data_dir=tmp_path / "dl")
    monkeypatch.setattr(cifar10, "_fetch", lambda url, dest: dest.write_bytes(b"truncated"))
    with pytest.raises(LabError, match="md5"):
        cifar10.load_cifar10(data_dir=tmp_path / "dl")
    assert not (tmp_path / "dl" / cifar10.ARCHIVE).exists()  # the bad file is not kept
    _write_python(tmp_path / "src", _raw(4, 11), _raw(2, 12))
    blob = (tmp_path / "src" / cifar10.ARCHIVE).read_bytes()
    monkeypatch.setattr(cifar10, "_fetch", lambda url, dest: dest.write_bytes(blob))
    monkeypatch.setattr(cifar10, "MD5", cifar10._md5(tmp_path / "src" / cifar10.ARCHIVE))
    s = cifar10.load_cifar10(data_dir=tmp_path / "dl2")
    assert s.info["format"] == "python-archive" and (tmp_path / "dl2" / cifar10.ARCHIVE).exists()


def _naive_crop_flip(x, dy, dx, flip, pad=4):
    out = []
    for img, a, b, f in zip(x, dy.tolist(), dx.tolist(), flip.tolist()):
        p = F.pad(img, (pad, pad, pad, pad))[:, a:a + 32, b:b + 32]
        out.append(p.flip(2) if f else p)
    return torch.stack(out)


def test_crop_flip_matches_a_per_image_loop():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, 32, 32, generator=g)
    dy, dx = torch.randint(0, 9, (16,), generator=g), torch.randint(0, 9, (16,), generator=g)
    flip = torch.rand(16, generator=g) < 0.5
    assert torch.equal(cifar10.crop_flip(x, dy, dx, flip), _naive_crop_flip(x, dy, dx, flip))
    centre = cifar10.crop_flip(x, torch.full((16,), 4), torch.full((16,), 4), torch.zeros(16, dtype=torch.bool))
    assert torch.equal(centre, x)
    a = cifar10.augment(x, torch.Generator().manual_seed(5))
    b = cifar10.augment(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == x.shape and not torch.equal(a, x)
