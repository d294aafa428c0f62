"""Trained candidates, cached on disk: train a model once per (architecture, recipe, data, seed).

Lab 4's width search trains every candidate inside the objective; a rerun, a resumed search, a
sampler that repeats a candidate or a notebook that trains all 25 candidates must not train the
same one twice. :func:`trained_candidate` hashes what determines the trained weights:

- the architecture: registry name + model arguments (e.g. ``hidden=(32, 64)``);
- the recipe (:class:`~lab_utils.training.train.Recipe`: epochs, batch size, lr, weight decay, optimizer,
  seed);
- the data identity (``Splits.describe()``: data set name, generator version, split sizes, seed).

The key names the file ``<cache_dir>/<model>-<key>.ckpt`` (:func:`candidate_path`), written
atomically by :func:`save_candidate` with the key, architecture, recipe and data description inside,
plus the training history and the validation metrics at the best epoch. The batched trainer
(:func:`lab_utils.training.batched.train_grid`) writes its candidates with the same function, so
either can load what the other trained. On load the stored description must match (a file whose
content disagrees with its name, or a torn/foreign file, is reported with a warning and retrained
over).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import torch

from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.training.checkpoints import load_checkpoint_file, load_state, save_checkpoint
from lab_utils.training.train import History, train

CANDIDATE_FORMAT = "lab_utils.candidate/2"  # the version of the hashed description (2: the batched trainer's own optimizer): a new one retrains all


def _jsonable(obj):
    """Dicts (keys sorted, as strings), lists and tuples (as lists) as JSON would store them."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in sorted(obj.items())}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def candidate_key(model_name: str, model_args: dict, splits, recipe) -> tuple[str, dict]:
    """(12-hex key, the description it hashes)."""
    desc = {"format": CANDIDATE_FORMAT, "model": model_name, "model_args": _jsonable(model_args or {}),
            "recipe": _jsonable(recipe.as_dict()), "data": _jsonable(splits.describe())}
    key = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:12]
    return key, desc


def candidate_path(cache_dir, model_name: str, key: str) -> Path | None:
    """Where candidate ``key`` is cached: ``<cache_dir>/<model>-<key>.ckpt`` (None without a cache)."""
    return Path(cache_dir) / f"{model_name}-{key}.ckpt" if cache_dir is not None else None


def save_candidate(path: Path | None, model, key: str, desc: dict, splits, recipe, history: History) -> dict:
    """Store a freshly trained candidate at ``path`` (skipped when None); returns its ``info`` dict.

    ``desc`` is :func:`candidate_key`'s description; ``info`` is what :func:`trained_candidate`
    returns: ``key``, ``path``, ``cached`` (False), ``history`` and ``val`` (:meth:`History.best_val`).
    """
    val = history.best_val()
    if path is not None:
        save_checkpoint(path, model, meta={"model": desc["model"], "model_args": _jsonable(desc["model_args"]),
                                           "dataset": splits.describe(), "candidate": desc},
                        recipe=recipe, metrics={"history": history.as_dict(), "val": val})
    return {"key": key, "path": str(path) if path else None, "cached": False, "history": history.as_dict(), "val": val}


def trained_candidate(model_name: str, model_args: dict | None, splits, recipe, cache_dir=None,
                      progress: bool = False):
    """Return ``(model, info)``: a trained model (eval mode) and what was done.

    ``info`` has ``key``, ``path`` (None without a cache), ``cached`` (loaded instead of trained),
    ``history`` (per-epoch record, when trained now or stored) and ``val`` metrics at the best
    epoch. Without ``cache_dir`` the model is always trained.
    """
    model_args = dict(model_args or {})
    key, desc = candidate_key(model_name, model_args, splits, recipe)
    path = candidate_path(cache_dir, model_name, key)
    model = build_model(model_name, **model_args)
    if path is not None and path.exists():
        try:
            obj = load_checkpoint_file(path)
            if obj.get("candidate") != json.loads(json.dumps(desc)):
                raise LabError(f"{path}: stored description does not match its key")
            load_state(model, obj["state_dict"], path)
            model.eval()
            return model, {"key": key, "path": str(path), "cached": True,
                           "history": obj.get("metrics", {}).get("history"), "val": obj.get("metrics", {}).get("val")}
        except (LabError, KeyError) as exc:
            warnings.warn(f"candidate cache {path} unusable ({exc}); retraining", stacklevel=2)
    # The initial weights depend on the recipe's seed only (not on the global RNG), so the key
    # really determines the trained weights and a regenerated cache file holds the same ones.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = build_model(model_name, **model_args)
    history = train(model, splits, recipe, progress=progress, desc=f"train {model_name} {model_args}")
    info = save_candidate(path, model, key, desc, splits, recipe, history)
    model.eval()
    return model, info
