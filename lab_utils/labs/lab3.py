"""Lab 3 helpers: the lab's quantization grid measured with every metric, scaled-sum objectives,
rank agreement between two quality metrics, the tables the sample-efficiency study replays, and
the brute-force search run from a TOML (lab3_3). The figures are in :mod:`lab_utils.report.plots`.

How it works: :func:`metric_grid` quantizes a trained model once per grid configuration with
:func:`lab_utils.passes.quantize.quantize_model` (by type: every Linear gets the configuration), evaluates
the quantized model over a whole split (:func:`lab_utils.training.train.evaluate`: one chunked forward, fresh
state per call), counts the hardware proxies with :mod:`lab_utils.analysis.cost` and, when asked, times
inference with :func:`lab_utils.analysis.cost.latency` (``torch.utils.benchmark``: warm-up, then median and
IQR over blocks). The float model is the first row. :func:`build_space` gets a search-engine space
from the engine's own constructor (:func:`lab_utils.search.space.build_context`) on a model and data
already in memory. :func:`space_table` evaluates every unique configuration of that space once
through the space's own ``evaluate`` and returns the :class:`~lab_utils.search.replay.ReplayTable`
the samplers replay; :func:`layerwise_table` computes the same table for a per-layer space far
faster, reusing shared prefixes. :func:`fresh_search` runs a search exactly as the CLI does
(:func:`lab_utils.search.run.run_search`) and :func:`read_search` reads what it wrote.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from lab_utils.analysis import cost
from lab_utils.analysis.pareto import pareto_mask
from lab_utils.errors import LabError
from lab_utils.passes.quantize import lab_config, quantize_model, quantize_transform_pass
from lab_utils.progress import progress_bar
from lab_utils.search.config import SearchConfig, load_config, parse_config
from lab_utils.search.replay import ReplayTable, expected_best, mean_band
from lab_utils.search.run import run_search
from lab_utils.search.space import build_context
from lab_utils.training.train import evaluate, metrics_from_logits, num_threads

LAB_PAIRS = ((16, 8), (8, 6), (8, 4), (4, 2))  # (width, frac_width) for data_in and weight
LAB_BIAS = (8, 4)
FLOAT_LABEL = "float32"


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
def fresh_search(cfg, out_dir) -> tuple[object, float]:
    """Run the search of ``cfg`` as the CLI does, in a cleared ``out_dir`` (a fresh study: a rerun
    re-measures the search); returns ``(the search result, wall seconds)``."""
    shutil.rmtree(out_dir, ignore_errors=True)
    t0 = time.perf_counter()
    result = run_search(cfg, out_dir, progress=False)
    wall_s = time.perf_counter() - t0
    if result.status != 0:
        raise LabError(f"the search stopped early (status {result.status}); rerun the notebook")
    return result, wall_s


def read_search(out_dir) -> tuple[dict, pd.DataFrame, list[str]]:
    """A search's ``best.json``, its ``trials.csv`` and the searched parameters that vary across trials."""
    out_dir = Path(out_dir)
    best = json.loads((out_dir / "best.json").read_text())
    trials = pd.read_csv(out_dir / "trials.csv")
    params = [c for c in trials.columns if c.startswith("seq_blocks_")]
    return best, trials, [c for c in params if trials[c].nunique() > 1]


def search_coverage(best: dict, trials: pd.DataFrame, varying: list[str], wall_s: float) -> dict:
    """How the search covered the space: MASE's index count, unique configurations, trials, repeats."""
    s = best["summary"]
    return {"index combinations (MASE, with duplicates)": s["index_combinations"],
            "unique configurations": s["unique_configurations"], "trials complete": s["complete"],
            "unique configurations evaluated": s["unique_configurations_evaluated"],
            "configurations evaluated twice": int(trials.duplicated(subset=varying).sum()),
            "evaluations from cache": s["evaluations_from_cache"], "wall time (s)": round(wall_s, 1)}


def best_trials(trials: pd.DataFrame, best: dict, varying: list[str]) -> pd.DataFrame:
    """The rows of ``best.json``'s best trials (the Pareto front): varying parameters, accuracy, bitwidth."""
    return trials.loc[[r["number"] for r in best["best"]], varying + ["accuracy", "average_bitwidth"]]


def best_vs_float(trials: pd.DataFrame, float_accuracy: float) -> tuple[pd.Series, pd.DataFrame]:
    """The most accurate trial (ties: fewer bits) and a table of it against the float baseline."""
    top = trials.sort_values(["accuracy", "average_bitwidth"], ascending=[False, True]).iloc[0]
    compare = pd.DataFrame([
        {"model": "float32 baseline", "val accuracy": float_accuracy, "average bitwidth": 32},
        {"model": "best quantized (max accuracy)", "val accuracy": float(top["accuracy"]),
         "average bitwidth": float(top["average_bitwidth"])}])
    return top, compare
