"""The CLI: one-line errors with exit 2 that leave a study untouched; SIGKILL then rerun resumes."""

import hashlib
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import ROOT, run_search_cli, small_toml, tiny_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow  # eight CLI processes
def test_bad_input_exits_2_one_line_study_untouched(tmp_path, ckpt):
    good = tmp_path / "good.toml"
    good.write_text(small_toml())
    out = tmp_path / "out"
    r = run_search_cli(["--config", good, "--load", ckpt, "--out", out, "--quiet"])
    assert r.returncode == 0, r.stderr
    before = digest(out / "study.journal")
    other = tmp_path / "other.ckpt"
    import torch

    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    cases = {
        "malformed": ("model = [", []),
        "unknown key": (small_toml().replace("[search.strategy]", "[search.strategy]\nfoo = 1"), []),
        "sampler": (small_toml(), ["--sampler", "anneal"]),
        "node": (small_toml().replace("seq_blocks_2.config", "seq_blocks_7.config"), []),
        "changed space": (small_toml().replace("weight_width = [8, 4]", "weight_width = [8, 2]"), []),
        "checkpoint": (small_toml(), ["--load", other]),
        "missing ckpt": (small_toml(), ["--load", tmp_path / "none.ckpt"]),
    }
    for name, (text, extra) in cases.items():
        cfgf = tmp_path / f"{name.replace(' ', '_')}.toml"
        cfgf.write_text(text)
        args = ["--config", cfgf, "--out", out, "--quiet"] + (["--load", ckpt] if "--load" not in extra else []) + extra
        r = run_search_cli(args)
        assert r.returncode == 2, (name, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, r.stderr)
        assert "Traceback" not in r.stderr
        assert digest(out / "study.journal") == before, name


@pytest.mark.slow  # CLI processes, one killed
def test_sigkill_then_rerun_covers_each_configuration_once(tmp_path, ckpt):
    from tests.helpers import bruteforce_toml

    cfgf = tmp_path / "bf.toml"
    cfgf.write_text(bruteforce_toml(data_in=(8, 4, 16), data_frac=(4, 6, 2)).replace(  # 9 x 2 = 18 configurations
        "weight_width = [8, 8, 4, 16]", "weight_width = [8, 4]").replace("weight_frac_width = [4, 6, 2, 8]", "weight_frac_width = [4]"))
    out = tmp_path / "out"
    args = [sys.executable, "-m", "lab_utils.search.cli", "--config", cfgf, "--load", ckpt, "--out", out, "--quiet"]
    # SIGKILL in the middle of the study, deterministically: the test-only hook kills the process
    # the 5th time it has evaluated a configuration (before that trial is told), so 4 are complete.
    env = {**os.environ, "LAB_FAULT_KILL": "evaluated:5", "TQDM_DISABLE": "1"}
    proc = subprocess.run(list(map(str, args)), cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    import optuna

    st = optuna.load_study(study_name="search", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(out / "study.journal"))))
    kept = {t.number for t in st.get_trials(deepcopy=False) if t.state.name == "COMPLETE"}
    assert 4 <= len(kept) < 18
    r = run_search_cli(["--config", cfgf, "--load", ckpt, "--out", out, "--quiet"], timeout=600)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out / "trials.csv")
    done = df[df.state == "COMPLETE"]
    assert kept <= set(done.number)
    params = [c for c in df.columns if c.startswith("seq_blocks_2/config/")]
    assert len(done) == 18 and len(done[params].drop_duplicates()) == 18
