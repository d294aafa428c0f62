"""Lab 3's computed conclusions (lab3_1 to lab3_3): what the quantization grid shows and the lab report's
own claims, each a :class:`lab_utils.analysis.claims.Claim` or ``ReportCheck`` built from the run's numbers.

How it works. A fixed-point format ``(width, frac)`` holds ``clamp(round(x·2^f), −2^(w−1), 2^(w−1)−1)/2^f``:
its range is set by the *integer bits* ``w − f`` (sign included), its step by ``f``.
:func:`clipping` feeds a split through the float model, records the inputs of every Linear (forward
hooks) and counts, per format, the share of input and weight values the clamp changes — exactly, by
applying the quantizer's own rounding. :func:`format_claim` then reads which formats lose accuracy by
one two-factor rule of a fixed-point format, range (the share it clips) and step (its fractional bits),
each format judged by its best case over the other tensor's formats (so a loss is not blamed on the wrong
tensor). Accuracy differences against float are paired (same jets): :func:`matches_float` gives the
difference, Agresti and Min's 95 % interval and McNemar's exact test on the discordant jets
(:func:`lab_utils.analysis.stats.paired_binary`), read against the margin by
:func:`lab_utils.analysis.claims.interval_claim`.

Findings (holds / refuted / not shown / not applicable) are statements the run could contradict; the
definitions of the counts (FLOPs constant, size and bit-ops following the widths), brute force's
exactly-once coverage and the scaled sum's order by bits where the units force it are
:func:`lab_utils.analysis.claims.check`. No claim rests on timing: CPU latency of fake-quantized
models is a measured figure (:func:`cpu_timing`); the report's "latency rises with precision" is read
against the deterministic hardware cycle model (:func:`latency_cycles_check`).

The report checks replay the lab report's own code where it matters: its bit-op function
(:func:`lab_utils.analysis.cost.report_bit_wise_op`) called with its arguments in the report's order,
and without the batch size; its ReLU FLOPs with the hard-coded feature counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from lab_utils.analysis import claims as C
from lab_utils.analysis import cost
from lab_utils.analysis import stats as S
from lab_utils.models import build_model
from lab_utils.training.train import predict

MARGIN_PTS = 1.0  # an accuracy loss against float counts as "a loss" above this many points
EQUIV_PTS = 0.5  # "matches float": the 95 % interval of the paired difference inside ±this many points
CLIP_SHARE = 0.01  # a format "clips" when it changes at least this share of the values it holds


def format_max(width: int, frac: int) -> float:
    """Largest value a signed ``(width, frac)`` format holds: ``(2^(w−1) − 1) / 2^f``."""
    return (2 ** (width - 1) - 1) / 2 ** frac


def clip_share(x: torch.Tensor, width: int, frac: int) -> float:
    """Share of ``x``'s values the quantizer's clamp changes (rounded value outside the integer range)."""
    q = torch.round(x.double() * 2.0 ** frac)
    return float(((q > 2 ** (width - 1) - 1) | (q < -(2 ** (width - 1)))).double().mean())


def linear_inputs(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(every Linear's inputs, every Linear's weights), each flattened and concatenated, float model."""
    seen, handles = [], []
    linears = [m for m in model.modules() if type(m) is nn.Linear]
    for m in linears:
        handles.append(m.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].detach().reshape(-1))))
    try:
        predict(model, x)
    finally:
        for h in handles:
            h.remove()
    return torch.cat(seen), torch.cat([m.weight.detach().reshape(-1) for m in linears])


def clipping(model: nn.Module, x: torch.Tensor, formats) -> pd.DataFrame:
    """Per ``(width, frac)`` format: integer bits, largest value it holds, and the share of the Linear
    layers' inputs and weights it clips; ``attrs`` hold the observed max |input| (and its 99.9th
    percentile) and max |weight|."""
    inputs, weights = linear_inputs(model, x)
    rows = [{"width": w, "frac": f, "integer_bits": w - f, "format_max": format_max(w, f),
             "input_clip_share": clip_share(inputs, w, f), "weight_clip_share": clip_share(weights, w, f)}
            for w, f in sorted(set(map(tuple, formats)), key=lambda t: (t[0] - t[1], t))]
    out = pd.DataFrame(rows)
    a = inputs.abs()
    out.attrs.update({"input_max_abs": float(a.max()), "input_p999_abs": float(torch.quantile(a[:2_000_000], 0.999)),
                      "weight_max_abs": float(weights.abs().max())})
    return out


def with_clipping(df: pd.DataFrame, clips: pd.DataFrame, data_in=("data_in_width", "data_in_frac_width"),
                  weight=("weight_width", "weight_frac_width")) -> pd.DataFrame:
    """``df`` (one row per configuration) with each tensor's integer bits and clip share joined in."""
    c = clips.set_index(["width", "frac"])
    out = df.copy()
    for tensor, (wc, fc) in (("data_in", data_in), ("weight", weight)):
        key = list(zip(out[wc].astype(int), out[fc].astype(int)))
        out[f"{tensor}_integer_bits"] = [w - f for w, f in key]
        col = "input_clip_share" if tensor == "data_in" else "weight_clip_share"
        out[f"{tensor}_clip_share"] = [float(c.loc[k, col]) for k in key]
        out[f"{tensor}_format_max"] = [format_max(w, f) for w, f in key]
    return out


def matches_float(key: str, label: str, lost: int, gained: int, n: int, margin: float = EQUIV_PTS) -> C.Claim:
    """"``label`` matches float within ±margin points": quantized minus float accuracy from the
    discordant jets (``lost``: float right, quantized wrong; ``gained``: the reverse) with Agresti and
    Min's paired 95 % interval and McNemar's exact p (:func:`lab_utils.analysis.stats.paired_binary`),
    read by :func:`lab_utils.analysis.claims.interval_claim`: holds when the interval lies inside the
    margin, refuted when it lies wholly outside it, not shown (with the effect it could have detected)
    when it straddles a bound."""
    d = S.paired_binary(gained, lost, n)  # first = the quantized model: n10 = gained, n01 = lost
    pts = {"diff_pts": 100 * d["diff"], "low_pts": 100 * d["low"], "high_pts": 100 * d["high"], "p": d["p"], "n": n}
    return C.interval_claim(key, f"{label} matches float accuracy within ±{margin:g} points", pts["low_pts"],
                            pts["high_pts"],
                            f"difference {pts['diff_pts']:+.2f} points (95 % CI {pts['low_pts']:+.2f} to "
                            f"{pts['high_pts']:+.2f}), McNemar exact {C.fmt_p(d['p'])}, {lost} jets lost / {gained} "
                            f"gained of n = {n}",
                            test="paired difference (Agresti-Min 95 % CI), McNemar exact", within=margin, unit="points",
                            **pts)


def _side(x: float, margin: float, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, or more where that rounding would put it on the margin's other side
    (a statement's number must read on the side its verdict is on: 1.004 is not "1.00" against a margin of 1)."""
    d = digits
    while d < 6 and (round(x, d) > margin) != (x > margin):
        d += 1
    return f"{x:.{d}f}"


def _apart(lo: float, hi: float, digits: int = 2) -> tuple[str, str]:
    """``lo`` and ``hi`` with enough decimals (2 or more) to read in the order they are in."""
    d = digits
    while d < 6 and (round(lo, d) > round(hi, d)) != (lo > hi):
        d += 1
    return f"{lo:.{d}f}", f"{hi:.{d}f}"


def format_table(df: pd.DataFrame, tensor: str) -> pd.DataFrame:
    """One row per ``tensor`` format ``(width, frac)`` of ``df``: its range (largest value held), its step
    ``1/2^frac``, the share of the values it clips and its *best-case* loss (points): the smallest
    ``drop_pts`` over the other tensor's formats, so a loss is not blamed on the wrong tensor."""
    w, f = f"{tensor}_width", f"{tensor}_frac_width"
    g = (df.groupby([w, f]).agg(best=("drop_pts", "min"), range=(f"{tensor}_format_max", "first"),
                                clip=(f"{tensor}_clip_share", "first")).reset_index()
         .rename(columns={w: "width", f: "frac"}))
    g["width"], g["frac"] = g["width"].astype(int), g["frac"].astype(int)
    g["label"] = [f"{a}/{b}" for a, b in zip(g["width"], g["frac"])]
    return g.sort_values(["range", "width"]).reset_index(drop=True)


def format_claim(df: pd.DataFrame, tensor: str, observed_max: float, margin: float = MARGIN_PTS) -> C.Claim:
    """Which ``tensor`` formats lose accuracy, by one two-factor rule of a fixed-point format: its range
    (the share of the values it clips) and its step (``1/2^frac``).

    Per format the best case over the other tensor's formats (:func:`format_table`). The formats whose
    best case keeps within ``margin`` points set the thresholds: ``c*``, the largest share any of them
    clips, and ``f*``, the fewest fractional bits any of them has. The rule: *a format loses more than
    ``margin`` exactly when it clips more than ``c*`` (its range is too small; ``c* = 0``: it clips at
    all) or its step is coarser than ``1/2^f*``*. By construction every format outside those thresholds
    loses; the rule holds when every format inside them keeps accuracy, and is refuted (by counterexample,
    named in the evidence) when one with enough range and a fine enough step loses. The statement's
    numbers ("at most Y", "at least Z") read on the side of the margin its verdict says. Every format
    losing: holds as "every format loses" (no range and step of the grid suffices).
    ``df`` has ``drop_pts``, ``{tensor}_width``, ``{tensor}_frac_width``, ``{tensor}_format_max`` and
    ``{tensor}_clip_share`` (:func:`with_clipping`).
    """
    what = "inputs" if tensor == "data_in" else "weights"
    other = "weight" if tensor == "data_in" else "data_in"
    g = format_table(df, tensor)
    per = "; ".join(f"{r.label} (range {r.range:.3g}, step 1/{2 ** r.frac}, clips {r.clip:.2%}): {r.best:.2f}"
                    for r in g.itertuples())
    evidence = (f"best-case loss (points, over the {other} formats) per {tensor} format width/frac: {per}; "
                f"largest observed |{tensor}| {observed_max:.2f}; n = {len(df)} configurations")
    numbers = {"observed_max": observed_max, "best_case_drop": {r.label: r.best for r in g.itertuples()}}
    test = "best case per format; two-factor threshold rule (range, step)"
    kept = g[g["best"] <= margin]
    head = f"a {tensor} format loses more than {margin:g} point against float whatever the {other} format"
    if kept.empty:
        z = float(g["best"].min())
        return C.claim(f"format.{tensor}", f"every {tensor} format of the grid loses more than {margin:g} point against "
                       f"float whatever the {other} format (the best case loses {_side(z, margin)} points): no range "
                       "and step of the grid suffices", True, evidence, test=test, lost_min=z, **numbers)
    c_star, f_star = float(kept["clip"].max()), int(kept["frac"].min())
    r_star = float(kept.loc[kept["clip"] == c_star, "range"].min())
    by_range, by_step = g["clip"] > c_star, g["frac"] < f_star
    inside = ~by_range & ~by_step
    counter = g[inside & (g["best"] > margin)]
    y = float(g.loc[inside, "best"].max())
    only_range, only_step = by_range & ~by_step, by_step & ~by_range
    # a factor enters the rule where some loss needs it; where every format it excludes also fails the other
    # factor, the grid cannot judge it apart (both kept when neither is needed alone: they cannot be told apart)
    use_range = bool(by_range.any() and (only_range.any() or not only_step.any()))
    use_step = bool(by_step.any() and (only_step.any() or not only_range.any()))
    step_txt, clip_txt = f"a step coarser than 1/{2 ** f_star}", f"clips more than {c_star:.2%} of the {what}"
    conds, enough, spare = [], [], []
    if use_range:
        conds.append(f"it clips (its range is below the largest |{tensor}|, {observed_max:.2f})" if c_star == 0 else
                     f"it {clip_txt} (a range below {r_star:.3g}; the {what} reach {observed_max:.2f})")
        enough.append("enough range")
    elif by_range.any():
        spare.append(f"every format that {clip_txt if c_star else 'clips'} also has {step_txt}: the range cannot be "
                     "judged apart")
    else:
        spare.append("no format of the grid clips more than the ones that keep accuracy")
    if use_step:
        conds.append(f"its step is coarser than 1/{2 ** f_star}")
        enough.append("a fine enough step")
    elif by_step.any():
        spare.append(f"every format with {step_txt} also {clip_txt if c_star else 'clips'}: the step cannot be judged "
                     "apart")
    else:
        spare.append(f"every step of the grid, down to 1/{2 ** int(g['frac'].min())}, is fine enough")
    if use_range and use_step and not only_range.any() and not only_step.any():
        spare.append("every format outside the rule fails on both counts: the grid cannot tell range from step")
    numbers.update(clip_threshold=c_star, range_threshold=r_star, frac_threshold=f_star, kept_max=y,
                   counterexamples=counter["label"].tolist(), by_range=g.loc[only_range, "label"].tolist(),
                   by_step=g.loc[only_step, "label"].tolist(), by_both=g.loc[by_range & by_step, "label"].tolist())
    if not conds:  # every format inside the thresholds: the rule says none loses
        statement = (f"every {tensor} format of the grid keeps accuracy within {margin:g} point of float for some "
                     f"{other} format: the {len(g)} formats lose at most {_side(y, margin)} points (best case)")
    else:
        z = float(g.loc[~inside, "best"].min())
        numbers["lost_min"] = z
        statement = (f"{head} exactly when " + " or ".join(conds) + f": the {int(inside.sum())} formats with "
                     + " and ".join(enough) + f" lose at most {_side(y, margin)} points (best case), the "
                     f"{int((~inside).sum())} {'other' if (~inside).sum() == 1 else 'others'} at least {_side(z, margin)}" + "".join(f" ({x})" for x in spare))
        evidence += ("; outside the rule's thresholds by range: " + (", ".join(numbers["by_range"]) or "none")
                     + ", by step: " + (", ".join(numbers["by_step"]) or "none")
                     + ", by both: " + (", ".join(numbers["by_both"]) or "none"))
    if len(counter):
        evidence += ("; refuted by counterexample: " + ", ".join(
            f"{r.label} (clips {r.clip:.2%}, step 1/{2 ** r.frac}) loses {r.best:.2f}" for r in counter.itertuples()))
    return C.claim(f"format.{tensor}", statement, counter.empty, evidence, test=test, **numbers)


def same_width_claim(df: pd.DataFrame, tensor: str, margin: float = MARGIN_PTS) -> C.Claim:
    """"At a fixed ``tensor`` width the fractional width decides": per width, the spread (points) of the
    best-case accuracy over its fractional widths; holds when some width spreads more than ``margin``,
    refuted when none does, not applicable when no width has two fractional widths."""
    w, f = f"{tensor}_width", f"{tensor}_frac_width"
    best = df.groupby([w, f])["accuracy"].max().mul(100)
    spread = best.groupby(level=0).agg(lambda s: s.max() - s.min())
    spread = spread[best.groupby(level=0).size() > 1]
    statement = (f"at a fixed {tensor} width the fractional width, not the bit count, decides accuracy: at some width "
                 f"it moves the best case by more than {margin:g} point")
    if spread.empty:
        return C.claim(f"same_width.{tensor}", statement, C.NOT_APPLICABLE,
                       "no width has two fractional widths in this grid", test="spread per width")
    top = int(spread.idxmax())
    return C.claim(f"same_width.{tensor}", statement + f" (the most at {top} bits: {_side(float(spread.max()), margin)} "
                   "points)", spread.max() > margin,
                   "spread of best-case accuracy over fractional widths per width: "
                   + ", ".join(f"{int(k)} bits: {v:.2f} points" for k, v in spread.items()),
                   test="spread per width", spread_pts=spread.to_dict())


def clipping_claim(df: pd.DataFrame, threshold: float = CLIP_SHARE) -> C.Claim:
    """"The configurations that clip are the ones that lose": the ones clipping at least ``threshold``
    of the Linear's inputs or weights against the others; holds when every clipping configuration
    loses more than every other one, refuted (by the overlapping pair) otherwise, not applicable when
    none clips or all do. Evidence adds Spearman's rho of clip share against loss (descriptive)."""
    share = df[["data_in_clip_share", "weight_clip_share"]].max(axis=1)
    clip, rest = df[share >= threshold], df[share < threshold]
    rho, p = S.spearman(share, df["drop_pts"])
    evidence = (f"Spearman rho(clip share, loss) = {rho:.2f}, {C.fmt_p(p)}, "
                f"n = {len(df)}; {len(clip)} clip, {len(rest)} do not")
    head = (f"the configurations that clip ≥ {threshold:.0%} of the Linear's inputs or weights lose more accuracy "
            "against float than every configuration that does not")
    if clip.empty or rest.empty:
        return C.claim("clipping", head, C.NOT_APPLICABLE, evidence + " (one group is empty)", test="Spearman")
    lo, hi = float(clip["drop_pts"].min()), float(rest["drop_pts"].max())
    lo_s, hi_s = _apart(lo, hi)
    return C.claim("clipping", f"{head}: the {len(clip)} that clip lose at least {lo_s} points, the {len(rest)} "
                   f"{'other' if len(rest) == 1 else 'others'} at most {hi_s}", lo > hi, evidence, test="group separation, Spearman", min_clip_drop=lo,
                   max_other_drop=hi, rho=rho, p=p)


def _width_pairs(q: pd.DataFrame, tensor: str) -> pd.DataFrame:
    """Pairs of configurations that differ only in ``tensor``'s width (the other tensor's format and this
    tensor's fractional width aside): ``narrow`` and ``wide`` row positions of ``q``."""
    other = "weight" if tensor == "data_in" else "data_in"
    w, keep = f"{tensor}_width", [f"{other}_width", f"{other}_frac_width"]
    rows = []
    for _, g in q.reset_index(drop=True).groupby(keep, sort=False):
        for a in g.index:
            for b in g.index:
                if q[w].iloc[a] < q[w].iloc[b]:
                    rows.append({"narrow": a, "wide": b})
    return pd.DataFrame(rows, columns=["narrow", "wide"])


def latency_cycles_check(table: pd.DataFrame, cycles: str = "latency_cycles") -> C.ReportCheck:
    """The report's "latency rises with precision" against the hardware cycle model
    (:func:`lab_utils.analysis.hardware.dense_latency_cycles`: per dense layer ``RF − 1`` + 1 multiply
    cycle + the shift-add tree's adder levels at 0.86 ns each packed into clock periods, 1 per ReLU and
    standalone BatchNorm; deterministic, no timing). Along each width axis (pairs of configurations that
    differ only in that tensor's width) the latency rises, stays or falls: *agrees* when it rises along
    both axes and never falls; *disagrees* when it rises nowhere; *partly* otherwise. Spearman's rho of
    the bit product ``data_in × weight width`` against the cycles is shown (undefined when the cycles are
    constant). The batch latency follows: ``latency + (B − 1)·II`` cycles."""
    q = table[~table["float"]].reset_index(drop=True) if "float" in table else table.reset_index(drop=True)
    c = q[cycles].to_numpy(float)
    axes, parts = {}, []
    for tensor in ("data_in", "weight"):
        pairs = _width_pairs(q, tensor)
        d = c[pairs["wide"].to_numpy(int)] - c[pairs["narrow"].to_numpy(int)]
        up, same, down = int((d > 0).sum()), int((d == 0).sum()), int((d < 0).sum())
        axes[tensor] = (up, same, down)
        parts.append(f"wider {tensor}: rises in {up}, stays in {same}, falls in {down} of {len(d)} pairs")
    rho = S.spearman(q["data_in_width"] * q["weight_width"], c)[0] if np.ptp(c) > 0 else float("nan")
    rho_txt = f"{rho:.2f}" if np.isfinite(rho) else "undefined (constant cycles)"
    ii = int(q["ii_cycles"].max()) if "ii_cycles" in q else 1
    clock = f" ({q['latency_ns'].min():g}–{q['latency_ns'].max():g} ns)" if "latency_ns" in q else ""
    shows = (f"estimated cycle model (hls4ml Latency strategy, RF 1, 200 MHz; deterministic): {cycles} from "
             f"{int(c.min())} to {int(c.max())}{clock} over {len(q)} configurations; " + "; ".join(parts)
             + f"; Spearman rho(data_in × weight width, {cycles}) = {rho_txt}; II = {ii} cycle(s), so a batch of B "
             "takes latency + (B − 1)·II cycles. In this model the data width does not enter the latency (the adder "
             "levels come from the weights' signed digits); the CPU time of the fake-quantized model is a measured "
             "figure of this machine, not used")
    rising = [t for t, (up, _, down) in axes.items() if up and not down]
    if len(rising) == 2:
        verdict = "agrees"
    elif not any(up for up, _, _ in axes.values()):
        verdict = "disagrees"
    else:
        verdict = "partly"
    return C.report_check("latency rises with precision", "a noticeable increase in the latency of a batch as "
                          "the precision of data, weights and biases increases", shows, verdict)


def cpu_timing(table: pd.DataFrame) -> dict:
    """The CPU timing of :func:`lab_utils.labs.lab3.metric_grid` as measured figures of this machine (never a
    verdict: fake quantization computes in float32, so it cannot say how fixed-point hardware follows the
    widths): float and quantized median / min / max ms per batch, Spearman's rho of the bit product against
    them, the thread count."""
    q, flt = table[~table["float"]], table[table["float"]].iloc[0]
    return {"float_ms": float(flt["latency_ms"]), "median_ms": float(q["latency_ms"].median()),
            "min_ms": float(q["latency_ms"].min()), "max_ms": float(q["latency_ms"].max()),
            "rho": float(S.spearman(q["data_in_width"] * q["weight_width"], q["latency_ms"])[0]),
            "threads": int(flt["threads"]), "n": int(len(q))}


def ptq_check(df: pd.DataFrame, widest: C.Claim, margin: float = MARGIN_PTS, where: str = "grid") -> C.ReportCheck:
    """The report's "PTQ does not compromise validation accuracy" against the paired widest-format check
    and the number of configurations losing more than ``margin`` points."""
    losing = df[df["drop_pts"] > margin]
    shows = (f"widest configuration: {widest.evidence.split(' (')[0]} ({widest.verdict}); "
             f"{len(losing)} of {len(df)} configurations in the {where} lose more than {margin:g} point"
             + (f" (up to {losing['drop_pts'].max():.2f})" if len(losing) else ""))
    if widest.holds and losing.empty:
        verdict = "agrees"
    elif widest.holds is False and len(losing) == len(df):
        verdict = "disagrees"
    else:  # some formats keep accuracy, some lose it (or the widest cannot be decided)
        verdict = "partly"
    return C.report_check("PTQ keeps accuracy", "Post-Training Quantization does not compromise validation accuracy",
                          shows, verdict)


def bitop_conventions(qmodels: dict, input_shape: tuple, batch_size: int, bias_width: int) -> pd.DataFrame:
    """Per quantized model (``label -> (model, data_in_width, weight_width)``): the Linear bit-ops per batch
    under the standard count and the lab report's, their ratio against ``(2K−1)/K`` (K inputs per output,
    the report's extra ``(K−1)`` additions at ``a·w`` bits), the report's function called with the
    arguments in order, and as the report called it (weight, bias, data widths into data, weight, bias)."""
    rows = []
    for label, (m, a, w) in qmodels.items():
        std = cost.cost_table(m, input_shape, batch_size)
        rep = cost.cost_table(m, input_shape, batch_size, convention="lab-report")
        lin_std = int(std.loc[std["op"] == "linear", "bitops"].sum())
        lin_rep = int(rep.loc[rep["op"] == "linear", "bitops"].sum())
        k = int(next(x.in_features for x in m.modules() if isinstance(x, nn.Linear)))
        rows.append({"config": label, "standard (Linear)": lin_std, "lab report (Linear)": lin_rep,
                     "ratio": lin_rep / lin_std, "(2K-1)/K": (2 * k - 1) / k,
                     "report's function, arguments in order": cost.report_bit_wise_op(m, input_shape, a, w, bias_width,
                                                                                    batch_size),
                     "report's call as written": cost.report_bit_wise_op(m, input_shape, w, bias_width, a, batch_size),
                     "standard (all layers)": int(std.iloc[-1]["bitops"])})
    return pd.DataFrame(rows)


def metric_code_checks(conv: pd.DataFrame, qmodel, input_shape: tuple, batch_size: int) -> list[C.ReportCheck]:
    """The report's metric-code mistakes replayed: the bit-op call's argument order (from
    :func:`bitop_conventions`), the call without a batch size, and the ReLU FLOPs."""
    as_written, in_order = "report's call as written", "report's function, arguments in order"
    wrong = conv[conv[as_written] != conv[in_order]]
    ex = wrong.iloc[0] if len(wrong) else conv.iloc[0]
    order = C.report_check(
        "bit-op call: argument order", "bit_wise_op(mg.model, (16,), weight_bit_width, bias_bit_width, data_bit_width, "
        "batch_size) for the signature (model, input_res, data_width, weight_width, bias_width, batch_size)",
        f"the call as written gives a different count for {len(wrong)} of {len(conv)} configurations (e.g. "
        f"{ex['config']}: {ex['report' + chr(39) + 's call as written']:,} instead of "
        f"{ex['report' + chr(39) + 's function, arguments in order']:,})", len(wrong) == 0)
    try:
        cost.report_bit_wise_op(qmodel, input_shape, 8, 8, 8)
        shows, ok = "the call runs", True
    except TypeError as exc:
        shows, ok = f"the call raises TypeError ({exc})", False
    batch = C.report_check("bit-op call: batch size", "bit_wise_op(mg.model, (16,), data_bit_width, weight_bit_width, "
                           "bias_bit_width) (first listing, no batch_size)", shows, ok)
    relu = []
    for name in ("jsc-tiny", "jsc-three-linear-layers"):
        t = cost.cost_table(build_model(name), input_shape, batch_size)
        relu.append((name, int(t.loc[t["op"] == "relu", "flops"].sum()), cost.report_relu_flops(batch_size)))
    same = [r[1] == r[2] for r in relu]
    flops = C.report_check(
        "ReLU FLOPs", "calculate_flop_for_relu(get_node_actual_target(node), 16, batch_size) + (..., 5, batch_size), "
        "called after the node loop (node = the last node, not a ReLU)",
        "; ".join(f"{n}: ReLU FLOPs per batch {ours:,}, the report's {theirs:,}" for n, ours, theirs in relu)
        + " (the count ignores the node and hard-codes 16 + 5 features: right only where the ReLUs have them)",
        "agrees" if all(same) else ("partly" if any(same) else "disagrees"))
    return [order, batch, flops]


def _name(df: pd.DataFrame, i: int, label: str = "config") -> str:
    return str(df[label].iloc[i]) if label in df else f"row {i}"


def scaled_sum_claim(df: pd.DataFrame, sum_col: str, units: str, scales: dict, bits: str = "average_bitwidth") -> C.Claim:
    """"The scaled sum (accuracy ``units``) orders the configurations by bitwidth alone": over every pair
    with different bitwidths, does the one with fewer bits always get the higher sum?

    ``scales`` are the sum's (:func:`lab_utils.labs.lab3.scaled_sum`: ``bits`` with a negative scale, the
    quality metrics with theirs). When ``|scale of bits|`` × the smallest bitwidth gap between two
    configurations exceeds the whole span the quality terms take over them, the order by bits is an
    arithmetic consequence of the units: a :func:`~lab_utils.analysis.claims.check` (it fails only if the
    sum is computed wrongly). Otherwise it is a finding: holds when no pair goes against it, refuted by
    the counterexample pairs (named in the evidence).
    """
    s, b = df[sum_col].to_numpy(float), df[bits].to_numpy(float)
    i, j = np.triu_indices(len(df), 1)
    differ = b[i] != b[j]
    # against: the one with fewer bits does not get a strictly higher sum (a tie counts against, whichever row is first)
    bad = ((b[i] < b[j]) & ~(s[i] > s[j])) | ((b[i] > b[j]) & ~(s[j] > s[i]))
    against, n = int(bad.sum()), int(differ.sum())
    bit_scale = -float(scales[bits])
    span = sum(abs(float(v)) * float(df[m].max() - df[m].min()) for m, v in scales.items() if m != bits)
    gaps = np.abs(b[i] - b[j])[differ]
    gap = float(gaps.min()) if len(gaps) else float("nan")
    bound = bit_scale * gap
    numbers = {"pairs_against": against, "pairs": n, "bit_gap": gap, "bit_term_step": bound, "quality_span": span}
    quality = ", ".join(m for m in scales if m != bits)
    evidence = (f"{against} of {n} pairs with different bitwidths are ordered otherwise; {quality} spans "
                f"{span:.4g} in the sum, one bitwidth step ({gap:g} bits × {bit_scale:g}) is worth {bound:.4g}")
    if n and bit_scale > 0 and bound > span:
        return C.check(f"scaled_sum.{sum_col}", f"with accuracy {units}, the scaled sum orders the configurations by "
                       f"bitwidth alone (fewer bits always rank higher): an arithmetic consequence of the units, since "
                       f"the smallest bitwidth step is worth {bound:.4g} in the sum and the accuracy term spans only "
                       f"{span:.4g}", against == 0, evidence, test="pairwise order against the units' bound", **numbers)
    if against:
        k = int(np.flatnonzero(bad)[0])
        lo, hi = (i[k], j[k]) if b[i[k]] < b[j[k]] else (j[k], i[k])
        evidence = (f"refuted by counterexample: {evidence}; e.g. {_name(df, hi)} ({b[hi]:g} bits, sum {s[hi]:.4g}) "
                    f"ranks at or above {_name(df, lo)} ({b[lo]:g} bits, sum {s[lo]:.4g})")
    return C.claim(f"scaled_sum.{sum_col}", f"with accuracy {units}, the scaled sum still orders the configurations "
                   "by bitwidth alone (fewer bits always rank higher, whatever the accuracy)", n > 0 and against == 0,
                   evidence, test="pairwise order", **numbers)


def accuracy_loss_claim(df: pd.DataFrame) -> tuple[C.Claim, C.ReportCheck]:
    """Do accuracy and loss order the configurations the same way (no discordant pair: refuted by one),
    and are they inversely proportional (accuracy × loss constant, within 5 %), as the lab report said?
    Kendall's tau is descriptive here: the statement is about every pair."""
    tau, p = S.kendall(df["accuracy"], -df["loss"])
    acc, loss = df["accuracy"].to_numpy(float), df["loss"].to_numpy(float)
    i, j = np.triu_indices(len(df), 1)
    opposite = ((acc[i] - acc[j]) * (loss[j] - loss[i])) < 0
    discordant = int(opposite.sum())
    product = acc * loss
    ratio = float(product.max() / product.min())
    evidence = (f"Kendall tau(accuracy, −loss) = {tau:.2f}, {C.fmt_p(p)}, n = {len(df)} "
                f"configurations; {discordant} of {len(i)} pairs ordered oppositely")
    said = evidence
    if discordant:
        ex = "; ".join(f"{_name(df, a)} vs {_name(df, b)}" for a, b in zip(i[opposite][:3], j[opposite][:3]))
        said = (f"refuted by counterexample: {discordant} of {len(i)} pairs are ordered oppositely ({ex}: one is more "
                f"accurate, the other has the lower loss), although the orders agree overall (Kendall tau(accuracy, "
                f"−loss) = {tau:.2f}, {C.fmt_p(p)}, n = {len(df)} configurations)")
    c = C.claim("accuracy_loss_order", f"accuracy and loss order the {len(df)} configurations the same way: in no "
                "pair is one configuration more accurate and the other lower in loss", discordant == 0, said,
                test="discordant pairs (Kendall tau descriptive)", discordant=discordant, pairs=int(len(i)),
                tau=tau, p=p)
    monotone = tau > 0 and p < S.ALPHA
    verdict = "agrees" if discordant == 0 and ratio < 1.05 else ("partly" if monotone else "disagrees")
    check = C.report_check("accuracy and loss inversely proportional",
                           "accuracy and loss are inversely proportional: as accuracy increases the loss decreases",
                           f"{evidence}; accuracy × loss varies by a factor {ratio:.2f} across configurations "
                           "(proportional would keep it constant)", verdict)
    return c, check


def search_frame(trials: pd.DataFrame, float_accuracy: float) -> pd.DataFrame:
    """The completed trials of a by-name search of one Linear with the lab's column names
    (``data_in_width`` ...) and ``drop_pts`` = float minus trial accuracy, in points."""
    done = trials[trials["state"] == "COMPLETE"].copy()
    for key in ("data_in_width", "data_in_frac_width", "weight_width", "weight_frac_width"):
        col = next(c for c in done.columns if c.endswith("/" + key) or c.endswith("." + key) or c == key)
        done[key] = done[col].astype(int)
    done["drop_pts"] = 100 * (float_accuracy - done["accuracy"])
    return done


def coverage_claims(coverage: dict, frame: pd.DataFrame, lab_grid) -> tuple[C.Claim, C.ReportCheck]:
    """Brute force evaluated each unique configuration once (an implementation check); the report's "256 combinations cover the
    space" against what 256 index combinations hold (unique configurations, the lab grid's 16 included?)."""
    unique, combos = coverage["unique configurations"], coverage["index combinations (MASE, with duplicates)"]
    once = (coverage["unique configurations evaluated"] == unique and coverage["configurations evaluated twice"] == 0)
    c = C.check("exactly_once", f"brute force evaluated each of the {unique} unique configurations exactly once", once,
                f"{coverage['trials complete']} trials complete, {coverage['unique configurations evaluated']} unique "
                f"evaluated, {coverage['configurations evaluated twice']} evaluated twice", test="count")
    have = set(zip(frame["data_in_width"], frame["data_in_frac_width"], frame["weight_width"],
                   frame["weight_frac_width"]))
    lab = {(a[0], a[1], w[0], w[1]) for a, w in lab_grid}
    covered = len(lab & have)
    check = C.report_check("256 combinations cover the space", "4×4×4×4 = 256 search options comprehensively cover "
                           "the previously defined search space",
                           f"the 256 index combinations hold {unique} unique configurations ({combos - unique} "
                           f"duplicates); they include {covered} of the lab grid's {len(lab)} configurations",
                           "partly" if covered == len(lab) and combos > unique else covered == len(lab))
    return c, check


def proxy_claims(q: pd.DataFrame) -> list[C.Claim]:
    """Two checks of the counts' definitions: FLOPs do not change with the widths; size rises with the
    weight width and bit-ops with the product data_in × weight width (Spearman's rho over the
    configurations, 1 = the same order). Either fails only if the cost counts are wrong."""
    size = S.spearman(q["weight_width"], q["size_bytes"])[0]
    bitops = S.spearman(q["data_in_width"] * q["weight_width"], q["bitops"])[0]
    return [C.check("flops_constant", "FLOPs are the same for every configuration (widths change the bits, not the "
                    "operations: a definition of the count)", q["flops"].nunique() == 1,
                    f"{q['flops'].nunique()} distinct FLOP count(s) over {len(q)} configurations", test="count"),
            C.check("size_bitops_follow_widths", "size rises with the weight width and bit-ops with data_in × weight "
                    "width (the definitions of the counts)", size > 0.999 and bitops > 0.999,
                    f"Spearman rho(weight width, size) = {size:.2f}, rho(data_in × weight width, bit-ops) = "
                    f"{bitops:.2f}, n = {len(q)}", test="Spearman")]
