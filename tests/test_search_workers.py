"""Several workers on one study: the journal file, and a real PostgreSQL server on 127.0.0.1."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pandas as pd
import pytest

from search_helpers import run_cli, small_toml, tiny_checkpoint

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
    r = run_cli(["--config", cfgf, "--load", ckpt, "--out", tmp_path / "out", "--workers", 2, "--quiet"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "study.journal").exists()
    check_coverage(tmp_path / "out")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL (initdb) is not installed")
    bindir = os.path.dirname(bins[-1])
    root = tempfile.mkdtemp(prefix="pg-")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(root, "postgres")
    data, port = os.path.join(root, "data"), _free_port()
    subprocess.run(as_pg + [f"{bindir}/initdb", "-D", data, "-U", "lab", "--auth=trust"], check=True,
                   capture_output=True)
    subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(root, "log"), "-o",
                            f"-h 127.0.0.1 -p {port} -k {root}", "start"], check=True, capture_output=True)
    try:
        subprocess.run(as_pg + [f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "lab", "search"],
                       check=True, capture_output=True)
        yield f"postgresql://lab:secretpw@127.0.0.1:{port}/search"
    finally:
        subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_on_postgresql(tmp_path, ckpt, postgres):
    cfgf = tmp_path / "c.toml"
    cfgf.write_text(small_toml())
    r = run_cli(["--config", cfgf, "--load", ckpt, "--out", tmp_path / "out", "--workers", 2, "--storage", postgres,
                 "--quiet"])
    assert r.returncode == 0, r.stderr
    assert "secretpw" not in r.stdout + r.stderr and "lab:***@" in r.stdout
    check_coverage(tmp_path / "out")
