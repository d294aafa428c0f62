"""CIFAR-10 as in-memory tensor splits, read from any of three formats, plus tensor augmentation.

Where the images come from, first hit wins (every place tried is named in the error otherwise):

1. the ``path`` argument (a directory, a ``cifar-10-python.tar.gz`` file or a ``train.npz``);
2. the directory in the environment variable ``LAB_CIFAR10_DIR``;
3. ``<data_dir>/cifar10/`` and ``<data_dir>/`` (where the download lands);
4. ``../shared/data/cifar10`` beside the checkout (the real 20,000-image subset of this
   environment; never copied into the repo);
5. the official archive, downloaded once into ``<data_dir>/`` with its md5 checked
   (``download=True``; without a network this is a :class:`LabError` that says where it looked).

Inside a directory three formats are recognised:

- ``train.npz`` + ``test.npz`` with ``x`` uint8 (N, 32, 32, 3) HWC RGB and ``y`` (N,) labels 0..9;
- the python pickle archive ``cifar-10-python.tar.gz`` or its extracted ``cifar-10-batches-py/``
  (``data_batch_1..5`` and ``test_batch``: pickled dicts with ``b"data"`` (N, 3072) in CHW order
  and ``b"labels"``), read with ``pickle`` restricted to plain builtins;
- an image folder ``train/<class>/*.png|jpg`` and ``test/<class>/*.png|jpg`` (class folders named
  as :data:`CLASSES`, or any ten names sorted alphabetically), decoded with Pillow (a matplotlib
  dependency).

The validation split is carved out of the training images (seeded and stratified with
scikit-learn); the test split is the test set. Tensors are float32 NCHW, normalised with the
per-channel mean/std of the *training split only* (so nothing about val/test leaks into training).

:func:`augment` is the standard CIFAR training augmentation (random crop with 4 pixels of zero
padding + horizontal flip), vectorised over the batch (one strided view, one copy), because torchvision is not a
dependency (its wheels do not import beside the pinned CPU torch).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from lab_utils import atomic
from lab_utils.data.splits import DEFAULT_DATA_DIR, to_splits
from lab_utils.errors import LabError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
VERSION = "cifar10/1"
SHARED_SUBSET = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10"  # beside the checkout
SYNTHETIC_MARKER = "SYNTHETIC"  # a file of this name marks a generated (not real) image set
_IMAGE_EXT = (".png", ".jpg", ".jpeg")


# ---------------------------------------------------------------- readers, one per format
def _check_arrays(x: np.ndarray, y: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y).reshape(-1)
    if x.ndim != 4 or x.shape[1:] != (32, 32, 3):
        raise LabError(f"{where}: images must have shape (N, 32, 32, 3), got {tuple(x.shape)}")
    if x.dtype != np.uint8:
        raise LabError(f"{where}: images must be uint8 (0..255), got {x.dtype}")
    if y.shape[0] != x.shape[0]:
        raise LabError(f"{where}: {x.shape[0]} images but {y.shape[0]} labels")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise LabError(f"{where}: labels must lie in 0..9, got {int(y.min())}..{int(y.max())}")
    return x, y.astype(np.int64)


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One ``.npz`` with ``x`` (N, 32, 32, 3) uint8 and ``y`` (N,)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "x" not in z or "y" not in z:
                raise LabError(f"{path}: an .npz needs arrays 'x' and 'y', found {', '.join(z.files) or 'nothing'}")
            x, y = z["x"], z["y"]
    except LabError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is a malformed user file
        raise LabError(f"{path}: cannot read .npz ({type(exc).__name__})") from None
    return _check_arrays(x, y, str(path))


class _PlainUnpickler(pickle.Unpickler):
    """The CIFAR batches hold only dicts, lists, bytes and numpy arrays: refuse anything else."""
    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_batch(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = _PlainUnpickler(io.BytesIO(blob), encoding="bytes").load()
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"])
    except Exception as exc:  # noqa: BLE001 - malformed batch file
        raise LabError(f"{where}: not a CIFAR-10 python batch ({type(exc).__name__})") from None
    if data.ndim != 2 or data.shape[1] != 3072:
        raise LabError(f"{where}: b'data' must have shape (N, 3072), got {tuple(data.shape)}")
    return _check_arrays(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels, where)


_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


def read_pickle_folder(folder: Path) -> dict:
    """The extracted ``cifar-10-batches-py/`` folder: five training batches + ``test_batch``."""
    missing = [n for n in (*_TRAIN_BATCHES, "test_batch") if not (folder / n).is_file()]
    if missing:
        raise LabError(f"{folder}: CIFAR-10 batch folder lacks {', '.join(missing)}")
    train = [_read_batch((folder / n).read_bytes(), str(folder / n)) for n in _TRAIN_BATCHES]
    test = _read_batch((folder / "test_batch").read_bytes(), str(folder / "test_batch"))
    return _pack(train, test)


def read_archive(path: Path) -> dict:
    """The python archive ``cifar-10-python.tar.gz``, read in memory (nothing is extracted)."""
    blobs = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and name in (*_TRAIN_BATCHES, "test_batch"):
                    blobs[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise LabError(f"{path}: not a readable .tar.gz archive ({type(exc).__name__})") from None
    missing = [n for n in (*_TRAIN_BATCHES, "test_batch") if n not in blobs]
    if missing:
        raise LabError(f"{path}: archive lacks {', '.join(missing)}")
    train = [_read_batch(blobs[n], f"{path}:{n}") for n in _TRAIN_BATCHES]
    return _pack(train, _read_batch(blobs["test_batch"], f"{path}:test_batch"))


def _pack(train: list, test: tuple) -> dict:
    return {"x_train": np.concatenate([t[0] for t in train]), "y_train": np.concatenate([t[1] for t in train]),
            "x_test": test[0], "y_test": test[1]}


def _class_dirs(split_dir: Path) -> list[Path]:
    dirs = sorted(p for p in split_dir.iterdir() if p.is_dir())
    names = [p.name for p in dirs]
    if set(names) == set(CLASSES):
        return [split_dir / c for c in CLASSES]  # CIFAR's own class order, not alphabetical
    if len(dirs) != 10:
        raise LabError(f"{split_dir}: expected 10 class folders ({', '.join(CLASSES)}), found {len(dirs)}")
    return dirs


def read_image_folder(folder: Path) -> dict:
    """``train/<class>/*.png|jpg`` and ``test/<class>/*.png|jpg`` (32×32 RGB images)."""
    from PIL import Image  # local: Pillow is imported only when an image folder is read

    out = {}
    for split in ("train", "test"):
        xs, ys = [], []
        for label, cdir in enumerate(_class_dirs(folder / split)):
            for f in sorted(cdir.iterdir()):
                if f.suffix.lower() not in _IMAGE_EXT:
                    continue
                try:
                    with Image.open(f) as im:
                        xs.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
                except Exception as exc:  # noqa: BLE001 - unreadable image file
                    raise LabError(f"{f}: cannot decode image ({type(exc).__name__})") from None
                if xs[-1].shape != (32, 32, 3):
                    raise LabError(f"{f}: images must be 32x32 RGB, got {xs[-1].shape}")
                ys.append(label)
        if not xs:
            raise LabError(f"{folder / split}: no .png/.jpg images in the class folders")
        out[f"x_{split}"], out[f"y_{split}"] = _check_arrays(np.stack(xs), np.array(ys), str(folder / split))
    return out


def read_source(src: Path) -> tuple[dict, str] | None:
    """Read raw uint8 arrays from a file or directory in any format; None if nothing is there."""
    src = Path(src)
    if src.is_file():
        if src.name.endswith((".tar.gz", ".tgz")):
            return read_archive(src), "python-archive"
        if src.suffix == ".npz":
            src = src.parent
        else:
            raise LabError(f"{src}: unknown CIFAR-10 file; give a directory, a .tar.gz archive or train.npz")
    if not src.is_dir():
        return None
    if (src / "train.npz").is_file() or (src / "test.npz").is_file():
        if not (src / "train.npz").is_file() or not (src / "test.npz").is_file():
            raise LabError(f"{src}: an .npz source needs both train.npz and test.npz")
        xtr, ytr = read_npz(src / "train.npz")
        xte, yte = read_npz(src / "test.npz")
        return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}, "npz"
    for folder in (src / "cifar-10-batches-py", src):
        if (folder / "data_batch_1").is_file():
            return read_pickle_folder(folder), "python-batches"
    if (src / ARCHIVE).is_file():
        return read_archive(src / ARCHIVE), "python-archive"
    if (src / "train").is_dir() and (src / "test").is_dir():
        return read_image_folder(src), "image-folder"
    return None


# ---------------------------------------------------------------- download
def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch(url: str, dest: Path) -> None:
    """Fetch ``url`` into ``dest`` (atomically); separate so tests can replace it."""
    import urllib.request  # local: only a download needs it

    with atomic.atomic_path(dest) as tmp, urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as fh:
        while chunk := resp.read(1 << 20):
            fh.write(chunk)


def download_archive(data_dir: Path) -> Path:
    """Download the official archive once into ``data_dir`` and check its md5."""
    dest = Path(data_dir) / ARCHIVE
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            _fetch(URL, dest)
        except Exception as exc:  # noqa: BLE001 - any network failure
            raise LabError(f"cannot download CIFAR-10 from {URL} into {dest} ({type(exc).__name__}); "
                           f"put the archive, train.npz/test.npz or train|test/<class>/ images there, "
                           "or pass a path / set LAB_CIFAR10_DIR") from None
    digest = _md5(dest)
    if digest != MD5:
        dest.unlink()  # a torn or foreign download must not be read next time
        raise LabError(f"{dest}: md5 {digest} is not CIFAR-10's {MD5}; the file was removed, try again")
    return dest


# ---------------------------------------------------------------- splits
def _subsample(x, y, n, seed):
    if n is None or n >= len(y):
        return x, y
    from sklearn.model_selection import train_test_split  # local: ~1.2 s to import, see load_cifar10

    counts = np.bincount(y, minlength=10)
    strat = y if n >= np.count_nonzero(counts) and counts[counts > 0].min() >= 2 else None
    idx, _ = train_test_split(np.arange(len(y)), train_size=int(n), random_state=seed, stratify=strat)
    idx = np.sort(idx)
    return x[idx], y[idx]


def to_tensor(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    """uint8 NHWC → float32 NCHW, ``(x/255 - mean) / std`` per channel."""
    t = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return ((t - m) / s).contiguous()


def candidates(path=None, data_dir=None) -> list[Path]:
    """The places searched, in order (see the module docstring)."""
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    if path is not None:
        return [Path(path)]
    out = []
    if os.environ.get("LAB_CIFAR10_DIR"):
        out.append(Path(os.environ["LAB_CIFAR10_DIR"]))
    return out + [data_dir / "cifar10", data_dir, SHARED_SUBSET]


def load_cifar10(path=None, data_dir=None, n_samples: int | None = None, data_seed: int = 0,
                 val_fraction: float = 0.1, download: bool = True):
    """Load CIFAR-10 as :class:`lab_utils.data.Splits` (see the module docstring for the sources).

    ``n_samples`` keeps a seeded, stratified subset of at most that many training *and* test images
    (quick runs); ``data_seed`` seeds that subset and the train/val split.
    """
    from sklearn.model_selection import train_test_split  # local: ~1.2 s to import, every CLI start would pay it

    if not 0.0 < val_fraction < 1.0:
        raise LabError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    if n_samples is not None and int(n_samples) < 20:
        raise LabError(f"n_samples must be at least 20 for CIFAR-10 (or None for all), got {n_samples}")
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    tried = candidates(path, data_dir)
    found = None
    for src in tried:
        found = read_source(src)
        if found is not None:
            source = src
            break
    if found is None:
        if path is not None:
            raise LabError(f"no CIFAR-10 data at {path}: expected train.npz+test.npz, {ARCHIVE}, "
                           "cifar-10-batches-py/ or train|test/<class>/*.png|jpg")
        if not download:
            raise LabError(f"CIFAR-10 not found (looked in {', '.join(map(str, tried))}); "
                           "pass a path, set LAB_CIFAR10_DIR, or allow the download")
        source = download_archive(data_dir)
        found = (read_archive(source), "python-archive")
    raw, fmt = found
    x_tv, y_tv = _subsample(raw["x_train"], raw["y_train"], n_samples, data_seed)
    x_test, y_test = _subsample(raw["x_test"], raw["y_test"], n_samples, data_seed)
    counts = np.bincount(y_tv, minlength=10)
    n_val, n_cls = math.ceil(val_fraction * len(y_tv)), np.count_nonzero(counts)
    # stratify whenever sklearn can (every class twice, and room for each class on both sides)
    strat = y_tv if counts[counts > 0].min() >= 2 and min(n_val, len(y_tv) - n_val) >= n_cls else None
    try:
        x_tr, x_val, y_tr, y_val = train_test_split(x_tv, y_tv, test_size=val_fraction, random_state=data_seed,
                                                    stratify=strat)
    except ValueError as exc:
        raise LabError(f"{source}: cannot carve a {val_fraction:.0%} validation split from {len(y_tv)} images "
                       f"({exc})") from None
    pixels = x_tr.reshape(-1, 3).astype(np.float64) / 255.0
    mean, std = pixels.mean(axis=0), pixels.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    arrays = {"x_train": to_tensor(x_tr, mean, std).numpy(), "y_train": y_tr,
              "x_val": to_tensor(x_val, mean, std).numpy(), "y_val": y_val,
              "x_test": to_tensor(x_test, mean, std).numpy(), "y_test": y_test}
    src_dir = source if Path(source).is_dir() else Path(source).parent
    synthetic = (src_dir / SYNTHETIC_MARKER).exists()
    info = {"source": str(source), "format": fmt, "mean": [round(float(v), 6) for v in mean],
            "std": [round(float(v), 6) for v in std], "data_seed": int(data_seed)}
    return to_splits("cifar10", VERSION, synthetic, arrays, ("R", "G", "B"), CLASSES, info)


# ---------------------------------------------------------------- augmentation
def crop_flip(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Crop each image of ``x`` (B, C, H, W) at offsets (dy, dx) of its zero-padded copy, mirrored where ``flip``.

    ``unfold`` twice gives a *view* of every (2·pad+1)² window of the padded batch; indexing it with
    (image, dy, dx) copies each image's window once. Measured 1.7x faster than one gather with
    per-pixel row/column indices (bench/bench_cifar_augment.py compares with a per-image loop).
    """
    b, c, h, w = x.shape
    windows = torch.nn.functional.pad(x, (pad, pad, pad, pad)).unfold(2, h, 1).unfold(3, w, 1)  # (B, C, 9, 9, H, W)
    out = windows[torch.arange(b), :, dy, dx]  # (B, C, H, W)
    out = torch.where(flip.view(b, 1, 1, 1), out.flip(3), out)
    # channels_last: the fast memory layout for CPU convolutions (bench/bench_vgg_channels_last.py)
    return out.contiguous(memory_format=torch.channels_last)


def augment(x: torch.Tensor, generator: torch.Generator | None = None, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``pad``; zero is the mean colour after normalisation) + horizontal flip."""
    b = x.shape[0]
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    flip = torch.rand(b, generator=generator) < 0.5
    return crop_flip(x, dy, dx, flip, pad)
