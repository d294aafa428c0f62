"""Trained candidates, cached on disk: train a model once per (architecture, recipe, data, seed).

Lab 4's width search trains every candidate inside the objective; a rerun, a resumed search, a
sampler that repeats a candidate or a notebook that trains all 25 candidates must not train the
same one twice. :func:`trained_candidate` hashes what determines the trained weights:

- the architecture: registry name + model arguments (e.g. ``hidden=(32, 64)``);
- the recipe (:class:`~lab_utils.training.train.Recipe`: epochs, batch size, lr, weight decay, optimizer,
  seed);
- the data identity (``Splits.describe()``: data set name, generator version, split sizes, seed);
- what else a caller trains differently (``extra_desc``: lab3_6's CNN adds its augmentation and
  BatchNorm recalibration, and trains through its own ``train_fn``).

The key (:func:`lab_utils.cache.content_key`, 12 hex digits) names the file
``<cache_dir>/<model>-<key>.ckpt`` (:func:`candidate_path`, a :class:`lab_utils.cache.Cache`), a
checkpoint written atomically by :func:`save_candidate` with the key, architecture, recipe and data
description inside, plus the training history and the validation metrics at the best epoch. The
batched trainer (:func:`lab_utils.training.batched.train_grid`) writes its candidates with the same
function, so either can load what the other trained. On load the stored description must match (a
file whose content disagrees with its name, or a torn/foreign file, is reported with a warning and
retrained over).
"""

from __future__ import annotations

from pathlib import Path

import torch

from lab_utils.cache import Cache, canonical, content_key
from lab_utils.models import build_model
from lab_utils.training.checkpoints import load_checkpoint_file, load_state, save_checkpoint
from lab_utils.training.train import History, train

CANDIDATE_FORMAT = "lab_utils.candidate/2"  # the version of the hashed description (2: the batched trainer's own optimizer): a new one retrains all


def candidate_key(model_name: str, model_args: dict, splits, recipe, extra_desc: dict | None = None) -> tuple[str, dict]:
    """(12-hex key, the description it hashes); ``extra_desc`` entries join the description."""
    desc = {"format": CANDIDATE_FORMAT, "model": model_name, "model_args": canonical(model_args or {}),
            "recipe": canonical(recipe.as_dict()), "data": canonical(splits.describe()), **(extra_desc or {})}
    return content_key(desc, 12)[0], desc


def candidate_cache(cache_dir, model_name: str) -> Cache | None:
    """The candidates of ``model_name`` in ``cache_dir``: checkpoints holding their description under
    ``candidate`` (None without a cache)."""
    if cache_dir is None:
        return None
    return Cache(cache_dir, what="candidate cache", read=load_checkpoint_file, prefix=f"{model_name}-",
                 suffix=".ckpt", field="candidate", redo="retraining")


def candidate_path(cache_dir, model_name: str, key: str) -> Path | None:
    """Where candidate ``key`` is cached: ``<cache_dir>/<model>-<key>.ckpt`` (None without a cache)."""
    cache = candidate_cache(cache_dir, model_name)
    return cache.path(key) if cache is not None else None


def save_candidate(path: Path | None, model, key: str, desc: dict, splits, recipe, history: History) -> dict:
    """Store a freshly trained candidate at ``path`` (skipped when None); returns its ``info`` dict.

    ``desc`` is :func:`candidate_key`'s description; ``info`` is what :func:`trained_candidate`
    returns: ``key``, ``path``, ``cached`` (False), ``history`` and ``val`` (:meth:`History.best_val`).
    """
    val = history.best_val()
    if path is not None:
        save_checkpoint(path, model, meta={"model": desc["model"], "model_args": canonical(desc["model_args"]),
                                           "dataset": splits.describe(), "candidate": desc},
                        recipe=recipe, metrics={"history": history.as_dict(), "val": val})
    return {"key": key, "path": str(path) if path else None, "cached": False, "history": history.as_dict(), "val": val}


def trained_candidate(model_name: str, model_args: dict | None, splits, recipe, cache_dir=None,
                      progress: bool = False, *, extra_desc: dict | None = None, train_fn=None):
    """Return ``(model, info)``: a trained model (eval mode) and what was done.

    ``info`` has ``key``, ``path`` (None without a cache), ``cached`` (loaded instead of trained),
    ``history`` (per-epoch record, when trained now or stored) and ``val`` metrics at the best
    epoch. Without ``cache_dir`` the model is always trained. ``train_fn(model) -> History``
    replaces :func:`~lab_utils.training.train.train` on ``splits`` with ``recipe`` (what it does
    differently belongs in ``extra_desc``, which joins the key).
    """
    model_args = dict(model_args or {})
    key, desc = candidate_key(model_name, model_args, splits, recipe, extra_desc)
    cache = candidate_cache(cache_dir, model_name)
    model = build_model(model_name, **model_args)
    if cache is not None:
        def use(entry):
            load_state(model, entry["state_dict"], cache.path(key))
            return entry.get("metrics", {})

        metrics = cache.load(key, desc, use)
        if metrics is not None:
            model.eval()
            return model, {"key": key, "path": str(cache.path(key)), "cached": True,
                           "history": metrics.get("history"), "val": metrics.get("val")}
    # The initial weights depend on the recipe's seed only (not on the global RNG), so the key
    # really determines the trained weights and a regenerated cache file holds the same ones.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = build_model(model_name, **model_args)
    if train_fn is None:
        history = train(model, splits, recipe, progress=progress, desc=f"train {model_name} {model_args}")
    else:
        history = train_fn(model)
    info = save_candidate(cache.path(key) if cache is not None else None, model, key, desc, splits, recipe, history)
    model.eval()
    return model, info
