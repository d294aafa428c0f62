"""The data and the baseline models every notebook starts from: the JSC splits (:func:`jsc_data`),
the trained baselines lab0 trains and every later Lab 3/Lab 4 notebook loads (:func:`ensure_baseline`),
and CIFAR-10 for lab3_6 and lab4_5 (:func:`cifar_data`, :func:`data_label`, and :func:`scores`: a network's
scores on a split with the per-image correctness the paired tests take).

``ensure_baseline("jsc-tiny", splits)`` returns the trained model and its checkpoint path. It goes
through the trained-candidate cache (:func:`lab_utils.training.candidates.trained_candidate`, keyed
by architecture + recipe + data + seed) in ``results/lab0/models/``
(:func:`lab_utils.report.paths.model_cache`), so a model is trained once for a given recipe and
data — by lab0, or by whichever notebook a student opens first. Quick mode (:data:`QUICK_RECIPE`,
:data:`QUICK_JETS`, a tiny generated image set for CIFAR-10) trains briefly on a small sample;
:mod:`lab_utils.labs.presets` holds every notebook's quick values. A baseline that never predicts some class
on validation data failed to train and is refused (:func:`classes_never_predicted`, :func:`refuse_failed`):
no notebook builds on a broken network.

May import: ``data``, ``models``, ``training``, ``report.paths`` (the places), ``errors``.
Tested in ``tests/labs/test_baselines.py``.
"""

from __future__ import annotations

from pathlib import Path

from lab_utils.data import load_dataset
from lab_utils.data.cifar10 import load_cifar10
from lab_utils.data.splits import Splits
from lab_utils.data.tiny_images import make_tiny_image_set
from lab_utils.errors import LabError
from lab_utils.report.paths import model_cache, results_dir
from lab_utils.training import supernet
from lab_utils.training.candidates import trained_candidate
from lab_utils.training.train import Recipe, metrics_from_logits, predict

BASELINE_RECIPE = Recipe(epochs=10, batch_size=512, lr=1e-3, optimizer="adam", seed=0)
# Quick mode trains 3 epochs on 30,000 jets; lr 1e-2 gets jsc-tiny to ~67 % there (1e-3: ~44 %, with most
# logits clipped to 0 by the logit ReLU, so argmax ties flip under any quantization and nothing is comparable).
QUICK_RECIPE = Recipe(epochs=3, batch_size=512, lr=1e-2, optimizer="adam", seed=0)
QUICK_JETS = 30_000


def jsc_data(quick: bool = False, dataset: str = "jsc-sim", path: str | None = None) -> Splits:
    """The JSC splits every notebook uses: full size, or 30,000 jets in quick mode."""
    return load_dataset(dataset, n_samples=QUICK_JETS if quick else None, path=path)


def classes_never_predicted(model, splits: Splits, split: str = "val") -> list[int]:
    """The classes ``model`` never predicts (argmax of its logits) on ``split``: a run that never
    predicts some class has failed to train (MASE's logit ReLU's failure mode: the logits of that class
    are clipped to 0 on every sample), whatever its accuracy."""
    x, _ = splits.split(split)
    counts = predict(model, x, chunk=supernet.EVAL_CHUNK).argmax(1).bincount(minlength=splits.num_classes)
    return [int(c) for c in (counts == 0).nonzero().flatten().tolist()]


def ensure_baseline(model_name: str, splits: Splits, quick: bool = False, logit_relu: bool = True,
                    recipe: Recipe | None = None, progress: bool = True):
    """The trained baseline (loaded, or trained once and cached); returns ``(model, checkpoint_path)``.

    A baseline that never predicts some class on validation data failed to train
    (:func:`classes_never_predicted`), and every notebook built on it would study a broken network: it
    is refused with a :class:`~lab_utils.errors.LabError` that names the model, its arguments, the
    recipe, the checkpoint and the missing classes (the checkpoint stays in the cache, so lab0's
    logit-ReLU study can still count it as a failed run)."""
    recipe = recipe or (QUICK_RECIPE if quick else BASELINE_RECIPE)
    model, info = trained_candidate(model_name, {"logit_relu": logit_relu}, splits, recipe, cache_dir=model_cache(),
                                    progress=progress)
    path = Path(info["path"]) if info.get("path") else None
    refuse_failed(model, splits, f"baseline {model_name} (logit_relu={logit_relu}, lr {recipe.lr:g}, "
                                 f"{recipe.epochs} epochs, seed {recipe.seed}; checkpoint {path})")
    return model, path


def refuse_failed(model, splits: Splits, what: str, split: str = "val") -> None:
    """Raise :class:`~lab_utils.errors.LabError` when ``model`` never predicts some class on ``split``
    (:func:`classes_never_predicted`); ``what`` names the model in the message."""
    missing = classes_never_predicted(model, splits, split)
    if missing:
        names = getattr(splits, "class_names", None) or []
        shown = ", ".join(f"{c} ({names[c]})" if c < len(names) else str(c) for c in missing)
        raise LabError(f"{what} never predicts class {shown} on {split} data: it failed to train and cannot be a "
                       "baseline (train it without the logit ReLU, or with another recipe or seed)")


def cifar_data(task: str, quick: bool, *, dataset: str = "cifar10", data_path: str = "", seed: int = 0,
               val_fraction: float = 0.1) -> Splits:
    """CIFAR-10 for notebook ``task`` (the real images: the default search order of
    :mod:`lab_utils.data.cifar10`, or ``data_path``), or in quick mode a tiny generated set of 30 train
    / 10 test images per class in ``results/<task>/tiny_images`` (labelled synthetic); ``val_fraction``
    of the training images held out; in channels_last memory (converted once here, not once per training).
    ``dataset`` is the notebook's parameter: only ``"cifar10"`` is allowed."""
    if dataset != "cifar10":
        raise LabError(f"{task} runs on CIFAR-10 only: dataset must be 'cifar10', got {dataset!r}")
    if quick:
        folder = make_tiny_image_set(results_dir(task) / "tiny_images", "npz", n_per_class=30, n_test_per_class=10,
                                     seed=seed)
        splits = load_cifar10(path=folder, data_seed=seed, val_fraction=val_fraction, download=False)
    else:
        splits = load_cifar10(path=data_path or None, data_seed=seed, val_fraction=val_fraction)
    return supernet.channels_last(splits)


def data_label(splits) -> str:
    """The data set as figures and the report name it: label plus split sizes."""
    n = splits.sizes()
    return f"{splits.label}: {n['train']:,} train / {n['val']:,} val / {n['test']:,} test images"


def scores(model, splits, split: str = "test") -> dict:
    """Accuracy, macro accuracy, loss, n and the per-image ``correct`` array (for paired tests),
    evaluated :data:`lab_utils.training.supernet.EVAL_CHUNK` images at a time (bounded memory)."""
    x, y = splits.split(split)
    logits = predict(model, x, chunk=supernet.EVAL_CHUNK)
    return {**metrics_from_logits(logits, y), "correct": (logits.argmax(1) == y).numpy()}
