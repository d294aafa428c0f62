"""Training and evaluation on in-memory tensors (checkpoints: :mod:`lab_utils.training.checkpoints`).

Speed rules: minibatches are sliced from the tensors with a seeded permutation per
epoch (no per-sample ``DataLoader``); evaluation runs a whole split in large chunks under
``torch.inference_mode()``.

Two accuracies are reported, never confused: ``accuracy`` (micro: fraction correct) and
``macro_accuracy`` (mean per-class recall over the classes present in the labels: what
torchmetrics' ``MulticlassAccuracy`` returns by default, and what MASE's search reported).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lab_utils import atomic
from lab_utils.errors import LabError
from lab_utils.progress import progress_bar
from lab_utils.training.checkpoints import CKPT_FORMAT, load_checkpoint_file, load_state, save_checkpoint



@dataclass(frozen=True)
class Recipe:
    """How a model is trained. Defaults: Adam, cosine to 1e-6 over the epochs (MASE's schedule)."""
    epochs: int = 10
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"  # adam | adamw | sgd (Nesterov, momentum 0.9)
    seed: int = 0

    def __post_init__(self):
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise LabError(f"epochs must be a whole number >= 1, got {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise LabError(f"batch_size must be a whole number >= 1, got {self.batch_size!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr <= 10):
            raise LabError(f"lr must be a number in (0, 10], got {self.lr!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise LabError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise LabError(f"optimizer must be one of adam, adamw, sgd; got {self.optimizer!r}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class History:
    """Per-epoch training record, plus the best epoch by validation loss."""
    epochs: list = field(default_factory=list)  # dicts: epoch, train_loss, val_loss, val_accuracy, ...
    best_epoch: int = -1
    best_val_loss: float = math.inf
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def make_optimizer(model: nn.Module, recipe: Recipe):
    """The recipe's optimizer and its cosine schedule (stepped once per epoch, MASE's).

    ``fused=True``: one kernel updates every parameter; for these small models the per-tensor
    Python loop of the default implementation cost about as much as the forward and backward pass
    (one jsc-three-linear-layers epoch: 1.9 s → 1.0 s on this machine).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if recipe.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=recipe.lr, momentum=0.9, nesterov=True, weight_decay=recipe.weight_decay,
                              fused=True)
        eta_min = 0.0
    elif recipe.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay, fused=True)
        eta_min = min(1e-6, recipe.lr)
    else:
        opt = torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay, fused=True)
        eta_min = min(1e-6, recipe.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs, eta_min=eta_min)
    return opt, sched


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    """Logits for a whole tensor, in chunks, in eval mode (the caller's mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)])
    finally:
        model.train(was_training)


def metrics_from_logits(logits: torch.Tensor, y: torch.Tensor) -> dict:
    """accuracy (micro), macro_accuracy (mean recall over classes present), loss (mean CE), n.

    Per-class counts come from ``bincount`` (one pass; a mask per class cost more than the
    forward pass of a quantized jsc-tiny on a 66k-sample split).
    """
    num = logits.shape[1]
    correct = logits.argmax(dim=1) == y
    total = torch.bincount(y, minlength=num)
    hits = torch.bincount(y[correct], minlength=num)
    present = total > 0
    return {
        "accuracy": float(correct.float().mean()),
        "macro_accuracy": float((hits[present].double() / total[present]).mean()),
        "loss": float(F.cross_entropy(logits.float(), y)),
        "n": int(y.shape[0]),
    }


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = 65536) -> dict:
    """Evaluate a whole split (see :func:`metrics_from_logits`)."""
    return metrics_from_logits(predict(model, x, chunk), y)


def confusion_matrix(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts[true, predicted]."""
    pred = predict(model, x).argmax(dim=1)
    return torch.bincount(y * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def train(
    model: nn.Module,
    data,
    recipe: Recipe = Recipe(),
    *,
    progress: bool = True,
    out_dir: str | Path | None = None,
    resume: bool = False,
    meta: dict | None = None,
    augment=None,
    desc: str = "train",
) -> History:
    """Train ``model`` on ``data.x_train`` and keep the weights of the best validation-loss epoch.

    After training the model holds the best weights. With ``out_dir``, ``best.ckpt`` (best weights
    so far) and ``last.ckpt`` (model, optimizer, scheduler, RNG and history after the last complete
    epoch) are written atomically after every epoch; ``resume=True`` continues from ``last.ckpt``
    and gives the same final weights as an uninterrupted run with the same seed.
    ``augment(xb, generator)`` optionally transforms each training batch (CIFAR-10 crops/flips).
    """
    small = sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMS
    with num_threads(1 if small else None):
        return _train(model, data, recipe, progress=progress, out_dir=out_dir, resume=resume, meta=meta,
                      augment=augment, desc=desc)


SMALL_MODEL_PARAMS = 100_000


@contextlib.contextmanager
def num_threads(n: int | None):
    """Temporarily set torch's intra-op thread count (``None``: leave it).

    Why: the JSC models' layers are so small (16-80 features, batch 512) that OpenMP's
    synchronisation costs more than the arithmetic; on this 2-core machine one epoch of
    jsc-three-linear-layers ran 10x faster on 1 thread than on 2 while other work was running.
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _train(model, data, recipe, *, progress, out_dir, resume, meta, augment, desc) -> History:

    torch.manual_seed(recipe.seed)
    gen = torch.Generator().manual_seed(recipe.seed)
    opt, sched = make_optimizer(model, recipe)
    history = History()
    best_state = copy.deepcopy(model.state_dict())
    start_epoch = 0
    out_dir = Path(out_dir) if out_dir is not None else None
    if resume and out_dir is not None and (out_dir / "last.ckpt").exists():
        state = load_checkpoint_file(out_dir / "last.ckpt")
        if state.get("recipe") != recipe.as_dict():
            raise LabError(f"{out_dir / 'last.ckpt'}: was trained with recipe {state.get('recipe')}, not {recipe.as_dict()}; "
                           "use the same flags to resume, or another --out")
        load_state(model, state["state_dict"], out_dir / "last.ckpt")
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history = History(**state["history"])
        best_state = state["best_state_dict"]
        start_epoch = len(history.epochs)
    x, y = data.x_train, data.y_train
    n = x.shape[0]
    t0 = time.perf_counter() - history.seconds
    bar = progress_bar(range(start_epoch, recipe.epochs), desc=desc, progress=progress, leave=False, initial=start_epoch,
               total=recipe.epochs)
    for epoch in bar:
        model.train()
        perm = torch.randperm(n, generator=gen)
        xs, ys = x[perm], y[perm]  # one shuffled copy per epoch: the batches below are views, not gathers
        total, count = torch.zeros((), dtype=torch.float64), 0
        for i in range(0, n, recipe.batch_size):
            xb, yb = xs[i:i + recipe.batch_size], ys[i:i + recipe.batch_size]
            if augment is not None:
                xb = augment(xb, gen)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * yb.shape[0]
            count += yb.shape[0]
        sched.step()
        val = evaluate(model, data.x_val, data.y_val)
        row = {"epoch": epoch + 1, "train_loss": float(total) / max(count, 1), "val_loss": val["loss"],
               "val_accuracy": val["accuracy"], "val_macro_accuracy": val["macro_accuracy"]}
        history.epochs.append(row)
        if math.isfinite(val["loss"]) and val["loss"] < history.best_val_loss:
            history.best_val_loss = val["loss"]
            history.best_epoch = epoch + 1
            best_state = copy.deepcopy(model.state_dict())
            if out_dir is not None:
                save_checkpoint(out_dir / "best.ckpt", model, meta=meta, recipe=recipe,
                                metrics={"val": val, "epoch": epoch + 1})
        history.seconds = time.perf_counter() - t0
        bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_acc=f"{val['accuracy']:.3f}")
        if out_dir is not None:
            atomic.torch_save(out_dir / "last.ckpt", {
                "format": CKPT_FORMAT, **(meta or {}), "recipe": recipe.as_dict(),
                "state_dict": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                "history": history.as_dict(), "best_state_dict": best_state,
            })
    model.load_state_dict(best_state)
    return history
