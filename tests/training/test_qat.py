"""Batched quantization-aware training (``lab_utils.training.qat``) against an independent oracle:
``quantize_model`` of the same checkpoint trained alone by a plain loop with ``torch.optim`` and
``LambdaLR`` (HuggingFace's schedule formulas, written out here), the same seed and recipe."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.passes.graph import trace
from lab_utils.passes.quantize import integer_quantize, lab_config, quantize_model
from lab_utils.training.qat import MAX_SLOTS, QATRecipe, plan_groups, qat_model, qat_runs, resolve_configs
from lab_utils.training.qat_slots import SlotChain, _slot_quantize, _SlotQuantizeSTE, slot_nodes
from lab_utils.training.train import Recipe, evaluate, train
from tests.helpers import make_blobs, trained_on_blobs

# the oracle's plain loops and the blob models are tiny: on one thread they run several times faster when other
# processes share the cores (measured at load 4 on 2 cores, one thread against two: 18 s -> 3.6 s for the three
# slot-equality cases)
pytestmark = pytest.mark.usefixtures("one_thread")


def _by_name(node, di=(8, 4), w=(4, 2), b=(8, 4), **kw):
    return {"by": "name", node: {"config": lab_config(di, w, b, **kw)}}


def _hf_lambda(recipe, total):
    """HuggingFace's get_scheduler factors (constant, constant_with_warmup, linear, cosine with 0.5 cycles)."""
    w = recipe.num_warmup_steps

    def factor(step):
        if recipe.lr_scheduler == "constant":
            return 1.0
        if step < w:
            return step / max(1, w)
        if recipe.lr_scheduler == "constant_with_warmup":
            return 1.0
        p = (step - w) / max(1, total - w)
        return max(0.0, 1 - p) if recipe.lr_scheduler == "linear" else max(0.0, 0.5 * (1 + math.cos(math.pi * p)))
    return factor


def oracle(model, args, data, recipe, seed=None):
    """The lab way: quantize_model, then a plain loop (MASE's optimizer grouping: no decay on biases)."""
    q = quantize_model(model, args).train()
    decay = [p for n, p in q.named_parameters() if "bias" not in n]
    no_decay = [p for n, p in q.named_parameters() if "bias" in n]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    lr = recipe.learning_rate
    opt = {"adam": lambda: torch.optim.Adam(groups, lr=lr), "adamw": lambda: torch.optim.AdamW(groups, lr=lr),
           "sgd": lambda: torch.optim.SGD(groups, lr=lr)}[recipe.optimizer]()
    n, bs = data.x_train.shape[0], recipe.batch_size
    per_epoch = math.ceil(n / bs)
    limit = per_epoch * bs * recipe.max_epochs if recipe.max_epochs != -1 else math.inf
    samples = min(limit, recipe.num_samples) if recipe.num_samples != -1 else limit
    num = math.ceil(samples / bs)
    g_acc = recipe.gradient_accumulation_steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _hf_lambda(recipe, math.ceil(num / g_acc)))
    gen = torch.Generator().manual_seed(recipe.seed if seed is None else seed)
    for i in range(num):
        if i % per_epoch == 0:
            perm = torch.randperm(n, generator=gen)
        idx = perm[(i % per_epoch) * bs:(i % per_epoch + 1) * bs]
        (F.cross_entropy(q(data.x_train[idx]), data.y_train[idx]) / g_acc).backward()
        if (i + 1) % g_acc == 0 or i == num - 1:
            opt.step()
            sched.step()
            opt.zero_grad()
    return q.eval(), evaluate(q, data.x_val, data.y_val)


def _max_diff(sa, sb):
    assert sa.keys() == sb.keys()
    return max(float((sa[k].double() - sb[k].double()).abs().max()) for k in sa)


def _noise_keys(model):
    """Biases of Linears or convolutions followed by a BatchNorm, and that BatchNorm's running mean."""
    mods = list(model.seq_blocks)
    return {k for i, (a, b) in enumerate(zip(mods, mods[1:])) if isinstance(a, (nn.Linear, nn.Conv2d)) and
            isinstance(b, (nn.BatchNorm1d, nn.BatchNorm2d)) for k in (f"seq_blocks.{i}.bias", f"seq_blocks.{i + 1}.running_mean")}


CASES = [
    ("jsc-tiny", QATRecipe(max_epochs=2, batch_size=256, learning_rate=1e-2, weight_decay=1e-3, lr_scheduler="linear",
                           num_warmup_steps=3, seed=3)),
    ("jsc-toy", QATRecipe(max_epochs=1, batch_size=200, optimizer="adamw", learning_rate=5e-3, weight_decay=1e-2,
                          lr_scheduler="cosine", gradient_accumulation_steps=3)),
    ("jsc-three-linear-layers", QATRecipe(num_samples=2500, max_epochs=-1, batch_size=128, optimizer="sgd",
                                          learning_rate=0.05, weight_decay=1e-3, lr_scheduler="constant_with_warmup",
                                          num_warmup_steps=2)),
]


@pytest.mark.parametrize("name,recipe", CASES, ids=[c[0] for c in CASES])
def test_each_slot_equals_quantize_model_and_a_plain_loop(blobs, name, recipe):
    model = trained_on_blobs(name, blobs).train()
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    nodes = ["seq_blocks_" + n.rsplit(".", 1)[1] for n in linears]
    configs = [
        {"by": "type", "linear": {"config": lab_config((8, 4), (4, 2), (8, 4))}},
        {"by": "type", "linear": {"config": lab_config((4, "NA"), (2, "NA"), (4, "NA"))}},
        _by_name(nodes[0], (16, 8), (3, 1), (5, 3)),  # other linears stay float
        {"by": "type", "default": {"config": lab_config((6, 2), (5, 3), (8, 5))},
         "linear": {"config": {**lab_config(), "bypass": True}}},  # bypass: no quantization at all
        {"by": "name", "default": {"config": lab_config((8, "auto"), (4, "auto"), (8, "auto"))},
         "calibration": blobs.x_train[:256]},
    ]
    results = qat_runs(model, configs, blobs, recipe, seeds=[recipe.seed, 7, 7, recipe.seed, 11], progress=False)
    for args, res in zip(configs, results):
        ref, ref_val = oracle(model, args, blobs, recipe, seed=res["seed"])
        mine = qat_model(model, res)
        # sums run in another order (baddbmm vs addmm, batch statistics) and torch.optim rounds differently.
        # A Linear's bias feeding a training-mode BatchNorm has an exactly zero gradient, so both sides
        # step on rounding noise, which Adam scales up to the learning rate: compare those by the outputs.
        # Adam also amplifies the rounding of near-zero gradients elsewhere (measured: 3e-4 on jsc-tiny's
        # BatchNorm weight with no quantization at all, lr 1e-2), hence a bound of a fraction of one step.
        noise = _noise_keys(model)
        assert _max_diff(*({k: v for k, v in sd.items() if k not in noise}
                           for sd in (mine.state_dict(), ref.state_dict()))) < 0.3 * recipe.learning_rate
        # outputs of a quantized net jump by a grid step where a value sits on a rounding boundary
        with torch.no_grad():
            a, b = mine(blobs.x_test), ref(blobs.x_test)
        assert float((a - b).abs().mean()) < 5e-3
        assert float((a.argmax(1) == b.argmax(1)).float().mean()) >= 0.99
        assert res["val"]["accuracy"] == pytest.approx(ref_val["accuracy"], abs=3e-3)
        assert res["val"]["loss"] == pytest.approx(ref_val["loss"], rel=2e-3, abs=5e-4)
        # the reported metrics are those of the exported quantized model
        exported = evaluate(mine, blobs.x_val, blobs.y_val)
        assert res["val"]["accuracy"] == pytest.approx(exported["accuracy"], abs=1e-3)
        assert res["val"]["macro_accuracy"] == pytest.approx(exported["macro_accuracy"], abs=1e-3)
    assert results[0]["state_dict"].keys() == model.state_dict().keys()
    assert _max_diff(results[0]["state_dict"], model.state_dict()) > 1e-3  # it trained


def test_a_slot_does_not_depend_on_its_group(blobs):
    """Bit for bit: the same config and seed alone, at another position, beside other configs and seeds."""
    model = trained_on_blobs("jsc-toy", blobs).train()
    recipe = QATRecipe(max_epochs=1, batch_size=256, weight_decay=1e-3, gradient_accumulation_steps=2)
    target = {"by": "type", "linear": {"config": lab_config((6, 3), (4, 2), (8, 4))}}
    others = [{"by": "type", "linear": {"config": lab_config((w, w // 2), (w, w - 1), (8, 4))}} for w in (2, 3, 8, 16)]
    alone = qat_runs(model, [target], blobs, recipe, progress=False)[0]
    mixed = qat_runs(model, others[:2] + [target] + others[2:], blobs, recipe, seeds=[5, 0, 0, 9, 5],
                     progress=False)[2]
    second = qat_runs(model, [others[3], target], blobs, recipe, seeds=[1, 0], progress=False)[1]
    for other in (mixed, second):
        assert other["val"] == alone["val"]
        assert other["train_loss"] == alone["train_loss"]
        for k, v in alone["state_dict"].items():
            assert torch.equal(other["state_dict"][k], v), k


def test_per_slot_quantizer_equals_integer_quantize_bit_for_bit():
    x = torch.randn(4, 300, 7) * 3
    cfgs = [(8, 4), (4, 2), (2, 1), (16, 12)]
    node_cfgs = [{"seq_blocks_2": lab_config((w, f), (w, f), (w, f))} for w, f in cfgs]
    chain = SlotChain(build_model("jsc-tiny"), node_cfgs)
    q = _slot_quantize(x, chain.n2_data_in_q, chain.n2_data_in_on, True)
    for s, (w, f) in enumerate(cfgs):
        assert torch.equal(q[s], integer_quantize(x[s], w, f))
    # a slot whose node is float passes through untouched
    mixed = SlotChain(build_model("jsc-tiny"), node_cfgs[:1] + [{}])
    q = _slot_quantize(x[:2], mixed.n2_weight_q, mixed.n2_weight_on, mixed.all_on["n2_weight"])
    assert torch.equal(q[0], integer_quantize(x[0], 8, 4)) and torch.equal(q[1], x[1])


def test_straight_through_estimator_passes_the_gradient_unchanged():
    node_cfgs = [{"seq_blocks_2": lab_config((4, 2), (2, 1), (4, 2))}] * 2
    chain = SlotChain(build_model("jsc-tiny"), node_cfgs)
    x = (torch.randn(2, 50, 16) * 10).requires_grad_()  # many values far outside the 4-bit range
    up = torch.randn(2, 50, 16)
    _SlotQuantizeSTE.apply(x, chain.n2_data_in_q, chain.n2_data_in_on, True).backward(up)
    assert torch.equal(x.grad, up)
    # and through a whole training step: every trainable tensor gets a non-zero gradient (8-bit weights:
    # at 2 bits, frac 1, the fresh init's weights, all within +-0.25, quantize to 0 and pass nothing back)
    chain = SlotChain(build_model("jsc-tiny"), [{"seq_blocks_2": lab_config((4, 2), (8, 4), (4, 2))}] * 2)
    logits = chain.train().run(torch.randn(1, 64, 16), torch.tensor([0, 0]))
    F.cross_entropy(logits.transpose(1, 2), torch.randint(0, 5, (2, 64)), reduction="none").mean(1).sum().backward()
    for name, p in chain.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kw,words", [
    ({"num_samples": -1, "max_epochs": -1}, ["num_samples and max_epochs cannot both be -1"]),
    ({"lr_scheduler": "polynomial"}, ["lr_scheduler", "polynomial", "linear", "cosine"]),
    ({"optimizer": "rmsprop"}, ["optimizer", "adam, adamw, sgd"]),
    ({"num_samples": 0}, ["num_samples", ">= 1 or -1"]),
    ({"max_epochs": 1.5}, ["max_epochs"]),
    ({"max_epochs": True}, ["max_epochs"]),
    ({"learning_rate": 0}, ["learning_rate", "(0, 10]"]),
    ({"weight_decay": -1e-4}, ["weight_decay", ">= 0"]),
    ({"num_warmup_steps": -1}, ["num_warmup_steps"]),
    ({"gradient_accumulation_steps": 0}, ["gradient_accumulation_steps", ">= 1"]),
])
def test_recipe_refuses_bad_values_with_one_line_naming_the_key(kw, words):
    with pytest.raises(LabError) as err:
        QATRecipe.from_mase(kw, where="search.strategy.sw_runner.basic_train")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("search.strategy.sw_runner.basic_train.")
    for w in words:
        assert w in msg


def test_recipe_from_mase_keys():
    table = {"num_samples": 1000, "max_epochs": 2, "optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 0.01,
             "lr_scheduler": "cosine", "num_warmup_steps": 5, "gradient_accumulation_steps": 2}
    r = QATRecipe.from_mase(table, batch_size=256, seed=4)
    assert (r.num_samples, r.batch_size, r.seed, r.lr_scheduler) == (1000, 256, 4, "cosine")
    with pytest.raises(LabError, match=r"basic_train\.data_loader: unknown key; allowed: num_samples"):
        QATRecipe.from_mase({"data_loader": "train"})
    # MASE's budget: min(num_samples, epochs x batches x batch size), in whole batches
    assert QATRecipe(num_samples=1000, max_epochs=2, batch_size=256).num_batches(4000) == 4
    assert QATRecipe(num_samples=-1, max_epochs=2, batch_size=256).num_batches(4000) == 32
    assert QATRecipe(num_samples=9000, max_epochs=-1, batch_size=256).num_batches(4000) == 36
    assert QATRecipe(num_samples=9000, max_epochs=1, batch_size=256).num_batches(4000) == 16


def test_num_samples_is_honoured(blobs):
    """num_samples=N trains ceil(N/B) batches: the same as an oracle on those first samples of the seeded
    order, and different from a full epoch; beyond an epoch (max_epochs=-1) it continues into the next one."""
    model = trained_on_blobs("jsc-tiny", blobs).train()
    args = {"by": "type", "linear": {"config": lab_config((8, 4), (3, 1), (8, 4))}}
    short = QATRecipe(num_samples=700, batch_size=256, learning_rate=1e-2)
    res = qat_runs(model, [args], blobs, short, progress=False)[0]
    assert (res["batches"], res["steps"], res["samples"]) == (3, 3, 768)
    ref, _ = oracle(model, args, blobs, short)
    assert _max_diff(qat_model(model, res).state_dict(), ref.state_dict()) < 1e-4
    full = qat_runs(model, [args], blobs, QATRecipe(batch_size=256, learning_rate=1e-2), progress=False)[0]
    assert full["samples"] == 4000 and _max_diff(full["state_dict"], res["state_dict"]) > 1e-3
    long = qat_runs(model, [args], blobs, QATRecipe(num_samples=5000, max_epochs=-1, batch_size=1000),
                    progress=False)[0]
    assert (long["batches"], long["samples"]) == (5, 5000)


@pytest.mark.parametrize("weight,least_loss", [((4, 2), 0.03), ((2, 1), 0.1)])
def test_qat_recovers_what_ptq_loses_at_low_weight_widths(weight, least_loss):
    """Overlapping seeded blobs (float accuracy about 0.86): jsc-three-linear-layers trained in float, then
    4-bit (frac 2) or 2-bit weights with 8-bit inputs: PTQ loses accuracy; three epochs of QAT from the same
    checkpoint win back at least half of it (measured: 0.858 float, 0.816 PTQ, 0.850 QAT at 4 bits;
    0.690 PTQ, 0.838 QAT at 2 bits; 2,000 validation rows)."""
    data = make_blobs(spread=0.6, train=4000, val=2000)
    xv, yv = data.x_val, data.y_val
    torch.manual_seed(0)
    model = build_model("jsc-three-linear-layers", logit_relu=False)
    train(model, data, Recipe(epochs=20, batch_size=128, lr=1e-2), progress=False)
    float_acc = evaluate(model, xv, yv)["accuracy"]
    args = {"by": "type", "linear": {"config": lab_config((8, 4), weight, (8, 4))}}
    ptq = evaluate(quantize_model(model, args), xv, yv)["accuracy"]
    qat = qat_runs(model.train(), [args], data, QATRecipe(max_epochs=3, batch_size=128, learning_rate=1e-2),
                   progress=False)[0]["val"]["accuracy"]
    assert float_acc > 0.8
    assert float_acc - ptq > least_loss  # PTQ really loses here
    assert qat - ptq > 0.5 * (float_acc - ptq)  # QAT recovers at least half of it


class _Conv(nn.Module):
    def __init__(self):
        super().__init__()
        self.seq_blocks = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                                        nn.Linear(64, 5))

    def forward(self, x):
        return self.seq_blocks(x)


def test_a_model_that_is_not_a_chain_trains_one_config_at_a_time(blobs):
    torch.manual_seed(0)
    model = _Conv()
    data = copy.copy(blobs)
    data.x_train, data.x_val = blobs.x_train.view(-1, 1, 4, 4), blobs.x_val.view(-1, 1, 4, 4)
    assert slot_nodes(trace(model)) is None
    configs = [{"by": "type", "conv2d": {"config": lab_config((8, 4), (4, 2), (8, 4))},
                "linear": {"config": lab_config((8, 4), (w, w // 2), (8, 4))}} for w in (4, 8)]
    recipe = QATRecipe(batch_size=256, learning_rate=1e-2)
    results = qat_runs(model, configs, data, recipe, progress=False)
    for args, res in zip(configs, results):
        ref, ref_val = oracle(model, args, data, recipe)
        mine, noise = qat_model(model, res).state_dict(), _noise_keys(model)
        assert _max_diff(*({k: v for k, v in sd.items() if k not in noise} for sd in (mine, ref.state_dict()))) < 1e-4
        assert res["val"]["accuracy"] == pytest.approx(ref_val["accuracy"], abs=1e-3)


def test_groups_and_config_errors(blobs):
    assert plan_groups(144, 2) == [list(range(i, i + 36)) for i in range(0, 144, 36)]
    assert [len(g) for g in plan_groups(MAX_SLOTS + 1)] == [25, 24]
    model = build_model("jsc-tiny")
    with pytest.raises(LabError, match="unknown node name 'seq_blocks_9'"):
        resolve_configs(model, [_by_name("seq_blocks_9")])
    assert qat_runs(model, [], blobs, progress=False) == []
    with pytest.raises(LabError, match="2 configs but 1 seeds"):
        qat_runs(model, [_by_name("seq_blocks_2")] * 2, blobs, seeds=[0], progress=False)


def test_a_lone_last_row_joins_the_batch_before_it():
    """1,025 training rows at batch size 512: two batches per epoch (512 and 513 rows), never one of a
    single row (BatchNorm cannot train on it), as every training loop of the package slices."""
    from lab_utils.training.qat import QATRecipe
    r = QATRecipe(max_epochs=2, batch_size=512)
    assert r.num_batches(1025) == 4 and r.num_batches(1024) == 4 and r.num_batches(1026) == 6
