"""Replay tables of a search-engine space: every unique configuration's objective, evaluated once.

The samplers' sample-efficiency study (:func:`lab_utils.search.replay.sampler_study`) replays a
:class:`~lab_utils.search.replay.ReplayTable` instead of evaluating again. :func:`space_table` fills
it through the space's own ``evaluate``, one call per configuration (any space; the reference).
:func:`layerwise_table` fills the same table for a by-name ``mixed_precision_ptq`` space on a chain
model (:meth:`lab_utils.passes.graph.LabGraph.chain`) far faster: each node's quantized module is
built once per per-node choice by the real quantize pass, and the configurations are walked depth
first (:func:`_walk`), quantizing each layer's output once per shared prefix. It is written by hand
because no library offers prefix reuse for fx graphs. ``tests/search/test_tables.py`` checks the
two tables equal, and one configuration against the quantize pass evaluated directly.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import torch

from lab_utils.errors import LabError
from lab_utils.passes.quantize import quantize_transform_pass
from lab_utils.progress import progress_bar
from lab_utils.search.replay import ReplayTable
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
    nodes, by_node = _searched_nodes(space)
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


def _searched_nodes(space):
    """The space's graph nodes and, per node, the searched keys that belong to it; checks that the
    space is by name and the model a chain of modules (:meth:`~lab_utils.passes.graph.LabGraph.chain`)."""
    if getattr(space, "by", None) != "name":
        raise LabError("layerwise_table: needs a by-name mixed_precision_ptq space")
    nodes = space.graph.chain()
    if nodes is None:
        raise LabError("layerwise_table: the model must be a chain of modules (a Sequential)")
    choices = space.variable()
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
