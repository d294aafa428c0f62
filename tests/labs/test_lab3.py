"""lab3 helpers against oracles: the search engine's own evaluate, hand-counted sizes, scipy ranks."""

import numpy as np
import pandas as pd
import pytest
import torch

from lab_utils.errors import LabError
from lab_utils.labs import lab3, lab3_samplers
from lab_utils.models import build_model
from lab_utils.training.train import evaluate


class _Splits:
    def __init__(self, blobs):
        self.b = blobs

    def split(self, s):
        return self.b.split(s)


def _trained(name, blobs):
    torch.manual_seed(0)
    m = build_model(name, logit_relu=False)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(blobs.x_train[:1000]), blobs.y_train[:1000]).backward()
        opt.step()
    return m.eval()


def test_layerwise_table_equals_space_evaluate(blobs):
    model = _trained("jsc-three-linear-layers", blobs)
    raw = lab3_samplers.three_layer_space_config(weight_widths=(2, 8), weight_fracs=(1, 4), data_in_widths=(4,),
                                        nodes=("seq_blocks_2", "seq_blocks_6"))
    space, _ = lab3_samplers.build_space(raw, model, _Splits(blobs), metrics=("accuracy",))
    slow, frame = lab3_samplers.space_table(space)
    fast = lab3_samplers.layerwise_table(space)
    assert slow.n == 16 and list(fast.choices) == list(slow.choices)
    assert np.array_equal(slow.values, fast.values)
    assert slow.values.max() - slow.values.min() > 1.0  # 2-bit weights must cost accuracy: a real test
    # spot-check one configuration against a hand-built pass config evaluated directly
    j = int(np.argmin(slow.values))
    cfg = {**{k: v[0] for k, v in space.choices().items()}, **slow.config(j)}
    from lab_utils.passes.quantize import quantize_model
    q = quantize_model(model, space.pass_args(cfg))
    assert 100 * evaluate(q, *blobs.split("val"))["accuracy"] == pytest.approx(slow.values[j])


def test_metric_grid_counts_and_float_row(blobs):
    model = _trained("jsc-tiny", blobs)
    grid = [((16, 8), (16, 8)), ((4, 2), (4, 2))]
    table, layers = lab3.metric_grid(model, _Splits(blobs), grid=grid, latency_s=None, batch_size=8)
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
    wide = lab3.size_breakdown(layers)
    assert wide["total"].tolist() == table["size_bytes"].tolist()


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


def test_sampler_tables_and_curves():
    from lab_utils.search import replay

    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    table = replay.ReplayTable({"x": [0, 1, 2], "y": [0, 1]}, values, "maximize", "acc")
    study = replay.sampler_study(table, ("brute-force", "random"), seeds=range(3), n_startup_trials=2)
    five = lab3_samplers.first_trials_table(study, ("brute-force", "random"), k=5)
    b5 = study.best("random")[:, 4]
    assert five.set_index("sampler").loc["random"].tolist() == pytest.approx([b5[0], b5.mean(), b5.min(), b5.max()])
    eff = replay.efficiency_table(study, 0.5)
    nums = lab3_samplers.sampler_numbers(("brute-force", "random"), eff, eff, 0.5)
    assert nums["small: tpe unique configs tried (mean)"] is None
    assert nums["large: random unique configs tried (mean)"] == float(eff.set_index("sampler").loc["random",
                                                                                                    "unique_configs_mean"])
    assert list(nums)[0] == "small: brute-force trials to optimum (mean)"
    curves = lab3_samplers.best_so_far_curves({"t": study})["t"]
    assert curves["trials"].tolist() == [1, 2, 3, 4, 5, 6] and curves["optimum"] == 6.0 and curves["n_seeds"] == 3
    mean, lo, hi = curves["samplers"]["brute-force"]
    assert mean[-1] == 6.0 and (lo <= mean).all() and (mean <= hi).all()


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
    assert lab3.best_trials(trials, best, varying).to_dict("list") == {"seq_blocks_2/w": [2], "accuracy": [0.6],
                                                                       "average_bitwidth": [2]}
    top, compare = lab3.best_vs_float(trials, 0.65)
    assert int(top["number"]) == 2 and compare["val accuracy"].tolist() == [0.65, 0.6]
