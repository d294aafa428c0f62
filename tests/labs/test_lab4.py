"""lab4 (lab4_1 to lab4_3): the runs table (failures from predictions), the layer table and lab4_1's
claims: a check, a learning test and the failed-run remark (the statistics: tests/labs/test_lab4_claims.py;
lab4_4: tests/labs/test_lab4_4.py)."""

import math

import pytest

from lab_utils.labs import lab4


def test_results_table_counts_params_and_accuracy(blobs):
    import torch

    from lab_utils.training.batched import seeded_init

    model = seeded_init((32, 64), 0).eval()
    dead = seeded_init((16, 16), 0, logit_relu=False).eval()
    with torch.no_grad():  # a class that can never win: its logit's bias far below the others
        dead.seq_blocks[6].bias[3] = -1e6
    table = lab4.results_table([{"hidden": (32, 64), "seed": 0, "model": model, "cached": True,
                                          "history": {"best_epoch": 3}},
                                         {"hidden": (16, 16), "seed": 1, "model": dead, "logit_relu": False}], blobs)
    row = table.iloc[0]
    assert (row["a"], row["c"], row["params"]) == (2, 4, 3013)
    pred_classes = int(torch.unique(model(blobs.x_val).argmax(1)).numel())
    assert row["classes_predicted"] == pred_classes and row["failed"] == (pred_classes < 5)
    assert row["model"] == "faithful" and row["phase"] == "screen"
    dead_row = table.iloc[1]
    assert dead_row["model"] == "fixed" and bool(dead_row["failed"])
    assert dead_row["classes_predicted"] == int(torch.unique(dead(blobs.x_val).argmax(1)).numel()) <= 4
    assert row["macs"] == 16 * 32 + 32 * 64 + 64 * 5
    pred = model(blobs.x_val).argmax(1)
    assert row["val_accuracy"] == pytest.approx(float((pred == blobs.y_val).float().mean()))
    assert row["best_epoch"] == 3 and bool(row["cached"])


def test_layer_table_lists_nodes_and_shapes():
    from lab_utils.models import build_model
    from lab_utils.passes import graph

    g = graph.trace(build_model("jsc-three-linear-layers"))
    t = lab4.layer_table(g, shapes={"seq_blocks_2": (1, 16)})
    assert t["node"].tolist()[:3] == ["seq_blocks_0", "seq_blocks_1", "seq_blocks_2"]
    assert t.set_index("node").loc["seq_blocks_2", "output shape"] == (1, 16)
    assert t.set_index("node").loc["seq_blocks_0", "output shape"] is None
    assert "output shape" not in lab4.layer_table(g)


def test_double_width_claims_every_way():
    good = lab4.double_width_claims(1797, (32, 32), 2, {"accuracy": 0.2, "n": 1000}, {"accuracy": 0.7, "n": 1000},
                                    predicted=[200, 200, 200, 200, 200], class_names="gqwzt")
    assert [c.kind for c in good] == ["check", "finding", "finding"]  # the hand count is a check
    assert [c.verdict for c in good] == ["check passed", "holds", "holds"]  # 16*32+32 + 32*32+32 + 32*5+5 + 32 = 1,797
    flat = lab4.double_width_claims(1796, (32, 16), 2, {"accuracy": 0.5, "n": 1000}, {"accuracy": 0.49, "n": 1000})
    assert [c.verdict for c in flat] == ["check failed", "not shown"]  # 490 of 1000 against 0.5: p >= alpha either way
    worse = lab4.double_width_claims(1797, (32, 32), 2, {"accuracy": 0.5, "n": 1000}, {"accuracy": 0.4, "n": 1000})
    assert worse[1].verdict == "refuted" and "trained below untrained (opposite one-sided p < 0.001)" in worse[1].evidence


def test_double_width_claims_evidence_numbers_by_hand():
    # multiplier 3: 16 -> 48 -> 48 -> 5 with BatchNorm(16): 16*48+48 + 48*48+48 + 48*5+5 + 2*16 = 3,445 parameters;
    # 15 of 20 validation jets right against an untrained 50 %: P(X >= 15), X ~ Bin(20, 1/2) = 21,700 / 2^20
    widths, learns = lab4.double_width_claims(3445, (48, 48), 3, {"accuracy": 0.5, "n": 20},
                                              {"accuracy": 0.75, "n": 20})
    assert (widths.key, widths.holds, widths.numbers, widths.kind) == ("passes_give_widths", True, {}, "check")
    assert widths.evidence == "hidden widths (48, 48), 3,445 parameters; hand count 3,445"
    p = sum(math.comb(20, k) for k in range(15, 21)) / 2**20
    assert p == pytest.approx(21_700 / 2**20)
    assert learns.key == "expanded_model_learns" and learns.holds is True and learns.numbers["p"] == pytest.approx(p)
    assert learns.numbers["p_opposite"] == pytest.approx(sum(math.comb(20, k) for k in range(0, 16)) / 2**20)
    assert learns.evidence == ("50.00 % untrained -> 75.00 % trained on 20 validation jets; one-sided exact binomial "
                               "test, p = 0.021")
    # against an untrained 20 %: 5 of 10 right, P(X >= 5) for X ~ Bin(10, 0.2); one parameter short of the count
    short, learns = lab4.double_width_claims(3444, (48, 48), 3, {"accuracy": 0.2, "n": 10}, {"accuracy": 0.5, "n": 10})
    assert short.holds is False and short.evidence.endswith("3,444 parameters; hand count 3,445")
    p = sum(math.comb(10, k) * 0.2**k * 0.8 ** (10 - k) for k in range(5, 11))
    assert learns.numbers["p"] == pytest.approx(p) and learns.holds is True
    # 7 of 10 right against an untrained 50 %: P(X >= 7) = 176 / 1024 = 0.172, not shown
    _, unsure = lab4.double_width_claims(3445, (48, 48), 3, {"accuracy": 0.5, "n": 10}, {"accuracy": 0.7, "n": 10})
    assert unsure.holds is None and unsure.numbers["p"] == pytest.approx(176 / 1024)
    assert unsure.evidence.endswith("p = 0.172; not shown at α = 0.05")


def test_double_width_claims_remark_a_failed_run():
    """lab4_1's full run at fc164f1 ended at 66.67 % with one class never predicted, unremarked: the third claim
    says so, computed from the trained model's predictions per class."""
    predicted = [300, 250, 0, 250, 200]  # w never predicted, of 1,000 validation jets
    *_, failed = lab4.double_width_claims(1797, (32, 32), 2, {"accuracy": 0.1165, "n": 1000},
                                          {"accuracy": 0.6667, "n": 1000}, predicted=predicted, class_names="gqwzt")
    assert (failed.key, failed.verdict) == ("trained_run_predicts_every_class", "refuted")
    assert failed.evidence == ("class w never predicted: a failed run (the failure mode of MASE's ReLU on the logits "
                               "that lab0 counts), so its 66.67 % is a collapsed model's accuracy; predictions per "
                               "class: g 30.0 %, q 25.0 %, w 0.0 %, z 25.0 %, t 20.0 %")
    assert failed.numbers == {"classes_predicted": 4, "never_predicted": ["w"]}
    *_, two = lab4.double_width_claims(1797, (32, 32), 2, {"accuracy": 0.1, "n": 10}, {"accuracy": 0.6, "n": 10},
                                       predicted=[5, 5, 0, 0, 0], class_names="gqwzt")
    assert two.evidence.startswith("classes w, z, t never predicted") and two.numbers["classes_predicted"] == 2
    *_, ok = lab4.double_width_claims(1797, (32, 32), 2, {"accuracy": 0.1, "n": 10}, {"accuracy": 0.6, "n": 10},
                                      predicted=[2, 2, 2, 2, 2])
    assert ok.verdict == "holds" and ok.evidence.startswith("all 5 classes predicted; predictions per class: 0 20.0 %")
