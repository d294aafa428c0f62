"""Several workers on one study: the journal file, and a real PostgreSQL server on 127.0.0.1."""


import pandas as pd
import pytest

from tests.helpers import run_search_cli, small_toml, tiny_checkpoint

PARAMS = ["seq_blocks_2/config/data_in_width", "seq_blocks_2/config/weight_width"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def check_coverage(out):
    df = pd.read_csv(out / "trials.csv")
    done = df[df.state == "COMPLETE"]
    assert len(done) == 6 and len(done[PARAMS].drop_duplicates()) == 6


def test_two_workers_on_the_journal_file(tmp_path, ckpt):
    cfgf = tmp_path / "c.toml"
    cfgf.write_text(small_toml())
    r = run_search_cli(["--config", cfgf, "--load", ckpt, "--out", tmp_path / "out", "--workers", 2, "--quiet"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "study.journal").exists()
    check_coverage(tmp_path / "out")


def test_two_workers_on_postgresql(tmp_path, ckpt, postgres):
    cfgf = tmp_path / "c.toml"
    cfgf.write_text(small_toml())
    r = run_search_cli(["--config", cfgf, "--load", ckpt, "--out", tmp_path / "out", "--workers", 2, "--storage", postgres,
                 "--quiet"])
    assert r.returncode == 0, r.stderr
    assert "secretpw" not in r.stdout + r.stderr and "lab:***@" in r.stdout
    check_coverage(tmp_path / "out")
