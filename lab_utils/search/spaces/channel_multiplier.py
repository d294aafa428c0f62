"""Search space ``graph/architecture/channel_multiplier``: Lab 4's width search on
jsc-three-linear-layers, each candidate trained and cached."""

from __future__ import annotations

import math

from lab_utils.errors import LabError
from lab_utils.search.space import SearchSpace, SpaceContext, measure, register, unique_choices
from lab_utils.training import candidates


@register("graph/architecture/channel_multiplier")
class ChannelMultiplier(SearchSpace):
    """Lab 4's width search on jsc-three-linear-layers: output multipliers of ``seq_blocks_2`` and
    ``seq_blocks_4`` (inputs tied to the previous layer's output), each candidate trained with the
    ``[search.search_space.train]`` recipe and cached on disk by :mod:`lab_utils.training.candidates`.

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
        for key, entry in space_cfg.choice_tables.items():
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
        if not any(k in space_cfg.choice_tables for k in (*cls.NODES, "default")):
            raise LabError("search.search_space.seed: give seq_blocks_2/seq_blocks_4 (or default) channel_multiplier lists")

    def __init__(self, space_cfg, ctx: SpaceContext):
        super().__init__(space_cfg, ctx)
        if ctx.model_name != "jsc-three-linear-layers":
            raise LabError(f"model: channel_multiplier searches jsc-three-linear-layers, not {ctx.model_name!r}")
        if ctx.recipe is None:
            raise LabError("search.search_space.train: channel_multiplier trains every candidate; give a recipe table")
        tables = space_cfg.choice_tables
        self._raw = {}
        for node in self.NODES:
            entry = tables.get(node, tables.get("default", {"config": {"channel_multiplier": [1]}}))
            self._raw[f"{node}/config/channel_multiplier"] = list(entry["config"]["channel_multiplier"])
        self._choices = {k: unique_choices(v) for k, v in self._raw.items()}

    def choices(self) -> dict[str, tuple]:
        return self._choices

    def index_combinations(self) -> int:
        return math.prod(len(v) for v in self._raw.values())

    def multipliers(self, config: dict) -> tuple[int, int]:
        return tuple(int(config[f"{n}/config/channel_multiplier"]) for n in self.NODES)

    def sampled_config(self, config: dict) -> dict:
        a, c = self.multipliers(config)
        return {"multipliers": [a, c], "hidden": [16 * a, 16 * c]}

    def evaluate(self, config: dict) -> dict[str, float]:
        a, c = self.multipliers(config)
        cache_dir = (self.ctx.out_dir / "candidates") if self.ctx.out_dir is not None else None
        model, _ = candidates.trained_candidate(
            self.ctx.model_name, {**self.ctx.model_args, "hidden": (16 * a, 16 * c)},
            self.ctx.splits, self.ctx.recipe, cache_dir=cache_dir, progress=self.ctx.progress)
        return measure(model, self.ctx)
