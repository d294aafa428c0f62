"""The baseline models lab0 trains and every later notebook loads.

``ensure_baseline("jsc-tiny", splits)`` returns the trained model and its checkpoint path. It goes
through the trained-candidate cache (:func:`lab_utils.training.candidates.trained_candidate`, keyed
by architecture + recipe + data + seed) in ``results/lab0/models/``
(:func:`lab_utils.report.paths.model_cache`), so a model is trained once for a given recipe and
data — by lab0, or by whichever notebook a student opens first — and lab0's variant table reuses
the baselines instead of training them again. Quick mode (:data:`QUICK_RECIPE`, :data:`QUICK_JETS`)
trains briefly on a small sample; :mod:`lab_utils.labs.presets` holds every notebook's quick values.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lab_utils.data import load_dataset
from lab_utils.data.splits import Splits
from lab_utils.models import count_params
from lab_utils.report.paths import model_cache
from lab_utils.training.candidates import trained_candidate
from lab_utils.training.train import Recipe, confusion_matrix, evaluate

BASELINE_RECIPE = Recipe(epochs=10, batch_size=512, lr=1e-3, optimizer="adam", seed=0)
# Quick mode trains 3 epochs on 30,000 jets; lr 1e-2 gets jsc-tiny to ~67 % there (1e-3: ~44 %, with most
# logits clipped to 0 by the logit ReLU, so argmax ties flip under any quantization and nothing is comparable).
QUICK_RECIPE = Recipe(epochs=3, batch_size=512, lr=1e-2, optimizer="adam", seed=0)
QUICK_JETS = 30_000


def jsc_data(quick: bool = False, dataset: str = "jsc-sim", path: str | None = None) -> Splits:
    """The JSC splits every notebook uses: full size, or 30,000 jets in quick mode."""
    return load_dataset(dataset, n_samples=QUICK_JETS if quick else None, path=path)


def ensure_baseline(model_name: str, splits: Splits, quick: bool = False, logit_relu: bool = True,
                    recipe: Recipe | None = None, progress: bool = True):
    """The trained baseline (loaded, or trained once and cached); returns ``(model, checkpoint_path)``."""
    recipe = recipe or (QUICK_RECIPE if quick else BASELINE_RECIPE)
    model, info = trained_candidate(model_name, {"logit_relu": logit_relu}, splits, recipe, cache_dir=model_cache(),
                                    progress=progress)
    return model, Path(info["path"])


def train_variants(splits: Splits, variants: dict, progress: bool = True):
    """Train (or load from the cache) each ``name: (model_name, model_args, recipe)``.

    Returns ``(table, histories, confusions)``: a row per variant with parameters, recipe,
    val/test accuracy and macro accuracy; the per-epoch histories; the test confusion matrices.
    """
    rows, histories, confusions = [], {}, {}
    for name, (model_name, model_args, recipe) in variants.items():
        model, info = trained_candidate(model_name, model_args, splits, recipe, cache_dir=model_cache(),
                                        progress=progress)
        val, test = (evaluate(model, *splits.split(s)) for s in ("val", "test"))
        hist = info["history"] or {"epochs": [], "seconds": float("nan")}
        rows.append({"variant": name, "model": model_name, "logit_relu": model_args.get("logit_relu", True),
                     "params": count_params(model), "lr": recipe.lr, "epochs": recipe.epochs,
                     "val_accuracy": val["accuracy"], "val_macro_accuracy": val["macro_accuracy"],
                     "test_accuracy": test["accuracy"], "test_macro_accuracy": test["macro_accuracy"],
                     "test_loss": test["loss"], "train_seconds": round(hist["seconds"], 1)})
        histories[name] = hist
        confusions[name] = confusion_matrix(model, splits.x_test, splits.y_test, splits.num_classes).numpy()
    return pd.DataFrame(rows), histories, confusions
