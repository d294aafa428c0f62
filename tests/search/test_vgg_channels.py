"""Search space graph/architecture/vgg_channels through the search engine on a tiny generated
image set: the ordered encoding (every candidate round-trips, every suggestion is valid, every
candidate is reachable), config checks, and trial metrics equal to evaluating the sliced candidate
directly."""

from collections import Counter

import optuna
import pandas as pd
import pytest

from lab_utils.data.tiny_images import make_tiny_image_set
from lab_utils.errors import LabError
from lab_utils.search import storage as st
from lab_utils.search.config import parse_config
from lab_utils.search.outputs import trials_frame
from lab_utils.search.run import run_search
from lab_utils.search.space import build_context
from lab_utils.search.spaces.vgg_channels import KEYS, decode_channels, encode_channels, param_name
from lab_utils.training import supernet as S

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ordered_encoding_round_trips_every_candidate_and_only_those():
    choices = (4, 8, 16)
    valid = S.all_candidates(choices)
    for c in valid:
        params = encode_channels(c, choices)
        assert decode_channels(params, choices) == c
        # one parameter per conv whose lower bound is not the widest choice, named by that bound
        assert list(params) == [param_name(k, None if k == 0 else c[k - 1]) for k in range(6)
                                if k == 0 or c[k - 1] != choices[-1]]
    assert param_name(1, 8) == "seq_blocks_3/config/out_channels|from=8"
    # each named parameter has one fixed range over all candidates: its lower bound and above
    ranges = {}
    for c in valid:
        for name, j in encode_channels(c, choices).items():
            ranges.setdefault(name, set()).add(j)
    for name, js in ranges.items():
        low = 0 if "|from=" not in name else choices.index(int(name.split("=")[1]))
        assert js == set(range(low, len(choices))), name
    with pytest.raises(LabError, match="non-decreasing"):
        encode_channels((8, 4, 4, 4, 4, 4), choices)


def test_every_suggestion_is_valid_and_every_candidate_reachable(tmp_path):
    d = make_tiny_image_set(tmp_path / "img", "npz", n_per_class=2, n_test_per_class=1)
    space, _ = build_context(parse_config(_raw_cfg(d)), dry_run=True)
    assert space.n_configurations() == len(S.all_candidates((4, 8))) == 7
    for c in S.all_candidates((4, 8)):  # a fixed trial holding a candidate's parameters suggests that candidate
        assert space.channels(space.suggest(optuna.trial.FixedTrial(space.encode(dict(zip(KEYS, c)))))) == c
        assert space.decode(space.encode(dict(zip(KEYS, c)))) == dict(zip(KEYS, c))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = Counter()
    for _ in range(200):
        t = study.ask()
        c = space.channels(space.suggest(t))  # check_channels: raises on an invalid candidate
        seen[c] += 1
        study.tell(t, 0.0)
    assert set(seen) == set(S.all_candidates((4, 8)))
    # the encoding's law in random start-up: each conditional choice uniform, so (4,)*6 has 1/2**6 and (8,)*6 has 1/2
    assert seen[(8,) * 6] > seen[(4,) * 6]


def _raw_cfg(data_dir, out_supernet=None, **setup):
    raw = {"model": "vgg7", "dataset": "cifar10", "data_path": str(data_dir), "seed": 0, "batch_size": 64,
           "search": {"search_space": {"name": "graph/architecture/vgg_channels",
                                       "setup": {"choices": [4, 8], "fc": 16, "calib_batches": 1, **setup},
                                       "train": {"epochs": 1, "batch_size": 32, "lr": 0.05, "seed": 0}},
                      "strategy": {"setup": {"n_trials": 6, "sampler": "tpe", "n_startup_trials": 3},
                                   "metrics": {"accuracy": {"scale": 1.0, "direction": "maximize"},
                                               "flops": {"scale": 1.0, "direction": "minimize"}}}}}
    return raw


def test_config_errors(tmp_path):
    with pytest.raises(LabError, match="setup.choices"):
        parse_config(_raw_cfg(tmp_path, choices=[4, "wide"]))
    with pytest.raises(LabError, match="setup.colour: unknown key"):
        parse_config(_raw_cfg(tmp_path, colour=1))
    with pytest.raises(LabError, match="setup.val_fraction"):
        parse_config(_raw_cfg(tmp_path, val_fraction=1.5))


@pytest.mark.slow  # trains a VGG supernet, then searches it
def test_search_runs_and_trial_metrics_equal_direct_evaluation(tmp_path):
    d = make_tiny_image_set(tmp_path / "img", "npz", n_per_class=10, n_test_per_class=2)
    cfg = parse_config(_raw_cfg(d))
    result = run_search(cfg, tmp_path / "out", progress=False, print_fn=lambda *a: None)
    assert result.status == 0
    assert (tmp_path / "out" / "supernet.ckpt").exists()  # trained once, cached
    space, splits = build_context(cfg, tmp_path / "out")  # loads the cached supernet
    url = st.default_storage_url(tmp_path / "out", 1)
    study = optuna.load_study(study_name="search", storage=st.open_storage(url))
    df = trials_frame(study, space, cfg.strategy.metric_names)
    # the search's own space and study (what a notebook uses instead of the two lines above)
    assert result.splits.name == "cifar10" and result.space.channels is not None
    pd.testing.assert_frame_equal(trials_frame(result.study, result.space, cfg.strategy.metric_names), df)
    done = df[df.state == "COMPLETE"]
    assert len(done) == 6
    for _, row in done.iterrows():
        config = {k: row[k] for k in KEYS}
        c = space.channels(config)
        assert list(c) == sorted(c) and set(c) <= {4, 8}
        assert "repaired" not in row.index  # nothing is repaired: the encoding only suggests valid candidates
        model = S.candidate_model(space.supernet, c, splits.x_train[:256], 1, 256)
        x, y = splits.split("val")
        direct = (model(x).argmax(1) == y).float().mean().item()
        assert row["accuracy"] == pytest.approx(direct, abs=1e-6)
    assert space.evaluate(config) == space.evaluate(config)  # deterministic



def test_val_fraction_scores_on_the_larger_split_the_notebook_loads(tmp_path):
    from lab_utils.data.cifar10 import load_cifar10

    d = make_tiny_image_set(tmp_path / "img", "npz", n_per_class=10, n_test_per_class=2)
    cfg = parse_config(_raw_cfg(d, val_fraction=0.3))
    space, engine_splits = build_context(cfg, tmp_path / "out")
    mine = load_cifar10(path=d, data_seed=0, val_fraction=0.3, download=False)
    assert space.splits.sizes() == mine.sizes() == {"train": 70, "val": 30, "test": 20}
    assert engine_splits.sizes()["val"] == 10  # the engine's own 10 % split is not what is scored
    c = (4, 4, 4, 8, 8, 8)
    config = dict(zip(KEYS, c))
    model = S.candidate_model(space.supernet, c, mine.x_train[:256], 1, 256)
    direct = (model(mine.x_val).argmax(1) == mine.y_val).float().mean().item()
    assert space.evaluate(config)["accuracy"] == pytest.approx(direct, abs=1e-6)
