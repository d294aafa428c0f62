"""Lab 3.4's sample-efficiency study: the tables the samplers replay and what the notebook reads off them.

How it works: :func:`build_space` gets a search-engine space from the engine's own constructor
(:func:`lab_utils.search.space.build_context`) on a model and data already in memory.
:func:`space_table` evaluates every unique configuration of that space once through the space's
own ``evaluate`` and returns the :class:`~lab_utils.search.replay.ReplayTable` the samplers
replay; :func:`layerwise_table` computes the same table for a per-layer space far faster, reusing
shared prefixes (hand-written: a depth-first walk that quantizes each layer's output once per
prefix, which no library offers for fx graphs). :func:`best_so_far_curves`,
:func:`first_trials_table` and :func:`sampler_numbers` turn replayed studies into the notebook's
curves and tables.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import torch

from lab_utils.errors import LabError
from lab_utils.passes.quantize import quantize_transform_pass
from lab_utils.progress import progress_bar
from lab_utils.search.config import SearchConfig, load_config, parse_config
from lab_utils.search.replay import ReplayTable, expected_best, mean_band
from lab_utils.search.space import build_context
from lab_utils.training.train import metrics_from_logits, num_threads


def space_table(space, objective: str = "accuracy", scale: float = 100.0, progress: bool = False):
    """Evaluate every unique configuration of a search-engine ``space`` once (its own ``evaluate``)
    and return ``(ReplayTable of scale·objective, DataFrame of every metric per configuration)``.

    Only the space's variable parameters become replay parameters (the ones a sampler suggests);
    the default ``scale=100`` puts accuracy in percentage points.
    """
    choices = space.variable()
    keys = list(choices)
    fixed = {k: v[0] for k, v in space.choices().items() if len(v) == 1}
    rows = []
    combos = list(itertools.product(*(range(len(choices[k])) for k in keys)))
    for idx in progress_bar(combos, desc=f"evaluate {len(combos)} configurations", progress=progress, leave=False):
        config = {**fixed, **{k: choices[k][i] for k, i in zip(keys, idx)}}
        metrics = space.evaluate(config)
        if objective not in metrics:
            raise LabError(f"objective: the space does not measure {objective!r}; it gives {', '.join(metrics)}")
        rows.append({**{k: choices[k][i] for k, i in zip(keys, idx)}, **metrics})
    frame = pd.DataFrame(rows)
    table = ReplayTable(choices, scale * frame[objective].to_numpy(float), "maximize",
                        f"{objective} x {scale:g}")
    return table, frame


def three_layer_space_config(weight_widths=(2, 4, 8), weight_fracs=(2, 4, 6), data_in_widths=(4, 8),
                             nodes=("seq_blocks_2", "seq_blocks_4", "seq_blocks_6"),
                             eval_samples: int | None = None) -> dict:
    """A by-name ``mixed_precision_ptq`` search config (the TOML schema, as a dict) for per-layer
    widths of jsc-three-linear-layers: per Linear, ``weight_width × weight_frac_width ×
    data_in_width`` with ``data_in_frac_width = "NA"`` (MASE's ``width // 2``) and bias (8, 4).
    ``eval_samples`` evaluates the first N samples of the split (MASE's ``num_samples``)."""
    seed = {"default": {"config": {"name": ["NA"]}}}
    for node in nodes:
        seed[node] = {"config": {"name": ["integer"], "data_in_width": list(data_in_widths),
                                 "data_in_frac_width": ["NA"], "weight_width": list(weight_widths),
                                 "weight_frac_width": list(weight_fracs), "bias_width": [8], "bias_frac_width": [4]}}
    return {"model": "jsc-three-linear-layers", "dataset": "jsc-sim",
            "search": {"search_space": {"name": "graph/quantize/mixed_precision_ptq", "setup": {"by": "name"},
                                        "seed": seed},
                       "strategy": {"setup": {"sampler": "brute-force", "n_trials": 10**6},
                                    "sw_runner": {"basic_evaluation": {"num_samples": eval_samples}},
                                    "metrics": {"accuracy": {"scale": 1.0, "direction": "maximize"}}}}}


def build_space(config, model, splits, checkpoint=None, metrics=None):
    """The search engine's space for a config (a TOML path, a parsed ``SearchConfig`` or a raw dict,
    validated by the engine's parser), on a model and splits already in memory (no data reload),
    built by the engine's own :func:`lab_utils.search.space.build_context`; returns ``(space, cfg)``.
    ``metrics`` overrides which metrics ``evaluate`` measures (default: the config's)."""
    if isinstance(config, SearchConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = parse_config(config)
    else:
        cfg = load_config(config)
    space, _ = build_context(cfg, model=model, splits=splits, checkpoint=checkpoint, metrics=metrics)
    return space, cfg


# ----------------------------------------------------------------------------- the per-layer table
def layerwise_table(space, objective: str = "accuracy", scale: float = 100.0, chunk: int = 65536,
                    progress: bool = False):
    """The same table as :func:`space_table` for a by-name ``mixed_precision_ptq`` space on a chain
    model, computed without re-running the pass per configuration (written by hand because
    ``space.evaluate`` copies and re-quantizes the whole graph per call: thousands of calls).

    Each node's quantized module is built ONCE per per-node choice with the real pass
    (``quantize_transform_pass`` on ``space.pass_args``), and the configurations are walked depth
    first, layer by layer, reusing the activations of the shared prefix. Every module computes
    exactly what it computes inside the quantized graph, and the objective comes from the same
    :func:`lab_utils.training.train.metrics_from_logits`, so the values equal ``space.evaluate``'s
    (the tests check it).
    """
    nodes, by_node = _chain_nodes(space)
    choices = space.variable()
    options = _node_options(space, nodes, by_node)
    x, y = space.ctx.splits.split(space.ctx.eval_split)
    if space.ctx.eval_samples is not None:
        x, y = x[: space.ctx.eval_samples], y[: space.ctx.eval_samples]
    keys_order = [k for n in nodes for k in by_node[n.name]]
    shape = tuple(len(choices[k]) for k in choices)
    values = np.full(int(np.prod(shape)), np.nan)
    bar = progress_bar(total=len(values), desc=f"evaluate {len(values)} configurations", progress=progress, leave=False)

    def record(logits, idx):
        pos = dict(zip(keys_order, idx))
        flat = np.ravel_multi_index(tuple(pos[k] for k in choices), shape)
        values[flat] = scale * metrics_from_logits(logits, y)[objective]
        bar.update(1)

    # one thread: thousands of tiny ops, where the thread hand-off costs more than it saves
    try:
        with num_threads(1), torch.inference_mode():
            _walk(options, 0, [x[i:i + chunk] for i in range(0, x.shape[0], chunk)], (), record)
    finally:
        bar.close()
    return ReplayTable(choices, values, "maximize", f"{objective} x {scale:g}")


def _chain_nodes(space):
    """The space's graph nodes and, per node, the searched keys that belong to it; checks that the
    space is by name and the model a chain of modules."""
    if getattr(space, "by", None) != "name":
        raise LabError("layerwise_table: needs a by-name mixed_precision_ptq space")
    calls = [n for n in space.graph.model.graph.nodes if n.op not in ("placeholder", "output")]
    if any(n.op != "call_module" for n in calls) or any(len(n.users) != 1 for n in calls[:-1]):
        raise LabError("layerwise_table: the model must be a chain of modules (a Sequential)")
    choices = space.variable()
    nodes = space.graph.nodes()
    by_node = {n.name: [k for k in choices if k.split("/")[0] == n.name] for n in nodes}
    if sum(len(v) for v in by_node.values()) != len(choices):
        raise LabError("layerwise_table: every searched parameter must belong to one node (by name)")
    return nodes, by_node


def _node_options(space, nodes, by_node) -> list[list]:
    """Per node, ``(index tuple of its keys, quantized module)`` for each of its choices, built by
    the real pass with every other parameter at its first choice."""
    graph, choices = space.graph, space.variable()
    fixed = {k: v[0] for k, v in space.choices().items() if len(v) == 1}
    base = {**fixed, **{k: v[0] for k, v in choices.items()}}
    options = []
    for n in nodes:
        keys = by_node[n.name]
        if not keys:
            q, _ = quantize_transform_pass(graph, space.pass_args(base))
            options.append([((), q.model.get_submodule(n.target).eval())])
            continue
        opts = []
        for idx in itertools.product(*(range(len(choices[k])) for k in keys)):
            cfg = {**base, **{k: choices[k][i] for k, i in zip(keys, idx)}}
            q, _ = quantize_transform_pass(graph, space.pass_args(cfg))
            opts.append((idx, q.model.get_submodule(n.target).eval()))
        options.append(opts)
    return options


def _walk(options, depth, h, idx_so_far, record):
    """Depth first over the per-node options: ``h`` holds the activation chunks after ``depth`` nodes."""
    if depth == len(options):
        record(torch.cat(h), idx_so_far)
        return
    for idx, module in options[depth]:
        _walk(options, depth + 1, [module(c) for c in h], idx_so_far + idx, record)


# ----------------------------------------------------------------------------- sample efficiency (lab3_4)
def best_so_far_curves(studies: dict) -> dict:
    """What :func:`lab_utils.report.plots.curves_figure` draws, per study (``title -> SamplerStudy``):
    the trial numbers, per sampler the mean and 95 % band of the best-so-far over seeds, the exact
    expected curve of a random order, and the table's values, optimum, direction and name."""
    out = {}
    for title, st in studies.items():
        exact, _ = expected_best(st.table.values, st.table.maximize, k_max=st.n_trials)
        out[title] = {"trials": np.arange(1, st.n_trials + 1), "n_seeds": len(st.seeds),
                      "samplers": {s: mean_band(st.best(s)) for s in st.values}, "exact": exact,
                      "values": st.table.values, "optimum": st.table.optimum(), "maximize": st.table.maximize,
                      "name": st.table.name, "n": st.table.n}
    return out


def first_trials_table(study, samplers, k: int = 5) -> pd.DataFrame:
    """The best of the first ``k`` trials per sampler: one run (the first seed) against the spread over seeds."""
    rows = []
    for s in samplers:
        b = study.best(s)[:, k - 1]
        rows.append({"sampler": s, f"one run (first seed), best of {k}": float(b[0]),
                     "mean over seeds": float(b.mean()), "min over seeds": float(b.min()),
                     "max over seeds": float(b.max())})
    return pd.DataFrame(rows)


def sampler_numbers(samplers, small_eff: pd.DataFrame, large_eff: pd.DataFrame, tolerance: float) -> dict:
    """lab3_4's per-sampler summary numbers from the two efficiency tables (English keys)."""
    small, large = small_eff.set_index("sampler"), large_eff.set_index("sampler")
    out = {}
    for s in samplers:
        out[f"small: {s} trials to optimum (mean)"] = float(small.loc[s]["trials_to_optimum_mean"])
        out[f"small: {s} trials to within {tolerance} (mean)"] = float(small.loc[s]["trials_to_within_tol_mean"])
        out[f"large: {s} trials to within {tolerance} (mean)"] = float(large.loc[s]["trials_to_within_tol_mean"])
        out[f"large: {s} share of runs within {tolerance}"] = float(large.loc[s]["reached_within_tol"])
        out[f"large: {s} unique configs tried (mean)"] = float(large.loc[s]["unique_configs_mean"])
    out["small: tpe unique configs tried (mean)"] = (float(small.loc["tpe"]["unique_configs_mean"])
                                                     if "tpe" in samplers else None)
    exact = small.loc["random order (exact)"]
    out["small: random-order exact trials to optimum"] = float(exact["trials_to_optimum_mean"])
    return out


# ----------------------------------------------------------------------------- brute force from a TOML (lab3_3)
