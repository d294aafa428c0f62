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
   (``val``), the seed, the output directory, the training :class:`~lab_utils.train.Recipe` from
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
:mod:`lab_utils.cost`: ``params``, ``flops``, ``bitops``, ``size_bytes``, ``average_bitwidth``,
``memory_density``, ``latency_ms``. :func:`measure` computes them for any model.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from collections.abc import Callable

from ..errors import LabError

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
    recipe: Any = None  # lab_utils.train.Recipe for spaces that train candidates
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
    """accuracy, macro_accuracy and loss of :func:`lab_utils.train.metrics_from_logits` (without ``n``)."""
    from ..train import metrics_from_logits

    out = metrics_from_logits(logits, y)
    out.pop("n")
    return out


def measure(model, ctx: SpaceContext) -> dict[str, float]:
    """Software metrics over the whole evaluation split, plus the cost metrics ``ctx`` asks for."""
    from ..train import predict

    x, y = ctx.splits.split(ctx.eval_split)
    if ctx.eval_samples is not None:
        x, y = x[: ctx.eval_samples], y[: ctx.eval_samples]
    out = fast_metrics(predict(model, x, chunk=x.shape[0] or 1), y)
    wanted = set(ctx.metrics)
    if wanted & set(_COST_METRICS):
        from .. import cost

        summary = cost.cost_summary(model, tuple(x.shape[1:]), ctx.batch_size)
        for k in _COST_METRICS:
            if k in summary:
                out[k] = float(summary[k])
        if "average_bitwidth" in out and "memory_density" not in summary:
            out["memory_density"] = ctx.compare_to / out["average_bitwidth"]
    if "latency_ms" in wanted:  # noisy and slow: only when an objective needs it
        from .. import cost

        out["latency_ms"] = float(cost.latency(model, x[: ctx.batch_size])["latency_ms"])
    return out


# ------------------------------------------------------------------ Lab 3: mixed-precision PTQ
def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}/{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _unflatten(flat: dict) -> dict:
    out: dict = {}
    for key, v in flat.items():
        node = out
        parts = key.split("/")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


QUANT_KEYS = ("name", "data_in_width", "data_in_frac_width", "weight_width", "weight_frac_width",
              "bias_width", "bias_frac_width", "bypass")


@register("graph/quantize/mixed_precision_ptq")
class MixedPrecisionPTQ(SearchSpace):
    """MASE's post-training mixed-precision quantization space, by node name or by op type.

    ``[search.search_space.seed.<key>.config]`` holds a choice list per quantization key; ``key``
    is a node name (``by="name"``) or an op type such as ``linear`` (``by="type"``), and
    ``default`` applies to every quantizable node without its own entry (``name=["NA"]``: leave
    it float). Choices are made per node, as MASE does, and the sampled pass config is keyed the
    way the pass looks it up: by node name for ``by="name"``, by op type for ``by="type"`` (MASE
    keyed by name in both, so its by-type search never quantized anything). "NA" is None: no
    quantization for ``name``, ``width // 2`` for a frac width.
    """

    setup_keys = {"by": str}
    needs_checkpoint = True

    @classmethod
    def check_config(cls, space_cfg) -> None:
        super().check_config(space_cfg)
        by = space_cfg.setup.get("by", "name")
        if by not in ("name", "type"):
            raise LabError(f"search.search_space.setup.by: must be 'name' or 'type', got {by!r}")
        if not space_cfg.seed:
            raise LabError("search.search_space.seed: no entries; give at least seed.default.config")
        for key, entry in space_cfg.seed.items():
            if set(entry) != {"config"}:
                bad = sorted(set(entry) - {"config"}) or ["(missing config)"]
                raise LabError(f"search.search_space.seed.{key}: expected only a 'config' table, got {', '.join(bad)}")
            for qk, values in entry["config"].items():
                where = f"search.search_space.seed.{key}.config.{qk}"
                if qk not in QUANT_KEYS:
                    raise LabError(f"{where}: unknown quantization key; allowed: {', '.join(QUANT_KEYS)}")
                if not isinstance(values, (list, tuple)) or not values:
                    raise LabError(f"{where}: must be a non-empty list of choices, got {values!r}")
                for v in values:
                    ok = v is None or (qk == "name" and v in ("integer", "fixed")) or (
                        qk == "bypass" and isinstance(v, bool)) or (
                        qk not in ("name", "bypass") and isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 32)
                    if not ok:
                        raise LabError(f"{where}: bad choice {v!r}; allowed: "
                                       + ("'integer' or 'NA'" if qk == "name" else "true/false" if qk == "bypass"
                                          else "whole numbers 1..32 or 'NA'"))

    def __init__(self, space_cfg, ctx: SpaceContext):
        from .. import graph as graph_mod
        from ..quantize import QUANTIZED_MODULES

        super().__init__(space_cfg, ctx)
        self.by = space_cfg.setup.get("by", "name")
        self.graph = graph_mod.trace(ctx.model.eval())
        self.nodes = [n for n in self.graph.nodes() if n.op in QUANTIZED_MODULES]
        quantizable = {n.name for n in self.nodes} if self.by == "name" else {n.op for n in self.nodes}
        seed = {"default": {"config": {"name": [None]}}, **space_cfg.seed}  # no default: leave others float
        for key in seed:
            if key != "default" and key not in quantizable:
                what = "node" if self.by == "name" else "op type"
                raise LabError(f"search.search_space.seed.{key}: no quantizable {what} {key!r} in {ctx.model_name} "
                               f"(by = {self.by!r}); quantizable: {', '.join(sorted(quantizable)) or 'none'}")
        # One choice set per pass-config key: per node (by name) or per op type (by type).
        keys = [n.name for n in self.nodes] if self.by == "name" else sorted({n.op for n in self.nodes})
        raw = {k: {"config": copy.deepcopy(seed.get(k, seed["default"]))["config"]} for k in keys}
        self._raw = _flatten(raw)
        self._choices = {k: unique_choices(v) for k, v in self._raw.items()}

    def choices(self) -> dict[str, tuple]:
        return self._choices

    def index_combinations(self) -> int:
        return math.prod(len(v) for v in self._raw.values())

    def pass_args(self, config: dict) -> dict:
        """The sampled configuration as ``quantize_transform_pass`` arguments."""
        nested = _unflatten(config)  # every quantizable node / op has its own entry
        args: dict = {"by": self.by, "default": {"config": {"name": None}}}
        for key, entry in nested.items():  # keys are MASE's "<node>/config/<key>"
            args[key] = {"config": dict(entry["config"])}
        return args

    def describe(self, config: dict) -> dict:
        return self.pass_args(config)

    def evaluate(self, config: dict) -> dict[str, float]:
        from .. import quantize

        qgraph, _ = quantize.quantize_transform_pass(self.graph, self.pass_args(config))
        return measure(qgraph.model, self.ctx)


# ------------------------------------------------------------------ Lab 4: channel multipliers
@register("graph/architecture/channel_multiplier")
class ChannelMultiplier(SearchSpace):
    """Lab 4's width search on jsc-three-linear-layers: output multipliers of ``seq_blocks_2`` and
    ``seq_blocks_4`` (inputs tied to the previous layer's output), each candidate trained with the
    ``[search.search_space.train]`` recipe and cached on disk by :mod:`lab_utils.candidates`.

    ``seed.seq_blocks_2.config.channel_multiplier = [1, 2, 3, 4, 5]`` (and the same for
    ``seq_blocks_4``) gives the 25 candidates; ``seed.default.config.channel_multiplier`` is used
    for a node without its own entry.
    """

    setup_keys = {"by": str}
    NODES = ("seq_blocks_2", "seq_blocks_4")

    @classmethod
    def check_config(cls, space_cfg) -> None:
        super().check_config(space_cfg)
        if space_cfg.setup.get("by", "name") != "name":
            raise LabError(f"search.search_space.setup.by: channel_multiplier only supports 'name', got {space_cfg.setup['by']!r}")
        for key, entry in space_cfg.seed.items():
            where = f"search.search_space.seed.{key}"
            if key not in (*cls.NODES, "default"):
                raise LabError(f"{where}: only {', '.join(cls.NODES)} and default can be searched "
                               "(seq_blocks_6's output is the 5 classes)")
            extra = sorted(set(entry) - {"config"})
            if extra or "config" not in entry:
                raise LabError(f"{where}.{extra[0] if extra else 'config'}: expected only "
                               "config.channel_multiplier = [list of whole numbers]")
            extra = sorted(set(entry["config"]) - {"channel_multiplier", "name"})
            if extra:
                raise LabError(f"{where}.config.{extra[0]}: unknown key; allowed: channel_multiplier")
            values = entry["config"].get("channel_multiplier")
            if not isinstance(values, (list, tuple)) or not values or not all(
                    isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 64 for v in values):
                raise LabError(f"{where}.config.channel_multiplier: must be a non-empty list of whole numbers 1..64, got {values!r}")
        if not any(k in space_cfg.seed for k in (*cls.NODES, "default")):
            raise LabError("search.search_space.seed: give seq_blocks_2/seq_blocks_4 (or default) channel_multiplier lists")

    def __init__(self, space_cfg, ctx: SpaceContext):
        super().__init__(space_cfg, ctx)
        if ctx.model_name != "jsc-three-linear-layers":
            raise LabError(f"model: channel_multiplier searches jsc-three-linear-layers, not {ctx.model_name!r}")
        if ctx.recipe is None:
            raise LabError("search.search_space.train: channel_multiplier trains every candidate; give a recipe table")
        seed = space_cfg.seed
        self._raw = {}
        for node in self.NODES:
            entry = seed.get(node, seed.get("default", {"config": {"channel_multiplier": [1]}}))
            self._raw[f"{node}/config/channel_multiplier"] = list(entry["config"]["channel_multiplier"])
        self._choices = {k: unique_choices(v) for k, v in self._raw.items()}

    def choices(self) -> dict[str, tuple]:
        return self._choices

    def index_combinations(self) -> int:
        return math.prod(len(v) for v in self._raw.values())

    def multipliers(self, config: dict) -> tuple[int, int]:
        return tuple(int(config[f"{n}/config/channel_multiplier"]) for n in self.NODES)

    def describe(self, config: dict) -> dict:
        a, c = self.multipliers(config)
        return {"multipliers": [a, c], "hidden": [16 * a, 16 * c]}

    def evaluate(self, config: dict) -> dict[str, float]:
        from .. import candidates

        a, c = self.multipliers(config)
        cache_dir = (self.ctx.out_dir / "candidates") if self.ctx.out_dir is not None else None
        model, _ = candidates.trained_candidate(
            self.ctx.model_name, {**self.ctx.model_args, "hidden": (16 * a, 16 * c)},
            self.ctx.splits, self.ctx.recipe, cache_dir=cache_dir, progress=self.ctx.progress)
        return measure(model, self.ctx)
from . import vgg_space  # noqa: E402,F401  (registers graph/architecture/vgg_channels)
