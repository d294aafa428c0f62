"""The search TOML (MASE's schema) parsed once into frozen, self-validating dataclasses.

How it works: the file is read with ``tomllib``; every ``"NA"`` string becomes ``None`` (MASE's
``load_config``); command-line overrides are written into the raw dict (CLI > TOML > default);
then each table is checked against the keys it allows (an unknown section or key is an error
naming its dotted path, never silently ignored as MASE ignored its misspelt ``data_loader``) and
turned into a dataclass. There is one parser per table, called in a fixed order (top level,
``search_space``, ``strategy`` with its ``setup``, ``metrics``, ``sw_runner`` and ``hw_runner``, then
the top-level value ranges), so a file with several mistakes always reports the same one. The
search space's own keys are validated by the space class
(:meth:`~lab_utils.search.space.SearchSpace.check_config`). The checks are written by hand, not
with a schema library, so that every mistake is ONE line naming the dotted TOML key, the value and
what is allowed. MASE's ``seed`` tables (the choice lists) are ``SpaceConfig.choice_tables``.

Extra keys beyond MASE's, all optional: top level ``n_samples``, ``data_seed``, ``data_path``,
``eval_split`` (``val`` by default; ``train`` is refused: MASE searched on its training data),
``[model_args]`` (passed to ``build_model``); ``[search.strategy.setup] n_startup_trials`` (TPE);
``[search.search_space.train]`` (the recipe for spaces that train candidates: ``epochs``,
``batch_size``, ``lr``, ``weight_decay``, ``optimizer``, ``seed``, defaulting to the top-level
``max_epochs``, ``batch_size``, ``learning_rate`` and ``seed``).
"""

from __future__ import annotations

import copy
import math
import os
import re
import tomllib
from dataclasses import dataclass, field

import tomli_w

from lab_utils.data import DATASETS
from lab_utils.errors import LabError, require_file
from lab_utils.search.samplers import DIRECTIONS, SAMPLERS
from lab_utils.search.space import METRICS, get_space
from lab_utils.training.qat import QATRecipe
from lab_utils.training.train import Recipe

MAX_SAMPLES = 10_000_000  # beyond the real JSC set's 830k jets: a typo, not a data set
MAX_TRIALS = 1_000_000  # trials of one study: days of work for the smallest model; more is a typo
MAX_CONFIG_BYTES = 1_000_000  # a search TOML is a few kB; a larger file is not one (and is not read)
MAX_DEPTH = 12  # tables/arrays nested deeper than MASE's schema (6 levels) by a margin


def max_workers() -> int:
    """At most 4 worker processes per core this process may use (more only thrash the machine)."""
    return 4 * len(os.sched_getaffinity(0))
_SAFE_NAME = re.compile(r"(?!\.{1,2}$)[A-Za-z0-9_.-]{1,100}")
_MASE_SPLITS = {"val_dataloader": "val", "test_dataloader": "test", "val": "val", "test": "test"}

# table path -> allowed keys (None: a sub-table whose own keys are checked elsewhere)
_TOP = {"model": str, "dataset": str, "batch_size": int, "seed": int, "load": (str, type(None)),
        "load_name": (str, type(None)), "load_type": str, "max_epochs": int, "learning_rate": (int, float),
        "accelerator": str, "project": str, "task": str, "n_samples": (int, type(None)), "data_seed": int,
        "data_path": (str, type(None)), "eval_split": str, "model_args": dict, "search": dict}
_STRATEGY = {"name": str, "eval_mode": bool, "setup": dict, "metrics": dict, "sw_runner": dict, "hw_runner": dict}
_SETUP = {"n_trials": int, "n_jobs": int, "timeout": (int, float, type(None)), "sampler": str,
          "sum_scaled_metrics": bool, "direction": (str, type(None)), "n_startup_trials": int}
_SPACE = {"name": str, "setup": dict, "seed": dict, "train": dict}
_TRAIN = {"epochs": int, "batch_size": int, "lr": (int, float), "weight_decay": (int, float), "optimizer": str,
          "seed": int}


def _na_to_none(obj):
    if isinstance(obj, dict):
        return {k: _na_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_na_to_none(v) for v in obj]
    return None if obj == "NA" else obj


def _none_to_na(obj):
    if isinstance(obj, dict):
        return {k: _none_to_na(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_none_to_na(v) for v in obj]
    return "NA" if obj is None else obj


def _type_name(t) -> str:
    ts = t if isinstance(t, tuple) else (t,)
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true/false", dict: "a table",
             type(None): "'NA'"}
    return " or ".join(dict.fromkeys(names.get(x, x.__name__) for x in ts))


def _check_table(table: dict, allowed: dict, where: str) -> None:
    if not isinstance(table, dict):
        raise LabError(f"{where or 'top level'}: must be a table, got {type(table).__name__}")
    for key, value in table.items():
        path = f"{where}.{key}" if where else key
        if key not in allowed:
            raise LabError(f"{path}: unknown key; allowed here: {', '.join(allowed)}")
        t = allowed[key]
        ts = t if isinstance(t, tuple) else (t,)
        if isinstance(value, bool) and bool not in ts:  # true is not a number here
            raise LabError(f"{path}: wrong type, expected {_type_name(t)}, got {value!r}")
        if not isinstance(value, ts):
            raise LabError(f"{path}: wrong type, expected {_type_name(t)}, got {type(value).__name__} {value!r}")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    scale: float = 1.0
    direction: str | None = None


@dataclass(frozen=True)
class StrategyConfig:
    name: str = "optuna"
    eval_mode: bool = True
    n_trials: int = 20
    n_jobs: int = 1
    timeout: float | None = None
    sampler: str = "tpe"
    sum_scaled_metrics: bool = False
    direction: str | None = None
    n_startup_trials: int = 10
    metrics: tuple[MetricSpec, ...] = ()
    eval_samples: int | None = None
    compare_to: int = 32
    basic_train: dict | None = None  # [sw_runner.basic_train] (MASE's keys): each trial is fine-tuned (QAT)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Alphabetical, as MASE orders its objectives."""
        return tuple(sorted(m.name for m in self.metrics))

    @property
    def directions(self) -> list[str]:
        if self.sum_scaled_metrics:
            return [self.direction]
        by = {m.name: m.direction for m in self.metrics}
        return [by[n] for n in self.metric_names]


@dataclass(frozen=True)
class SpaceConfig:
    """``[search.search_space]``: ``choice_tables`` holds the TOML's ``seed`` tables (MASE's name for
    the per-node / per-type choice lists; they are not random seeds)."""
    name: str
    setup: dict = field(default_factory=dict)
    choice_tables: dict = field(default_factory=dict)
    train: dict | None = None


@dataclass(frozen=True)
class SearchConfig:
    model: str
    space: SpaceConfig
    strategy: StrategyConfig
    dataset: str = "jsc-sim"
    batch_size: int = 512
    seed: int = 0
    load: str | None = None
    n_samples: int | None = None
    data_seed: int = 0
    data_path: str | None = None
    eval_split: str = "val"
    model_args: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False)  # the resolved TOML (None as "NA")

    def recipe(self):
        """The training recipe for spaces that train candidates (None when not given)."""
        if self.space.train is None:
            return None
        top = self.raw
        t = self.space.train
        try:
            return Recipe(epochs=t.get("epochs", top.get("max_epochs", 10)),
                          batch_size=t.get("batch_size", self.batch_size),
                          lr=float(t.get("lr", top.get("learning_rate", 1e-3))),
                          weight_decay=float(t.get("weight_decay", 0.0)),
                          optimizer=t.get("optimizer", "adam"), seed=t.get("seed", self.seed))
        except LabError as exc:
            raise LabError(f"search.search_space.train: {exc}") from None

    def qat_recipe(self):
        """The QAT recipe of ``[search.strategy.sw_runner.basic_train]`` (None: evaluate only, PTQ)."""
        if self.strategy.basic_train is None:
            return None
        return QATRecipe.from_mase(self.strategy.basic_train, where="search.strategy.sw_runner.basic_train",
                                   batch_size=self.batch_size, seed=self.seed)

    def to_toml(self) -> str:
        """The resolved configuration as TOML (``None`` written back as ``"NA"``)."""
        return tomli_w.dumps(_none_to_na(self.raw))


def _set_dotted(raw: dict, dotted: str, value) -> None:
    node = raw
    parts = dotted.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise LabError(f"{dotted}: cannot override, {p} is not a table")
    node[parts[-1]] = value


def parse_config(raw: dict, overrides: dict | None = None) -> SearchConfig:
    """Validate a TOML dict (``"NA"`` allowed) plus dotted-key overrides into a :class:`SearchConfig`.

    One parser per TOML table, called in a fixed order, so a file with several mistakes always
    reports the same (first) one.
    """
    raw = _na_to_none(copy.deepcopy(raw))
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, dotted, value)
    search = _parse_top(raw)
    space = _parse_space(search["search_space"])
    strategy, eval_split = _parse_strategy(search["strategy"], raw.get("eval_split", "val"))
    _check_top_values(raw)
    return SearchConfig(
        model=raw["model"], space=space, strategy=strategy, dataset=raw.get("dataset", "jsc-sim"),
        batch_size=raw.get("batch_size", 512), seed=raw.get("seed", 0),
        load=raw.get("load", raw.get("load_name")), n_samples=raw.get("n_samples"),
        data_seed=raw.get("data_seed", 0), data_path=raw.get("data_path"), eval_split=eval_split,
        model_args=dict(raw.get("model_args", {})), raw=raw)


def _parse_top(raw: dict) -> dict:
    """The top level's keys, the model and data set names, and the ``[search]`` table (returned)."""
    _check_table(raw, _TOP, "")
    if "model" not in raw:
        raise LabError("model: missing; name the model to search, e.g. model = \"jsc-tiny\"")
    if raw.get("dataset", "jsc-sim") not in DATASETS:
        raise LabError(f"dataset: unknown data set {raw['dataset']!r}; choose one of: {', '.join(DATASETS)}")
    search = raw.get("search")
    if not isinstance(search, dict) or "search_space" not in search or "strategy" not in search:
        raise LabError("search: missing [search.search_space] or [search.strategy] table")
    _check_table(search, {"search_space": dict, "strategy": dict}, "search")
    return search


def _parse_space(sp: dict) -> SpaceConfig:
    """``[search.search_space]`` with its ``train`` and ``seed`` (choice) tables; the space class
    checks its own keys."""
    _check_table(sp, _SPACE, "search.search_space")
    if "name" not in sp:
        raise LabError("search.search_space.name: missing; e.g. \"graph/quantize/mixed_precision_ptq\"")
    if "train" in sp:
        _check_table(sp["train"], _TRAIN, "search.search_space.train")
    for key, entry in sp.get("seed", {}).items():
        if not isinstance(entry, dict):
            raise LabError(f"search.search_space.seed.{key}: must be a table with a 'config' table")
        if "config" in entry and not isinstance(entry["config"], dict):
            raise LabError(f"search.search_space.seed.{key}.config: must be a table of choice lists, "
                           f"got {type(entry['config']).__name__} {entry['config']!r}")
    space = SpaceConfig(name=sp["name"], setup=dict(sp.get("setup", {})),
                        choice_tables=copy.deepcopy(sp.get("seed", {})),
                        train=dict(sp["train"]) if "train" in sp else None)
    get_space(space.name).check_config(space)
    return space


def _parse_strategy(st: dict, eval_split: str) -> tuple[StrategyConfig, str]:
    """``[search.strategy]``: its setup, metrics and runners; returns it and the evaluation split
    (the top-level ``eval_split``, unless MASE's ``data_loader`` names one)."""
    _check_table(st, _STRATEGY, "search.strategy")
    if st.get("name", "optuna") != "optuna":
        raise LabError(f"search.strategy.name: only 'optuna' is available, got {st['name']!r}")
    setup = _parse_setup(st.get("setup", {}))
    metrics = _parse_metrics(st.get("metrics", {}))
    sum_scaled, direction = setup.get("sum_scaled_metrics", False), setup.get("direction")
    if sum_scaled and direction is None:
        raise LabError("search.strategy.setup.direction: sum_scaled_metrics = true needs direction = maximize or minimize")
    if not sum_scaled:
        for m in metrics:
            if m.direction is None:
                raise LabError(f"search.strategy.metrics.{m.name}.direction: multi-objective search "
                               "(sum_scaled_metrics = false) needs a direction for every metric")
    eval_split, eval_samples, basic_train = _parse_sw_runner(st.get("sw_runner", {}), eval_split)
    compare_to = _parse_hw_runner(st.get("hw_runner", {}))
    if eval_split not in ("val", "test"):
        raise LabError(f"eval_split: must be val or test, got {eval_split!r} (a search never selects on training data)")
    strategy = StrategyConfig(
        name="optuna", eval_mode=st.get("eval_mode", True), n_trials=setup.get("n_trials", 20),
        n_jobs=setup.get("n_jobs", 1), timeout=setup.get("timeout"), sampler=setup.get("sampler", "tpe"),
        sum_scaled_metrics=sum_scaled, direction=direction, n_startup_trials=setup.get("n_startup_trials", 10),
        metrics=tuple(metrics), eval_samples=eval_samples, compare_to=compare_to, basic_train=basic_train)
    if strategy.eval_mode and basic_train is not None:
        raise LabError("search.strategy.eval_mode: the basic_train runner fine-tunes every trial; set "
                       "eval_mode = false with it (as MASE requires), or drop [search.strategy.sw_runner.basic_train]")
    if not strategy.eval_mode and basic_train is None:
        raise LabError("search.strategy.eval_mode: false trains every trial and needs "
                       "[search.strategy.sw_runner.basic_train] (num_samples, max_epochs, optimizer, learning_rate, ...)")
    return strategy, eval_split


def _parse_setup(setup: dict) -> dict:
    """``[search.strategy.setup]``: trial counts, timeout, sampler and direction (returned as given)."""
    _check_table(setup, _SETUP, "search.strategy.setup")
    for k, low, high in (("n_trials", 1, MAX_TRIALS), ("n_jobs", 1, max_workers()), ("n_startup_trials", 0, MAX_TRIALS)):
        if k in setup and not low <= setup[k] <= high:
            why = " (4 per core of this machine; --workers sets it)" if k == "n_jobs" else ""
            raise LabError(f"search.strategy.setup.{k}: must be {low}..{high:,}{why}, got {setup[k]:,}")
    if setup.get("timeout") is not None and not (setup["timeout"] > 0 and math.isfinite(setup["timeout"])):
        raise LabError(f"search.strategy.setup.timeout: must be > 0 seconds or 'NA', got {setup['timeout']}")
    sampler = setup.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        raise LabError(f"search.strategy.setup.sampler: unknown sampler {sampler!r}; choose one of: {', '.join(SAMPLERS)}")
    direction = setup.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise LabError(f"search.strategy.setup.direction: must be maximize or minimize, got {direction!r}")
    return setup


def _parse_metrics(mt: dict) -> list[MetricSpec]:
    """``[search.strategy.metrics.<name>]``: a known metric name, its scale and direction."""
    if not mt:
        raise LabError("search.strategy.metrics: no metrics; add e.g. [search.strategy.metrics.accuracy] with scale and direction")
    metrics = []
    for name, spec in mt.items():
        where = f"search.strategy.metrics.{name}"
        if name not in METRICS:
            raise LabError(f"{where}: unknown metric {name!r}; choose from: {', '.join(METRICS)}")
        _check_table(spec, {"scale": (int, float), "direction": (str, type(None))}, where)
        d = spec.get("direction")
        if d is not None and d not in DIRECTIONS:
            raise LabError(f"{where}.direction: must be maximize or minimize, got {d!r}")
        if not math.isfinite(spec.get("scale", 1.0)):
            raise LabError(f"{where}.scale: must be a finite number, got {spec['scale']}")
        metrics.append(MetricSpec(name, float(spec.get("scale", 1.0)), d))
    return metrics


def _parse_sw_runner(sw: dict, eval_split: str) -> tuple[str, int | None, dict | None]:
    """``[search.strategy.sw_runner.basic_evaluation]`` (MASE's): the split and its first N samples;
    ``basic_train`` (MASE's keys, checked by :class:`~lab_utils.training.qat.QATRecipe`): returned as given."""
    _check_table(sw, {"basic_evaluation": dict, "basic_train": dict}, "search.strategy.sw_runner")
    basic_train = None
    if "basic_train" in sw:
        basic_train = dict(sw["basic_train"])
        QATRecipe.from_mase(basic_train, where="search.strategy.sw_runner.basic_train")  # keys, types, ranges
    eval_samples = None
    if "basic_evaluation" in sw:
        be = sw["basic_evaluation"]
        _check_table(be, {"data_loader": str, "dataloader": str, "num_samples": (int, type(None))},
                     "search.strategy.sw_runner.basic_evaluation")
        loader = be.get("data_loader", be.get("dataloader"))
        if loader is not None:
            if loader not in _MASE_SPLITS:
                raise LabError(f"search.strategy.sw_runner.basic_evaluation.data_loader: {loader!r} not allowed; "
                               "use val_dataloader or test_dataloader (searching on training data is MASE's bug)")
            eval_split = _MASE_SPLITS[loader]
        eval_samples = be.get("num_samples")
        if eval_samples is not None and eval_samples < 1:
            raise LabError(f"search.strategy.sw_runner.basic_evaluation.num_samples: must be >= 1, got {eval_samples}")
    return eval_split, eval_samples, basic_train


def _parse_hw_runner(hw: dict) -> int:
    """``[search.strategy.hw_runner.average_bitwidth]`` (MASE's): ``compare_to`` bits."""
    _check_table(hw, {"average_bitwidth": dict}, "search.strategy.hw_runner")
    compare_to = 32
    if "average_bitwidth" in hw:
        _check_table(hw["average_bitwidth"], {"compare_to": int}, "search.strategy.hw_runner.average_bitwidth")
        compare_to = hw["average_bitwidth"].get("compare_to", 32)
        if not 1 <= compare_to <= 64:
            raise LabError(f"search.strategy.hw_runner.average_bitwidth.compare_to: must be 1..64 bits, got {compare_to}")
    return compare_to


def _check_top_values(raw: dict) -> None:
    """Ranges of the top-level values (and of the training seed), checked after every table."""
    for k in ("batch_size",):
        if k in raw and raw[k] < 1:
            raise LabError(f"{k}: must be >= 1, got {raw[k]}")
    if raw.get("n_samples") is not None and not 100 <= raw["n_samples"] <= MAX_SAMPLES:
        raise LabError(f"n_samples: must be between 100 and {MAX_SAMPLES:,}, got {raw['n_samples']}")
    for k in ("seed", "data_seed"):  # numpy/Optuna seeds: 0 .. 2**32 - 1
        if k in raw and not 0 <= raw[k] < 2**32:
            raise LabError(f"{k}: must be a whole number in 0..{2**32 - 1}, got {raw[k]}")
    train = raw["search"]["search_space"].get("train", {})
    if train.get("seed") is not None and not 0 <= train["seed"] < 2**32:
        raise LabError(f"search.search_space.train.seed: must be a whole number in 0..{2**32 - 1}, "
                       f"got {train['seed']}")
    if raw.get("project") is not None and not _SAFE_NAME.fullmatch(raw["project"]):
        # MASE names its output folder after the project: never let it be a path (../../etc)
        raise LabError(f"project: {raw['project']!r} is not a plain name; use letters, digits, '.', '-' "
                       "and '_' (no '/' or '..'), at most 100 characters")


def _depth(obj, level: int = 0) -> int:
    """How deeply tables and arrays nest (iteratively bounded: stops counting past MAX_DEPTH)."""
    if level > MAX_DEPTH or not isinstance(obj, (dict, list)):
        return level
    values = obj.values() if isinstance(obj, dict) else obj
    return max((_depth(v, level + 1) for v in values), default=level + 1)


def load_config(path, overrides: dict | None = None) -> SearchConfig:
    """Read and validate a search TOML file; CLI ``overrides`` are dotted keys (None = not given)."""
    path = require_file(path, "config")
    with open(path, "rb") as fh:  # never more than the limit in memory, whatever the file's size
        data = fh.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise LabError(f"config {path}: larger than {MAX_CONFIG_BYTES:,} bytes; a search TOML is a few kB "
                       "(is this the right file?)")
    try:
        # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the TOML
        raw = tomllib.loads(data.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LabError(f"config {path}: malformed TOML ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise LabError(f"config {path}: tables or arrays nested too deeply (at most {MAX_DEPTH} levels)") from None
    if _depth(raw) > MAX_DEPTH:
        raise LabError(f"config {path}: tables or arrays nested more than {MAX_DEPTH} levels deep; "
                       "MASE's schema needs 6")
    try:
        return parse_config(raw, overrides)
    except LabError as exc:
        raise LabError(f"config {path}: {exc}") from None
