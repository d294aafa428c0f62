"""Lab 3 helpers: the lab's quantization grid measured with every metric, scaled-sum objectives,
rank agreement between two quality metrics, and the brute-force search run from a TOML (lab3_3).
The sample-efficiency study (lab3_4) is in :mod:`lab_utils.labs.lab3_4`, the figures in
:mod:`lab_utils.report.plots.lab3`; the claims in :mod:`lab_utils.labs.lab3_claims`.

How it works: :func:`metric_grid` quantizes a trained model once per grid configuration with
:func:`lab_utils.passes.quantize.quantize_model` (by type: every Linear gets the configuration), evaluates
the quantized model over a whole split (:func:`lab_utils.training.train.evaluate`: one chunked forward, fresh
state per call), counts the hardware proxies with :mod:`lab_utils.analysis.cost` (including the estimated
FPGA figures of :mod:`lab_utils.analysis.hardware`: LUTs, DSPs, EBOPs, latency in cycles) and, when asked, times
inference with :func:`lab_utils.analysis.cost.latency` (``torch.utils.benchmark``: warm-up, then median and
IQR over blocks). The float model is the first row; every row also counts the jets it classifies differently
from float (``lost`` / ``gained``), for paired tests. :func:`fresh_search` runs a search exactly as the CLI does
(:func:`lab_utils.search.run.run_search`) and :func:`read_search` reads what it wrote. :func:`grid_claims` and
:func:`search_claims` assemble the notebooks' conclusions from :mod:`lab_utils.labs.lab3_claims`.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from pathlib import Path

import pandas as pd

from lab_utils.analysis import claims as C
from lab_utils.analysis import cost, hardware
from lab_utils.analysis import stats as S
from lab_utils.analysis.pareto import pareto_mask
from lab_utils.errors import LabError
from lab_utils.labs import lab3_claims
from lab_utils.passes.quantize import lab_config, quantize_model
from lab_utils.progress import progress_bar
from lab_utils.search.run import run_search
from lab_utils.training.train import metrics_from_logits, predict

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
    ``accuracy``, ``macro_accuracy``, ``loss`` on ``split``, ``lost`` / ``gained``: jets the float model
    classifies right and this configuration wrong / the reverse; ``size_bytes``, ``flops``, ``bitops``
    for one batch of ``batch_size``; MASE's ``average_bitwidth``; the **estimated** FPGA figures of
    :mod:`lab_utils.analysis.hardware` per design and sample (``luts``, ``dsps``, ``ffs``, ``brams``,
    ``ebops``, ``latency_cycles``, ``ii_cycles``, ``latency_ns``, ``lut_equivalent``; default target:
    VU9P, 200 MHz, hls4ml Latency strategy, RF 1; float layers at ``ap_fixed<16,6>``); ``latency_ms``
    and ``latency_iqr_ms`` per batch (CPU, measured) when ``latency_s`` is given); ``layers`` is the
    per-layer size breakdown (``config``, ``node``, ``op``, ``size_bytes``, widths).
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
    float_correct = None
    for label, data_in, weight, m in progress_bar(candidates, desc="configurations", progress=progress, leave=False):
        row = {"config": label, "float": data_in is None,
               "data_in_width": data_in[0] if data_in else 32, "data_in_frac_width": data_in[1] if data_in else None,
               "weight_width": weight[0] if weight else 32, "weight_frac_width": weight[1] if weight else None}
        logits = predict(m, x)
        row.update(metrics_from_logits(logits, y))
        correct = logits.argmax(dim=1) == y
        float_correct = correct if float_correct is None else float_correct
        # the discordant jets against float (same jets): McNemar's test and the paired difference use them
        row.update({"lost": int((float_correct & ~correct).sum()), "gained": int((~float_correct & correct).sum())})
        table = cost.cost_table(m, shape, batch_size)
        total = table.iloc[-1]
        row.update({"size_bytes": float(total["size_bytes"]), "flops": int(total["flops"]),
                    "bitops": int(total["bitops"]), "average_bitwidth": cost.average_bitwidth(m)})
        # estimated FPGA figures per design and sample (hardware.DEFAULT_TARGET), not per batch
        row.update({c: (float(total[c]) if c == "latency_ns" else int(total[c])) for c in hardware.HW_COLUMNS})
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

    Returns Spearman's rho and Kendall's tau (:mod:`lab_utils.analysis.stats`) and the discordant pairs: rows the two metrics
    order oppositely (a strict disagreement; ties in either metric are not counted).
    """
    va = df[a].to_numpy(float) * (1 if higher_better[0] else -1)
    vb = df[b].to_numpy(float) * (1 if higher_better[1] else -1)
    rho, tau = S.spearman(va, vb)[0], S.kendall(va, vb)[0]
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


def fresh_search(cfg, out_dir) -> tuple[object, float]:
    """Run the search of ``cfg`` as the CLI does, in a cleared ``out_dir`` (a fresh study: a rerun
    re-measures the search); returns ``(the search result, wall seconds)``."""
    shutil.rmtree(out_dir, ignore_errors=True)
    t0 = time.perf_counter()
    said: list[str] = []
    result = run_search(cfg, out_dir, progress=False, print_fn=said.append)
    wall_s = time.perf_counter() - t0
    # the CLI's count line only: its "Best trial(s)" table wraps in a notebook; the notebook shows it compact
    print(said[0] if said else "")
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
    """The rows of ``best.json``'s best trials (the Pareto front): trial number, varying parameters
    (short names), accuracy, bitwidth; the compact form of the CLI's "Best trial(s)" table."""
    rows = trials.loc[[r["number"] for r in best["best"]], ["number"] + varying + ["accuracy", "average_bitwidth"]]
    return rows.rename(columns={c: c.split("/")[-1].split(".")[-1] for c in varying}).reset_index(drop=True)


def quantized_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The quantized rows of :func:`metric_grid`'s table with ``drop_pts``: float minus their accuracy, in points."""
    flt = table[table["float"]].iloc[0]
    q = table[~table["float"]].copy()
    q["drop_pts"] = 100 * (float(flt["accuracy"]) - q["accuracy"])
    return q.reset_index(drop=True)


def grid_view(q: pd.DataFrame) -> pd.DataFrame:
    """The grid as a reader wants it (fits a notebook's width): accuracy in %, loss, accuracy drop against
    float in points, clip shares in %, bit-ops; the CSV keeps every column."""
    out = pd.DataFrame({"config": q["config"], "accuracy %": (100 * q["accuracy"]).round(2),
                        "loss": q["loss"].round(3)})
    if "drop_pts" in q:
        out["drop vs float (points)"] = q["drop_pts"].round(2)
    if "data_in_clip_share" in q:
        out["inputs clipped %"] = (100 * q["data_in_clip_share"]).round(2)
        out["weights clipped %"] = (100 * q["weight_clip_share"]).round(2)
    out["bit-ops/batch"] = q["bitops"]
    return out


def hardware_view(q: pd.DataFrame, batch_size: int) -> pd.DataFrame:
    """The estimated FPGA cost per configuration (:mod:`lab_utils.analysis.hardware`, default target):
    bit-ops per sample (``bitops`` / ``batch_size``) beside HGQ's EBOPs, LUTs, DSPs, LUT equivalents
    (LUT + 55·DSP), latency and initiation interval in cycles, and the latency in ns at the target's clock."""
    out = pd.DataFrame({"config": q["config"], "bit-ops/sample": (q["bitops"] / batch_size).round().astype(int)})
    for c in ("ebops", "luts", "dsps", "lut_equivalent", "latency_cycles", "ii_cycles", "latency_ns"):
        out[c] = q[c]
    return out.reset_index(drop=True)


def conv_view(conv: pd.DataFrame) -> pd.DataFrame:
    """The bit-op conventions table, narrowed: both counts, their ratio beside ``(2K−1)/K``, and the
    report's call as written (the column "arguments in order" equals the lab-report count by construction)."""
    cols = ["config", "standard (Linear)", "lab report (Linear)", "ratio", "(2K-1)/K", "report's call as written"]
    return conv[cols].round({"ratio": 3, "(2K-1)/K": 3})


def bitop_table(model, input_shape=(16,), batch_size: int = 512, grid=None, bias=LAB_BIAS):
    """Both bit-op conventions (:func:`lab_utils.labs.lab3_claims.bitop_conventions`) over the lab grid;
    returns ``(table, one quantized model)`` (the latter for replaying the report's calls)."""
    qmodels = {config_label(a, w): (quantize_model(model, grid_pass_args(a, w, bias)).eval(), a[0], w[0])
               for a, w in (lab_grid() if grid is None else grid)}
    return lab3_claims.bitop_conventions(qmodels, tuple(input_shape), batch_size, bias[0]), next(iter(qmodels.values()))[0]


def grid_claims(table: pd.DataFrame, clips: pd.DataFrame, conv: pd.DataFrame, qmodel, input_shape=(16,),
                batch_size: int = 512):
    """lab3_1's conclusions: ``(claims, report checks, the quantized rows with clipping)``."""
    q = lab3_claims.with_clipping(quantized_rows(table), clips)
    n = int(table.attrs.get("n", q["lost"].sum() + 1))
    widest = q.sort_values(["data_in_width", "weight_width", "data_in_frac_width"], ascending=False).iloc[0]
    w = lab3_claims.matches_float("matches_float.widest", f"the widest configuration ({widest['config']})", int(widest["lost"]),
                                  int(widest["gained"]), n)
    found = [w, lab3_claims.clipping_claim(q),
             lab3_claims.format_claim(q, "data_in", clips.attrs["input_max_abs"]),
             lab3_claims.format_claim(q, "weight", clips.attrs["weight_max_abs"]),
             lab3_claims.same_width_claim(q, "data_in"), *lab3_claims.proxy_claims(q)]
    # latency from the deterministic cycle model; the CPU timing (latency_ms) enters no verdict
    checks = [lab3_claims.ptq_check(q, w), lab3_claims.latency_cycles_check(table)]
    checks += lab3_claims.metric_code_checks(conv, qmodel, tuple(input_shape), batch_size)
    return found, checks, q


def search_claims(model, splits, trials: pd.DataFrame, coverage: dict, clips: pd.DataFrame, float_accuracy: float):
    """lab3_3's conclusions: ``(claims, report checks, the completed trials with clipping)``.

    The most accurate configuration is chosen on the validation split the search used, so its
    comparison with float is re-run on the test split (paired, same jets), which the selection did not see.
    """
    frame = lab3_claims.with_clipping(lab3_claims.search_frame(trials, float_accuracy), clips)
    cov, cov_check = lab3_claims.coverage_claims(coverage, frame, lab_grid())
    top = frame.sort_values(["accuracy", "average_bitwidth"], ascending=[False, True]).iloc[0]
    pick = ((int(top["data_in_width"]), int(top["data_in_frac_width"])),
            (int(top["weight_width"]), int(top["weight_frac_width"])))
    test, _ = metric_grid(model, splits, split="test", grid=[pick], latency_s=None)
    row = test.iloc[1]
    best = lab3_claims.matches_float("matches_float.best_trial", f"the most accurate of the {len(frame)} configurations ({row['config']}), "
                                     "re-evaluated on the test split,", int(row["lost"]), int(row["gained"]),
                                     int(test.attrs["n"]))
    found = [cov, best, lab3_claims.format_claim(frame, "data_in", clips.attrs["input_max_abs"]),
             lab3_claims.format_claim(frame, "weight", clips.attrs["weight_max_abs"]),
             lab3_claims.same_width_claim(frame, "data_in")]
    losing = int((frame["drop_pts"] > lab3_claims.MARGIN_PTS).sum())
    best_check = C.report_check(
        "best brute-force trial keeps accuracy", "the best trial's accuracy (52 % against 51.3 % float) shows that "
        "quantisation largely maintains accuracy", f"{best.evidence} ({best.verdict}); {losing} of {len(frame)} "
        f"configurations lose more than {lab3_claims.MARGIN_PTS:g} point on validation data",
        "partly" if best.holds and losing else best.holds)
    return found, [cov_check, best_check], frame
