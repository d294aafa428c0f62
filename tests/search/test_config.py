"""The search TOML: MASE's schema into frozen dataclasses, every mistake one LabError naming the key."""

import dataclasses
import tomllib

import pytest

from lab_utils.errors import LabError
from lab_utils.search.config import load_config, parse_config
from tests.helpers import ROOT, bruteforce_toml


def raw(text=None):
    return tomllib.loads(text or bruteforce_toml())


def test_shipped_configs_parse():
    shipped = sorted(p.stem for p in (ROOT / "configs").glob("*.toml"))
    assert {"jsc_tiny_by_type", "jsc_tiny_by_name_bruteforce", "jsc_tiny_by_name_tpe", "jsc_network_search",
            "jsc_tiny_by_type_fpga"} <= set(shipped)
    for name in shipped:  # every shipped config parses
        cfg = load_config(ROOT / "configs" / f"{name}.toml")
        assert cfg.strategy.metric_names == tuple(sorted(m.name for m in cfg.strategy.metrics))
    fpga = load_config(ROOT / "configs" / "jsc_tiny_by_type_fpga.toml")
    assert "lut_equivalent" in fpga.strategy.metric_names
    cfg = load_config(ROOT / "configs" / "jsc_tiny_by_type.toml")
    assert cfg.space.setup["by"] == "type" and cfg.seed == 42 and cfg.strategy.n_startup_trials == 10
    assert cfg.space.choice_tables["linear"]["config"]["data_in_frac_width"] == [None]  # "NA" -> None
    assert cfg.strategy.directions == ["maximize", "minimize"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3


def test_precedence_cli_over_toml_over_default():
    cfg = parse_config(raw())
    assert (cfg.seed, cfg.strategy.sampler, cfg.strategy.n_trials, cfg.batch_size) == (0, "brute-force", 256, 512)
    cfg = parse_config(raw(), {"seed": 7, "search.strategy.setup.sampler": "random", "load": None})
    assert (cfg.seed, cfg.strategy.sampler, cfg.load) == (7, "random", None)
    assert 'sampler = "random"' in cfg.to_toml() and "seed = 7" in cfg.to_toml()
    assert '"NA"' in cfg.to_toml()  # None written back as MASE's "NA"


@pytest.mark.parametrize("edit, key", [
    (("[search.strategy]", "[search.strategy]\ndata_loadr = 1"), "search.strategy.data_loadr"),
    (("[search.strategy.setup]", "[search.strategy.setup]\nfoo = 1"), "search.strategy.setup.foo"),
    (('sampler = "brute-force"', 'sampler = "anneal"'), "search.strategy.setup.sampler"),
    (("n_trials = 256", 'n_trials = "many"'), "search.strategy.setup.n_trials"),
    (("n_trials = 256", "n_trials = true"), "search.strategy.setup.n_trials"),
    (("[search.strategy.metrics.accuracy]", "[search.strategy.metrics.acc]"), "search.strategy.metrics.acc"),
    (('name = "graph/quantize/mixed_precision_ptq"', 'name = "graph/nope"'), "search.search_space.name"),
    (("bias_width = [8]", "bias_width = []"), "seq_blocks_2.config.bias_width"),
    (("bias_width = [8]", "bias_widht = [8]"), "seq_blocks_2.config.bias_widht"),
    (('direction = "minimize"', 'direction = "down"'), "average_bitwidth.direction"),
    (('direction = "minimize"', ''), "average_bitwidth.direction"),  # multi-objective without direction
    (("[search.strategy.setup]", "[search.strategy.setup]\nsum_scaled_metrics = true"), "search.strategy.setup.direction"),
    (("seed = 0", "seed = 0\n[extra]\nx = 1"), "extra"),
])
def test_bad_configs_name_the_key(edit, key):
    text = bruteforce_toml().replace(*edit, 1)
    with pytest.raises(LabError) as err:
        parse_config(tomllib.loads(text))
    assert key in str(err.value) and "\n" not in str(err.value)


def test_malformed_and_missing_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("model = [unclosed")
    with pytest.raises(LabError, match="bad.toml: malformed TOML"):
        load_config(bad)
    with pytest.raises(LabError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_mase_training_split_refused():
    text = bruteforce_toml().replace("[search.strategy.setup]", '[search.strategy.sw_runner.basic_evaluation]\n'
                                     'data_loader = "train_dataloader"\n[search.strategy.setup]')
    with pytest.raises(LabError, match="data_loader"):
        parse_config(tomllib.loads(text))


def test_a_byte_order_mark_is_not_part_of_the_toml(tmp_path):
    from lab_utils.search.config import load_config
    from tests.helpers import small_toml

    plain, bom = tmp_path / "plain.toml", tmp_path / "bom.toml"
    plain.write_text(small_toml(), encoding="utf-8")
    bom.write_bytes(b"\xef\xbb\xbf" + small_toml().encode("utf-8"))
    assert load_config(bom).raw == load_config(plain).raw


@pytest.mark.parametrize("change, words", [
    (lambda t: t.replace('name = "optuna"', 'name = "optuna"\neval_mode = false'), ["eval_mode", "needs", "basic_train"]),
    (lambda t: t + "\n[search.strategy.sw_runner.basic_train]\nmax_epochs = 1\n", ["eval_mode", "false"]),
    (lambda t: t.replace('name = "optuna"', 'name = "optuna"\neval_mode = false')
     + "\n[search.strategy.sw_runner.basic_train]\nmax_epochs = -1\nnum_samples = -1\n",
     ["basic_train", "cannot both be -1"]),
    (lambda t: t.replace('name = "optuna"', 'name = "optuna"\neval_mode = false')
     + "\n[search.strategy.sw_runner.basic_train]\nlr_scheduler = \"polynomial\"\n",
     ["basic_train.lr_scheduler", "constant", "linear"]),
])
def test_quantization_aware_keys_are_checked_in_one_line(change, words):
    from lab_utils.errors import LabError
    from tests.helpers import small_toml

    with pytest.raises(LabError) as exc:
        parse_config(tomllib.loads(change(small_toml())))
    msg = str(exc.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_mase_basic_train_table_becomes_the_qat_recipe():
    from tests.helpers import small_toml

    cfg = parse_config(tomllib.loads(small_toml().replace('name = "optuna"', 'name = "optuna"\neval_mode = false')
                                     + "\n[search.strategy.sw_runner.basic_train]\nmax_epochs = 2\n"
                                       "learning_rate = 5e-4\nnum_warmup_steps = 3\n"))
    r = cfg.qat_recipe()
    assert (r.max_epochs, r.learning_rate, r.num_warmup_steps, r.batch_size, r.seed) == (2, 5e-4, 3, cfg.batch_size,
                                                                                          cfg.seed)
    assert not cfg.strategy.eval_mode and parse_config(tomllib.loads(small_toml())).qat_recipe() is None
