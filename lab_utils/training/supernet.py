"""A weight-sharing VGG7 supernet: one set of weights that holds every channel-width candidate.

How it works (the "slimmable"/once-for-all recipe, scaled to a CPU):

- The supernet is a plain ``vgg7`` at the widest setting (every conv has ``max(choices)`` output
  channels; the classifier is ``fc`` wide). A candidate is six conv widths, each from ``choices``,
  non-decreasing (the lab report's constraint). Candidate weights are *channel prefixes*: conv
  ``k`` uses ``weight[:c_k, :c_{k-1}]``, its BatchNorm the first ``c_k`` affine parameters, and the
  first Linear the first ``c_6 * 16`` input columns (flatten is channel-major, so a channel prefix
  is a column prefix).
- Training (:func:`train_supernet`) applies the *sandwich rule* on every minibatch: the largest
  candidate, the smallest, and ``n_random`` uniformly sampled ones; their gradients are summed
  before one SGD step. The smaller candidates learn from the largest one's soft predictions
  (in-place distillation) unless ``distill=False``. BatchNorm always uses batch statistics during
  supernet training: running statistics of a shared BN would mix all widths.
- A candidate is evaluated by :func:`export` -- a plain ``vgg7(channels=..., fc=...)`` built through
  the width transform (:func:`build_candidate`) with the sliced weights copied in -- followed by
  :func:`~lab_utils.training.train.recalibrate_bn`, which recomputes its BatchNorm running
  statistics on a few training batches (``torch.optim.swa_utils.update_bn``: a cumulative average
  with fresh buffers).
- :func:`retrain` trains an architecture from scratch (``lab_utils.training.train.train``) so the
  supernet's ranking can be checked against from-scratch accuracy, and trains the searched
  architecture to convergence (:mod:`lab_utils.labs.lab4_5`).
- Determinism: every random draw comes from a seed given here (:func:`build_candidate`'s
  ``seed``, the recipe's generator), never from the global RNG, which torch seeds randomly per
  process.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lab_utils.errors import LabError
from lab_utils.models import VGG7_CHANNELS, VGG7_CONV_INDICES, VGG7_FIRST_LINEAR, vgg7
from lab_utils.passes.graph import trace
from lab_utils.passes.widths import redefine_conv2d_transform_pass, vgg_channels_pass_args
from lab_utils.progress import progress_bar
from lab_utils.training.checkpoints import load_checkpoint_file, write_torch_file
from lab_utils.training.train import check_lr, check_whole, minibatches, recalibrate_bn, train

REPORT_CHOICES = (64, 128, 256, 512)  # the lab report's channel list
CPU_CHOICES = (16, 32, 48, 64)  # scaled down: the widest candidate costs ~63 M MACs per image


# ---------------------------------------------------------------- the candidate space
def check_choices(choices) -> tuple[int, ...]:
    """Sorted, distinct positive widths; a LabError names the bad value otherwise."""
    try:
        out = tuple(sorted({int(c) for c in choices}))
    except (TypeError, ValueError):
        raise LabError(f"channel choices must be whole numbers, got {choices!r}") from None
    if not out or out[0] < 1:
        raise LabError(f"channel choices must be a non-empty list of widths >= 1, got {list(choices)!r}")
    return out


def check_channels(channels, choices) -> tuple[int, ...]:
    """Six widths from ``choices``, non-decreasing (the report's constraint)."""
    choices = check_choices(choices)
    c = tuple(int(v) for v in channels)
    if len(c) != 6:
        raise LabError(f"channels: VGG7 has 6 convolutions, got {len(c)} widths {list(c)}")
    bad = [v for v in c if v not in choices]
    if bad:
        raise LabError(f"channels: width {bad[0]} is not one of the choices {list(choices)}")
    if any(b < a for a, b in zip(c, c[1:])):
        raise LabError(f"channels: widths must be non-decreasing, got {list(c)}")
    return c


def all_candidates(choices) -> list[tuple[int, ...]]:
    """Every valid candidate: non-decreasing 6-tuples = multisets of size 6 (84 for 4 choices)."""
    return list(itertools.combinations_with_replacement(check_choices(choices), 6))


def vgg_macs(channels, fc: int = 1024, num_classes: int = 10) -> int:
    """Multiply-accumulates per image: conv ``Cout·Cin·9·H·W`` (bias, BN, ReLU, pooling not counted)
    plus Linear ``in·out``. Written by hand because the search needs it for every candidate without
    building one; tests check it against ``torch.utils.flop_counter`` (FLOPs = 2·MACs there)."""
    c = [int(v) for v in channels]
    macs, cin, hw = 0, 3, 32 * 32
    for k, cout in enumerate(c):
        macs += cout * cin * 9 * hw
        cin = cout
        if k % 2 == 1:
            hw //= 4
    return macs + c[-1] * 16 * fc + fc * fc + fc * num_classes


def build_candidate(channels, fc: int = 256, num_classes: int = 10, seed: int | None = 0) -> nn.Module:
    """A fresh candidate: the lab's VGG7 traced and re-widened by the width transform.

    ``vgg_channels_pass_args`` + ``redefine_conv2d_transform_pass`` (lab_utils.passes.widths) is
    MASE's way to build a candidate; ``vgg7(channels=...)`` is an independent reference, and their
    parameter shapes are asserted equal so a bug in either cannot pass silently. Returns the
    transformed ``fx.GraphModule`` (same state-dict keys as ``vgg7``).

    Every initial weight comes from ``seed`` (``None`` means 0): the base VGG7, the layers the
    transform re-creates and the layers it leaves alone are all drawn inside ``fork_rng`` after
    ``manual_seed(seed)``, so the weights never depend on the caller's global RNG state (they did:
    the untouched layers were drawn from the global RNG, which torch seeds randomly per process)
    and the caller's RNG is left as it was.
    """
    c = tuple(int(v) for v in channels)
    seed = 0 if seed is None else int(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        base = vgg7(channels=VGG7_CHANNELS, fc=fc, num_classes=num_classes)
        graph, _ = redefine_conv2d_transform_pass(trace(base), vgg_channels_pass_args(c, seed=seed))
        reference = vgg7(channels=c, fc=fc, num_classes=num_classes)
    got = {k: tuple(v.shape) for k, v in graph.model.state_dict().items()}
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    if got != want:
        diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))[:3]
        raise AssertionError(f"width transform and vgg7(channels={list(c)}) disagree at {diff}")
    return graph.model


# ---------------------------------------------------------------- the supernet
class VGGSupernet(nn.Module):
    """VGG7 at the widest channels whose forward can run any candidate's channel prefix."""
    def __init__(self, choices=CPU_CHOICES, fc: int = 256, num_classes: int = 10, seed: int = 0):
        super().__init__()
        self.choices = check_choices(choices)
        self.fc = int(fc)
        self.num_classes = int(num_classes)
        self.max_channels = (self.choices[-1],) * 6
        with torch.random.fork_rng(devices=[]):  # seeded initial weights, caller's RNG untouched
            torch.manual_seed(seed)
            self.net = vgg7(channels=self.max_channels, fc=self.fc, num_classes=self.num_classes)

    @property
    def largest(self) -> tuple[int, ...]:
        return self.max_channels

    @property
    def smallest(self) -> tuple[int, ...]:
        return (self.choices[0],) * 6

    def forward(self, x: torch.Tensor, channels=None) -> torch.Tensor:
        """Logits of candidate ``channels`` (default: the widest); BN uses batch statistics."""
        c = self.max_channels if channels is None else check_channels(channels, self.choices)
        conv_k = {idx: k for k, idx in enumerate(VGG7_CONV_INDICES)}
        cin, cout = 3, 3
        for i, layer in enumerate(self.net.seq_blocks):
            if i in conv_k:
                cout = c[conv_k[i]]
                # channels_last weights: oneDNN's fast CPU path (about 5x faster than NCHW here)
                w = layer.weight[:cout, :cin].contiguous(memory_format=torch.channels_last)
                x = F.conv2d(x, w, layer.bias[:cout], padding=1)
                cin = cout
            elif isinstance(layer, nn.BatchNorm2d):
                x = F.batch_norm(x, None, None, layer.weight[:cout], layer.bias[:cout], True, 0.0, layer.eps)
            elif i == VGG7_FIRST_LINEAR:
                x = F.linear(x, layer.weight[:, : cin * 16], layer.bias)
            else:
                x = layer(x)
        return x


@torch.no_grad()
def export(supernet: VGGSupernet, channels) -> nn.Module:
    """A plain candidate network holding the supernet's weight prefixes.

    Every tensor of a candidate is a leading block of the supernet's tensor of the same name (conv
    ``[:c_k, :c_{k-1}]``, BN ``[:c_k]``, first Linear ``[:, :c_6*16]``, the rest whole), so the copy
    is one prefix slice per state-dict entry. BN running statistics come along but are meaningless
    (the supernet never tracks them): call :func:`~lab_utils.training.train.recalibrate_bn` before evaluating.
    """
    c = check_channels(channels, supernet.choices)
    model = build_candidate(c, fc=supernet.fc, num_classes=supernet.num_classes)
    src = supernet.net.state_dict()
    new = {k: src[k][tuple(slice(0, n) for n in v.shape)].clone() for k, v in model.state_dict().items()}
    model.load_state_dict(new)
    return model.to(memory_format=torch.channels_last)


def candidate_model(supernet: VGGSupernet, channels, x_calib: torch.Tensor, n_batches: int = 8,
                    batch_size: int = 256) -> nn.Module:
    """Export + BatchNorm recalibration: a candidate ready to evaluate."""
    return recalibrate_bn(export(supernet, channels), x_calib, n_batches, batch_size)


# ---------------------------------------------------------------- training
@dataclass(frozen=True)
class SupernetRecipe:
    """Supernet training: SGD (Nesterov) with a one-cycle schedule, sandwich rule per step."""
    epochs: int = 8
    batch_size: int = 128
    lr: float = 0.1  # one-cycle peak
    weight_decay: float = 5e-4
    n_random: int = 1  # random candidates per step besides the largest and the smallest
    distill: bool = True  # smaller candidates learn from the largest one's soft predictions
    seed: int = 0

    def __post_init__(self):
        check_whole("supernet epochs", self.epochs, 1)
        check_whole("supernet batch_size", self.batch_size, 2)
        check_lr("supernet lr", self.lr)
        check_whole("n_random", self.n_random, 0)

    def as_dict(self) -> dict:
        return asdict(self)


def train_supernet(supernet: VGGSupernet, splits, recipe: SupernetRecipe = SupernetRecipe(), *,
                   augment=None, progress: bool = True) -> list[dict]:
    """Train the shared weights with the sandwich rule; returns one row per epoch.

    Each row has the mean training loss of the largest and the smallest candidate, and the seconds.
    """
    gen = torch.Generator().manual_seed(recipe.seed)  # the only RNG the loop draws from
    space = all_candidates(supernet.choices)
    supernet.to(memory_format=torch.channels_last)
    x, y = splits.x_train.contiguous(memory_format=torch.channels_last), splits.y_train
    n = x.shape[0]
    batches = minibatches(n, recipe.batch_size)  # a lone last image joins the batch before it
    steps = len(batches)
    opt = torch.optim.SGD(supernet.parameters(), lr=recipe.lr, momentum=0.9, nesterov=True,
                          weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, epochs=recipe.epochs, steps_per_epoch=steps)
    rows = []
    t0 = time.perf_counter()
    supernet.train()
    for epoch in progress_bar(range(recipe.epochs), desc="supernet", progress=progress, leave=False):
        perm = torch.randperm(n, generator=gen)
        sums = {"loss_largest": 0.0, "loss_smallest": 0.0}
        for start, stop in batches:
            idx = perm[start:stop]
            xb, yb = x[idx], y[idx]
            if augment is not None:
                xb = augment(xb, gen)
            opt.zero_grad(set_to_none=True)
            logits = supernet(xb, supernet.largest)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            sums["loss_largest"] += float(loss.detach()) * len(idx)
            soft = F.softmax(logits.detach(), dim=1)
            picks = [space[int(j)] for j in torch.randint(len(space), (recipe.n_random,), generator=gen)]
            for k, c in enumerate([supernet.smallest, *picks]):
                out = supernet(xb, c)
                if recipe.distill:
                    sub = F.cross_entropy(out, soft)  # soft targets: in-place distillation
                else:
                    sub = F.cross_entropy(out, yb)
                sub.backward()
                if k == 0:
                    sums["loss_smallest"] += float(F.cross_entropy(out.detach(), yb)) * len(idx)
            opt.step()
            sched.step()
        rows.append({"epoch": epoch + 1, **{k: v / n for k, v in sums.items()},
                     "seconds": time.perf_counter() - t0})
    supernet.eval()
    return rows


# images per forward pass when evaluating: a whole 10,000-image split in one pass through the widest
# candidate holds several 2.6 GB activations at once (the 6.6 GB peak seen before chunking)
EVAL_CHUNK = 500


def channels_last(splits):
    """The same splits with images in channels_last memory (oneDNN's fast layout; values unchanged).

    Tensors already in that layout are kept as they are (no copy), so converting once up front
    saves a copy of every split per retraining.
    """
    return dataclasses.replace(splits, **{f"x_{s}": getattr(splits, f"x_{s}").contiguous(
        memory_format=torch.channels_last) for s in ("train", "val", "test")})


class ChunkedEval(nn.Module):
    """``net`` whose eval-mode forward runs :data:`EVAL_CHUNK` images at a time (training mode: unchanged).

    Why: ``train`` scores the whole validation split in one forward pass each epoch; for the widest
    candidate and 2,500 images that is 0.65 GB per activation, two or three alive at once. The
    wrapper bounds that without changing a single number (BatchNorm uses running statistics in eval
    mode, so chunks are independent).
    """
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or x.shape[0] <= EVAL_CHUNK:
            return self.net(x)
        return torch.cat([self.net(x[i:i + EVAL_CHUNK]) for i in range(0, x.shape[0], EVAL_CHUNK)])


def retrain(channels, splits, recipe, *, fc: int = 256, augment=None, progress: bool = True,
            n_calib_batches: int = 8, calib_batch_size: int = 256):
    """Train candidate ``channels`` from scratch (``lab_utils.training.train.train``); returns (model, history).

    ``recipe`` is a :class:`lab_utils.training.train.Recipe` (lab4_5: SGD, lr 0.05, weight decay 5e-4,
    a one-epoch warm-up and a cosine stepped every minibatch, ``schedule="warmup_cosine"``); ``recipe.seed`` seeds the initial weights and the training. The caller's global RNG is
    left as it was (``train`` reseeds it). Afterwards the BatchNorm running statistics are
    recomputed on the first ``n_calib_batches`` training batches (:func:`~lab_utils.training.train.recalibrate_bn`), as for
    a supernet slice: VGG7's BatchNorm momentum 0.9 otherwise leaves statistics of the last one or
    two minibatches (augmented), a source of noise in every from-scratch score.
    """
    model = build_candidate(tuple(channels), fc=fc, num_classes=splits.num_classes, seed=recipe.seed)
    model.to(memory_format=torch.channels_last)
    data = channels_last(splits)
    with torch.random.fork_rng(devices=[]):
        history = train(ChunkedEval(model), data, recipe, augment=augment, progress=progress,
                        desc=f"retrain {list(channels)}")
    recalibrate_bn(model, data.x_train, n_calib_batches, calib_batch_size)
    return model, history


# ---------------------------------------------------------------- checkpoints
SUPERNET_FORMAT = "lab_utils.supernet/1"  # the name of the module that wrote it first; files keep it


def save_supernet(path, supernet: VGGSupernet, *, recipe: SupernetRecipe | None = None, history=None,
                  dataset: dict | None = None) -> None:
    """Write the supernet (choices, fc, weights, recipe, per-epoch history) atomically."""
    write_torch_file(path, {"format": SUPERNET_FORMAT, "choices": list(supernet.choices), "fc": supernet.fc,
                             "num_classes": supernet.num_classes, "recipe": recipe.as_dict() if recipe else None,
                             "history": history or [], "dataset": dataset or {},
                             "state_dict": supernet.state_dict()})


def load_supernet(path) -> tuple[VGGSupernet, dict]:
    """Rebuild a supernet saved by :func:`save_supernet`; returns (supernet, the checkpoint dict)."""
    obj = load_checkpoint_file(path)
    if obj.get("format") != SUPERNET_FORMAT:
        raise LabError(f"{path}: not a supernet checkpoint (format {obj.get('format')!r}, want {SUPERNET_FORMAT!r})")
    sn = VGGSupernet(obj["choices"], fc=obj["fc"], num_classes=obj["num_classes"])
    sn.load_state_dict(obj["state_dict"])
    sn.eval()
    return sn, obj
