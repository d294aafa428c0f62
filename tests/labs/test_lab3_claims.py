"""lab3_claims: every finding on constructed inputs that give it at least two verdicts, every check passing
and failing; clip shares and the report's replayed code against hand counts."""

import math
import re

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lab_utils.labs import lab3
from lab_utils.labs import lab3_claims as L
from lab_utils.models import build_model
from lab_utils.passes.quantize import integer_quantize
from tests.oracles import kendall_greater_p, spearman_p, spearman_rho


def test_format_max_and_clip_share_match_the_quantizer():
    assert L.format_max(8, 6) == 127 / 64 and L.format_max(4, 8) == 7 / 256
    x = torch.tensor([0.0, 1.0, 1.98, 1.999, 2.5, -2.0, -2.01, 100.0])
    # oracle: a value is clipped when the quantizer's output differs from the unclamped rounding
    unclamped = torch.round(x * 64) / 64
    expected = float((integer_quantize(x, 8, 6) != unclamped).float().mean())
    assert L.clip_share(x, 8, 6) == pytest.approx(expected) == pytest.approx(4 / 8)  # 2.5, -2.01, 100 and 1.999→2.0
    assert L.clip_share(x, 16, 8) == pytest.approx(0.0)


def test_clipping_reads_the_linear_inputs():
    model = build_model("jsc-tiny", logit_relu=False).eval()
    x = torch.randn(500, 16, generator=torch.Generator().manual_seed(0)) * 3
    clips = L.clipping(model, x, [(8, 6), (16, 8)])
    with torch.no_grad():
        inputs = model.seq_blocks[1](model.seq_blocks[0](x))  # BN then ReLU: what the Linear sees
    assert clips.attrs["input_max_abs"] == pytest.approx(float(inputs.abs().max()))
    row = clips.set_index(["width", "frac"]).loc[(8, 6)]
    assert row["input_clip_share"] == pytest.approx(float((torch.round(inputs * 64) > 127).float().mean()))
    assert row["integer_bits"] == 2


def test_matches_float_both_ways_with_its_evidence_numbers():
    c = L.matches_float("matches_float.t", "x", lost=30, gained=10, n=10_000)
    # quantized minus float: (10 - 30) / 10,000 = -0.2 points; Agresti-Min: (10 - 30) / 10,002 +/- z * se with
    # se = sqrt((41 / 10,002 - (20 / 10,002)^2) / 10,002); McNemar exact: 2 * P(X <= 10), X ~ Bin(40, 1/2)
    se = math.sqrt((41 / 10_002 - (20 / 10_002) ** 2) / 10_002)
    assert c.numbers["diff_pts"] == pytest.approx(-0.2)
    assert c.numbers["low_pts"] == pytest.approx(100 * (-20 / 10_002 - 1.959964 * se), abs=1e-5)
    assert c.numbers["high_pts"] == pytest.approx(100 * (-20 / 10_002 + 1.959964 * se), abs=1e-5)
    assert c.numbers["p"] == pytest.approx(2 * sum(math.comb(40, k) for k in range(11)) / 2**40)
    assert c.key == "matches_float.t" and "30 jets lost / 10 gained of n = 10000" in c.evidence
    assert c.holds is True  # CI about -0.33..-0.07: inside ±0.5
    assert L.matches_float("matches_float.t", "x", 900, 10, 10_000).holds is False  # about -8.9 points
    assert L.matches_float("matches_float.t", "x", 3, 2, 500).holds is None  # too few jets: the interval (±0.9 points) spans the margin
    assert L.matches_float("matches_float.t", "x", 0, 0, 100).holds is None  # nothing discordant on 100 jets proves nothing
    # read by claims.interval_claim: the interval and its rule recorded; not shown says what it could have detected
    assert c.numbers["rule"] == {"within": 0.5} and c.numbers["interval"] == [c.numbers["low_pts"], c.numbers["high_pts"]]
    few = L.matches_float("matches_float.t", "x", 3, 2, 500)
    assert few.verdict == "not shown" and "could detect (80 % power) an effect of about" in few.evidence
    assert L.matches_float("matches_float.t", "x", 900, 10, 10_000).verdict == "refuted"


def _grid(drops, in_bits, w_bits=None):
    n = len(drops)
    w_bits = w_bits or [8] * n
    return pd.DataFrame({"drop_pts": drops, "data_in_integer_bits": in_bits, "weight_integer_bits": w_bits,
                         "data_in_format_max": [2.0 ** (b - 1) for b in in_bits],
                         "weight_format_max": [2.0 ** (b - 1) for b in w_bits],
                         "data_in_clip_share": [0.2 if b <= 2 else 0.0 for b in in_bits],
                         "weight_clip_share": [0.0] * n, "accuracy": [0.7 - d / 100 for d in drops],
                         "data_in_width": [8] * n, "data_in_frac_width": [8 - b for b in in_bits]})


def _formats(rows, tensor="weight", other_worse=2.0):
    """A search frame from ``(width, frac, clip share, best-case loss)`` per ``tensor`` format: two
    configurations each (the other tensor's format at its best, and one losing ``other_worse`` more)."""
    out = []
    for w, f, clip, best in rows:
        for extra in (0.0, other_worse):
            out.append({f"{tensor}_width": w, f"{tensor}_frac_width": f, f"{tensor}_format_max": L.format_max(w, f),
                        f"{tensor}_clip_share": clip, "drop_pts": best + extra})
    return pd.DataFrame(out)


# lab3_3's weights in the previous full run (best case per format, largest |weight| 3.34); the old range rule
# grouped them by integer bits and said "weight formats with <= 0 integer bits (...) lose more than 1 point
# (...) (best case 24.35 points); with more integer bits the best case loses at most 1.77" and "does not
# hold": the 1.77 came from 2 fractional bits (a step problem) at 6 and 14 integer bits.
LAB3_3_WEIGHTS = [(4, 8, 0.90, 53.09), (4, 6, 0.60, 28.90), (4, 4, 0.14, 30.0), (8, 8, 0.12, 24.35),
                  (4, 2, 0.0009, 3.5), (8, 6, 0.0004, 0.83), (8, 4, 0.0, 0.05), (8, 2, 0.0, 1.77),
                  (16, 8, 0.0, -0.04), (16, 6, 0.0, 0.03), (16, 4, 0.0, 0.05), (16, 2, 0.0, 1.77)]


def test_format_claim_one_rule_of_range_and_step_on_the_run_that_gave_the_wrong_sentence():
    c = L.format_claim(_formats(LAB3_3_WEIGHTS), "weight", observed_max=3.34)
    assert c.key == "format.weight" and c.verdict == "holds"
    # kept within 1 point: 8/6 (clips 0.04 %, 1/64), 8/4, 16/8, 16/6, 16/4 -> c* = 0.04 %, f* = 4 (1/16); every format
    # clipping more or with a coarser step loses: 4/8, 4/6, 4/4, 8/8 by range, 8/2 and 16/2 by step, 4/2 by both
    assert c.statement == ("a weight format loses more than 1 point against float whatever the data_in format exactly "
                           "when it clips more than 0.04% of the weights (a range below 1.98; the weights reach 3.34) "
                           "or its step is coarser than 1/16: the 5 formats with enough range and a fine enough step "
                           "lose at most 0.83 points (best case), the 7 others at least 1.77")
    n = c.numbers
    assert (n["clip_threshold"], n["frac_threshold"], n["kept_max"], n["lost_min"]) == (0.0004, 4, 0.83, 1.77)
    assert n["range_threshold"] == L.format_max(8, 6) and n["counterexamples"] == []
    assert (n["by_range"], n["by_step"], n["by_both"]) == (["4/8", "4/6", "4/4", "8/8"], ["8/2", "16/2"], ["4/2"])
    assert n["best_case_drop"]["8/6"] == 0.83 and n["best_case_drop"]["4/4"] == 30.0  # the best of its two configs
    assert c.evidence.endswith("outside the rule's thresholds by range: 4/8, 4/6, 4/4, 8/8, by step: 8/2, 16/2, "
                               "by both: 4/2")


def test_format_claim_refuted_by_a_format_with_range_and_step_that_loses():
    # 8/4 keeps (clips nothing, step 1/16) so f* = 4 and c* = 0; 16/8 is inside both thresholds and loses 5 points
    rows = [(4, 4, 0.3, 20.0), (8, 4, 0.0, 0.2), (8, 2, 0.0, 4.0), (16, 8, 0.0, 5.0)]
    c = L.format_claim(_formats(rows, "data_in"), "data_in", observed_max=2.5)
    assert c.verdict == "refuted" and c.numbers["counterexamples"] == ["16/8"]
    assert c.statement == ("a data_in format loses more than 1 point against float whatever the weight format exactly "
                           "when it clips (its range is below the largest |data_in|, 2.50) or its step is coarser "
                           "than 1/16: the 2 formats with enough range and a fine enough step lose at most 5.00 "
                           "points (best case), the 2 others at least 4.00")
    assert c.evidence.endswith("refuted by counterexample: 16/8 (clips 0.00%, step 1/256) loses 5.00")


def test_format_claim_one_factor_none_and_every_format_losing():
    # only the range binds: the spare factor is said
    rng = L.format_claim(_formats([(4, 4, 0.3, 9.0), (8, 4, 0.01, 0.4), (8, 2, 0.0, 0.1)], "data_in"), "data_in", 15.0)
    assert rng.verdict == "holds" and rng.statement.endswith(
        "exactly when it clips more than 1.00% of the inputs (a range below 7.94; the inputs reach 15.00): the 2 "
        "formats with enough range lose at most 0.40 points (best case), the 1 other at least 9.00 (every step of "
        "the grid, down to 1/4, is fine enough)")
    keep = L.format_claim(_formats([(8, 4, 0.0, 0.4), (16, 8, 0.0, -0.1)]), "weight", 1.0)
    assert keep.verdict == "holds" and keep.statement == (
        "every weight format of the grid keeps accuracy within 1 point of float for some data_in format: the 2 "
        "formats lose at most 0.40 points (best case)")
    # a loss the two factors cannot place: 16/4 clips nothing and has 8/4's step, yet loses
    odd = L.format_claim(_formats([(8, 4, 0.0, 0.4), (16, 4, 0.0, 3.0)]), "weight", 1.0)
    assert odd.verdict == "refuted" and "lose at most 3.00 points" in odd.statement
    every = L.format_claim(_formats([(4, 4, 0.3, 9.0), (4, 2, 0.1, 2.5)]), "weight", 1.0)
    assert every.verdict == "holds" and every.statement == (
        "every weight format of the grid loses more than 1 point against float whatever the data_in format (the best "
        "case loses 2.50 points): no range and step of the grid suffices")


def _numbers_of(statement):
    at_most = [float(x) for x in re.findall(r"at most (-?[\d.]+) points", statement)]
    at_least = [float(x) for x in re.findall(r"at least (-?[\d.]+)", statement)]
    at_least += [float(x) for x in re.findall(r"best case loses (-?[\d.]+) points", statement)]
    return at_most, at_least


def test_format_claim_statement_numbers_agree_with_its_verdict_for_every_grouping():
    # random grids, losses near the margin included (0.999, 1.004): the statement's "at most Y" and "at least Z" read
    # on the side of the 1-point margin the verdict says: holds exactly when Y <= 1 < Z, never "refuted" beside them
    rng = np.random.default_rng(0)
    formats = [(w, f) for w in (4, 8, 16) for f in (2, 4, 6, 8)]
    seen = set()
    for trial in range(300):
        pick = rng.choice(len(formats), size=int(rng.integers(1, len(formats) + 1)), replace=False)
        rows = []
        for k in pick:
            w, f = formats[k]
            clip = max(0.0, min(1.0, (1.5 - L.format_max(w, f)) / 1.5)) if rng.random() < 0.8 else float(rng.random())
            best = float(rng.choice([-0.3, 0.2, 0.999, 1.0, 1.004, 1.8, 6.0, 30.0]))
            rows.append((w, f, round(clip, 4), best))
        c = L.format_claim(_formats(rows), "weight", observed_max=1.5)
        at_most, at_least = _numbers_of(c.statement)
        assert at_most or at_least, c.statement
        says = all(y <= 1.0 for y in at_most) and all(z > 1.0 for z in at_least)
        assert says == (c.verdict == "holds"), (trial, c.statement, c.verdict)
        assert c.verdict in ("holds", "refuted")
        seen.add(c.verdict)
    assert seen == {"holds", "refuted"}


def test_clipping_and_same_width_claims_both_ways():
    g = _grid([12.0, 9.0, 0.1, 0.3], [2, 2, 4, 8])
    c = L.clipping_claim(g)
    assert c.holds is True and c.numbers["min_clip_drop"] == 9.0 and c.numbers["max_other_drop"] == 0.3
    overlap = L.clipping_claim(_grid([12.0, 0.1, 0.1, 13.0], [2, 2, 4, 8]))
    # the statement says what fails: the clipping ones do not all lose more (0.10 against 13.00)
    assert overlap.verdict == "refuted" and overlap.statement.endswith(
        "lose more accuracy against float than every configuration that does not: the 2 that clip lose at least "
        "0.10 points, the 2 others at most 13.00")
    assert L.same_width_claim(g, "data_in").holds is True  # at 8 bits the best of frac 6 (61 %) vs frac 4 (69.9 %)
    flat = _grid([0.1, 0.2, 0.1, 0.3], [2, 2, 4, 8])
    assert L.same_width_claim(flat, "data_in").verdict == "refuted"


def test_clipping_claim_evidence_numbers_by_hand():
    # clip shares 0.2, 0.2, 0, 0 against losses 12, 9, 0.1, 0.3: ranks (3.5, 3.5, 1.5, 1.5) and (4, 3, 1, 2),
    # Pearson on ranks 4 / sqrt(4 * 5); the clipping pair loses at least 9, the others at most 0.3
    c = L.clipping_claim(_grid([12.0, 9.0, 0.1, 0.3], [2, 2, 4, 8]))
    rho = 4 / math.sqrt(20)
    assert c.key == "clipping" and spearman_rho([0.2, 0.2, 0, 0], [12.0, 9.0, 0.1, 0.3]) == pytest.approx(rho)
    assert c.numbers == pytest.approx({"min_clip_drop": 9.0, "max_other_drop": 0.3, "rho": rho,
                                       "p": spearman_p(rho, 4)})
    assert c.evidence == f"Spearman rho(clip share, loss) = 0.89, p = {spearman_p(rho, 4):.3f}, n = 4; 2 clip, 2 do not"
    assert c.statement == ("the configurations that clip ≥ 1% of the Linear's inputs or weights lose more accuracy "
                           "against float than every configuration that does not: the 2 that clip lose at least 9.00 "
                           "points, the 2 others at most 0.30")
    empty = L.clipping_claim(_grid([0.1, 0.3], [4, 8]))  # nothing clips: vacuous
    assert empty.verdict == "not applicable" and empty.numbers == {}
    assert empty.evidence.endswith("0 clip, 2 do not (one group is empty)")
    close = L.clipping_claim(_grid([1.004, 9.0, 1.001, 0.3], [2, 2, 4, 8]))  # 1.004 > 1.001: enough digits to see it
    assert close.verdict == "holds" and "lose at least 1.004 points, the 2 others at most 1.001" in close.statement


def test_same_width_claim_spread_per_width_by_hand():
    # best accuracy per (width, frac): 8 bits: frac 4 max(0.70, 0.72), frac 6 0.65 -> spread 7 points; 4 bits:
    # 0.60 and 0.605 -> 0.5 points; 16 bits has one frac width: no spread
    df = pd.DataFrame({"data_in_width": [8, 8, 8, 4, 4, 16], "data_in_frac_width": [4, 4, 6, 2, 3, 8],
                       "accuracy": [0.70, 0.72, 0.65, 0.60, 0.605, 0.71]})
    c = L.same_width_claim(df, "data_in")
    assert c.key == "same_width.data_in" and c.holds is True
    assert c.numbers["spread_pts"] == pytest.approx({4: 0.5, 8: 7.0})
    assert c.evidence.endswith("per width: 4 bits: 0.50 points, 8 bits: 7.00 points")
    assert c.statement == ("at a fixed data_in width the fractional width, not the bit count, decides accuracy: at "
                           "some width it moves the best case by more than 1 point (the most at 8 bits: 7.00 points)")
    wide = L.same_width_claim(df, "data_in", margin=7.5)
    assert wide.verdict == "refuted" and wide.statement.endswith("more than 7.5 point (the most at 8 bits: 7.00 points)")
    one = L.same_width_claim(df[df["data_in_width"] == 16], "data_in")
    assert one.verdict == "not applicable" and one.numbers == {} and one.key == "same_width.data_in"


def _cycles_table(cycles, float_ms=1.0, ms=None):
    """A lab-grid-shaped table: data_in and weight formats (4,2), (8,4), (16,8) each, ``cycles(a, w)`` latency
    cycles (II 1, 5 ns a cycle), optional CPU timings ``ms(a, w)``, plus the float row."""
    fmts = [(4, 2), (8, 4), (16, 8)]
    rows = [{"float": True, "data_in_width": 32, "data_in_frac_width": None, "weight_width": 32,
             "weight_frac_width": None, "latency_cycles": 9, "ii_cycles": 1, "latency_ns": 45.0,
             "latency_ms": float_ms, "threads": 2}]
    for a in fmts:
        for w in fmts:
            c = cycles(a[0], w[0])
            rows.append({"float": False, "data_in_width": a[0], "data_in_frac_width": a[1], "weight_width": w[0],
                         "weight_frac_width": w[1], "latency_cycles": c, "ii_cycles": 1, "latency_ns": 5.0 * c,
                         "latency_ms": ms(a[0], w[0]) if ms else 1.0, "threads": 2})
    return pd.DataFrame(rows)


def test_latency_cycles_check_reads_the_cycle_model_along_each_width_axis():
    # 3 data_in x 3 weight formats: along each axis 3 groups x 3 (narrow, wide) pairs = 9 pairs
    both = L.latency_cycles_check(_cycles_table(lambda a, w: 4 + (a > 4) + (w > 8)))
    assert both.topic == "latency rises with precision" and both.verdict == "agrees"
    assert "wider data_in: rises in 6, stays in 3, falls in 0 of 9 pairs" in both.run_shows  # 4 -> 8, 4 -> 16 rise
    assert "wider weight: rises in 6, stays in 3, falls in 0 of 9 pairs" in both.run_shows  # 4 -> 16, 8 -> 16 rise
    assert "cycles from 4 to 6 (20–30 ns)" in both.run_shows
    # the weight axis only: the data width never enters (as in the module's model): partly
    weight_only = L.latency_cycles_check(_cycles_table(lambda a, w: 4 + (w > 8)))
    assert weight_only.verdict == "partly" and "wider data_in: rises in 0, stays in 9, falls in 0" in weight_only.run_shows
    # constant cycles: no rise anywhere; rho undefined
    flat = L.latency_cycles_check(_cycles_table(lambda a, w: 6))
    assert flat.verdict == "disagrees" and "= undefined (constant cycles)" in flat.run_shows
    # rising along one axis and falling along the other: partly; falling everywhere: disagrees
    assert L.latency_cycles_check(_cycles_table(lambda a, w: 6 + (a > 4) - (w > 4))).verdict == "partly"
    assert L.latency_cycles_check(_cycles_table(lambda a, w: 9 - (a > 4) - (w > 4))).verdict == "disagrees"
    # rho of the bit product a*w against cycles by hand (scipy's oracle), shown with 2 decimals
    t = _cycles_table(lambda a, w: 4 + (a > 4) + (w > 8))
    q = t[~t["float"]]
    rho = spearman_rho(q["data_in_width"] * q["weight_width"], q["latency_cycles"])
    assert f"latency_cycles) = {rho:.2f}" in both.run_shows


def test_no_verdict_rests_on_cpu_timing():
    # the same cycles with CPU timings that rise, fall or are noise: the same check, word for word
    def cyc(a, w):
        return 4 + (w > 8)

    rng = np.random.default_rng(0)
    tables = [_cycles_table(cyc, ms=lambda a, w: 1.0 + a * w / 100), _cycles_table(cyc, ms=lambda a, w: 5.0 - a * w / 100),
              _cycles_table(cyc, float_ms=3.0, ms=lambda a, w: float(rng.uniform(0.5, 2.0)))]
    checks = [L.latency_cycles_check(t) for t in tables]
    assert len({(c.verdict, c.run_shows) for c in checks}) == 1 and "ms" not in checks[0].run_shows
    # the timing itself: measured figures only
    t = _cycles_table(cyc, float_ms=1.0, ms=lambda a, w: {4: 1.2, 8: 1.1, 16: 1.4}[a] + w / 1000)
    timing = L.cpu_timing(t)
    q = t[~t["float"]]
    assert timing["float_ms"] == 1.0 and timing["median_ms"] == pytest.approx(q["latency_ms"].median())
    assert (timing["min_ms"], timing["max_ms"], timing["threads"], timing["n"]) == (q["latency_ms"].min(),
                                                                                   q["latency_ms"].max(), 2, 9)
    assert timing["rho"] == pytest.approx(spearman_rho(q["data_in_width"] * q["weight_width"], q["latency_ms"]))


def test_proxy_checks_pass_and_fail():
    q = pd.DataFrame({"weight_width": [4, 8, 16], "data_in_width": [4, 8, 16], "size_bytes": [1, 2, 3],
                      "bitops": [1, 2, 3], "flops": [7, 7, 7]})
    assert [(c.kind, c.verdict) for c in L.proxy_claims(q)] == [("check", "check passed")] * 2
    q2 = q.assign(flops=[7, 8, 7], size_bytes=[3, 2, 1])
    assert [c.verdict for c in L.proxy_claims(q2)] == ["check failed"] * 2


def test_proxy_checks_evidence_by_hand():
    q = pd.DataFrame({"weight_width": [4, 8, 16], "data_in_width": [4, 8, 16], "size_bytes": [3, 2, 1],
                      "bitops": [1, 3, 2], "flops": [7, 8, 7]})
    flops, follow = L.proxy_claims(q)
    assert flops.key == "flops_constant" and flops.evidence == "2 distinct FLOP count(s) over 3 configurations"
    assert flops.statement.startswith("FLOPs are the same for every configuration")
    # size falls as the weight width rises (rho -1); bit-ops ranks 1, 3, 2 against 1, 2, 3: rho = 1 - 6 * 2 / 24
    assert spearman_rho([16, 64, 256], [1, 3, 2]) == pytest.approx(0.5)
    assert follow.key == "size_bitops_follow_widths" and follow.holds is False
    assert follow.evidence == ("Spearman rho(weight width, size) = -1.00, rho(data_in × weight width, bit-ops) = 0.50, "
                               "n = 3")


FRACTION = {"accuracy": 1.0, "average_bitwidth": -0.2}
POINTS = {"accuracy_pct": 1.0, "average_bitwidth": -0.2}


def _ranked(acc, bits, loss=None):
    df = pd.DataFrame({"config": [f"c{i}" for i in range(len(acc))], "accuracy": acc, "average_bitwidth": bits})
    if loss is not None:
        df["loss"] = loss
    df["accuracy_pct"] = 100 * df["accuracy"]
    df["s"] = df["accuracy"] - 0.2 * df["average_bitwidth"]
    df["t"] = df["accuracy_pct"] - 0.2 * df["average_bitwidth"]
    return df


def test_scaled_sum_check_where_the_units_force_it_finding_otherwise():
    df = _ranked([0.70, 0.71, 0.60, 0.72], [4, 8, 8, 16], [0.8, 0.79, 1.0, 0.78])
    # fraction: one step of 4 bits is worth 0.2 * 4 = 0.8 in the sum, accuracy spans 0.12: a consequence of the units
    c = L.scaled_sum_claim(df, "s", "as a fraction", FRACTION)
    assert (c.kind, c.verdict) == ("check", "check passed") and c.numbers["bit_term_step"] == pytest.approx(0.8)
    assert c.statement == ("with accuracy as a fraction, the scaled sum orders the configurations by bitwidth alone "
                           "(fewer bits always rank higher): an arithmetic consequence of the units, since the smallest "
                           "bitwidth step is worth 0.8 in the sum and the accuracy term spans only 0.12")
    # points: the accuracy term spans 12 against 0.8 per step: a finding, refuted here by counterexample
    t = L.scaled_sum_claim(df, "t", "in points", POINTS)
    assert (t.kind, t.verdict) == ("finding", "refuted")  # 71 - 1.6 beats 70 - 0.8
    assert t.evidence.startswith("refuted by counterexample: 2 of 5 pairs")
    # points with accuracies close enough: no pair against, the finding holds though the units do not force it
    # (sums 69.2; 68.9 and 67.4; 67.0 at 4, 8, 16 bits; the accuracy term spans 1.5 > 0.8)
    close = _ranked([0.700, 0.705, 0.690, 0.702], [4, 8, 8, 16])
    h = L.scaled_sum_claim(close, "t", "in points", POINTS)
    assert (h.kind, h.verdict) == ("finding", "holds") and h.numbers["quality_span"] == pytest.approx(1.5)
    # a sum computed wrongly (bits rewarded) fails the check
    wrong = df.assign(s=df["accuracy"] + 0.2 * df["average_bitwidth"])
    assert L.scaled_sum_claim(wrong, "s", "as a fraction", FRACTION).verdict == "check failed"


def test_scaled_sum_claim_counts_pairs_by_hand():
    # sums 69.2, 69.4, 58.4, 68.8 at 4, 8, 8, 16 bits: of the 5 pairs with different bitwidths (rows 1 and 2
    # share 8 bits), (4 bits, 69.2) < (8 bits, 69.4) and (8 bits, 58.4) < (16 bits, 68.8) go against
    df = _ranked([0.70, 0.71, 0.60, 0.72], [4, 8, 8, 16])
    c = L.scaled_sum_claim(df, "t", "in points", POINTS)
    assert c.key == "scaled_sum.t"
    assert c.numbers == pytest.approx({"pairs_against": 2, "pairs": 5, "bit_gap": 4.0, "bit_term_step": 0.8,
                                       "quality_span": 12.0})
    assert c.evidence == ("refuted by counterexample: 2 of 5 pairs with different bitwidths are ordered otherwise; "
                          "accuracy_pct spans 12 in the sum, one bitwidth step (4 bits × 0.2) is worth 0.8; e.g. c1 "
                          "(8 bits, sum 69.4) ranks at or above c0 (4 bits, sum 69.2)")
    for rows in ([0, 1], [1, 0]):  # a tie of the sums between 4 and 8 bits: fewer bits do not rank higher
        tie = pd.DataFrame({"accuracy": [0.7, 0.6], "average_bitwidth": [4, 8], "s": [1.0, 1.0]}).iloc[rows]
        c = L.scaled_sum_claim(tie.reset_index(drop=True), "s", "x", {"accuracy": 0.001, "average_bitwidth": -0.2})
        assert c.numbers["pairs_against"] == 1 and c.verdict == "check failed", rows  # 0.8 > 0.0001: forced
        c = L.scaled_sum_claim(tie.reset_index(drop=True), "s", "x", {"accuracy": 100.0, "average_bitwidth": -0.2})
        assert c.numbers["pairs_against"] == 1 and c.verdict == "refuted", rows


def test_accuracy_loss_order_holds_or_is_refuted_by_counterexample():
    df = _ranked([0.70, 0.71, 0.60, 0.72], [4, 8, 8, 16], [0.8, 0.79, 1.0, 0.78])
    c, check = L.accuracy_loss_claim(df)
    assert c.verdict == "holds" and c.numbers["discordant"] == 0
    assert c.statement == ("accuracy and loss order the 4 configurations the same way: in no pair is one configuration "
                           "more accurate and the other lower in loss")
    bad = df.assign(loss=[0.8, 0.9, 1.0, 0.78])  # 0.71 now has a higher loss than 0.70
    c2, check2 = L.accuracy_loss_claim(bad)
    assert c2.verdict == "refuted" and c2.numbers["discordant"] == 1 and check2.verdict in ("partly", "disagrees")
    assert c2.evidence.startswith("refuted by counterexample: 1 of 6 pairs are ordered oppositely (c0 vs c1: one is "
                                  "more accurate, the other has the lower loss)")


def test_accuracy_loss_claim_kendall_and_pairs_by_hand():
    # against -loss the accuracies 0.70, 0.71, 0.60, 0.72 have one discordant pair (0.70 and 0.71): tau = (5 - 1) / 6,
    # exact two-sided p = 2 * P(at most 1 inversion among 4) = 2 * 4 / 24; accuracy x loss from 0.56 to 0.639
    df = pd.DataFrame({"accuracy": [0.70, 0.71, 0.60, 0.72], "loss": [0.8, 0.9, 1.0, 0.78]})
    c, check = L.accuracy_loss_claim(df)
    assert c.key == "accuracy_loss_order"
    assert c.numbers == pytest.approx({"discordant": 1, "pairs": 6, "tau": 4 / 6, "p": 2 * kendall_greater_p(4, 1)})
    assert c.evidence == ("refuted by counterexample: 1 of 6 pairs are ordered oppositely (row 0 vs row 1: one is more "
                          "accurate, the other has the lower loss), although the orders agree overall (Kendall "
                          "tau(accuracy, −loss) = 0.67, p = 0.333, n = 4 configurations)")
    assert check.run_shows == ("Kendall tau(accuracy, −loss) = 0.67, p = 0.333, n = 4 configurations; 1 of 6 pairs "
                               f"ordered oppositely; accuracy × loss varies by a factor {0.639 / 0.56:.2f} across "
                               "configurations (proportional would keep it constant)") and check.verdict == "disagrees"
    # 8 configurations with one swapped pair: tau = 26 / 28, p = 2 * 8 / 8! -> ordered, but not every pair: partly
    acc = [0.60, 0.61, 0.62, 0.63, 0.64, 0.65, 0.66, 0.67]
    swapped = pd.DataFrame({"accuracy": acc, "loss": [1.0, 0.9, 0.95, 0.8, 0.7, 0.6, 0.5, 0.4]})
    c, check = L.accuracy_loss_claim(swapped)
    assert (c.numbers["discordant"], c.numbers["pairs"]) == (1, 28) and c.numbers["tau"] == pytest.approx(26 / 28)
    assert c.numbers["p"] == pytest.approx(2 * kendall_greater_p(8, 1)) and check.verdict == "partly"
    # accuracy x loss constant (0.3) and no discordant pair: the report's "inversely proportional" agrees
    c, check = L.accuracy_loss_claim(pd.DataFrame({"accuracy": [0.5, 0.6, 0.75], "loss": [0.6, 0.5, 0.4]}))
    assert c.numbers["p"] == pytest.approx(2 * kendall_greater_p(3, 0)) and check.verdict == "agrees"


def test_coverage_claims_both_ways():
    frame = pd.DataFrame([{"data_in_width": a[0], "data_in_frac_width": a[1], "weight_width": w[0],
                           "weight_frac_width": w[1]} for a, w in lab3.lab_grid()])
    cov = {"unique configurations": 16, "index combinations (MASE, with duplicates)": 256, "trials complete": 16,
           "unique configurations evaluated": 16, "configurations evaluated twice": 0}
    c, check = L.coverage_claims(cov, frame, lab3.lab_grid())
    assert c.verdict == "check passed" and check.verdict == "partly"  # every lab config, but 240 duplicates
    assert c.kind == "check" and c.key == "exactly_once" and c.evidence == "16 trials complete, 16 unique evaluated, 0 evaluated twice"
    assert check.run_shows == ("the 256 index combinations hold 16 unique configurations (240 duplicates); they "
                               "include 16 of the lab grid's 16 configurations")
    c, check = L.coverage_claims({**cov, "configurations evaluated twice": 1}, frame.iloc[:10], lab3.lab_grid())
    assert c.verdict == "check failed" and check.verdict == "disagrees"
    assert c.evidence.endswith("1 evaluated twice") and "include 10 of the lab grid's 16" in check.run_shows


def test_search_frame_names_and_drop():
    trials = pd.DataFrame({"state": ["COMPLETE", "FAIL"], "seq_blocks_2/data_in_width": [8, 8],
                           "seq_blocks_2/data_in_frac_width": [6, 4], "seq_blocks_2/weight_width": [4, 4],
                           "seq_blocks_2/weight_frac_width": [2, 2], "accuracy": [0.6, None]})
    f = L.search_frame(trials, 0.7)
    assert len(f) == 1 and f["data_in_frac_width"].tolist() == [6] and f["drop_pts"].tolist() == pytest.approx([10.0])


def test_report_code_replayed_against_hand_counts():
    q = lab3.bitop_table(build_model("jsc-tiny"), batch_size=2, grid=[((8, 4), (4, 2))])
    conv, qmodel = q
    r = conv.iloc[0]
    # Linear(16, 5), a=8, w=4, bias 8: report per output 16·32 + 15·32 + 8 = 1000; standard 16·32 + 8 = 520
    assert r["lab report (Linear)"] == 2 * 5 * 1000 and r["standard (Linear)"] == 2 * 5 * 520
    assert r["report's function, arguments in order"] == 2 * 5 * 1000
    # as the report called it: data←weight (4), weight←bias (8), bias←data (8): 16·32 + 15·32 + 8
    assert r["report's call as written"] == 2 * 5 * (16 * 32 + 15 * 32 + 8)
    assert math.isclose(r["(2K-1)/K"], 31 / 16)
    checks = L.metric_code_checks(conv, qmodel, (16,), 2)
    assert [c.verdict for c in checks] == ["agrees", "disagrees", "partly"]  # 4·8 = 8·4: same count here
    conv2, qmodel2 = lab3.bitop_table(build_model("jsc-tiny"), batch_size=2, grid=[((16, 8), (4, 2))])
    assert L.metric_code_checks(conv2, qmodel2, (16,), 2)[0].verdict == "disagrees"


def test_metric_code_checks_show_hand_counts():
    conv, qmodel = lab3.bitop_table(build_model("jsc-tiny"), batch_size=2, grid=[((16, 8), (4, 2))])
    order, batch, relu = L.metric_code_checks(conv, qmodel, (16,), 2)
    # a=16, w=4, bias 8 in order: 16·64 + 15·64 + 8 = 1992 per output; as written (data 4, weight 8, bias 16):
    # 16·32 + 15·32 + 16 = 1008; times 5 outputs and a batch of 2
    assert order.run_shows == ("the call as written gives a different count for 1 of 1 configurations "
                               f"(e.g. in 16/8, w 4/2: {2 * 5 * 1008:,} instead of {2 * 5 * 1992:,})")
    assert batch.verdict == "disagrees" and batch.run_shows.startswith("the call raises TypeError")
    # ReLU FLOPs per batch of 2: jsc-tiny's ReLUs see 16 and 5 features, jsc-three-linear-layers' 16, 16, 16 and 5;
    # the report always counts 2 · (16 + 5)
    assert relu.run_shows.startswith(f"jsc-tiny: ReLU FLOPs per batch {2 * 21}, the report's {2 * 21}; "
                                     f"jsc-three-linear-layers: ReLU FLOPs per batch {2 * 53}, the report's {2 * 21}")


def test_linear_inputs_only_plain_linears():
    m = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    x = torch.ones(4, 3)
    inputs, weights = L.linear_inputs(m, x)
    assert inputs.numel() == 4 * 3 + 4 * 2 and weights.numel() == 6 + 2


def test_ptq_check_verdicts():
    keeps = L.matches_float("matches_float.t", "w", 30, 10, 10_000)
    loses = L.matches_float("matches_float.t", "w", 900, 10, 10_000)
    df = pd.DataFrame({"drop_pts": [0.1, 0.2]})
    assert L.ptq_check(df, keeps).verdict == "agrees"
    assert L.ptq_check(df.assign(drop_pts=[0.1, 5.0]), keeps).verdict == "partly"
    assert L.ptq_check(df.assign(drop_pts=[9.0, 5.0]), loses).verdict == "disagrees"
    # (10 - 30) / 10,000 = -0.20 points and (10 - 900) / 10,000 = -8.90 points; losses above 1 point counted
    assert L.ptq_check(df, keeps).run_shows == ("widest configuration: difference -0.20 points (holds); 0 of 2 "
                                                "configurations in the grid lose more than 1 point")
    shown = L.ptq_check(pd.DataFrame({"drop_pts": [0.5, 5.0, 1.5]}), loses, where="search").run_shows
    assert shown == ("widest configuration: difference -8.90 points (refuted); 2 of 3 configurations in the "
                     "search lose more than 1 point (up to 5.00)")


def test_format_claim_a_factor_the_grid_cannot_judge_apart_is_said_so():
    # lab3_1's inputs in the previous full run (largest |input| 69.27): 4/2 and 8/6 lose 13+ points, 8/4 0.72, 16/8
    # -0.04; 4/2's coarse step comes with too small a range, so the step cannot be judged apart: the rule is the range
    rows = [(4, 2, 0.20, 13.5), (8, 6, 0.15, 13.27), (8, 4, 0.004, 0.72), (16, 8, 0.0, -0.04)]
    c = L.format_claim(_formats(rows, "data_in"), "data_in", observed_max=69.27)
    assert c.verdict == "holds" and c.statement == (
        "a data_in format loses more than 1 point against float whatever the weight format exactly when it clips more "
        "than 0.40% of the inputs (a range below 7.94; the inputs reach 69.27): the 2 formats with enough range lose "
        "at most 0.72 points (best case), the 2 others at least 13.27 (every format with a step coarser than 1/16 also "
        "clips more than 0.40% of the inputs: the step cannot be judged apart)")
    assert (c.numbers["by_range"], c.numbers["by_step"], c.numbers["by_both"]) == (["8/6"], [], ["4/2"])
    # both factors only ever fail together: either alone would do, the statement says the grid cannot tell them apart
    both = L.format_claim(_formats([(4, 2, 0.2, 9.0), (8, 4, 0.0, 0.3)]), "weight", observed_max=1.0)
    assert both.verdict == "holds" and both.statement.endswith(
        "(every format outside the rule fails on both counts: the grid cannot tell range from step)")
