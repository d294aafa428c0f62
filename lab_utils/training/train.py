"""Training and evaluation on in-memory tensors (checkpoint files: :mod:`lab_utils.training.checkpoints`).

Speed rules: minibatches are sliced from the tensors with a seeded permutation per
epoch (no per-sample ``DataLoader``); evaluation runs a whole split in large chunks under
``torch.inference_mode()``; :func:`num_threads` (the package's one switch of torch's thread count)
runs small models on one thread.

Two accuracies are reported, never confused: ``accuracy`` (micro: fraction correct) and
``macro_accuracy`` (mean per-class recall over the classes present in the labels: what
torchmetrics' ``MulticlassAccuracy`` returns by default, and what MASE's search reported).
:func:`metrics_from_logits` is the one place they are computed from logits.

:class:`Recipe` checks its fields with :func:`check_whole` and :func:`check_lr`, which the supernet
recipe (:mod:`lab_utils.training.supernet`) shares; :class:`History` is the per-epoch record that
:func:`train` and the batched trainer (:mod:`lab_utils.training.batched`) both fill.
:func:`recalibrate_bn` recomputes BatchNorm statistics after training (lab3_6's augmented CNN) or
after slicing a candidate out of a supernet.
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

from lab_utils.errors import LabError
from lab_utils.progress import progress_bar
from lab_utils.training.checkpoints import (
    check_resume_state,
    load_checkpoint_file,
    load_state,
    save_checkpoint,
    save_training_state,
)

SMALL_MODEL_PARAMS = 100_000  # below this, train() runs on one thread (see num_threads)


def check_whole(what: str, value, minimum: int) -> None:
    """A :class:`LabError` naming ``what`` unless ``value`` is a whole number >= ``minimum``."""
    if not (isinstance(value, int) and value >= minimum):
        raise LabError(f"{what} must be a whole number >= {minimum}, got {value!r}")


def check_lr(what: str, value) -> None:
    """A :class:`LabError` naming ``what`` unless ``value`` is a learning rate in (0, 10]."""
    if not (isinstance(value, (int, float)) and 0 < value <= 10):
        raise LabError(f"{what} must be a number in (0, 10], got {value!r}")


SCHEDULES = ("cosine", "warmup_cosine")
KEEPS = ("best", "last")


@dataclass(frozen=True)
class Recipe:
    """How a model is trained. Defaults: Adam, cosine to 1e-6 over the epochs (MASE's schedule).

    ``schedule``: ``"cosine"`` (the default: stepped once per epoch, MASE's) or ``"warmup_cosine"``
    (stepped every minibatch: a linear warm-up from ``lr / 25`` to ``lr`` over ``warmup_epochs``, then
    a cosine to the floor over the remaining steps; what a from-scratch CNN run of a few epochs needs,
    since a per-epoch cosine over 4 epochs changes the rate in 4 big jumps and starts at the peak).
    ``keep``: ``"best"`` (the default: the weights of the best validation-loss epoch) or ``"last"``
    (the final weights; for a training whose validation images are part of its training set).
    The two fields are left out of :meth:`as_dict` at their defaults, so recipes written before they
    existed (checkpoints, cache keys) describe the same training as before.
    """
    epochs: int = 10
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"  # adam | adamw | sgd (Nesterov, momentum 0.9)
    seed: int = 0
    schedule: str = "cosine"  # cosine (per epoch) | warmup_cosine (per step)
    warmup_epochs: float = 0.0  # warmup_cosine only: epochs of linear warm-up
    keep: str = "best"  # best (validation loss) | last

    def __post_init__(self):
        check_whole("epochs", self.epochs, 1)
        check_whole("batch_size", self.batch_size, 1)
        check_lr("lr", self.lr)
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay < math.inf):
            raise LabError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise LabError(f"optimizer must be one of adam, adamw, sgd; got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise LabError(f"schedule must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}")
        if not (isinstance(self.warmup_epochs, (int, float)) and 0 <= self.warmup_epochs < self.epochs):
            raise LabError(f"warmup_epochs must be a number in [0, epochs), got {self.warmup_epochs!r}")
        if self.warmup_epochs and self.schedule != "warmup_cosine":
            raise LabError("warmup_epochs needs schedule = 'warmup_cosine'")
        if self.keep not in KEEPS:
            raise LabError(f"keep must be one of {', '.join(KEEPS)}; got {self.keep!r}")

    def as_dict(self) -> dict:
        d = asdict(self)
        for k, default in (("schedule", "cosine"), ("warmup_epochs", 0.0), ("keep", "best")):
            if d[k] == default:
                del d[k]
        return d


@dataclass
class History:
    """Per-epoch training record, plus the best epoch by validation loss."""
    epochs: list = field(default_factory=list)  # dicts: epoch, train_loss, val_loss, val_accuracy, ...
    best_epoch: int = -1
    best_val_loss: float = math.inf
    seconds: float = 0.0

    def record(self, epoch: int, train_loss: float, val: dict) -> bool:
        """Append epoch ``epoch``'s row (``val`` from :func:`evaluate`); True if its val loss is a new best.

        A non-finite validation loss never counts as the best.
        """
        self.epochs.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val["loss"],
                            "val_accuracy": val["accuracy"], "val_macro_accuracy": val["macro_accuracy"]})
        if math.isfinite(val["loss"]) and val["loss"] < self.best_val_loss:
            self.best_val_loss, self.best_epoch = val["loss"], epoch
            return True
        return False

    def best_val(self) -> dict:
        """Validation ``loss``, ``accuracy`` and ``macro_accuracy`` at the best epoch (None before one)."""
        row = self.epochs[self.best_epoch - 1] if self.best_epoch >= 1 else {}
        return {"loss": row.get("val_loss"), "accuracy": row.get("val_accuracy"),
                "macro_accuracy": row.get("val_macro_accuracy")}

    def as_dict(self) -> dict:
        return asdict(self)


def minibatches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of every minibatch of an epoch over ``n`` shuffled rows.

    ``batch_size`` rows each and a shorter last one, as ``range(0, n, batch_size)`` slices them,
    except that a last minibatch of ONE row is merged into the one before (``batch_size + 1`` rows;
    batch size 1 is left alone: all its minibatches are single rows, see :func:`check_minibatches`).
    Why: BatchNorm cannot train on one row (``nn.BatchNorm1d`` raises "Expected more than 1 value per
    channel when training"; the batched trainer's unbiased variance would divide by zero), and
    ``n % batch_size == 1`` is an ordinary size (1,025 training rows at batch size 512). Merging
    rather than dropping keeps every row in every epoch, and every other ``n`` gets exactly the
    minibatches it had before this rule, so earlier results are unchanged bit for bit. Every
    training loop of the package (:func:`train`, the batched trainer, the supernet) slices with it.
    """
    bounds = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if batch_size > 1 and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:  # n % batch_size == 1
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def check_minibatches(model: nn.Module, n: int, batch_size: int) -> None:
    """A :class:`LabError` when ``model`` has a ``BatchNorm1d`` and a minibatch would hold one row.

    :func:`minibatches` merges a lone last row; what is left is a training split of one row (or none)
    and a batch size of 1, on which BatchNorm cannot compute a batch variance.
    """
    if not any(isinstance(m, nn.BatchNorm1d) for m in model.modules()):
        return
    if n < 2:
        raise LabError(f"the training split has {n} row{'s' if n != 1 else ''}: BatchNorm cannot train on "
                       "fewer than 2; use a larger data set (--n-samples, n_samples)")
    if batch_size < 2:
        raise LabError("batch size 1: BatchNorm cannot train on minibatches of one row; use a batch size >= 2 "
                       "(--batch-size, batch_size)")


@contextlib.contextmanager
def num_threads(n: int | None):
    """Temporarily set torch's intra-op thread count (``None``: leave it).

    Why: the JSC models' layers are so small (16-80 features, batch 512) that OpenMP's
    synchronisation costs more than the arithmetic; on a 2-core machine one epoch of
    jsc-three-linear-layers ran 10x faster on 1 thread than on 2 while other work was running.
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def make_optimizer(model: nn.Module, recipe: Recipe, steps_per_epoch: int | None = None):
    """The recipe's optimizer and its schedule: cosine stepped once per epoch (MASE's, the default), or
    with ``schedule="warmup_cosine"`` a per-step warm-up + cosine (:func:`warmup_cosine_factor`; needs
    ``steps_per_epoch``, and the caller steps it after every minibatch).

    ``fused=True``: one kernel updates every parameter; for these small models the per-tensor
    Python loop of the default implementation cost about as much as the forward and backward pass
    (one jsc-three-linear-layers epoch: 1.9 s → 1.0 s on a 2-core CPU).
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
    if recipe.schedule == "warmup_cosine":
        if not steps_per_epoch:
            raise LabError("schedule 'warmup_cosine' is stepped per minibatch: this trainer gives no steps per epoch")
        total, warm = recipe.epochs * int(steps_per_epoch), round(recipe.warmup_epochs * int(steps_per_epoch))
        floor = eta_min / recipe.lr
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: warmup_cosine_factor(step, total, warm, floor))
        return opt, sched
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs, eta_min=eta_min)
    return opt, sched


def warmup_cosine_factor(step: int, total: int, warmup: int, floor: float = 0.0) -> float:
    """The learning rate at minibatch ``step`` (0-based) as a fraction of the peak: linear from 1/25 to 1
    over the first ``warmup`` steps (one-cycle's starting point), then a half cosine from 1 down to
    ``floor`` at step ``total``. Written as one closed form of the step for a ``LambdaLR`` rather than
    torch's ``SequentialLR(LinearLR, CosineAnnealingLR)``: ``CosineAnnealingLR`` updates the rate
    recursively from the previous one, while this factor is exact at every step (and after a resume)
    and is checked against hand values (tests/training/test_train_schedule.py)."""
    if step < warmup:
        return 0.04 + 0.96 * step / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    """Logits for a whole tensor, in chunks, in eval mode (the caller's mode is restored).

    Models under :data:`SMALL_MODEL_PARAMS` run on one thread, as in :func:`train`: with several
    threads the matrix products' sums are split by the thread count the BLAS picks at that moment,
    so an argmax near a tie (and a reported accuracy) could change between runs of the same code.
    """
    was_training = model.training
    model.eval()
    small = sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMS
    try:
        with num_threads(1 if small else None):
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


@torch.no_grad()
def recalibrate_bn(model: nn.Module, x: torch.Tensor, n_batches: int = 8, batch_size: int = 256) -> nn.Module:
    """Recompute BatchNorm running statistics of ``model`` on the first ``n_batches`` of ``x``.

    ``torch.optim.swa_utils.update_bn`` resets the buffers and averages exactly over the batches
    (momentum None), so the result does not depend on the statistics the model had before.
    """
    batches = [x[i:i + batch_size] for i in range(0, min(len(x), n_batches * batch_size), batch_size)]
    if not batches:
        raise LabError("recalibrate_bn needs at least one calibration image")
    torch.optim.swa_utils.update_bn(batches, model)
    model.eval()
    return model


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
    """Train ``model`` on ``data.x_train`` and keep the weights of the best validation-loss epoch
    (``recipe.keep == "last"``: of the last epoch).

    After training the model holds the kept weights. With ``out_dir``, ``best.ckpt`` (best weights
    so far) and ``last.ckpt`` (model, optimizer, scheduler, RNG and history after the last complete
    epoch) are written atomically after every epoch; ``resume=True`` continues from ``last.ckpt``
    and gives the same final weights as an uninterrupted run with the same seed.
    ``augment(xb, generator)`` optionally transforms each training batch (CIFAR-10 crops/flips).
    Models under :data:`SMALL_MODEL_PARAMS` parameters train on one thread (:func:`num_threads`).
    Minibatches come from :func:`minibatches` (a lone last row joins the batch before it); what would
    still leave BatchNorm one row is refused first (:func:`check_minibatches`), and so is a
    ``last.ckpt`` of another recipe, model or data set (``meta``) when resuming.
    """
    small = sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMS
    with num_threads(1 if small else None):
        return _train(model, data, recipe, progress=progress, out_dir=out_dir, resume=resume, meta=meta,
                      augment=augment, desc=desc)


def _train(model, data, recipe, *, progress, out_dir, resume, meta, augment, desc) -> History:
    """The loop: seed, optimizer, optional resume, then one epoch + validation + checkpoints at a time."""
    check_minibatches(model, data.x_train.shape[0], recipe.batch_size)
    torch.manual_seed(recipe.seed)
    gen = torch.Generator().manual_seed(recipe.seed)
    per_step = recipe.schedule == "warmup_cosine"
    opt, sched = make_optimizer(model, recipe, len(minibatches(data.x_train.shape[0], recipe.batch_size)))
    history = History()
    best_state = copy.deepcopy(model.state_dict())
    out_dir = Path(out_dir) if out_dir is not None else None
    if resume and out_dir is not None and (out_dir / "last.ckpt").exists():
        history, best_state = _resume(out_dir / "last.ckpt", model, recipe, meta, opt, sched, gen)
    start_epoch = len(history.epochs)
    t0 = time.perf_counter() - history.seconds
    bar = progress_bar(range(start_epoch, recipe.epochs), desc=desc, progress=progress, leave=False,
                       initial=start_epoch, total=recipe.epochs)
    for epoch in bar:
        train_loss = _train_epoch(model, data.x_train, data.y_train, recipe.batch_size, opt, gen, augment,
                                  sched if per_step else None)
        if not per_step:
            sched.step()
        val = evaluate(model, data.x_val, data.y_val)
        if history.record(epoch + 1, train_loss, val) or recipe.keep == "last":
            best_state = copy.deepcopy(model.state_dict())
            if out_dir is not None:
                save_checkpoint(out_dir / "best.ckpt", model, meta=meta, recipe=recipe,
                                metrics={"val": val, "epoch": epoch + 1})
        history.seconds = time.perf_counter() - t0
        bar.set_postfix(loss=f"{train_loss:.3f}", val_acc=f"{val['accuracy']:.3f}")
        if out_dir is not None:
            save_training_state(out_dir / "last.ckpt", model, meta=meta, recipe=recipe, optimizer=opt,
                                scheduler=sched, generator=gen, history=history.as_dict(), best_state=best_state)
    model.load_state_dict(best_state)
    return history


def _resume(path: Path, model, recipe, meta, opt, sched, gen) -> tuple[History, dict]:
    """Restore model, optimizer, scheduler and both RNGs from ``last.ckpt``; returns (history, best state).

    :func:`~lab_utils.training.checkpoints.check_resume_state` first refuses a file that is not a
    resume checkpoint or was written with another recipe, model or data set; a file that passes it
    but still does not fit (a hand-edited one) is refused in one line too.
    """
    state = load_checkpoint_file(path)
    check_resume_state(state, path, recipe=recipe.as_dict(), meta=meta)
    load_state(model, state["state_dict"], path)
    try:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history = History(**state["history"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise LabError(f"{path} cannot be resumed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
                       "move it away or choose another --out") from None
    return history, state["best_state_dict"]


def _train_epoch(model, x, y, batch_size: int, opt, gen, augment, step_sched=None) -> float:
    """One pass over the shuffled training tensors (``step_sched`` stepped after every minibatch when
    given); returns the mean training loss."""
    model.train()
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen)
    xs, ys = x[perm], y[perm]  # one shuffled copy per epoch: the batches below are views, not gathers
    total, count = torch.zeros((), dtype=torch.float64), 0
    for start, stop in minibatches(n, batch_size):  # a lone last row joins the batch before it
        xb, yb = xs[start:stop], ys[start:stop]
        if augment is not None:
            xb = augment(xb, gen)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step_sched is not None:
            step_sched.step()
        total += loss.detach() * yb.shape[0]
        count += yb.shape[0]
    return float(total) / max(count, 1)
