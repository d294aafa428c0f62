"""Fail fast: the report checks every real data set before the first notebook runs, and stops with one
message naming every place it looked and the fix (exit 2, no notebook run, no index)."""

from __future__ import annotations

import numpy as np
import pytest

from lab_utils.data import cifar10
from lab_utils.errors import LabError
from lab_utils.report import harness, preflight
from lab_utils.report.preflight import Need
from tests.helpers import run_cli


def _tiny_npz(folder, n=20):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        np.savez(folder / f"{split}.npz", x=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), y=np.arange(n) % 10)
    return folder


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No CIFAR-10 anywhere: LAB_CIFAR10_DIR, the data dir and the shared subset all point at empty places."""
    monkeypatch.setenv("LAB_CIFAR10_DIR", str(tmp_path / "env_dir"))
    monkeypatch.setattr(cifar10, "SHARED_SUBSET", tmp_path / "shared" / "cifar10")
    (tmp_path / "data").mkdir()
    return tmp_path


def test_needs_follow_the_parameters():
    cifar = {"dataset": "cifar10"}
    assert preflight.needs_of("nb", {**cifar, "data_path": ""}, quick=True) == []  # quick: a generated image set
    assert preflight.needs_of("nb", {**cifar, "data_path": "/x"}, quick=False) == [Need("nb", "cifar10", "/x")]
    assert preflight.needs_of("nb", {**cifar, "data_path": ""}, quick=False) == [Need("nb", "cifar10", None)]
    assert preflight.needs_of("nb", {"data_path": "/x"}, quick=False) == []  # no dataset parameter: nothing read
    assert preflight.needs_of("nb", {"dataset": "jsc-sim", "data_path": ""}, quick=False) == []
    assert preflight.needs_of("nb", {"dataset": "jsc"}, quick=True) == [Need("nb", "jsc", None)]


def test_missing_cifar10_lists_every_place_and_the_fix(nowhere):
    with pytest.raises(LabError) as info:
        preflight.check([Need("lab4_5_vgg", "cifar10")], download=False, data_dir=nowhere / "data")
    msg = str(info.value)
    for place in (nowhere / "env_dir", nowhere / "data" / "cifar10", nowhere / "data", nowhere / "shared" / "cifar10"):
        assert f"{place} (" in msg, place
    assert "lab4_5_vgg needs CIFAR-10" in msg and "LAB_CIFAR10_DIR" in msg and "--param data_path=" in msg
    assert "drop --no-download" in msg and msg.startswith("missing data, nothing was run")


def test_failed_download_is_reported(nowhere, monkeypatch):
    def offline(url, dest):
        raise OSError("no network")

    monkeypatch.setattr(cifar10, "_fetch", offline)
    with pytest.raises(LabError, match=r"download \(cannot download CIFAR-10"):
        preflight.check([Need("nb", "cifar10")], download=True, data_dir=nowhere / "data")


def test_cifar10_found_in_any_listed_place(nowhere, monkeypatch):
    preflight.check([Need("nb", "cifar10", str(_tiny_npz(nowhere / "given")))], download=False)  # data_path
    _tiny_npz(nowhere / "env_dir")
    preflight.check([Need("nb", "cifar10")], download=False, data_dir=nowhere / "data")  # LAB_CIFAR10_DIR


def test_malformed_cifar10_is_found_before_running(nowhere):
    bad = nowhere / "bad"
    bad.mkdir()
    (bad / "train.npz").write_bytes(b"not a zip")
    with pytest.raises(LabError, match=r"bad \(unreadable: .*needs both train.npz and test.npz"):
        preflight.check([Need("nb", "cifar10", str(bad))], download=False)


def test_jsc_real_data_checked(tmp_path):
    with pytest.raises(LabError, match=r"nb needs the real JSC data .*nope.h5 \(data_path parameter: no such file\)"):
        preflight.check([Need("nb", "jsc", str(tmp_path / "nope.h5"))], download=False)
    with pytest.raises(LabError, match=r"jsc-openml42468-raw.npz \(no such file\)"):
        preflight.check([Need("nb", "jsc")], download=False, data_dir=tmp_path)
    (tmp_path / "jets.csv").write_text("x")
    preflight.check([Need("nb", "jsc", str(tmp_path / "jets.csv"))], download=False)


def test_each_problem_is_listed_per_notebook(tmp_path):
    needs = [Need("a", "jsc", str(tmp_path / "x")), Need("b", "jsc", str(tmp_path / "x"))]
    with pytest.raises(LabError) as info:
        preflight.check(needs, download=False)
    assert "(1) a needs the real JSC data" in str(info.value) and "(2) b: same data as above" in str(info.value)


def test_overrides_parse_and_typos_are_errors():
    assert harness.parse_overrides(["data_path=/x", "lab4_5.n_trials=10", "choices=[1, 2]"]) == [
        (None, "data_path", "/x"), ("lab4_5", "n_trials", 10), (None, "choices", [1, 2])]
    with pytest.raises(LabError, match="NAME=VALUE"):
        harness.parse_overrides(["oops"])


@pytest.mark.slow  # a CLI process
def test_cli_stops_before_any_notebook(tmp_path):
    """`report --param data_path=<missing>`: exit 2 with the message, no notebook executed, no index."""
    proc = run_cli("report", "--only", "lab4_5_vgg_channel_search", "--param", f"data_path={tmp_path / 'missing'}",
                   env={"LAB_OUTPUT_DIR": str(tmp_path / "out")}, timeout=120)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: missing data, nothing was run") and f"{tmp_path / 'missing'}" in proc.stderr
    assert "Fix:" in proc.stderr
    assert not (tmp_path / "out" / "reports").exists() or not list((tmp_path / "out" / "reports").iterdir())


@pytest.mark.slow  # a CLI process
def test_cli_rejects_an_unknown_parameter(tmp_path):
    proc = run_cli("report", "--only", "lab0_data_and_baselines", "--param", "no_such_parameter=1",
                   env={"LAB_OUTPUT_DIR": str(tmp_path / "out")}, timeout=120)
    assert proc.returncode == 2 and "no_such_parameter: no selected notebook has such a parameter" in proc.stderr
