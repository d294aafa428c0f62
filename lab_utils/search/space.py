"""Search spaces: a registry by name, and the two JSC spaces of Lab 3 and Lab 4.

The protocol (what the search strategy relies on)
-------------------------------------------------

A space is a subclass of :class:`SearchSpace` registered with ``@register("family/kind/name")``;
the ``name`` under ``[search.search_space]`` in the TOML picks it. Adding a space is one class and
one registry line::

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
   ``.seed``, ``.train``) and a :class:`SpaceContext`: the model (built by name, weights loaded
   from ``ctx.checkpoint`` if one was given), the data splits, the split to evaluate on
   (``val``), the seed, the output directory, the training :class:`~lab_utils.training.train.Recipe` from
   ``[search.search_space.train]`` (for spaces that train candidates) and the metric names the
   objective needs (measure latency only when asked). It checks the config against the model
   (e.g. a node name that does not exist) and raises :class:`~lab_utils.errors.LabError`.
3. ``choices()`` declares every parameter with its unique choices. All parameters are suggested
   before any evaluation (``suggest``), as ``trial.suggest_int(key, 0, len - 1)`` over the unique
   choices (MASE's index suggest, minus its duplicates), so brute force and Optuna's samplers see
   the same finite space. ``index_combinations()`` reports MASE's count (with duplicates) beside
   ``len(configurations())`` (the unique configurations: the product of the unique choices).
4. ``evaluate(config)`` maps one configuration (parameter -> chosen value) to a metrics dict with
   at least the metrics the objective asked for. It must be deterministic: the strategy caches
   results by configuration. ``describe(config)`` gives a JSON-able view of what was built (the
   sampled pass config), stored on the trial.

Metric names (:data:`METRICS`): ``accuracy`` (micro), ``macro_accuracy`` (mean per-class recall),
``loss`` (cross-entropy), all over the WHOLE evaluation split with fresh state per call; and from
:mod:`lab_utils.analysis.cost`: ``params``, ``flops``, ``bitops``, ``size_bytes``, ``average_bitwidth``,
``memory_density``, ``latency_ms``. :func:`measure` computes them for any model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from lab_utils.analysis import cost
from lab_utils.errors import LabError
from lab_utils.training.train import metrics_from_logits, predict

SOFTWARE_METRICS = ("accuracy", "macro_accuracy", "loss")
HARDWARE_METRICS = ("average_bitwidth", "memory_density", "size_bytes", "params", "flops", "bitops", "latency_ms")
METRICS = SOFTWARE_METRICS + HARDWARE_METRICS
_COST_METRICS = ("average_bitwidth", "memory_density", "size_bytes", "params", "flops", "bitops")

SPACES: dict[str, type[SearchSpace]] = {}


def register(name: str) -> Callable[[type], type]:
    """Class decorator: make a space available under ``[search.search_space] name``."""
    def deco(cls):
        cls.name = name
        SPACES[name] = cls
        return cls

    return deco


def get_space(name: str) -> type[SearchSpace]:
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


def _choice_sort_key(v):
    return (v is not None, str(type(v).__name__), v if isinstance(v, (int, float)) else str(v))


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

    def describe(self, config: dict) -> dict:
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
        """Every unique configuration, in a fixed (product) order."""
        choices = self.choices()
        keys = list(choices)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(choices[k] for k in keys))]

    def n_configurations(self) -> int:
        return math.prod(len(c) for c in self.choices().values())


# ------------------------------------------------------------------ metrics for any model
def fast_metrics(logits, y) -> dict[str, float]:
    """accuracy, macro_accuracy and loss of :func:`lab_utils.training.train.metrics_from_logits` (without ``n``)."""
    out = metrics_from_logits(logits, y)
    out.pop("n")
    return out


def measure(model, ctx: SpaceContext) -> dict[str, float]:
    """Software metrics over the whole evaluation split, plus the cost metrics ``ctx`` asks for."""
    x, y = ctx.splits.split(ctx.eval_split)
    if ctx.eval_samples is not None:
        x, y = x[: ctx.eval_samples], y[: ctx.eval_samples]
    out = fast_metrics(predict(model, x, chunk=x.shape[0] or 1), y)
    wanted = set(ctx.metrics)
    if wanted & set(_COST_METRICS):

        summary = cost.cost_summary(model, tuple(x.shape[1:]), ctx.batch_size)
        for k in _COST_METRICS:
            if k in summary:
                out[k] = float(summary[k])
        if "average_bitwidth" in out and "memory_density" not in summary:
            out["memory_density"] = ctx.compare_to / out["average_bitwidth"]
    if "latency_ms" in wanted:  # noisy and slow: only when an objective needs it

        out["latency_ms"] = float(cost.latency(model, x[: ctx.batch_size])["latency_ms"])
    return out
