"""Strategy: brute force exactly once and resumable, evaluation cache, seeded repeatability."""

import tomllib

import pandas as pd
import pytest

from lab_utils.search.config import parse_config
from lab_utils.search.run import run_search
from tests.helpers import small_toml, tiny_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def cfg_of(ckpt, **over):
    return parse_config(tomllib.loads(small_toml()), {"load": str(ckpt), **over})


def test_bruteforce_exactly_once_then_resume_is_a_no_op(tmp_path, ckpt):
    cfg = cfg_of(ckpt)
    assert run_search(cfg, tmp_path, progress=False, print_fn=lambda *a: None).status == 0
    df = pd.read_csv(tmp_path / "trials.csv")
    assert len(df) == 6 and (df.state == "COMPLETE").all()
    params = ["seq_blocks_2/config/data_in_width", "seq_blocks_2/config/weight_width"]
    assert len(df[params].drop_duplicates()) == 6  # 3 x 2 unique configurations, each once
    run_search(cfg, tmp_path, progress=False, print_fn=lambda *a: None)
    assert len(pd.read_csv(tmp_path / "trials.csv")) == 6


def test_tpe_repeats_come_from_the_cache(tmp_path, ckpt):
    cfg = cfg_of(ckpt, **{"search.strategy.setup.sampler": "tpe", "search.strategy.setup.n_trials": 14})
    run_search(cfg, tmp_path, progress=False, print_fn=lambda *a: None)
    df = pd.read_csv(tmp_path / "trials.csv")
    import json

    summary = json.loads((tmp_path / "best.json").read_text())["summary"]
    assert summary["complete"] == 14 and summary["unique_configurations_evaluated"] <= 6
    assert summary["evaluations_from_cache"] == 14 - summary["unique_configurations_evaluated"]
    assert df.cached.sum() == summary["evaluations_from_cache"]


def test_same_seed_same_trials(tmp_path, ckpt):
    cfg = cfg_of(ckpt, **{"search.strategy.setup.sampler": "random", "search.strategy.setup.n_trials": 5})
    frames = []
    for run in ("a", "b"):
        run_search(cfg, tmp_path / run, progress=False, print_fn=lambda *a: None)
        frames.append(pd.read_csv(tmp_path / run / "trials.csv").drop(columns=["duration_s"]))
    pd.testing.assert_frame_equal(*frames)
