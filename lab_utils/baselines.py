"""The baseline checkpoints lab0 trains and every later notebook loads.

``ensure_baseline("jsc-tiny", splits)`` returns the trained model, training it once (with
:data:`BASELINE_RECIPE`) when its checkpoint is missing or was trained on other data, so a student
can open any notebook first. Checkpoints live in ``results/lab0/<model>[-quick]/best.ckpt``.
"""

from __future__ import annotations

from pathlib import Path

from .data import Splits, load_dataset
from .models import build_model
from .report import output_root
from .train import Recipe, evaluate, load_checkpoint_file, load_weights, save_checkpoint, train

BASELINE_RECIPE = Recipe(epochs=10, batch_size=512, lr=1e-3, optimizer="adam", seed=0)
QUICK_RECIPE = Recipe(epochs=3, batch_size=512, lr=1e-3, optimizer="adam", seed=0)
QUICK_JETS = 30_000


def jsc_data(quick: bool = False, dataset: str = "jsc-sim", path: str | None = None) -> Splits:
    """The JSC splits every notebook uses: full size, or 30,000 jets in quick mode."""
    return load_dataset(dataset, n_samples=QUICK_JETS if quick else None, path=path)


def baseline_path(model_name: str, quick: bool = False, logit_relu: bool = True) -> Path:
    tag = model_name + ("" if logit_relu else "-nologitrelu") + ("-quick" if quick else "")
    return output_root() / "results" / "lab0" / tag / "best.ckpt"


def ensure_baseline(model_name: str, splits: Splits, quick: bool = False, logit_relu: bool = True,
                    recipe: Recipe | None = None, progress: bool = True):
    """Load the baseline checkpoint, or train and save it; returns ``(model, checkpoint_path)``."""
    recipe = recipe or (QUICK_RECIPE if quick else BASELINE_RECIPE)
    path = baseline_path(model_name, quick, logit_relu)
    model_args = {"logit_relu": logit_relu}
    model = build_model(model_name, **model_args)
    if path.exists():
        obj = load_checkpoint_file(path)
        same = (obj.get("dataset", {}).get("version") == splits.version
                and obj.get("dataset", {}).get("sizes") == splits.sizes() and obj.get("recipe") == recipe.as_dict())
        if same:
            load_weights(model, path)
            return model, path
    meta = {"model": model_name, "model_args": model_args, "dataset": splits.describe()}
    train(model, splits, recipe, progress=progress, desc=f"baseline {model_name}")
    metrics = {s: evaluate(model, *splits.split(s)) for s in ("val", "test")}
    save_checkpoint(path, model, meta=meta, recipe=recipe, metrics=metrics)
    return model, path


def train_variants(splits: Splits, variants: dict, progress: bool = True):
    """Train each ``name: (model_name, model_args, recipe)`` and return (table, histories, confusions).

    The table has a row per variant: parameters, recipe, val/test accuracy and macro accuracy.
    """
    import pandas as pd

    from .models import count_params
    from .train import confusion_matrix

    rows, histories, confusions = [], {}, {}
    for name, (model_name, model_args, recipe) in variants.items():
        model = build_model(model_name, **model_args)
        hist = train(model, splits, recipe, progress=progress, desc=name)
        val, test = (evaluate(model, *splits.split(s)) for s in ("val", "test"))
        rows.append({"variant": name, "model": model_name, "logit_relu": model_args.get("logit_relu", True),
                     "params": count_params(model), "lr": recipe.lr, "epochs": recipe.epochs,
                     "val_accuracy": val["accuracy"], "val_macro_accuracy": val["macro_accuracy"],
                     "test_accuracy": test["accuracy"], "test_macro_accuracy": test["macro_accuracy"],
                     "test_loss": test["loss"], "train_seconds": round(hist.seconds, 1)})
        histories[name] = hist
        confusions[name] = confusion_matrix(model, splits.x_test, splits.y_test, splits.num_classes).numpy()
    return pd.DataFrame(rows), histories, confusions
