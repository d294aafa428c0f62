"""Lab 3's computed conclusions (lab3_1 to lab3_3): what the quantization grid shows and the lab report's
own claims, each a :class:`lab_utils.analysis.claims.Claim` or ``ReportCheck`` built from the run's numbers.

How it works. A fixed-point format ``(width, frac)`` holds ``clamp(round(x·2^f), −2^(w−1), 2^(w−1)−1)/2^f``:
its range is set by the *integer bits* ``w − f`` (sign included), its step by ``f``.
:func:`clipping` feeds a split through the float model, records the inputs of every Linear (forward
hooks) and counts, per format, the share of input and weight values the clamp changes — exactly, by
applying the quantizer's own rounding. :func:`range_claim` then asks whether the formats with too few
integer bits are the ones that lose accuracy (best case over the other tensor's formats, so a loss is
not blamed on the wrong tensor). Accuracy differences against float are paired (same jets):
:func:`matches_float` gives the difference, Agresti and Min's 95 % interval and McNemar's exact test
on the discordant jets (:func:`lab_utils.analysis.stats.paired_binary`).

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
    Min's paired 95 % interval and McNemar's exact p (:func:`lab_utils.analysis.stats.paired_binary`);
    holds when the interval lies inside the margin, does not hold when it lies outside it,
    undetermined otherwise."""
    d = S.paired_binary(gained, lost, n)  # first = the quantized model: n10 = gained, n01 = lost
    pts = {"diff_pts": 100 * d["diff"], "low_pts": 100 * d["low"], "high_pts": 100 * d["high"], "p": d["p"], "n": n}
    return C.claim(key, f"{label} matches float accuracy within ±{margin:g} points",
                   S.interval_verdict(pts["low_pts"], pts["high_pts"], within=margin),
                   f"difference {pts['diff_pts']:+.2f} points (95 % CI {pts['low_pts']:+.2f} to {pts['high_pts']:+.2f}), "
                   f"McNemar exact {C.fmt_p(d['p'])}, {lost} jets lost / {gained} gained of n = {n}",
                   test="paired difference (Agresti-Min 95 % CI), McNemar exact", **pts)


def range_claim(df: pd.DataFrame, tensor: str, observed_max: float, margin: float = MARGIN_PTS) -> C.Claim:
    """Do ``tensor``'s formats with too few integer bits lose accuracy whatever the other tensor's format?

    ``df`` has ``drop_pts`` (float minus quantized, points), ``{tensor}_integer_bits`` and
    ``{tensor}_format_max``. For each integer-bit count the *best case* over the other tensor's
    formats is taken; ``k`` is the largest count up to which every best case loses more than ``margin``.
    Holds when such ``k`` exists, every larger count has a best case within ``margin``, and the
    formats up to ``k`` top out below the observed largest value (so the range explains the loss).
    """
    bits = f"{tensor}_integer_bits"
    best = df.groupby(bits)["drop_pts"].min().sort_index()
    tops = df.groupby(bits)[f"{tensor}_format_max"].max()
    lossy = (best > margin).to_numpy()
    per_bits = ", ".join(f"{int(b)}: {v:.2f}" for b, v in best.items())
    evidence = (f"best-case loss (points) per {tensor} integer-bit count: {per_bits}; "
                f"largest observed |{tensor}| {observed_max:.2f}; n = {len(df)} configurations")
    if not lossy[0]:
        return C.claim(f"range.{tensor}", f"{tensor} formats with the fewest integer bits lose more than {margin:g} point against "
                       "float whatever the other tensor's format", False, evidence, test="best case per group",
                       best_case_drop=best.to_dict())
    n_prefix = int(np.argmin(lossy)) if not lossy.all() else len(lossy)
    k = int(best.index[n_prefix - 1])
    top = float(tops.loc[:k].max())
    clean = not lossy[n_prefix:].any()
    rest = best.iloc[n_prefix:]
    what = "inputs" if tensor == "data_in" else "weights"
    statement = (f"{tensor} formats with ≤ {k} integer bits (sign included; they hold at most {top:.2f}, the "
                 f"{what} reach {observed_max:.2f}) lose more than {margin:g} point against float whatever the "
                 f"other tensor's format (best case {best.iloc[:n_prefix].min():.2f} points)"
                 + (f"; with more integer bits the best case loses at most {rest.max():.2f}" if len(rest) else ""))
    return C.claim(f"range.{tensor}", statement, clean and top < observed_max, evidence, test="best case per integer-bit count",
                   k=k, format_max=top, observed_max=observed_max, best_case_drop=best.to_dict())


def step_claim(df: pd.DataFrame, tensor: str, margin: float = MARGIN_PTS) -> C.Claim:
    """Does a coarse step (few fractional bits) lose accuracy whatever the width (range) and the other
    tensor's format? Per fractional width the best case over everything else; ``f`` is the largest
    fractional width up to which every best case loses more than ``margin``. Holds when such ``f``
    exists and every finer step has a best case within ``margin``."""
    frac = f"{tensor}_frac_width"
    best = df.groupby(frac)["drop_pts"].min().sort_index()
    lossy = (best > margin).to_numpy()
    evidence = (f"best-case loss (points) per {tensor} fractional width: "
                + ", ".join(f"{int(b)}: {v:.2f}" for b, v in best.items()) + f"; n = {len(df)} configurations")
    if not lossy[0]:
        return C.claim(f"step.{tensor}", f"{tensor} formats with the fewest fractional bits (the coarsest step) lose more than "
                       f"{margin:g} point against float whatever their width", False, evidence,
                       test="best case per fractional width", best_case_drop=best.to_dict())
    n_prefix = int(np.argmin(lossy)) if not lossy.all() else len(lossy)
    f = int(best.index[n_prefix - 1])
    rest = best.iloc[n_prefix:]
    return C.claim(f"step.{tensor}", f"{tensor} formats with ≤ {f} fractional bits (a step of 1/{2 ** f} or coarser) lose more than "
                   f"{margin:g} point against float whatever their width and the other tensor's format (best case "
                   f"{best.iloc[:n_prefix].min():.2f} points)"
                   + (f"; with finer steps the best case loses at most {rest.max():.2f}" if len(rest) else ""),
                   len(rest) > 0 and not lossy[n_prefix:].any(), evidence, test="best case per fractional width",
                   f=f, best_case_drop=best.to_dict())


def same_width_claim(df: pd.DataFrame, tensor: str, margin: float = MARGIN_PTS) -> C.Claim:
    """"At a fixed ``tensor`` width the fractional width decides": per width, the spread (points) of the
    best-case accuracy over its fractional widths; holds when some width spreads more than ``margin``."""
    w, f = f"{tensor}_width", f"{tensor}_frac_width"
    best = df.groupby([w, f])["accuracy"].max().mul(100)
    spread = best.groupby(level=0).agg(lambda s: s.max() - s.min())
    spread = spread[best.groupby(level=0).size() > 1]
    if spread.empty:
        return C.claim(f"same_width.{tensor}", f"at a fixed {tensor} width the fractional width changes accuracy", None,
                       "no width has two fractional widths in this grid", test="spread per width")
    top = int(spread.idxmax())
    return C.claim(f"same_width.{tensor}", f"at a fixed {tensor} width the fractional width, not the bit count, decides accuracy: at "
                   f"{top} bits it moves the best case by {spread.max():.2f} points",
                   spread.max() > margin,
                   "spread of best-case accuracy over fractional widths per width: "
                   + ", ".join(f"{int(k)} bits: {v:.2f} points" for k, v in spread.items()),
                   test="spread per width", spread_pts=spread.to_dict())


def clipping_claim(df: pd.DataFrame, threshold: float = CLIP_SHARE) -> C.Claim:
    """"The configurations that clip are the ones that lose": the ones clipping at least ``threshold``
    of the Linear's inputs or weights against the others; holds when every clipping configuration
    loses more than every other one. Evidence adds Spearman's rho of clip share against loss."""
    share = df[["data_in_clip_share", "weight_clip_share"]].max(axis=1)
    clip, rest = df[share >= threshold], df[share < threshold]
    rho, p = S.spearman(share, df["drop_pts"])
    evidence = (f"Spearman rho(clip share, loss) = {rho:.2f}, {C.fmt_p(p)}, "
                f"n = {len(df)}; {len(clip)} clip, {len(rest)} do not")
    if clip.empty or rest.empty:
        return C.claim("clipping", f"the configurations that clip ≥ {threshold:.0%} of the Linear's inputs or weights are the "
                       "ones that lose accuracy", None, evidence + " (one group is empty)", test="Spearman")
    lo, hi = float(clip["drop_pts"].min()), float(rest["drop_pts"].max())
    return C.claim("clipping", f"the {len(clip)} configurations that clip ≥ {threshold:.0%} of the Linear's inputs or weights "
                   f"lose at least {lo:.2f} points against float; the {len(rest)} others lose at most {hi:.2f}",
                   lo > hi, evidence, test="group separation, Spearman", min_clip_drop=lo, max_other_drop=hi,
                   rho=rho, p=p)


def latency_claims(table: pd.DataFrame) -> tuple[C.Claim, C.ReportCheck]:
    """Does latency rise with precision (Spearman of the bit product data_in × weight width against the
    median latency, over the quantized configurations)? And is fake quantization faster than float?"""
    q = table[~table["float"]]
    flt = table[table["float"]].iloc[0]
    rho, p = S.spearman(q["data_in_width"] * q["weight_width"], q["latency_ms"])
    rises = rho > 0 and p < S.ALPHA
    c = C.claim("latency.slower_than_float", "every fake-quantized configuration is slower per batch than float on this CPU",
                bool((q["latency_ms"] > flt["latency_ms"]).all()),
                f"float {flt['latency_ms']:.3f} ms (IQR {flt['latency_iqr_ms']:.3f}); quantized median "
                f"{q['latency_ms'].median():.3f} ms (min {q['latency_ms'].min():.3f}, max {q['latency_ms'].max():.3f}); "
                f"median of timed blocks, {int(flt['threads'])} thread(s), machine shared", test="comparison of medians")
    shows = (f"Spearman rho(data_in × weight width, latency) = {rho:.2f}, {C.fmt_p(p)}, "
             f"n = {len(q)} configurations: " + ("latency rises with precision" if rises else "no rise detected")
             + "; fake quantization computes in float32, so widths cannot change CPU time")
    return c, C.report_check("latency rises with precision", "a noticeable increase in the latency of a batch as "
                             "the precision of data, weights and biases increases", shows, bool(rises))


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


def scaled_sum_claim(df: pd.DataFrame, sum_col: str, units: str, bits: str = "average_bitwidth") -> C.Claim:
    """"The scaled sum (``units``) orders the configurations by bitwidth alone": over every pair with
    different bitwidths, does the one with fewer bits always get the higher sum?"""
    s, b = df[sum_col].to_numpy(float), df[bits].to_numpy(float)
    i, j = np.triu_indices(len(df), 1)
    differ = b[i] != b[j]
    # against: the one with fewer bits does not get a strictly higher sum (a tie counts against, whichever row is first)
    against = int((((b[i] < b[j]) & ~(s[i] > s[j])) | ((b[i] > b[j]) & ~(s[j] > s[i]))).sum())
    n = int(differ.sum())
    return C.claim(f"scaled_sum.{sum_col}", f"with accuracy {units}, the scaled sum orders the configurations by bitwidth alone (fewer bits "
                   "always rank higher, whatever the accuracy)", n > 0 and against == 0,
                   f"{against} of {n} pairs with different bitwidths are ordered otherwise; accuracy spans "
                   f"{df['accuracy'].min():.4f} to {df['accuracy'].max():.4f} (fraction)", test="pairwise order",
                   pairs_against=against, pairs=n)


def accuracy_loss_claim(df: pd.DataFrame) -> tuple[C.Claim, C.ReportCheck]:
    """Do accuracy and loss order the configurations the same way (no discordant pair), and are they
    inversely proportional (accuracy × loss constant, within 5 %), as the lab report said?"""
    tau, p = S.kendall(df["accuracy"], -df["loss"])
    acc, loss = df["accuracy"].to_numpy(float), df["loss"].to_numpy(float)
    i, j = np.triu_indices(len(df), 1)
    discordant = int((((acc[i] - acc[j]) * (loss[j] - loss[i])) < 0).sum())
    product = acc * loss
    ratio = float(product.max() / product.min())
    evidence = (f"Kendall tau(accuracy, −loss) = {tau:.2f}, {C.fmt_p(p)}, n = {len(df)} "
                f"configurations; {discordant} of {len(i)} pairs ordered oppositely")
    c = C.claim("accuracy_loss_order", "accuracy and loss order the configurations the same way (every pair)", discordant == 0, evidence,
                test="Kendall tau, discordant pairs", discordant=discordant, pairs=int(len(i)),
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
    """Brute force evaluated each unique configuration once; the report's "256 combinations cover the
    space" against what 256 index combinations hold (unique configurations, the lab grid's 16 included?)."""
    unique, combos = coverage["unique configurations"], coverage["index combinations (MASE, with duplicates)"]
    once = (coverage["unique configurations evaluated"] == unique and coverage["configurations evaluated twice"] == 0)
    c = C.claim("exactly_once", f"brute force evaluated each of the {unique} unique configurations exactly once", once,
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
    """FLOPs do not change with the widths; size follows the weight width and bit-ops the product
    data_in × weight width (Spearman's rho over the configurations, 1 = the same order)."""
    size = S.spearman(q["weight_width"], q["size_bytes"])[0]
    bitops = S.spearman(q["data_in_width"] * q["weight_width"], q["bitops"])[0]
    return [C.claim("flops_constant", "FLOPs are the same for every configuration (widths change the bits, not the operations)",
                    q["flops"].nunique() == 1, f"{q['flops'].nunique()} distinct FLOP count(s) over {len(q)} "
                    "configurations", test="count"),
            C.claim("size_bitops_follow_widths", "size falls with the weight width and bit-ops with data_in × weight width",
                    size > 0.999 and bitops > 0.999, f"Spearman rho(weight width, size) = {size:.2f}, "
                    f"rho(data_in × weight width, bit-ops) = {bitops:.2f}, n = {len(q)}", test="Spearman")]
