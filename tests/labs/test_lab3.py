"""lab3 helpers against oracles: the search engine's own evaluate, hand-counted sizes, scipy ranks."""

import numpy as np
import pandas as pd
import pytest

from lab_utils.errors import LabError
from lab_utils.labs import lab3
from lab_utils.training.train import evaluate
from tests.helpers import BlobSplits, trained_on_blobs


def test_metric_grid_counts_and_float_row(blobs):
    model = trained_on_blobs("jsc-tiny", blobs)
    grid = [((16, 8), (16, 8)), ((4, 2), (4, 2))]
    table, layers = lab3.metric_grid(model, BlobSplits(blobs), grid=grid, latency_s=None, batch_size=8)
    assert table["config"].tolist() == ["float32", "in 16/8, w 16/8", "in 4/2, w 4/2"]
    f, q16, q4 = (table.iloc[i] for i in range(3))
    assert f["accuracy"] == pytest.approx(evaluate(model, *blobs.split("val"))["accuracy"])
    # size by hand: BN 4 tensors x 16 x 32 bits; Linear 80 weights x w + 5 bias x 8 (bias (8,4))
    assert f["size_bytes"] == (4 * 16 * 32 + 85 * 32) / 8
    assert q16["size_bytes"] == (4 * 16 * 32 + 80 * 16 + 5 * 8) / 8
    assert q4["size_bytes"] == (4 * 16 * 32 + 80 * 4 + 5 * 8) / 8
    # bit-ops of the Linear: B * 16 * 5 MACs * a * w + B * 5 bias adds * 8
    lin4 = 8 * 80 * 4 * 4 + 8 * 5 * 8
    lin16 = 8 * 80 * 16 * 16 + 8 * 5 * 8
    assert q16["bitops"] - q4["bitops"] == lin16 - lin4
    assert f["flops"] == q4["flops"] and q4["average_bitwidth"] == 4 and f["average_bitwidth"] == 32
    assert abs(q16["accuracy"] - f["accuracy"]) <= 0.01
    # discordant jets against float, recounted from the two models' predictions
    from lab_utils.passes.quantize import quantize_model
    xv, yv = blobs.split("val")
    ok_f = model(xv).argmax(1) == yv
    ok_q = quantize_model(model, lab3.grid_pass_args((4, 2), (4, 2))).eval()(xv).argmax(1) == yv
    assert (q4["lost"], q4["gained"]) == (int((ok_f & ~ok_q).sum()), int((~ok_f & ok_q).sum()))
    assert (f["lost"], f["gained"]) == (0, 0) and table.attrs["n"] == len(yv)
    wide = lab3.size_breakdown(layers)
    assert wide["total"].tolist() == table["size_bytes"].tolist()
    # the estimated FPGA figures are the hardware model's totals of the same quantized model (per sample)
    from lab_utils.analysis import hardware
    hw = hardware.hardware_table(quantize_model(model, lab3.grid_pass_args((4, 2), (4, 2))).eval(), (16,)).iloc[-1]
    assert all(q4[c] == hw[c] for c in hardware.HW_COLUMNS)
    assert q4["lut_equivalent"] == q4["luts"] + 55 * q4["dsps"] and q16["dsps"] == 80 + 16 and q4["dsps"] == 16
    view = lab3.hardware_view(table.iloc[1:], batch_size=8)
    assert view.columns.tolist() == ["config", "bit-ops/sample", "ebops", "luts", "dsps", "lut_equivalent",
                                     "latency_cycles", "ii_cycles", "latency_ns"]
    assert view["bit-ops/sample"].tolist() == [round(b / 8) for b in table["bitops"].iloc[1:]]


def test_scaled_sum_rank_agreement_pareto():
    df = pd.DataFrame({"config": list("abcd"), "accuracy": [0.9, 0.8, 0.85, 0.7], "loss": [0.3, 0.5, 0.2, 0.9],
                       "average_bitwidth": [16, 4, 8, 4]})
    s = lab3.scaled_sum(df, {"accuracy": 1.0, "average_bitwidth": -0.2})
    assert s["objective"].tolist() == pytest.approx([0.9 - 3.2, 0.8 - 0.8, 0.85 - 1.6, 0.7 - 0.8])
    assert s["objective_rank"].tolist() == [4, 1, 3, 2]
    agree = lab3.rank_agreement(df, "accuracy", "loss", (True, False))
    from scipy import stats
    assert agree["spearman_rho"] == pytest.approx(stats.spearmanr([0.9, 0.8, 0.85, 0.7], [-0.3, -0.5, -0.2, -0.9])[0])
    assert agree["discordant_pairs"] == [("a", "c")]  # a beats c on accuracy, c beats a on loss
    front = lab3.pareto_table(df, "accuracy", "average_bitwidth")
    assert front["config"].tolist() == ["b", "c", "a"]  # d (0.7, 4) is dominated by b (0.8, 4)
    with pytest.raises(LabError, match="unknown metric 'latency'"):
        lab3.scaled_sum(df, {"latency": 1.0})


def test_search_coverage_from_the_outputs(tmp_path):
    (tmp_path / "best.json").write_text('{"summary": {"index_combinations": 4, "unique_configurations": 3, '
                                        '"complete": 4, "unique_configurations_evaluated": 3, '
                                        '"evaluations_from_cache": 1}, "best": [{"number": 2}]}')
    pd.DataFrame({"number": [0, 1, 2, 3], "seq_blocks_2/w": [8, 4, 2, 8], "seq_blocks_2/b": [8, 8, 8, 8],
                  "accuracy": [0.5, 0.6, 0.6, 0.5], "average_bitwidth": [8, 4, 2, 8]}).to_csv(tmp_path / "trials.csv",
                                                                                          index=False)
    best, trials, varying = lab3.read_search(tmp_path)
    assert varying == ["seq_blocks_2/w"]
    cov = lab3.search_coverage(best, trials, varying, 1.23)
    assert cov["configurations evaluated twice"] == 1 and cov["wall time (s)"] == 1.2
    assert lab3.best_trials(trials, best, varying).to_dict("list") == {"number": [2], "w": [2], "accuracy": [0.6],
                                                                       "average_bitwidth": [2]}


def _verdicts(found, checks):
    return [(c.key, c.verdict) for c in found] + [(c.topic, c.verdict) for c in checks]


def test_grid_claims_give_the_same_verdicts_twice_whatever_the_timing(blobs):
    """lab3_1's conclusions from two measurements of the same model (CPU timing included, so the latencies
    differ) and from the same table with its timings replaced by noise: identical verdicts for every claim
    and report check, and identical evidence (nothing shown in a verdict's text is measured)."""
    model = trained_on_blobs("jsc-tiny", blobs)
    splits = BlobSplits(blobs)
    from lab_utils.labs import lab3_claims
    clips = lab3_claims.clipping(model, blobs.x_val, lab3.LAB_PAIRS)
    conv, qmodel = lab3.bitop_table(model, batch_size=8)
    runs = []
    for _ in range(2):
        table, _ = lab3.metric_grid(model, splits, batch_size=8, latency_s=0.002)
        runs.append(lab3.grid_claims(table, clips, conv, qmodel, batch_size=8))
    noisy = table.assign(latency_ms=np.random.default_rng(1).uniform(0.01, 10.0, len(table)))
    runs.append(lab3.grid_claims(noisy, clips, conv, qmodel, batch_size=8))
    first = runs[0]
    assert len(first[0]) >= 7 and len(first[1]) == 5
    for found, checks, _ in runs[1:]:
        assert _verdicts(found, checks) == _verdicts(*first[:2])
        assert [c.evidence for c in found] == [c.evidence for c in first[0]]
        assert [c.run_shows for c in checks] == [c.run_shows for c in first[1]]
    assert next(c for c in first[1] if c.topic == "latency rises with precision").verdict != "not comparable"
