"""Batched candidate training: every slot is exactly its own network (oracle: the plain model and
``lab_utils.training.train.train`` run alone with the same init and seed), bit for bit the same
whatever else shares its group, and the same in two worker processes as in one."""

import copy
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from lab_utils.errors import LabError
from lab_utils.models import build_model, count_params
from lab_utils.training import candidates
from lab_utils.training.batched import (
    MAX_SLOTS,
    BatchedThreeLinear,
    evaluate_slots,
    plan_groups,
    seeded_init,
    train_batched,
    train_grid,
    train_runs,
    width_class,
)
from lab_utils.training.train import Recipe, evaluate, metrics_from_logits, train

HIDDEN = [(16, 16), (32, 64), (48, 16), (80, 32)]


def _max_diff(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k].double() - sb[k].double()).abs().max()) for k in sa)


@pytest.mark.parametrize("logit_relu", [True, False])
def test_export_of_untrained_slots_is_the_source_model(blobs, logit_relu):
    inits = [seeded_init(h, s, logit_relu) for s, h in enumerate(HIDDEN)]
    net = BatchedThreeLinear(inits)
    logits = net.eval()(blobs.x_val)  # (S, n, 5): padded forward for every slot at once
    for s, m in enumerate(inits):
        exported = net.export(s)
        assert count_params(exported) == count_params(m)
        assert _max_diff(exported, m) == 0.0
        ref = m.eval()(blobs.x_val)
        torch.testing.assert_close(logits[s], ref, rtol=1e-5, atol=1e-5)
    assert count_params(inits[0]) == 661 and count_params(inits[1]) == 16 * 32 + 32 + 32 * 64 + 64 + 64 * 5 + 5 + 32


def test_seeded_init_depends_only_on_seed():
    torch.manual_seed(123)
    a = seeded_init((32, 16), 7)
    state = torch.get_rng_state()
    b = seeded_init((32, 16), 7)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is untouched
    assert _max_diff(a, b) == 0.0
    assert _max_diff(a, seeded_init((32, 16), 8)) > 0


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_batched_training_equals_training_each_alone(blobs, optimizer):
    seeds = [0, 1, 0, 2]
    recipe = Recipe(epochs=2, batch_size=256, lr=3e-3 if optimizer == "adam" else 0.1, optimizer=optimizer,
                    weight_decay=1e-4)
    inits = [seeded_init(h, 10 + i) for i, h in enumerate(HIDDEN)]
    models, hists = train_batched([copy.deepcopy(m) for m in inits], seeds, blobs, recipe, progress=False)
    for init, model, hist, seed in zip(inits, models, hists, seeds):
        alone = copy.deepcopy(init)
        ref = train(alone, blobs, replace(recipe, seed=seed), progress=False)
        # Adam divides by sqrt(v): float rounding (bmm vs addmm sum order) on tiny gradients grows to ~1e-4
        assert _max_diff(model, alone) < 1e-3
        torch.testing.assert_close(model(blobs.x_test), alone.eval()(blobs.x_test), rtol=1e-3, atol=1e-3)
        assert hist.best_epoch == ref.best_epoch
        for mine, theirs in zip(hist.epochs, ref.epochs):
            for k in ("train_loss", "val_loss", "val_accuracy", "val_macro_accuracy"):
                assert mine[k] == pytest.approx(theirs[k], abs=1e-4), k
        assert evaluate(model, blobs.x_test, blobs.y_test)["accuracy"] == pytest.approx(
            evaluate(alone, blobs.x_test, blobs.y_test)["accuracy"], abs=2e-3)
    assert hists[1].epochs[-1]["val_accuracy"] > 0.6  # chance is 0.2: training happened


def test_padded_entries_stay_zero_under_adam(blobs):
    """No gradient masking: a padded unit's pre-activation is 0 and ReLU's gradient at 0 is 0."""
    net = BatchedThreeLinear([seeded_init(h, 0) for h in HIDDEN])
    opt = torch.optim.Adam(net.parameters(), lr=0.05, weight_decay=0.1)
    row_of = torch.zeros(len(HIDDEN), dtype=torch.long)
    for i in range(5):
        xb = blobs.x_train[i * 200:(i + 1) * 200].unsqueeze(0)
        yb = blobs.y_train[i * 200:(i + 1) * 200].expand(len(HIDDEN), -1)
        loss = torch.nn.functional.cross_entropy(net.train_logits(xb, row_of).transpose(1, 2), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for k in range(3):
        w, mw = getattr(net, f"w{k}"), getattr(net, f"mw{k}")
        assert torch.all(w[mw == 0] == 0) and torch.any(w[mw == 1] != 0)
        assert torch.all(getattr(net, f"b{k}")[getattr(net, f"mb{k}") == 0] == 0)
    assert int(mw.sum()) == sum(h2 * 5 for _, h2 in HIDDEN)  # the last mask covers exactly each slot's 5 x h2


def test_evaluate_slots_matches_evaluate(blobs):
    inits = [seeded_init(h, 3) for h in HIDDEN]
    net = BatchedThreeLinear(inits)
    got = evaluate_slots(net, blobs.x_val, blobs.y_val, chunk=300)
    for m, g in zip(inits, got):
        ref = evaluate(m, blobs.x_val, blobs.y_val)
        assert g["n"] == ref["n"] and g["accuracy"] == pytest.approx(ref["accuracy"], abs=1e-6)
        assert g["macro_accuracy"] == pytest.approx(ref["macro_accuracy"], abs=1e-6)
        assert g["loss"] == pytest.approx(ref["loss"], rel=1e-5)


def test_evaluate_slots_against_metrics_from_logits_bit_for_bit(blobs):
    """Why evaluate_slots keeps its own formulas: only macro accuracy and n are bit-identical to
    metrics_from_logits on the same logits; accuracy is a float64 count / n (metrics_from_logits:
    a float32 mean) and the loss a float64 sum of per-chunk float32 sums (there: one float32 mean)."""
    net = BatchedThreeLinear([seeded_init(h, 3) for h in HIDDEN])
    got = evaluate_slots(net, blobs.x_val, blobs.y_val, chunk=300)
    with torch.no_grad():
        logits = net.eval()(blobs.x_val)
    n = blobs.y_val.shape[0]
    for s, g in enumerate(got):
        ref = metrics_from_logits(logits[s], blobs.y_val)
        assert g["macro_accuracy"] == ref["macro_accuracy"] and g["n"] == ref["n"] == n
        hits = int((logits[s].argmax(1) == blobs.y_val).sum())
        assert g["accuracy"] == hits / n  # exact: the count in float64
        assert g["accuracy"] == pytest.approx(ref["accuracy"], abs=1e-7)
        assert g["loss"] == pytest.approx(ref["loss"], rel=1e-6)
    # the float32 mean metrics_from_logits takes is not the float64 count over n evaluate_slots takes
    assert any(g["accuracy"] != metrics_from_logits(logits[s], blobs.y_val)["accuracy"] for s, g in enumerate(got))


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_run_does_not_depend_on_its_group(blobs):
    """The same (hidden, seed, variant) run trained alone, in a larger group of its width class (other
    shapes, seeds and variants, in another slot position) and in a group cut differently gives the
    same weights and history bit for bit."""
    data, recipe = _with_describe(blobs), Recipe(epochs=2, batch_size=256, lr=3e-3)
    alone = train_runs([((32, 48), 0, True)], data, recipe, progress=False, workers=1)[0]
    crowd = train_runs([((16, 16), 3, True), ((48, 48), 0, False), ((32, 48), 1, False), ((32, 48), 0, True),
                        ((48, 32), 0, False)], data, recipe, progress=False, workers=1)[3]
    assert width_class((32, 48)) == width_class((16, 16)) == (48, 48)
    assert _same(alone["model"], crowd["model"]) and alone["history"]["epochs"] == crowd["history"]["epochs"]
    assert alone["val"] == crowd["val"]


@pytest.mark.slow  # spawns two worker processes (each imports torch): the floor is their start
def test_two_processes_equal_one(blobs):
    data, recipe = _with_describe(blobs), Recipe(epochs=1, batch_size=256, lr=3e-3)
    runs = [((16 * a, 16 * c), s, relu) for a, c in [(1, 1), (2, 4), (5, 3), (4, 5)] for s in (0, 1) for relu in (True, False)]
    one = train_runs(runs, data, recipe, progress=False, workers=1)
    two = train_runs(runs, data, recipe, progress=False, workers=2)
    assert len(plan_groups(runs)) >= 2  # really spread over both workers
    for a, b in zip(one, two):
        assert (a["hidden"], a["seed"], a["logit_relu"]) == (b["hidden"], b["seed"], b["logit_relu"])
        assert _same(a["model"], b["model"]) and a["history"]["epochs"] == b["history"]["epochs"]


def test_plan_groups_by_width_class():
    runs = [((16 * a, 16 * c), s, relu) for a in range(1, 6) for c in range(1, 6) for s in range(3) for relu in (True, False)]
    groups = plan_groups(runs)
    assert sorted(i for _, g in groups for i in g) == list(range(len(runs)))
    for padded, g in groups:
        assert len(g) <= MAX_SLOTS and {width_class(runs[i][0]) for i in g} == {padded}
    # hand count: widths 16..48 pad to 48, 64..80 pad to 80: classes of 9, 6, 6 and 4 shapes x 6 runs
    sizes = {}
    for padded, g in groups:
        sizes[padded] = sizes.get(padded, 0) + len(g)
    assert sizes == {(48, 48): 54, (48, 80): 36, (80, 48): 36, (80, 80): 24}
    assert width_class((96, 16)) == (128, 48)


def _with_describe(blobs):
    return SimpleNamespace(**vars(blobs), describe=lambda: {"dataset": "blobs", "sizes": [4000, 1000, 1000]})


def test_train_grid_fills_the_candidate_cache_that_search_reads(blobs, tmp_path):
    data = _with_describe(blobs)
    recipe = Recipe(epochs=2, batch_size=256, lr=3e-3)
    # in this process (workers=1): that two processes train the same is test_two_processes_equal_one
    rows = train_grid([(16, 16), (32, 64)], [0, 1], data, recipe, cache_dir=tmp_path, progress=False, workers=1)
    assert [(r["hidden"], r["seed"]) for r in rows] == [((16, 16), 0), ((16, 16), 1), ((32, 64), 0), ((32, 64), 1)]
    assert not any(r["cached"] for r in rows) and len(list(tmp_path.glob("*.ckpt"))) == 4
    # What the search space calls (lab_utils.search.spaces.ChannelMultiplier.evaluate): a cache hit.
    model, info = candidates.trained_candidate("jsc-three-linear-layers", {"hidden": (32, 64)}, data,
                                               replace(recipe, seed=1), cache_dir=tmp_path)
    assert info["cached"] and info["key"] == rows[3]["key"]
    assert _max_diff(model, rows[3]["model"]) == 0.0
    assert info["val"] == rows[3]["val"]
    again = train_grid([(32, 64)], [1], data, recipe, cache_dir=tmp_path, progress=False)
    assert again[0]["cached"] and _max_diff(again[0]["model"], rows[3]["model"]) == 0.0


def test_bad_input_is_a_lab_error(blobs):
    with pytest.raises(LabError, match="seeds"):
        train_batched([seeded_init((16, 16), 0)], [0, 1], blobs, Recipe(epochs=1), progress=False)
    with pytest.raises(LabError, match="jsc-three-linear-layers"):
        BatchedThreeLinear([build_model("jsc-tiny")])


def test_a_lone_last_row_trains_like_train_does(blobs):
    """1,025 training rows at batch size 512 (issue 13): the last row joins the batch before it, as in
    ``train()``. Before, that one-row minibatch's unbiased variance divided by zero: NaN running statistics
    and NaN validation losses in every slot, silently."""
    data = SimpleNamespace(x_train=blobs.x_train[:1025], y_train=blobs.y_train[:1025], x_val=blobs.x_val,
                           y_val=blobs.y_val)
    recipe = Recipe(epochs=2, batch_size=512, lr=3e-3)
    init = seeded_init((16, 16), 3)
    (model,), (hist,) = train_batched([copy.deepcopy(init)], [3], data, recipe, progress=False)
    assert all(torch.isfinite(v.float()).all() for v in model.state_dict().values())
    alone = copy.deepcopy(init)
    ref = train(alone, data, replace(recipe, seed=3), progress=False)
    assert _max_diff(model, alone) < 1e-3 and hist.best_epoch == ref.best_epoch == 2
    for mine, theirs in zip(hist.epochs, ref.epochs):
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], abs=1e-4)
    with pytest.raises(LabError, match="batch size 1: BatchNorm"):
        train_batched([seeded_init((16, 16), 0)], [0], data, replace(recipe, batch_size=1), progress=False)
