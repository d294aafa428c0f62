"""Search space ``graph/architecture/vgg_channels``: VGG7's six conv widths, scored by a supernet.

The lab report's space: each conv's output width is chosen from a list (the report's
``[64, 128, 256, 512]``, or a scaled-down list for CPU work such as ``[16, 32, 48, 64]``), widths are
non-decreasing, each BatchNorm and the next conv's input are tied to the conv's output, and the
first Linear takes ``channels[-1] * 4 * 4`` inputs. Those ties are applied by the width transform
(``vgg_channels_pass_args`` + ``redefine_conv2d_transform_pass``, see :func:`lab_utils.training.supernet.
build_candidate`).

Parameters are ``seq_blocks_<i>/config/out_channels`` for the convs at 0, 3, 7, 10, 14, 17, in an
*ordered* (conditional) encoding, so every suggestion is a valid candidate and nothing is repaired:
the first conv's width is suggested from all choices, and each later conv's width only from the
choices >= the conv before it. The later parameters are named by that lower bound
(``seq_blocks_3/config/out_channels|from=32``: the second width given that the first is 32), so
each Optuna parameter always has one fixed range and TPE models each branch of the tree on its own
(a parameter whose lower bound is the widest choice is not suggested: it has one value). The
trials table still has one column per conv (:meth:`VGGChannels.decode`). Why not a repair: sorting
an unconstrained 6-tuple maps 4**6 = 4,096 suggestions onto the 84 valid candidates unevenly (a
candidate of six different-or-mixed widths has up to 720 preimages, the six-equal ones one each), so
random start-up and TPE's model favoured mixed-width multisets; every one of 40 trials was repaired.
The encoding's own law: each conditional choice is
uniform in random start-up, so candidates with an early wide layer are likelier than 1/84; the
trials table shows what was sampled.

Candidates are not trained one by one (the report's mistake: untrained candidates scored ~11 %):
``evaluate`` slices a weight-sharing supernet (:mod:`lab_utils.training.supernet`), recalibrates the
candidate's BatchNorm statistics on training images and measures it on the evaluation split. The
supernet comes from ``setup.supernet`` (a file written by ``save_supernet``), else from
``<out>/supernet.ckpt``, else it is trained there with ``[search.search_space.train]``.

``[search.search_space.setup]`` keys: ``choices`` (list of widths), ``fc`` (classifier width,
default 256), ``n_random`` (random candidates per step besides largest and smallest, default 1),
``calib_batches`` (BN recalibration batches of 256 images, default 8), ``supernet`` (path),
``val_fraction`` (share of the training images held out for scoring, default: the engine's split).

``val_fraction`` exists because the engine's default split holds out 10 % of the training images,
1,000 on the 20,000-image CIFAR-10 subset: a candidate's accuracy then has a standard error of
about 1.5 points, as large as the differences the search ranks. With ``val_fraction`` the space
reloads the same source with the same ``data_seed`` and a larger validation split, and uses it
for BN recalibration (its training part), scoring and supernet training alike; the notebook
loads its splits the same way, so nothing it trains on is scored here. Scoring runs
``EVAL_CHUNK`` images per forward pass (bounded memory); cost metrics come from ``measure``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from lab_utils.data.cifar10 import augment, load_cifar10
from lab_utils.errors import LabError
from lab_utils.models import VGG7_CONV_INDICES
from lab_utils.search.space import SearchSpace, SpaceContext, measure, register
from lab_utils.training import supernet as S
from lab_utils.training.supernet import EVAL_CHUNK, candidate_model, check_choices, vgg_macs
from lab_utils.training.train import metrics_from_logits, predict

KEYS = tuple(f"seq_blocks_{i}/config/out_channels" for i in VGG7_CONV_INDICES)


def param_name(k: int, lower: int | None) -> str:
    """The Optuna parameter of conv ``k``'s width given the width ``lower`` of the conv before it
    (``None``: the first conv, no bound)."""
    return KEYS[k] if lower is None else f"{KEYS[k]}|from={int(lower)}"


def encode_channels(channels, choices) -> dict:
    """Optuna parameters (choice indices) of a valid candidate in the ordered encoding."""
    c = S.check_channels(channels, choices)
    choices = S.check_choices(choices)
    out, lower = {}, None
    for k, w in enumerate(c):
        if lower is None or lower != choices[-1]:
            out[param_name(k, lower)] = choices.index(w)
        lower = w
    return out


def decode_channels(params: dict, choices) -> tuple[int, ...]:
    """The candidate of Optuna parameters written by :func:`encode_channels` or the space's suggest
    (a KeyError when one is missing: a trial that has not been suggested yet)."""
    choices = S.check_choices(choices)
    out, lower = [], None
    for k in range(len(KEYS)):
        w = choices[-1] if lower == choices[-1] else choices[int(params[param_name(k, lower)])]
        if lower is not None and w < lower:
            raise ValueError(f"{param_name(k, lower)}: width {w} below {lower}")
        out.append(w)
        lower = w
    return tuple(out)


@register("graph/architecture/vgg_channels")
class VGGChannels(SearchSpace):
    """VGG7 channel widths on CIFAR-10, evaluated by slicing a trained supernet (module docstring)."""
    setup_keys = {"choices": list, "fc": int, "n_random": int, "calib_batches": int, "supernet": str,
                  "val_fraction": float}

    @classmethod
    def check_config(cls, space_cfg) -> None:
        super().check_config(space_cfg)
        choices = space_cfg.setup.get("choices", [16, 32, 48, 64])
        if not choices or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in choices):
            raise LabError(f"search.search_space.setup.choices: must be a list of whole numbers 1..4096, got {choices!r}")
        check_choices(choices)
        for key, low in (("fc", 1), ("n_random", 0), ("calib_batches", 1)):
            if key in space_cfg.setup and space_cfg.setup[key] < low:
                raise LabError(f"search.search_space.setup.{key}: must be >= {low}, got {space_cfg.setup[key]}")
        vf = space_cfg.setup.get("val_fraction", 0.1)
        if not 0.0 < vf < 1.0:
            raise LabError(f"search.search_space.setup.val_fraction: must lie in (0, 1), got {vf!r}")

    def __init__(self, space_cfg, ctx: SpaceContext):
        super().__init__(space_cfg, ctx)
        if ctx.model_name != "vgg7":
            raise LabError(f"model: vgg_channels searches vgg7, not {ctx.model_name!r}")
        if ctx.splits.name != "cifar10":
            raise LabError(f"dataset: vgg_channels needs cifar10 images, got {ctx.splits.name!r}")
        setup = space_cfg.setup
        self.choices_ = S.check_choices(setup.get("choices", [16, 32, 48, 64]))
        self.fc = int(setup.get("fc", 256))
        self.calib_batches = int(setup.get("calib_batches", 8))
        self.splits = ctx.splits
        if "val_fraction" in setup and not ctx.dry_run:  # a larger scoring split (module docstring)
            info = ctx.splits.info
            self.splits = load_cifar10(path=info["source"], data_seed=info["data_seed"],
                                       val_fraction=float(setup["val_fraction"]), download=False)
        self.supernet = self._supernet(setup, ctx)
        self._cache: dict[tuple, dict] = {}

    def _supernet(self, setup: dict, ctx: SpaceContext):
        path = Path(setup["supernet"]) if "supernet" in setup else (
            ctx.out_dir / "supernet.ckpt" if ctx.out_dir is not None else None)
        if path is not None and path.exists():
            sn, obj = S.load_supernet(path)
            if tuple(sn.choices) != self.choices_ or sn.fc != self.fc:
                raise LabError(f"search.search_space.setup.supernet: {path} was trained for choices {list(sn.choices)} "
                               f"and fc {sn.fc}, the config asks for {list(self.choices_)} and fc {self.fc}")
            return sn
        if "supernet" in setup:
            raise LabError(f"search.search_space.setup.supernet: {path} does not exist")
        if ctx.dry_run:  # `search --check`: the space's shape only; never train a supernet to validate a file
            return S.VGGSupernet(self.choices_, fc=self.fc, num_classes=ctx.splits.num_classes, seed=0)
        if ctx.recipe is None:
            raise LabError("search.search_space.train: vgg_channels trains a supernet first; give a recipe table "
                           "(epochs, batch_size, lr, weight_decay, seed) or setup.supernet = \"<file>\"")
        r = ctx.recipe
        recipe = S.SupernetRecipe(epochs=r.epochs, batch_size=r.batch_size, lr=float(r.lr),
                                  weight_decay=float(r.weight_decay), seed=r.seed,
                                  n_random=int(setup.get("n_random", 1)))
        sn = S.VGGSupernet(self.choices_, fc=self.fc, num_classes=ctx.splits.num_classes, seed=r.seed)
        history = S.train_supernet(sn, self.splits, recipe, augment=augment, progress=ctx.progress)
        if path is not None:
            S.save_supernet(path, sn, recipe=recipe, history=history, dataset=self.splits.describe())
        return sn

    def choices(self) -> dict[str, tuple]:
        """Each conv's possible widths (one column of the trials table per conv); the sampler's
        parameters are the ordered encoding's (module docstring)."""
        return {k: self.choices_ for k in KEYS}

    # the ordered encoding: every configuration is a valid candidate (module docstring)
    def suggest(self, trial) -> dict:
        c, lower = [], None
        for k in range(len(KEYS)):
            lo = 0 if lower is None else self.choices_.index(lower)
            j = lo if lo == len(self.choices_) - 1 else trial.suggest_int(param_name(k, lower), lo, len(self.choices_) - 1)
            c.append(self.choices_[j])
            lower = c[-1]
        return dict(zip(KEYS, c))

    def decode(self, params: dict) -> dict:
        return dict(zip(KEYS, decode_channels(params, self.choices_)))

    def encode(self, config: dict) -> dict:
        return encode_channels([config[k] for k in KEYS], self.choices_)

    def configurations(self) -> list[dict]:
        return [dict(zip(KEYS, c)) for c in S.all_candidates(self.choices_)]

    def configuration(self, j: int) -> dict:
        return dict(zip(KEYS, S.all_candidates(self.choices_)[j]))

    def n_configurations(self) -> int:
        return len(S.all_candidates(self.choices_))

    def index_combinations(self) -> int:
        return self.n_configurations()

    def channels(self, config: dict) -> tuple[int, ...]:
        """The channels of a configuration (a valid candidate: checked)."""
        return S.check_channels([config[k] for k in KEYS], self.choices_)

    def sampled_config(self, config: dict) -> dict:
        c = self.channels(config)
        return {"channels": list(c), "macs": vgg_macs(c, self.fc, self.ctx.splits.num_classes), "fc": self.fc}

    def evaluate(self, config: dict) -> dict[str, float]:
        c = self.channels(config)
        if c not in self._cache:  # a repeated candidate costs nothing
            x_calib = self.splits.x_train[: self.calib_batches * 256].contiguous(memory_format=torch.channels_last)
            model = candidate_model(self.supernet, c, x_calib, self.calib_batches, 256)
            x, y = self.splits.split(self.ctx.eval_split)
            n = self.ctx.eval_samples or x.shape[0]
            # cost metrics (and latency) from the engine's measure, on one batch only
            out = measure(model, dataclasses.replace(self.ctx, splits=self.splits, eval_samples=self.ctx.batch_size))
            scores = metrics_from_logits(predict(model, x[:n], chunk=EVAL_CHUNK), y[:n])
            out.update({k: v for k, v in scores.items() if k != "n"})
            self._cache[c] = out
        return dict(self._cache[c])
