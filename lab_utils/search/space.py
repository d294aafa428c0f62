"""Search spaces: the protocol, the registry, the context a space is built on, and the metrics.

The protocol (what the search strategy relies on)
-------------------------------------------------

A space is a subclass of :class:`SearchSpace` registered with ``@register("family/kind/name")``;
the ``name`` under ``[search.search_space]`` in the TOML picks it. Adding a space is one module
under ``lab_utils/search/spaces/`` holding the class with its ``@register(...)`` line, plus one
import line in ``lab_utils/search/spaces/__init__.py`` (importing :mod:`lab_utils.search` imports
that package, which runs every ``@register``)::

    @register("graph/architecture/my_space")
    class MySpace(SearchSpace):
        setup_keys = {"by": str}                  # allowed [search.search_space.setup] keys
        def choices(self):                        # parameter -> tuple of UNIQUE choices
            return {"width": (8, 16, 32)}
        def evaluate(self, config):               # {"width": 16} -> metrics dict
            model = ...; return measure(model, self.ctx)

1. ``SearchSpace.check_config(space_cfg)`` (classmethod, no model needed) validates the space's
   own keys when the TOML is loaded, so a typo fails before any study is touched.
2. ``__init__(space_cfg, ctx)`` receives the parsed ``[search.search_space]`` (``.setup``,
   ``.choice_tables`` = the TOML's ``seed`` tables, ``.train``) and a :class:`SpaceContext`: the
   model (built by name, weights loaded from ``ctx.checkpoint`` if one was given), the data splits,
   the split to evaluate on (``val``), the seed, the output directory, the training
   :class:`~lab_utils.training.train.Recipe` from ``[search.search_space.train]`` (for spaces that
   train candidates) and the metric names the objective needs (measure latency only when asked).
   It checks the config against the model (e.g. a node name that does not exist) and raises
   :class:`~lab_utils.errors.LabError`.
3. ``choices()`` declares every parameter with its unique choices. All parameters are suggested
   before any evaluation (``suggest``), as ``trial.suggest_int(key, 0, len - 1)`` over the unique
   choices (MASE's index suggest, minus its duplicates), so brute force and Optuna's samplers see
   the same finite space. ``index_combinations()`` reports MASE's count (with duplicates) beside
   ``len(configurations())`` (the unique configurations: the product of the unique choices).
4. ``evaluate(config)`` maps one configuration (parameter -> chosen value) to a metrics dict with
   at least the metrics the objective asked for. It must be deterministic: the strategy caches
   results by configuration. ``sampled_config(config)`` gives a JSON-able view of what was built
   (the sampled pass config), stored on the trial under ``"sampled_config"``.

:func:`build_context` is the only constructor of a :class:`SpaceContext` and its space: from the
config alone (checkpoint, model and data loaded and checked), or on a model and splits a caller
already holds in memory (nothing loaded again).

Metric names (:data:`METRICS`): ``accuracy`` (micro), ``macro_accuracy`` (mean per-class recall),
``loss`` (cross-entropy), all over the WHOLE evaluation split with fresh state per call
(:func:`lab_utils.training.train.metrics_from_logits`); and from :mod:`lab_utils.analysis.cost`:
``params``, ``flops``, ``bitops``, ``size_bytes``, ``average_bitwidth``, ``memory_density``,
``latency_ms``; and the estimated FPGA metrics of :mod:`lab_utils.analysis.hardware` (default target)
``luts``, ``dsps``, ``latency_cycles``, ``ebops``, ``lut_equivalent`` (deterministic, unlike
``latency_ms``). :func:`measure` computes them for any model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from lab_utils.analysis import cost, hardware
from lab_utils.data import load_dataset
from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.training.checkpoints import load_checkpoint_file, load_weights
from lab_utils.training.train import metrics_from_logits, predict

SOFTWARE_METRICS = ("accuracy", "macro_accuracy", "loss")
# Estimated FPGA metrics (lab_utils.analysis.hardware, default target: VU9P, 200 MHz, Latency, RF 1).
FPGA_METRICS = ("luts", "dsps", "latency_cycles", "ebops", "lut_equivalent")
HARDWARE_METRICS = ("average_bitwidth", "memory_density", "size_bytes", "params", "flops", "bitops", "latency_ms",
                    *FPGA_METRICS)
METRICS = SOFTWARE_METRICS + HARDWARE_METRICS
_COST_METRICS = ("average_bitwidth", "memory_density", "size_bytes", "params", "flops", "bitops", *FPGA_METRICS)

SPACES: dict[str, type[SearchSpace]] = {}


def register(name: str) -> Callable[[type], type]:
    """Class decorator: make a space available under ``[search.search_space] name``."""
    def deco(cls):
        cls.name = name
        SPACES[name] = cls
        return cls

    return deco


def get_space(name: str) -> type[SearchSpace]:
    """The space class registered under ``name`` (a LabError listing the known names otherwise)."""
    if name not in SPACES:
        raise LabError(f"search.search_space.name: unknown space {name!r}; choose one of: {', '.join(sorted(SPACES))}")
    return SPACES[name]


@dataclass
class SpaceContext:
    """Everything a space needs to build and evaluate a configuration."""
    model_name: str
    model: Any  # nn.Module: float model, weights loaded from ``checkpoint`` when given
    splits: Any  # lab_utils.data.Splits
    model_args: dict = field(default_factory=dict)
    checkpoint: Path | None = None
    eval_split: str = "val"
    seed: int = 0
    out_dir: Path | None = None
    recipe: Any = None  # lab_utils.training.train.Recipe for spaces that train candidates
    batch_size: int = 512
    metrics: tuple[str, ...] = SOFTWARE_METRICS
    progress: bool = False
    eval_samples: int | None = None  # first N samples of the split (None: the whole split)
    compare_to: int = 32  # memory_density = compare_to / average_bitwidth (MASE's hw runner)
    dry_run: bool = False  # `search --check`: build the space, but train and write nothing
    qat: Any = None  # lab_utils.training.qat.QATRecipe: fine-tune every configuration (eval_mode = false)


def unique_choices(values) -> tuple:
    """Unique values, numbers sorted ascending (so TPE's ordinal index means something)."""
    out: list = []
    for v in values:
        if not any(v == o and type(v) is type(o) for o in out):  # 1 == True, but not the same choice
            out.append(v)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in out):
        out.sort()
    return tuple(out)


class SearchSpace:
    """Base class: a finite product space of per-parameter unique choices (see module docstring)."""
    name: ClassVar[str] = ""
    setup_keys: ClassVar[dict[str, type | tuple]] = {}
    needs_checkpoint: ClassVar[bool] = False
    last_trained: bool | None = None  # spaces that train in evaluate(): whether the last call trained
    prefetches = False  # spaces with prefetch(config, upcoming): train queued configurations in one batch

    def __init__(self, space_cfg, ctx: SpaceContext):
        self.cfg = space_cfg
        self.ctx = ctx

    # -------------------------------------------------------------- declared by each space
    @classmethod
    def check_config(cls, space_cfg) -> None:
        for key, value in space_cfg.setup.items():
            if key not in cls.setup_keys:
                allowed = ", ".join(cls.setup_keys) or "none"
                raise LabError(f"search.search_space.setup.{key}: unknown key for space {cls.name!r}; allowed: {allowed}")
            if not isinstance(value, cls.setup_keys[key]):
                raise LabError(f"search.search_space.setup.{key}: wrong type {type(value).__name__} ({value!r})")

    def choices(self) -> dict[str, tuple]:
        raise NotImplementedError

    def evaluate(self, config: dict) -> dict[str, float]:
        raise NotImplementedError

    def sampled_config(self, config: dict) -> dict:
        """What was built for ``config``, JSON-able (stored on the trial as ``sampled_config``)."""
        return dict(config)

    def index_combinations(self) -> int:
        return math.prod(len(c) for c in self.choices().values())

    # -------------------------------------------------------------- provided
    def variable(self) -> dict[str, tuple]:
        """Parameters with more than one choice: the ones a sampler actually suggests."""
        return {k: v for k, v in self.choices().items() if len(v) > 1}

    def suggest(self, trial) -> dict:
        """Suggest every parameter (before any evaluation) and return the configuration."""
        idx = {k: trial.suggest_int(k, 0, len(v) - 1) for k, v in self.variable().items()}
        return self.decode(idx)

    def decode(self, params: dict) -> dict:
        """Optuna params (indices) -> configuration (every parameter -> value)."""
        out = {}
        for k, v in self.choices().items():
            out[k] = v[params[k]] if len(v) > 1 else v[0]
        return out

    def encode(self, config: dict) -> dict:
        return {k: v.index(config[k]) for k, v in self.variable().items()}

    def configurations(self) -> list[dict]:
        """Every unique configuration, in a fixed (product) order (small spaces: the replay's tables)."""
        choices = self.choices()
        keys = list(choices)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(choices[k] for k in keys))]

    def configuration(self, j: int) -> dict:
        """The ``j``-th configuration of :meth:`configurations` without building the others.

        Mixed-radix decoding, the last parameter varying fastest as in ``itertools.product``: brute
        force over a space of 2**30 configurations holds only the ones it queues.
        """
        out = {}
        for key, values in reversed(list(self.choices().items())):
            j, r = divmod(j, len(values))
            out[key] = values[r]
        return {k: out[k] for k in self.choices()}

    def n_configurations(self) -> int:
        return math.prod(len(c) for c in self.choices().values())


# ------------------------------------------------------------------ metrics for any model
def measure(model, ctx: SpaceContext) -> dict[str, float]:
    """Software metrics over the whole evaluation split, plus the cost metrics ``ctx`` asks for."""
    x, y = ctx.splits.split(ctx.eval_split)
    if ctx.eval_samples is not None:
        x, y = x[: ctx.eval_samples], y[: ctx.eval_samples]
    out = metrics_from_logits(predict(model, x, chunk=x.shape[0] or 1), y)
    del out["n"]  # the split size is not a metric
    wanted = set(ctx.metrics)
    if wanted & set(_COST_METRICS):
        # the FPGA estimate (digit counts of every weight) only when an objective asks for one of its metrics
        target = hardware.DEFAULT_TARGET if wanted & set(FPGA_METRICS) else None
        summary = cost.cost_summary(model, tuple(x.shape[1:]), ctx.batch_size, target=target)
        for k in _COST_METRICS:
            if k in summary:
                out[k] = float(summary[k])
        if "average_bitwidth" in out and "memory_density" not in summary:
            out["memory_density"] = ctx.compare_to / out["average_bitwidth"]
    if "latency_ms" in wanted:  # noisy and slow: only when an objective needs it
        out["latency_ms"] = float(cost.latency(model, x[: ctx.batch_size])["latency_ms"])
    return out


# ------------------------------------------------------------------ the context a space is built on
def _load_model(cfg, space_cls) -> tuple[Any, dict, Path | None]:
    """The model of ``cfg`` (weights from ``cfg.load`` when given), its build arguments and checkpoint."""
    model_args = dict(cfg.model_args)
    ckpt = None
    if cfg.load is not None:
        ckpt = Path(cfg.load)
        try:
            obj = load_checkpoint_file(ckpt)
        except LabError as exc:  # name the key, as every config error does
            raise LabError(f"load: {exc}") from None
        if obj.get("model") not in (None, cfg.model):
            raise LabError(f"load: checkpoint {ckpt} is for model {obj['model']!r}, the config searches {cfg.model!r}")
        model_args = {**obj.get("model_args", {}), **model_args}
    elif space_cls.needs_checkpoint:
        raise LabError(f"load: space {cfg.space.name!r} searches a trained model; pass --load CKPT (or load = \"...\")")
    model = build_model(cfg.model, **model_args)
    if ckpt is not None:
        try:
            load_weights(model, ckpt)
        except LabError as exc:
            raise LabError(f"load: {exc}") from None
    return model, model_args, ckpt


def build_context(cfg, out_dir: Path | None = None, *, progress: bool = False, dry_run: bool = False,
                  model=None, splits=None, checkpoint: Path | None = None,
                  metrics: tuple[str, ...] | None = None) -> tuple[SearchSpace, Any]:
    """The search space of a parsed config on its :class:`SpaceContext`, all validated; returns
    ``(space, splits)``.

    From the config alone, the checkpoint (``cfg.load``) is read and checked against ``cfg.model``,
    the model is built with its weights and the data set is loaded. A caller that already holds them
    passes ``model=`` (weights loaded; ``checkpoint=`` only records where they came from) and/or
    ``splits=``: they are used as they are and nothing is loaded again. ``metrics`` overrides the
    metric names ``evaluate`` measures (default: the objective's, ``cfg.strategy.metric_names``).
    ``out_dir`` is where a space may cache what it trains; ``dry_run`` (``search --check``): a space
    must not train or write anything while being built.
    """
    space_cls = get_space(cfg.space.name)
    if model is None:
        if checkpoint is not None:
            raise ValueError("build_context: checkpoint= describes a model passed as model=; "
                             "to load one, set the config's load")
        model, model_args, checkpoint = _load_model(cfg, space_cls)
    else:
        model_args = dict(cfg.model_args)
    model.eval()
    if splits is None:
        splits = load_dataset(cfg.dataset, n_samples=cfg.n_samples, data_seed=cfg.data_seed, path=cfg.data_path)
    try:
        with torch.inference_mode():
            model(splits.split("val")[0][:2])
    except Exception as exc:  # noqa: BLE001 - shape mismatch between model and data set
        raise LabError(f"model {cfg.model!r} does not accept {cfg.dataset} inputs ({type(exc).__name__})") from None
    ctx = SpaceContext(model_name=cfg.model, model=model, splits=splits, model_args=model_args, checkpoint=checkpoint,
                       eval_split=cfg.eval_split, seed=cfg.seed, out_dir=out_dir, recipe=cfg.recipe(),
                       batch_size=cfg.batch_size,
                       metrics=tuple(metrics) if metrics is not None else cfg.strategy.metric_names,
                       progress=progress, eval_samples=cfg.strategy.eval_samples,
                       compare_to=cfg.strategy.compare_to, dry_run=dry_run, qat=cfg.qat_recipe())
    return space_cls(cfg.space, ctx), splits
