"""lab3_claims: every claim on constructed inputs that make it hold and not hold; clip shares and the
report's replayed code against hand counts."""

import math

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
    c = L.matches_float("m", "x", lost=30, gained=10, n=10_000)
    # quantized minus float: (10 - 30) / 10,000 = -0.2 points; Agresti-Min: (10 - 30) / 10,002 +/- z * se with
    # se = sqrt((41 / 10,002 - (20 / 10,002)^2) / 10,002); McNemar exact: 2 * P(X <= 10), X ~ Bin(40, 1/2)
    se = math.sqrt((41 / 10_002 - (20 / 10_002) ** 2) / 10_002)
    assert c.numbers["diff_pts"] == pytest.approx(-0.2)
    assert c.numbers["low_pts"] == pytest.approx(100 * (-20 / 10_002 - 1.959964 * se), abs=1e-5)
    assert c.numbers["high_pts"] == pytest.approx(100 * (-20 / 10_002 + 1.959964 * se), abs=1e-5)
    assert c.numbers["p"] == pytest.approx(2 * sum(math.comb(40, k) for k in range(11)) / 2**40)
    assert c.key == "m" and "30 jets lost / 10 gained of n = 10000" in c.evidence
    assert c.holds is True  # CI about -0.33..-0.07: inside ±0.5
    assert L.matches_float("m", "x", 900, 10, 10_000).holds is False  # about -8.9 points
    assert L.matches_float("m", "x", 3, 2, 500).holds is None  # too few jets: the interval (±0.9 points) spans the margin
    assert L.matches_float("m", "x", 0, 0, 100).holds is None  # nothing discordant on 100 jets proves nothing


def _grid(drops, in_bits, w_bits=None):
    n = len(drops)
    w_bits = w_bits or [8] * n
    return pd.DataFrame({"drop_pts": drops, "data_in_integer_bits": in_bits, "weight_integer_bits": w_bits,
                         "data_in_format_max": [2.0 ** (b - 1) for b in in_bits],
                         "weight_format_max": [2.0 ** (b - 1) for b in w_bits],
                         "data_in_clip_share": [0.2 if b <= 2 else 0.0 for b in in_bits],
                         "weight_clip_share": [0.0] * n, "accuracy": [0.7 - d / 100 for d in drops],
                         "data_in_width": [8] * n, "data_in_frac_width": [8 - b for b in in_bits]})


def test_range_claim_both_ways():
    holds = L.range_claim(_grid([12.0, 9.0, 0.1, 0.3], [2, 2, 4, 8]), "data_in", observed_max=15.0)
    assert holds.holds is True and holds.numbers["k"] == 2 and "≤ 2 integer bits" in holds.statement
    # the narrow group loses, but a wider group also loses in its best case: not a clean split
    mixed = L.range_claim(_grid([12.0, 9.0, 0.1, 5.0], [2, 2, 4, 8]), "data_in", observed_max=15.0)
    assert mixed.holds is False
    # the narrow formats keep accuracy
    assert L.range_claim(_grid([0.2, 0.1, 0.1], [2, 4, 8]), "data_in", observed_max=15.0).holds is False
    # they lose, but their range holds the data: the range does not explain it
    assert L.range_claim(_grid([12.0, 0.1], [2, 8]), "data_in", observed_max=1.0).holds is False


def test_range_claim_evidence_numbers_by_hand():
    # best case (smallest loss) per integer-bit count: 2 bits min(12, 9) = 9, 4 bits 0.1, 8 bits 0.3; the 2-bit
    # formats hold at most 2^(2-1) = 2.0 (the grid's format_max) against inputs reaching 15
    c = L.range_claim(_grid([12.0, 9.0, 0.1, 0.3], [2, 2, 4, 8]), "data_in", observed_max=15.0)
    assert c.key == "range.data_in"
    assert c.numbers == {"k": 2, "format_max": 2.0, "observed_max": 15.0, "best_case_drop": {2: 9.0, 4: 0.1, 8: 0.3}}
    assert c.evidence == ("best-case loss (points) per data_in integer-bit count: 2: 9.00, 4: 0.10, 8: 0.30; "
                          "largest observed |data_in| 15.00; n = 4 configurations")
    assert "hold at most 2.00, the inputs reach 15.00" in c.statement and "(best case 9.00 points)" in c.statement
    assert c.statement.endswith("with more integer bits the best case loses at most 0.30")
    mixed = L.range_claim(_grid([12.0, 9.0, 0.1, 5.0], [2, 2, 4, 8]), "data_in", observed_max=15.0)
    assert mixed.numbers["k"] == 2 and mixed.numbers["best_case_drop"] == {2: 9.0, 4: 0.1, 8: 5.0}
    keeps = L.range_claim(_grid([0.2, 0.1, 0.1], [2, 4, 8], w_bits=[3, 3, 3]), "weight", observed_max=15.0)
    assert keeps.key == "range.weight" and keeps.numbers == {"best_case_drop": {3: 0.1}}  # one weight group: min 0.1
    two = L.range_claim(_grid([12.0, 11.0, 0.1], [2, 3, 8]), "data_in", observed_max=3.0)
    assert two.numbers["k"] == 3 and two.numbers["format_max"] == 4.0 and two.holds is False  # 3 bits hold 4 > 3


def test_clipping_and_same_width_claims_both_ways():
    g = _grid([12.0, 9.0, 0.1, 0.3], [2, 2, 4, 8])
    c = L.clipping_claim(g)
    assert c.holds is True and c.numbers["min_clip_drop"] == 9.0 and c.numbers["max_other_drop"] == 0.3
    assert L.clipping_claim(_grid([12.0, 0.1, 0.1, 13.0], [2, 2, 4, 8])).holds is False
    assert L.same_width_claim(g, "data_in").holds is True  # at 8 bits the best of frac 6 (61 %) vs frac 4 (69.9 %)
    flat = _grid([0.1, 0.2, 0.1, 0.3], [2, 2, 4, 8])
    assert L.same_width_claim(flat, "data_in").holds is False


def test_clipping_claim_evidence_numbers_by_hand():
    # clip shares 0.2, 0.2, 0, 0 against losses 12, 9, 0.1, 0.3: ranks (3.5, 3.5, 1.5, 1.5) and (4, 3, 1, 2),
    # Pearson on ranks 4 / sqrt(4 * 5); the clipping pair loses at least 9, the others at most 0.3
    c = L.clipping_claim(_grid([12.0, 9.0, 0.1, 0.3], [2, 2, 4, 8]))
    rho = 4 / math.sqrt(20)
    assert c.key == "clipping" and spearman_rho([0.2, 0.2, 0, 0], [12.0, 9.0, 0.1, 0.3]) == pytest.approx(rho)
    assert c.numbers == pytest.approx({"min_clip_drop": 9.0, "max_other_drop": 0.3, "rho": rho,
                                       "p": spearman_p(rho, 4)})
    assert c.evidence == f"Spearman rho(clip share, loss) = 0.89, p = {spearman_p(rho, 4):.3f}, n = 4; 2 clip, 2 do not"
    assert "the 2 configurations that clip ≥ 1%" in c.statement and "the 2 others lose at most 0.30" in c.statement
    empty = L.clipping_claim(_grid([0.1, 0.3], [4, 8]))  # nothing clips
    assert empty.holds is None and empty.numbers == {} and empty.evidence.endswith("0 clip, 2 do not (one group is empty)")


def test_same_width_claim_spread_per_width_by_hand():
    # best accuracy per (width, frac): 8 bits: frac 4 max(0.70, 0.72), frac 6 0.65 -> spread 7 points; 4 bits:
    # 0.60 and 0.605 -> 0.5 points; 16 bits has one frac width: no spread
    df = pd.DataFrame({"data_in_width": [8, 8, 8, 4, 4, 16], "data_in_frac_width": [4, 4, 6, 2, 3, 8],
                       "accuracy": [0.70, 0.72, 0.65, 0.60, 0.605, 0.71]})
    c = L.same_width_claim(df, "data_in")
    assert c.key == "same_width.data_in" and c.holds is True
    assert c.numbers["spread_pts"] == pytest.approx({4: 0.5, 8: 7.0})
    assert c.evidence.endswith("per width: 4 bits: 0.50 points, 8 bits: 7.00 points")
    assert c.statement.endswith("at 8 bits it moves the best case by 7.00 points")
    assert L.same_width_claim(df, "data_in", margin=7.5).holds is False
    one = L.same_width_claim(df[df["data_in_width"] == 16], "data_in")
    assert one.holds is None and one.numbers == {} and one.key == "same_width.data_in"


def test_latency_and_proxy_claims_both_ways():
    rows = [{"float": True, "data_in_width": 32, "weight_width": 32, "latency_ms": 1.0, "latency_iqr_ms": 0.1,
             "threads": 1}]
    rows += [{"float": False, "data_in_width": a, "weight_width": w, "latency_ms": 1.0 + a * w / 100,
              "latency_iqr_ms": 0.1, "threads": 1} for a in (4, 8, 16) for w in (4, 8, 16)]
    t = pd.DataFrame(rows)
    slower, check = L.latency_claims(t)
    assert slower.holds is True and check.verdict == "agrees"
    t.loc[t["float"], "latency_ms"] = 5.0
    t.loc[~t["float"], "latency_ms"] = 5.0 - t.loc[~t["float"], "data_in_width"] * t.loc[~t["float"], "weight_width"] / 100
    slower, check = L.latency_claims(t)
    assert slower.holds is False and check.verdict == "disagrees"
    q = pd.DataFrame({"weight_width": [4, 8, 16], "data_in_width": [4, 8, 16], "size_bytes": [1, 2, 3],
                      "bitops": [1, 2, 3], "flops": [7, 7, 7]})
    assert [c.holds for c in L.proxy_claims(q)] == [True, True]
    q2 = q.assign(flops=[7, 8, 7], size_bytes=[3, 2, 1])
    assert [c.holds for c in L.proxy_claims(q2)] == [False, False]


def test_latency_claims_evidence_by_hand():
    # bit products 16, 32, 64, 256 against latencies 1.2, 1.1, 1.4, 1.3 ms: latency ranks 2, 1, 4, 3, so
    # rho = 1 - 6 * 4 / (4 * 15) = 0.6; quantized median (1.2 + 1.3) / 2
    rows = [{"float": True, "data_in_width": 32, "weight_width": 32, "latency_ms": 1.0, "latency_iqr_ms": 0.1,
             "threads": 2}]
    rows += [{"float": False, "data_in_width": a, "weight_width": w, "latency_ms": ms, "latency_iqr_ms": 0.1,
              "threads": 2} for (a, w), ms in zip([(4, 4), (4, 8), (8, 8), (16, 16)], [1.2, 1.1, 1.4, 1.3])]
    t = pd.DataFrame(rows)
    slower, check = L.latency_claims(t)
    assert slower.key == "latency.slower_than_float" and slower.holds is True and slower.numbers == {}
    assert slower.evidence == ("float 1.000 ms (IQR 0.100); quantized median 1.250 ms (min 1.100, max 1.400); "
                               "median of timed blocks, 2 thread(s), machine shared")
    assert check.run_shows.startswith(f"Spearman rho(data_in × weight width, latency) = 0.60, "
                                      f"p = {spearman_p(0.6, 4):.3f}, n = 4 configurations: no rise detected")
    assert check.verdict == "disagrees"  # rho > 0 but p about 0.4
    t.loc[t["float"], "latency_ms"] = 1.15  # the 1.1 ms configuration is now faster than float
    assert L.latency_claims(t)[0].holds is False


def test_proxy_claims_evidence_by_hand():
    q = pd.DataFrame({"weight_width": [4, 8, 16], "data_in_width": [4, 8, 16], "size_bytes": [3, 2, 1],
                      "bitops": [1, 3, 2], "flops": [7, 8, 7]})
    flops, follow = L.proxy_claims(q)
    assert flops.key == "flops_constant" and flops.evidence == "2 distinct FLOP count(s) over 3 configurations"
    # size falls as the weight width rises (rho -1); bit-ops ranks 1, 3, 2 against 1, 2, 3: rho = 1 - 6 * 2 / 24
    assert spearman_rho([16, 64, 256], [1, 3, 2]) == pytest.approx(0.5)
    assert follow.key == "size_bitops_follow_widths" and follow.holds is False
    assert follow.evidence == ("Spearman rho(weight width, size) = -1.00, rho(data_in × weight width, bit-ops) = 0.50, "
                               "n = 3")


def test_scaled_sum_and_accuracy_loss_claims_both_ways():
    df = pd.DataFrame({"accuracy": [0.70, 0.71, 0.60, 0.72], "loss": [0.8, 0.79, 1.0, 0.78],
                       "average_bitwidth": [4, 8, 8, 16]})
    df["s"] = df["accuracy"] - 0.2 * df["average_bitwidth"]
    df["t"] = 100 * df["accuracy"] - 0.2 * df["average_bitwidth"]
    assert L.scaled_sum_claim(df, "s", "as a fraction").holds is True
    assert L.scaled_sum_claim(df, "t", "in points").holds is False  # 71 - 1.6 beats 70 - 0.8
    c, check = L.accuracy_loss_claim(df)
    assert c.holds is True and c.numbers["discordant"] == 0
    bad = df.assign(loss=[0.8, 0.9, 1.0, 0.78])  # 0.71 now has a higher loss than 0.70
    c2, check2 = L.accuracy_loss_claim(bad)
    assert c2.holds is False and c2.numbers["discordant"] == 1 and check2.verdict in ("partly", "disagrees")


def test_scaled_sum_claim_counts_pairs_by_hand():
    # sums 69.2, 69.4, 58.4, 68.8 at 4, 8, 8, 16 bits: of the 5 pairs with different bitwidths (rows 1 and 2
    # share 8 bits), (4 bits, 69.2) < (8 bits, 69.4) and (8 bits, 58.4) < (16 bits, 68.8) go against
    df = pd.DataFrame({"accuracy": [0.70, 0.71, 0.60, 0.72], "average_bitwidth": [4, 8, 8, 16]})
    df["t"] = 100 * df["accuracy"] - 0.2 * df["average_bitwidth"]
    c = L.scaled_sum_claim(df, "t", "in points")
    assert c.key == "scaled_sum.t" and c.numbers == {"pairs_against": 2, "pairs": 5}
    assert c.evidence == ("2 of 5 pairs with different bitwidths are ordered otherwise; accuracy spans 0.6000 to "
                          "0.7200 (fraction)")
    for rows in ([0, 1], [1, 0]):  # a tie of the sums between 4 and 8 bits: fewer bits do not rank higher
        tie = pd.DataFrame({"accuracy": [0.7, 0.6], "average_bitwidth": [4, 8], "s": [1.0, 1.0]}).iloc[rows]
        c = L.scaled_sum_claim(tie.reset_index(drop=True), "s", "x")
        assert c.numbers == {"pairs_against": 1, "pairs": 1} and c.holds is False, rows


def test_accuracy_loss_claim_kendall_and_pairs_by_hand():
    # against -loss the accuracies 0.70, 0.71, 0.60, 0.72 have one discordant pair (0.70 and 0.71): tau = (5 - 1) / 6,
    # exact two-sided p = 2 * P(at most 1 inversion among 4) = 2 * 4 / 24; accuracy x loss from 0.56 to 0.639
    df = pd.DataFrame({"accuracy": [0.70, 0.71, 0.60, 0.72], "loss": [0.8, 0.9, 1.0, 0.78]})
    c, check = L.accuracy_loss_claim(df)
    assert c.key == "accuracy_loss_order"
    assert c.numbers == pytest.approx({"discordant": 1, "pairs": 6, "tau": 4 / 6, "p": 2 * kendall_greater_p(4, 1)})
    assert c.evidence == ("Kendall tau(accuracy, −loss) = 0.67, p = 0.333, n = 4 configurations; "
                          "1 of 6 pairs ordered oppositely")
    assert check.run_shows.endswith(f"accuracy × loss varies by a factor {0.639 / 0.56:.2f} across configurations "
                                    "(proportional would keep it constant)") and check.verdict == "disagrees"
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
    assert c.holds is True and check.verdict == "partly"  # every lab config, but 240 duplicates
    assert c.key == "exactly_once" and c.evidence == "16 trials complete, 16 unique evaluated, 0 evaluated twice"
    assert check.run_shows == ("the 256 index combinations hold 16 unique configurations (240 duplicates); they "
                               "include 16 of the lab grid's 16 configurations")
    c, check = L.coverage_claims({**cov, "configurations evaluated twice": 1}, frame.iloc[:10], lab3.lab_grid())
    assert c.holds is False and check.verdict == "disagrees"
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


def test_step_claim_both_ways():
    g = pd.DataFrame({"drop_pts": [9.0, 4.0, 0.2, 0.1, 6.0], "weight_frac_width": [2, 2, 4, 6, 6]})
    c = L.step_claim(g, "weight")
    assert c.holds is True and c.numbers["f"] == 2 and "1/4" in c.statement
    assert L.step_claim(g.assign(drop_pts=[9.0, 4.0, 0.2, 3.0, 6.0]), "weight").holds is False  # frac 6 loses too
    assert L.step_claim(g.assign(drop_pts=[0.1, 4.0, 0.2, 0.1, 6.0]), "weight").holds is False  # coarse step is fine
    # best case per fractional width: 2 -> min(9, 4), 4 -> 0.2, 6 -> min(0.1, 6)
    assert c.key == "step.weight" and c.numbers == {"f": 2, "best_case_drop": {2: 4.0, 4: 0.2, 6: 0.1}}
    assert c.evidence == "best-case loss (points) per weight fractional width: 2: 4.00, 4: 0.20, 6: 0.10; n = 5 configurations"
    assert "(best case 4.00 points); with finer steps the best case loses at most 0.20" in c.statement
    fine = L.step_claim(g.assign(drop_pts=[0.1, 4.0, 0.2, 0.1, 6.0]), "weight")
    assert fine.numbers == {"best_case_drop": {2: 0.1, 4: 0.2, 6: 0.1}}
    every = L.step_claim(g.assign(drop_pts=[9.0, 4.0, 2.0, 3.0, 6.0]), "weight")  # every step loses: f = 6, no finer
    assert every.numbers["f"] == 6 and every.holds is False


def test_ptq_check_verdicts():
    keeps = L.matches_float("m", "w", 30, 10, 10_000)
    loses = L.matches_float("m", "w", 900, 10, 10_000)
    df = pd.DataFrame({"drop_pts": [0.1, 0.2]})
    assert L.ptq_check(df, keeps).verdict == "agrees"
    assert L.ptq_check(df.assign(drop_pts=[0.1, 5.0]), keeps).verdict == "partly"
    assert L.ptq_check(df.assign(drop_pts=[9.0, 5.0]), loses).verdict == "disagrees"
    # (10 - 30) / 10,000 = -0.20 points and (10 - 900) / 10,000 = -8.90 points; losses above 1 point counted
    assert L.ptq_check(df, keeps).run_shows == ("widest configuration: difference -0.20 points (holds); 0 of 2 "
                                                "configurations in the grid lose more than 1 point")
    shown = L.ptq_check(pd.DataFrame({"drop_pts": [0.5, 5.0, 1.5]}), loses, where="search").run_shows
    assert shown == ("widest configuration: difference -8.90 points (does not hold); 2 of 3 configurations in the "
                     "search lose more than 1 point (up to 5.00)")
