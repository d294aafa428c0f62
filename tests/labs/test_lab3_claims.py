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


def test_clipping_and_same_width_claims_both_ways():
    g = _grid([12.0, 9.0, 0.1, 0.3], [2, 2, 4, 8])
    c = L.clipping_claim(g)
    assert c.holds is True and c.numbers["min_clip_drop"] == 9.0 and c.numbers["max_other_drop"] == 0.3
    assert L.clipping_claim(_grid([12.0, 0.1, 0.1, 13.0], [2, 2, 4, 8])).holds is False
    assert L.same_width_claim(g, "data_in").holds is True  # at 8 bits frac 6 vs 4: 12 points apart
    flat = _grid([0.1, 0.2, 0.1, 0.3], [2, 2, 4, 8])
    assert L.same_width_claim(flat, "data_in").holds is False


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


def test_coverage_claims_both_ways():
    frame = pd.DataFrame([{"data_in_width": a[0], "data_in_frac_width": a[1], "weight_width": w[0],
                           "weight_frac_width": w[1]} for a, w in lab3.lab_grid()])
    cov = {"unique configurations": 16, "index combinations (MASE, with duplicates)": 256, "trials complete": 16,
           "unique configurations evaluated": 16, "configurations evaluated twice": 0}
    c, check = L.coverage_claims(cov, frame, lab3.lab_grid())
    assert c.holds is True and check.verdict == "partly"  # every lab config, but 240 duplicates
    c, check = L.coverage_claims({**cov, "configurations evaluated twice": 1}, frame.iloc[:10], lab3.lab_grid())
    assert c.holds is False and check.verdict == "disagrees"


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


def test_ptq_check_verdicts():
    keeps = L.matches_float("m", "w", 30, 10, 10_000)
    loses = L.matches_float("m", "w", 900, 10, 10_000)
    df = pd.DataFrame({"drop_pts": [0.1, 0.2]})
    assert L.ptq_check(df, keeps).verdict == "agrees"
    assert L.ptq_check(df.assign(drop_pts=[0.1, 5.0]), keeps).verdict == "partly"
    assert L.ptq_check(df.assign(drop_pts=[9.0, 5.0]), loses).verdict == "disagrees"
