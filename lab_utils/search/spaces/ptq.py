"""Search space ``graph/quantize/mixed_precision_ptq``: MASE's fixed-point quantization search, by
node name or by op type (Lab 3): post-training (``eval_mode = true``) or quantization-aware
(``eval_mode = false`` with ``[search.strategy.sw_runner.basic_train]``).

Quantization-aware trials fine-tune the loaded checkpoint under the trial's configuration
(:func:`lab_utils.training.qat.qat_runs`, straight-through estimator, MASE's ``basic_train`` recipe),
then measure the fine-tuned quantized model on the evaluation split. A trained trial is cached on
disk in ``<out>/qat-cache/<key>.pt`` (a :class:`lab_utils.cache.Cache`) where ``key`` hashes the
configuration, the recipe, the checkpoint's bytes and the data set, so a repeated configuration, a
resumed study or another worker never trains it twice: training holds the entry's exclusive lock
(``flock`` on ``<key>.lock``), so a second worker wanting the same configuration waits and then
reads the file. The file is written atomically. When
a trial's configuration is not cached yet, :meth:`MixedPrecisionPTQ.prefetch` fine-tunes it together
with the queued trials' configurations (brute force and grid know them) in one batched call.
"""

from __future__ import annotations

import contextlib
import copy
import math
from pathlib import Path

from lab_utils.cache import Cache, content_key, file_digest
from lab_utils.errors import LabError
from lab_utils.passes import graph as graph_mod
from lab_utils.passes import quantize
from lab_utils.passes.quantize import QUANTIZED_MODULES
from lab_utils.search.faults import fault_point
from lab_utils.search.space import SearchSpace, SpaceContext, measure, register, unique_choices
from lab_utils.training.checkpoints import load_checkpoint_file
from lab_utils.training.qat import qat_model, qat_runs

QAT_CACHE_FORMAT = "lab_utils.qat/1"
PREFETCH = 48  # configurations fine-tuned in one batched call (lab_utils.training.qat.MAX_SLOTS)
RESULT_KEYS = ("config", "seed", "state_dict", "val")  # what a cache entry keeps of a qat_runs result


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
        if not space_cfg.choice_tables:
            raise LabError("search.search_space.seed: no entries; give at least seed.default.config")
        for key, entry in space_cfg.choice_tables.items():
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
        super().__init__(space_cfg, ctx)
        self.by = space_cfg.setup.get("by", "name")
        self._trained_here: set[str] = set()  # QAT cache keys fine-tuned by prefetch, not yet evaluated
        self.graph = graph_mod.trace(ctx.model.eval())
        self.nodes = [n for n in self.graph.nodes() if n.op in QUANTIZED_MODULES]
        quantizable = {n.name for n in self.nodes} if self.by == "name" else {n.op for n in self.nodes}
        tables = {"default": {"config": {"name": [None]}}, **space_cfg.choice_tables}  # no default: leave others float
        for key in tables:
            if key != "default" and key not in quantizable:
                what = "node" if self.by == "name" else "op type"
                raise LabError(f"search.search_space.seed.{key}: no quantizable {what} {key!r} in {ctx.model_name} "
                               f"(by = {self.by!r}); quantizable: {', '.join(sorted(quantizable)) or 'none'}")
        # One choice set per pass-config key: per node (by name) or per op type (by type).
        keys = [n.name for n in self.nodes] if self.by == "name" else sorted({n.op for n in self.nodes})
        raw = {k: {"config": copy.deepcopy(tables.get(k, tables["default"]))["config"]} for k in keys}
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

    def sampled_config(self, config: dict) -> dict:
        return self.pass_args(config)

    def evaluate(self, config: dict) -> dict[str, float]:
        if self.ctx.qat is not None:
            result, trained = self.qat_result(config)
            out = measure(qat_model(self.ctx.model, result), self.ctx)
            self.last_trained = trained
            return out
        qgraph, _ = quantize.quantize_transform_pass(self.graph, self.pass_args(config))
        return measure(qgraph.model, self.ctx)

    # -------------------------------------------------------------- quantization-aware trials
    def qat_key(self, config: dict) -> tuple[str, dict]:
        """(24-hex key, the description it hashes): configuration, recipe, checkpoint bytes, data."""
        if not hasattr(self, "_ckpt_digest"):
            ckpt = self.ctx.checkpoint
            self._ckpt_digest = file_digest(ckpt) if ckpt else None
        desc = {"format": QAT_CACHE_FORMAT, "model": self.ctx.model_name, "model_args": self.ctx.model_args,
                "config": self.pass_args(config), "recipe": self.ctx.qat.as_dict(), "checkpoint": self._ckpt_digest,
                "data": self.ctx.splits.describe()}
        return content_key(desc, 24)

    @property
    def qat_cache(self) -> Cache:
        """``<out>/qat-cache/<key>.pt``: one fine-tuned result per key, each with its lock."""
        return Cache(Path(self.ctx.out_dir) / "qat-cache", what="QAT cache", read=load_checkpoint_file,
                     redo="training again")

    def qat_result(self, config: dict) -> tuple[dict, bool]:
        """The fine-tuned result of ``config`` (:func:`qat_runs`'s dict) and whether it was trained now."""
        key, desc = self.qat_key(config)
        if self.ctx.out_dir is None:
            return self._train(config), True
        cache = self.qat_cache
        with cache.locked(key):  # another worker training this configuration: wait for its file
            cached = cache.load(key, desc, lambda entry: {k: entry[k] for k in RESULT_KEYS})
            if cached is not None:
                trained = key in self._trained_here  # fine-tuned by this process's prefetch just now
                self._trained_here.discard(key)
                return cached, trained
            result = self._train(config)
            cache.store(key, desc, {k: result[k] for k in RESULT_KEYS})
            fault_point("qat_trained")
            return result, True

    @property
    def prefetches(self) -> bool:
        """Whether :meth:`prefetch` does anything: quantization-aware trials with an output folder."""
        return self.ctx.qat is not None and self.ctx.out_dir is not None

    def prefetch(self, config: dict, upcoming: list[dict]) -> None:
        """Quantization-aware trials: fine-tune ``config`` and up to :data:`PREFETCH` - 1 queued
        configurations in ONE batched :func:`qat_runs` call (slots of one module: about as fast as
        one), and cache each; a configuration another worker is training (its lock is held) or that
        is cached already is left out. Post-training trials need nothing."""
        if not self.prefetches:
            return
        cache = self.qat_cache
        batch = []
        with contextlib.ExitStack() as held:  # the locks of the batch, released once all are stored
            for c in [config, *upcoming]:
                if len(batch) >= PREFETCH:
                    break
                key, desc = self.qat_key(c)
                if not held.enter_context(cache.locked(key, wait=False)):
                    continue
                if not cache.path(key).exists():
                    batch.append((c, key, desc))
            if len(batch) < 2:
                return  # nothing to batch: evaluate() trains the one configuration itself
            results = qat_runs(self.ctx.model, [self.pass_args(c) for c, _, _ in batch], self.ctx.splits,
                               self.ctx.qat, workers=1, progress=False)
            for (_, key, desc), result in zip(batch, results):
                cache.store(key, desc, {k: result[k] for k in RESULT_KEYS})
                self._trained_here.add(key)
                fault_point("qat_trained")

    def _train(self, config: dict) -> dict:
        return qat_runs(self.ctx.model, [self.pass_args(config)], self.ctx.splits, self.ctx.qat, workers=1,
                        progress=False)[0]
