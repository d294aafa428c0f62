"""Checkpoints: ``.ckpt`` files written atomically and read with ``torch.load(weights_only=True)`` only.

Our format holds the state dict, the model name and arguments, the data set, the recipe and the metrics
(:func:`save_checkpoint`: ``best.ckpt``, trained candidates, ``python -m lab_utils train``);
:func:`save_training_state` adds what resuming needs (optimizer, scheduler, both RNG states, the
history and the best weights so far: ``last.ckpt``). A MASE/Lightning checkpoint (``model.``
prefixes) or a bare state dict loads too. A checkpoint of another architecture is refused with the
mismatched layers listed. :func:`check_resume_state` decides whether a ``last.ckpt`` may be
continued by the run at hand (a resume checkpoint of the same recipe, model and data set).

Writes go through :func:`write_torch_file`: a failed write (disk full) leaves the old file and is
reported as an ``OSError`` naming the checkpoint, so the CLI prints one line and exits 1.
"""

from __future__ import annotations

import torch
from torch import nn

from lab_utils import atomic
from lab_utils.errors import LabError, require_file
from lab_utils.models import build_model

CKPT_FORMAT = "lab_utils.ckpt/1"
# what save_training_state writes beside the checkpoint fields: a file without them cannot be resumed
RESUME_KEYS = ("state_dict", "optimizer", "scheduler", "generator", "torch_rng", "history", "best_state_dict")
# checkpoint field -> (its name in a message, the flags of `train` that set it)
_RESUMED = {"recipe": ("recipe", "--epochs/--batch-size/--lr/--weight-decay/--optimizer/--seed"),
            "model": ("model", "--model"), "model_args": ("model argument", "--no-logit-relu or not"),
            "dataset": ("data set", "--dataset/--n-samples/--data-path")}


def write_torch_file(path, obj) -> None:
    """``torch.save(obj)`` to ``path`` atomically (:func:`lab_utils.atomic.torch_save`, which reports a
    failed write, e.g. a full disk, as the operating system's ``OSError`` naming ``path``; the old file
    is untouched)."""
    try:
        atomic.torch_save(path, obj)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None


def save_checkpoint(path, model: nn.Module, *, meta: dict | None = None, recipe=None,
                    metrics: dict | None = None) -> None:
    """Write a ``.ckpt``: state dict + model name/args, data set, recipe, metrics (atomically).

    ``meta`` holds ``model`` (registry name), ``model_args`` and ``dataset`` (``Splits.describe()``).
    """
    write_torch_file(path, {
        "format": CKPT_FORMAT, **(meta or {}),
        "recipe": recipe.as_dict() if recipe else None,
        "metrics": metrics or {},
        "state_dict": model.state_dict(),
    })


def save_training_state(path, model: nn.Module, *, meta: dict | None, recipe, optimizer, scheduler,
                        generator: torch.Generator, history: dict, best_state: dict) -> None:
    """Write ``last.ckpt`` (atomically): everything :func:`lab_utils.training.train.train` needs to resume.

    The global torch RNG state is saved too, so a resumed run draws the same numbers.
    """
    write_torch_file(path, {
        "format": CKPT_FORMAT, **(meta or {}), "recipe": recipe.as_dict(),
        "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
        "history": history, "best_state_dict": best_state,
    })


def _differences(what: str, was, now) -> list[str]:
    """``what KEY was X, now Y`` for each key of two dicts that differ (or the whole values)."""
    if isinstance(was, dict) and isinstance(now, dict):
        keys = [k for k in sorted(set(was) | set(now), key=str) if was.get(k) != now.get(k) and k != "label"]
        return [f"{what} {k} was {was.get(k)!r}, now {now.get(k)!r}" for k in keys]
    return [] if was == now else [f"{what} was {was!r}, now {now!r}"]


def check_resume_state(state: dict, path, *, recipe: dict, meta: dict | None) -> None:
    """A one-line :class:`LabError` unless ``state`` (a loaded ``last.ckpt``) can be continued by this run.

    It must be one of our resume checkpoints (:func:`save_training_state`: not a ``best.ckpt``, a bare
    state dict or another program's file) written with the same ``recipe`` and the same ``meta``:
    model name, model arguments and data set (``Splits.describe()``: name, version, sizes, data seed).
    A field that ``meta`` or the file lacks is not compared. Every difference is named (was -> now)
    with the flags that set it.
    """
    if state.get("format") != CKPT_FORMAT or any(k not in state for k in RESUME_KEYS):
        missing = [k for k in RESUME_KEYS if k not in state]
        what = f"it lacks {', '.join(missing[:3])}" if missing else f"its format is {state.get('format')!r}"
        raise LabError(f"{path} is not a resume checkpoint of `train` ({what}: a best.ckpt or a weights file?); "
                       "move it away to start afresh, or choose another --out")
    diffs, hints = [], []
    for key, now in [("recipe", recipe), *(meta or {}).items()]:
        if key in state and key in _RESUMED:
            found = _differences(_RESUMED[key][0], state[key], now)
            diffs += found
            hints += [_RESUMED[key][1]] if found else []
    if diffs:
        shown = "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
        raise LabError(f"{path} was written by another run: {shown}; use the same flags to resume "
                       f"({', '.join(hints)}), or choose another --out")


def load_checkpoint_file(path) -> dict:
    """Load a checkpoint dict with ``weights_only=True`` (never unpickles code)."""
    path = require_file(path, "checkpoint")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torn, foreign or unsafe files
        raise LabError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:100]})") from None
    if not isinstance(obj, dict):
        raise LabError(f"checkpoint {path} is not a checkpoint dictionary (got {type(obj).__name__})")
    return obj


def _state_dict_of(obj: dict, path) -> dict:
    """Our format, a MASE/Lightning checkpoint (``state_dict`` with ``model.`` prefixes) or a bare state dict."""
    sd = obj.get("state_dict", obj)
    if not isinstance(sd, dict) or not sd:
        raise LabError(f"checkpoint {path} holds no state_dict")
    if all(k.startswith("model.") for k in sd):
        sd = {k[len("model."):]: v for k, v in sd.items()}
    return sd


def load_state(model: nn.Module, sd: dict, path) -> None:
    """Load state dict ``sd`` into ``model``; a :class:`LabError` lists mismatched layers (``path`` names the file)."""
    own = model.state_dict()
    problems = []
    for k in sorted(set(own) | set(sd)):
        if k not in sd:
            problems.append(f"{k} missing")
        elif k not in own:
            problems.append(f"{k} unexpected")
        elif tuple(own[k].shape) != tuple(sd[k].shape):
            problems.append(f"{k} {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}")
    if problems:
        shown = "; ".join(problems[:4]) + (f"; … {len(problems) - 4} more" if len(problems) > 4 else "")
        raise LabError(f"checkpoint {path} does not fit this model: {shown}")
    model.load_state_dict(sd)


def load_weights(model: nn.Module, path) -> dict:
    """Load a checkpoint's weights into ``model`` (mismatched layers listed in the error); returns the dict."""
    obj = load_checkpoint_file(path)
    load_state(model, _state_dict_of(obj, path), path)
    return obj


def load_model(path, **overrides) -> tuple[nn.Module, dict]:
    """Rebuild a model from one of our checkpoints (registry name + args) and load its weights."""
    obj = load_checkpoint_file(path)
    if "model" not in obj:
        raise LabError(f"checkpoint {path} does not name its model; build the model and use load_weights")
    model = build_model(obj["model"], **{**obj.get("model_args", {}), **overrides})
    load_state(model, _state_dict_of(obj, path), path)
    return model, obj
