"""Lab 3 helpers: the lab's quantization grid measured with every metric, scaled-sum objectives,
rank agreement between two quality metrics, and the tables the sample-efficiency study replays.

How it works: :func:`metric_grid` quantizes a trained model once per grid configuration with
:func:`lab_utils.passes.quantize.quantize_model` (by type: every Linear gets the configuration), evaluates
the quantized model over a whole split (:func:`lab_utils.training.train.evaluate`: one chunked forward, fresh
state per call), counts the hardware proxies with :mod:`lab_utils.analysis.cost` and, when asked, times
inference with :func:`lab_utils.analysis.cost.latency` (``torch.utils.benchmark``: warm-up, then median and
IQR over blocks). The float model is the first row. :func:`space_table` evaluates every unique
configuration of a search-engine space once through the space's own ``evaluate`` and returns the
:class:`~lab_utils.search.replay.ReplayTable` the samplers replay.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import torch
from scipy import stats

from lab_utils.analysis import cost
from lab_utils.errors import LabError
from lab_utils.passes.quantize import lab_config, quantize_model, quantize_transform_pass
from lab_utils.progress import progress_bar
from lab_utils.report.plots import _plt as plt
from lab_utils.search.config import SearchConfig, load_config, parse_config
from lab_utils.analysis.pareto import pareto_mask
from lab_utils.search.replay import ReplayTable
from lab_utils.search.space import SpaceContext, get_space
from lab_utils.training.train import evaluate, metrics_from_logits

LAB_PAIRS = ((16, 8), (8, 6), (8, 4), (4, 2))  # (width, frac_width) for data_in and weight
LAB_BIAS = (8, 4)
FLOAT_LABEL = "float32"
QUALITY = ("accuracy", "macro_accuracy", "loss")
COSTS = ("size_bytes", "flops", "bitops", "average_bitwidth")


def config_label(data_in, weight) -> str:
    """``"in 8/4, w 4/2"``: data_in and weight as width/frac_width."""
    return f"in {data_in[0]}/{data_in[1]}, w {weight[0]}/{weight[1]}"


def lab_grid(pairs=LAB_PAIRS) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The lab's 16 (data_in, weight) configurations, widest first."""
    return list(itertools.product(pairs, pairs))


def grid_pass_args(data_in, weight, bias=LAB_BIAS) -> dict:
    """Lab 3's ``pass_args``: by type, every Linear quantized, everything else left float."""
    return {"by": "type", "default": {"config": {"name": None}},
            "linear": {"config": lab_config(data_in=tuple(data_in), weight=tuple(weight), bias=tuple(bias))}}


def metric_grid(model, splits, split: str = "val", batch_size: int = 512, grid=None, bias=LAB_BIAS,
                latency_s: float | None = 0.2, progress: bool = False):
    """Every metric for the float model and each grid configuration.

    Returns ``(table, layers)``: ``table`` has one row per configuration (``config``, widths,
    ``accuracy``, ``macro_accuracy``, ``loss`` on ``split``; ``size_bytes``, ``flops``, ``bitops``
    for one batch of ``batch_size``; MASE's ``average_bitwidth``; ``latency_ms`` and
    ``latency_iqr_ms`` per batch when ``latency_s`` is given); ``layers`` is the per-layer size
    breakdown (``config``, ``node``, ``op``, ``size_bytes``, widths).
    """
    grid = lab_grid() if grid is None else list(grid)
    x, y = splits.split(split)
    shape = tuple(x.shape[1:])
    batch = x[:batch_size]
    model = model.eval()
    rows, layer_rows = [], []
    candidates = [(FLOAT_LABEL, None, None, model)]
    for data_in, weight in grid:
        q = quantize_model(model, grid_pass_args(data_in, weight, bias)).eval()
        candidates.append((config_label(data_in, weight), data_in, weight, q))
    for label, data_in, weight, m in progress_bar(candidates, desc="configurations", progress=progress, leave=False):
        row = {"config": label, "float": data_in is None,
               "data_in_width": data_in[0] if data_in else 32, "data_in_frac_width": data_in[1] if data_in else None,
               "weight_width": weight[0] if weight else 32, "weight_frac_width": weight[1] if weight else None}
        row.update(evaluate(m, x, y))
        table = cost.cost_table(m, shape, batch_size)
        total = table.iloc[-1]
        row.update({"size_bytes": float(total["size_bytes"]), "flops": int(total["flops"]),
                    "bitops": int(total["bitops"]), "average_bitwidth": cost.average_bitwidth(m)})
        if latency_s is not None:
            lat = cost.latency(m, batch, min_run_time=latency_s)
            row.update({"latency_ms": lat["latency_ms"], "latency_iqr_ms": lat["latency_iqr_ms"],
                        "threads": lat["threads"]})
        rows.append(row)
        for _, layer in table.iloc[:-1].iterrows():
            layer_rows.append({"config": label, "node": layer["node"], "op": layer["op"],
                               "size_bytes": float(layer["size_bytes"]), "params": int(layer["params"]),
                               "weight_width": layer["weight_width"], "bias_width": layer["bias_width"]})
    out = pd.DataFrame(rows)
    out.attrs.update({"split": split, "batch_size": batch_size, "n": int(len(y))})
    return out, pd.DataFrame(layer_rows)


def size_breakdown(layers: pd.DataFrame) -> pd.DataFrame:
    """Per-layer size in bytes: one row per configuration, one column per node with a size."""
    wide = layers.pivot_table(index="config", columns="node", values="size_bytes", aggfunc="sum", sort=False)
    wide = wide.loc[:, (wide > 0).any()]
    wide["total"] = wide.sum(axis=1)
    return wide.reset_index()


def scaled_sum(df: pd.DataFrame, scales: dict, name: str = "objective") -> pd.DataFrame:
    """MASE's ``sum_scaled_metrics``: ``Σ scale_m · metric_m`` (a negative scale minimises a metric),
    added as column ``name`` with its rank (1 = best, highest sum; ties share the best rank)."""
    missing = [m for m in scales if m not in df.columns]
    if missing:
        raise LabError(f"scaled_sum: unknown metric {missing[0]!r}; columns: {', '.join(map(str, df.columns))}")
    out = df.copy()
    out[name] = sum(float(s) * out[m].astype(float) for m, s in scales.items())
    out[f"{name}_rank"] = out[name].rank(ascending=False, method="min").astype(int)
    return out


def rank_agreement(df: pd.DataFrame, a: str = "accuracy", b: str = "loss", higher_better=(True, False),
                   label: str = "config") -> dict:
    """How far metrics ``a`` and ``b`` order the rows the same way (both turned to "higher is better").

    Returns Spearman's rho and Kendall's tau (scipy) and the discordant pairs: rows the two metrics
    order oppositely (a strict disagreement; ties in either metric are not counted).
    """
    va = df[a].to_numpy(float) * (1 if higher_better[0] else -1)
    vb = df[b].to_numpy(float) * (1 if higher_better[1] else -1)
    rho = stats.spearmanr(va, vb).statistic
    tau = stats.kendalltau(va, vb).statistic
    labels = df[label].tolist()
    pairs = [(labels[i], labels[j]) for i, j in itertools.combinations(range(len(df)), 2)
             if (va[i] - va[j]) * (vb[i] - vb[j]) < 0]
    n_pairs = len(df) * (len(df) - 1) // 2
    return {"spearman_rho": float(rho), "kendall_tau": float(tau), "discordant_pairs": pairs,
            "n_discordant": len(pairs), "n_pairs": n_pairs}


def pareto_table(df: pd.DataFrame, quality: str, cost_col: str, label: str = "config") -> pd.DataFrame:
    """Rows on the Pareto front of ``quality`` (maximised) against ``cost_col`` (minimised), by cost."""
    mask = pareto_mask(df[[quality, cost_col]].to_numpy(float), (True, False))
    return df.loc[mask, [label, quality, cost_col]].sort_values(cost_col).reset_index(drop=True)


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
    validated by the engine's parser), on a model and splits already in memory (no data reload).
    ``metrics`` overrides which metrics ``evaluate`` measures (default: the config's)."""
    if isinstance(config, SearchConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = parse_config(config)
    else:
        cfg = load_config(config)
    ctx = SpaceContext(model_name=cfg.model, model=model.eval(), splits=splits, checkpoint=checkpoint,
                       eval_split=cfg.eval_split, seed=cfg.seed, batch_size=cfg.batch_size,
                       metrics=tuple(metrics) if metrics is not None else cfg.strategy.metric_names,
                       eval_samples=cfg.strategy.eval_samples)
    return get_space(cfg.space.name)(cfg.space, ctx), cfg


def layerwise_table(space, objective: str = "accuracy", scale: float = 100.0, chunk: int = 65536,
                    progress: bool = False):
    """The same table as :func:`space_table` for a by-name ``mixed_precision_ptq`` space on a chain
    model, computed without re-running the pass per configuration (written by hand because
    ``space.evaluate`` copies and re-quantizes the whole graph per call: thousands of calls).

    Each node's quantized module is built ONCE per per-node choice with the real pass
    (``quantize_transform_pass`` on ``space.pass_args``), and the configurations are walked depth
    first, layer by layer, reusing the activations of the shared prefix. Every module computes
    exactly what it computes inside the quantized graph, so the objectives equal
    ``space.evaluate``'s (the tests check it).
    """
    if getattr(space, "by", None) != "name":
        raise LabError("layerwise_table: needs a by-name mixed_precision_ptq space")
    graph = space.graph
    calls = [n for n in graph.model.graph.nodes if n.op not in ("placeholder", "output")]
    if any(n.op != "call_module" for n in calls) or any(len(n.users) != 1 for n in calls[:-1]):
        raise LabError("layerwise_table: the model must be a chain of modules (a Sequential)")
    choices = space.variable()
    fixed = {k: v[0] for k, v in space.choices().items() if len(v) == 1}
    nodes = graph.nodes()
    by_node = {n.name: [k for k in choices if k.split("/")[0] == n.name] for n in nodes}
    if sum(len(v) for v in by_node.values()) != len(choices):
        raise LabError("layerwise_table: every searched parameter must belong to one node (by name)")
    base = {**fixed, **{k: v[0] for k, v in choices.items()}}
    options = []  # per node: list of (index tuple of its keys, module)
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
    x, y = space.ctx.splits.split(space.ctx.eval_split)
    if space.ctx.eval_samples is not None:
        x, y = x[: space.ctx.eval_samples], y[: space.ctx.eval_samples]
    keys_order = [k for n in nodes for k in by_node[n.name]]
    shape = tuple(len(choices[k]) for k in choices)
    values = np.full(int(np.prod(shape)), np.nan)
    bar = progress_bar(total=len(values), desc=f"evaluate {len(values)} configurations", progress=progress, leave=False)

    def walk(depth, h, idx_so_far):
        if depth == len(options):
            logits = torch.cat(h)
            if objective == "accuracy":  # metrics_from_logits' formula, without its other metrics
                value = float((logits.argmax(dim=1) == y).float().mean())
            else:
                value = metrics_from_logits(logits, y)[objective]
            pos = dict(zip(keys_order, idx_so_far))
            values[np.ravel_multi_index(tuple(pos[k] for k in choices), shape)] = scale * value
            bar.update(1)
            return
        for idx, module in options[depth]:
            walk(depth + 1, [module(c) for c in h], idx_so_far + idx)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny ops: thread hand-off costs more than it saves
    try:
        with torch.inference_mode():
            walk(0, [x[i:i + chunk] for i in range(0, x.shape[0], chunk)], ())
    finally:
        torch.set_num_threads(threads)
        bar.close()
    return ReplayTable(choices, values, "maximize", f"{objective} x {scale:g}")


# ----------------------------------------------------------------------------- figures
def _plt():

    return plt()


def metric_panels(table: pd.DataFrame, metrics=("accuracy", "macro_accuracy", "loss", "latency_ms", "size_bytes",
                                                "flops", "bitops", "average_bitwidth")):
    """One bar panel per metric across configurations; the float model hatched and marked by a
    dashed line; latency with its IQR as error bars."""
    plt = _plt()
    metrics = [m for m in metrics if m in table.columns]
    cols = 4
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(16, 3.6 * rows), squeeze=False)
    xs = np.arange(len(table))
    colors = ["0.55" if f else "tab:blue" for f in table["float"]]
    for ax, m in zip(axes.flat, metrics):
        err = table["latency_iqr_ms"] / 2 if m == "latency_ms" and "latency_iqr_ms" in table else None
        bars = ax.bar(xs, table[m], color=colors, yerr=err, capsize=2)
        for b, f in zip(bars, table["float"]):
            if f:
                b.set_hatch("//")
        base = table.loc[table["float"], m]
        if len(base):
            ax.axhline(float(base.iloc[0]), color="k", ls="--", lw=0.8, label="float32")
        if m in ("accuracy", "macro_accuracy", "loss"):
            lo, hi = table[m].min(), table[m].max()
            pad = max(hi - lo, 1e-3) * 0.3
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(m + (" (median ± IQR/2, per batch)" if m == "latency_ms" else ""), fontsize=9)
        ax.set_xticks(xs, table["config"], rotation=90, fontsize=7)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def pareto_panels(table: pd.DataFrame, quality: str = "accuracy", costs=("bitops", "size_bytes"), label="config"):
    """Quality against each cost, every point labelled, the Pareto front joined by a line."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(costs), figsize=(7 * len(costs), 5), squeeze=False)
    for ax, c in zip(axes[0], costs):
        mask = pareto_mask(table[[quality, c]].to_numpy(float), (True, False))
        ax.scatter(table[c], table[quality], c=np.where(mask, "tab:red", "tab:blue"), s=25, zorder=3)
        front = table[mask].sort_values(c)
        ax.step(front[c], front[quality], where="post", color="tab:red", lw=1, label="Pareto front")
        for _, r in table.iterrows():
            ax.annotate(r[label], (r[c], r[quality]), fontsize=6, xytext=(3, 2), textcoords="offset points")
        ax.set_xlabel(c + " (lower is better)")
        ax.set_ylabel(quality + " (higher is better)")
        ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def scatter_pair(table: pd.DataFrame, a: str = "loss", b: str = "accuracy", label: str = "config"):
    """``b`` against ``a`` across configurations, each point labelled."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(table[a], table[b], s=25)
    for _, r in table.iterrows():
        ax.annotate(r[label], (r[a], r[b]), fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
