"""Search spaces: MASE's counts, by-type really quantizes, metrics against independent oracles, and
build_context on a model and splits held in memory."""

import dataclasses
import tomllib
from types import SimpleNamespace

import pytest
import torch

from lab_utils.errors import LabError
from lab_utils.search import space as space_mod
from lab_utils.search.config import parse_config
from lab_utils.search.space import SOFTWARE_METRICS, SpaceContext, build_context, get_space, measure, unique_choices
from tests.helpers import ROOT, bruteforce_toml, tiny_checkpoint


def naive_q(x, w, f):
    """Reference fixed-point quantizer written from the formula, element by element."""
    f = w // 2 if f is None else f
    lo, hi = -(2 ** (w - 1)), 2 ** (w - 1) - 1
    return torch.tensor([min(max(round(float(v) * 2 ** f), lo), hi) / 2 ** f for v in x.flatten()]).reshape(x.shape)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def space_for(text, ckpt):
    cfg = parse_config(tomllib.loads(text), {"load": str(ckpt)})
    return build_context(cfg, None)[0]


def test_report_space_counts(ckpt):
    space = space_for(bruteforce_toml(), ckpt)
    assert space.index_combinations() == 4 ** 4 == 256
    assert space.n_configurations() == 3 * 4 * 3 * 4 == 144
    configs = space.configurations()
    assert len(configs) == 144 and len({tuple(sorted(c.items())) for c in configs}) == 144
    assert unique_choices([8, 8, 4, 16]) == (4, 8, 16)
    assert space.decode(space.encode(configs[17])) == configs[17]


def test_by_type_really_quantizes(ckpt):
    text = bruteforce_toml().replace('by = "name"', 'by = "type"').replace("seed.seq_blocks_2.config", "seed.linear.config")
    space = space_for(text, ckpt)
    config = {k: v[0] for k, v in space.choices().items()}  # data_in (4, 2), weight (4, 2), bias (8, 4)
    assert space.pass_args(config)["linear"]["config"]["data_in_width"] == 4
    got = space.evaluate(config)
    # Oracle: jsc-tiny's forward written out with the naive quantizer.
    model = space.ctx.model
    x, y = space.ctx.splits.split("val")
    bn, lin = model.seq_blocks[0], model.seq_blocks[2]
    with torch.no_grad():
        h = torch.relu(bn(x))
        logits = torch.relu(naive_q(h, 4, 2) @ naive_q(lin.weight, 4, 2).T + naive_q(lin.bias, 8, 4))
    acc = float((logits.argmax(1) == y).float().mean())
    assert got["accuracy"] == pytest.approx(acc, abs=1.5 / len(y))  # at most one tie decided differently
    assert got["average_bitwidth"] == 4.0 and got["memory_density"] == 8.0
    float_acc = float((model(x).argmax(1) == y).float().mean())
    assert got["accuracy"] != float_acc or got["loss"] != pytest.approx(float(torch.nn.functional.cross_entropy(model(x), y)))


def test_measure_software_metrics_match_torchmetrics():
    from torchmetrics.functional.classification import multiclass_accuracy

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1000, 5, generator=g)
    y = torch.randint(0, 5, (1000,), generator=g)
    ctx = SpaceContext(model_name="identity", model=None, splits=SimpleNamespace(split=lambda s: (logits, y)))
    m = measure(torch.nn.Identity(), ctx)  # the model returns the logits themselves
    assert set(m) == set(SOFTWARE_METRICS)  # no "n": the split size is not a metric
    assert m["macro_accuracy"] == pytest.approx(float(multiclass_accuracy(logits, y, 5, average="macro")), abs=1e-6)
    assert m["accuracy"] == pytest.approx(float(multiclass_accuracy(logits, y, 5, average="micro")), abs=1e-6)
    assert m["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(logits, y)), rel=1e-6)


def test_build_context_on_a_model_in_memory_loads_nothing_and_measures_the_same(ckpt, monkeypatch):
    cfg = parse_config(tomllib.loads(bruteforce_toml()), {"load": str(ckpt)})
    loaded, splits = build_context(cfg, None)
    model = loaded.ctx.model
    # lab3's own constructor, as it was written before build_context took a model
    metrics = ("accuracy", "average_bitwidth", "loss")
    ctx = SpaceContext(model_name=cfg.model, model=model.eval(), splits=splits, checkpoint=ckpt,
                       eval_split=cfg.eval_split, seed=cfg.seed, batch_size=cfg.batch_size,
                       metrics=metrics, eval_samples=cfg.strategy.eval_samples)
    by_hand = get_space(cfg.space.name)(cfg.space, ctx)

    def boom(*a, **k):
        raise AssertionError("build_context loaded something again")

    for name in ("load_dataset", "build_model", "load_checkpoint_file", "load_weights"):
        monkeypatch.setattr(space_mod, name, boom)
    no_load = dataclasses.replace(cfg, load=None)  # a trained model in memory needs no `load`
    space, same_splits = build_context(no_load, None, model=model, splits=splits, checkpoint=ckpt,
                                       metrics=list(metrics))
    assert same_splits is splits and space.ctx.model is model and space.ctx.splits is splits
    differ = {f.name for f in dataclasses.fields(SpaceContext)
              if getattr(space.ctx, f.name) is not getattr(ctx, f.name) and getattr(space.ctx, f.name) != getattr(ctx, f.name)}
    assert differ == set()  # this PTQ config has no model_args, train table or compare_to: every field equal
    assert space.ctx.metrics == metrics and space.ctx.checkpoint == ckpt
    configs = space.configurations()
    for config in configs[:3] + configs[-2:]:
        assert space.evaluate(config) == by_hand.evaluate(config)
    with pytest.raises(ValueError, match="checkpoint"):
        build_context(cfg, None, checkpoint=ckpt)


def test_node_not_in_model_and_missing_checkpoint(ckpt):
    text = bruteforce_toml().replace("seed.seq_blocks_2.config", "seed.seq_blocks_9.config")
    with pytest.raises(LabError, match="seq_blocks_9"):
        space_for(text, ckpt)
    with pytest.raises(LabError, match="load"):
        build_context(parse_config(tomllib.loads(bruteforce_toml())), None)


def test_channel_multiplier_space_and_candidate_cache(tmp_path):
    from lab_utils.training import candidates

    text = open(ROOT / "configs" / "jsc_network_search.toml").read()
    cfg = parse_config(tomllib.loads(text), {"n_samples": 1000, "search.search_space.train.epochs": 1})
    space, splits = build_context(cfg, tmp_path)
    assert space.n_configurations() == 25 == len(space.configurations())
    config = {"seq_blocks_2/config/channel_multiplier": 2, "seq_blocks_4/config/channel_multiplier": 4}
    m1 = space.evaluate(config)
    assert m1["params"] == 16 * 2 + (16 * 32 + 32) + (32 * 64 + 64) + (64 * 5 + 5)  # 3,013 + BN 32
    files = list((tmp_path / "candidates").glob("*.ckpt"))
    assert len(files) == 1
    model, info = candidates.trained_candidate("jsc-three-linear-layers", {"hidden": (32, 64)}, splits,
                                               cfg.recipe(), cache_dir=tmp_path / "candidates")
    assert info["cached"] and info["path"] == str(files[0])
    assert space.evaluate(config) == m1
