"""Kill-and-resume at many random moments on the default storage (the journal file): no trial
lost, none duplicated, no torn file.

A small brute-force search (18 quantization configurations of jsc-tiny on 2,000 jsc-sim jets, and
every third study Lab 4's width search over 4 trained candidates, which writes checkpoints) is run
with ``python -m lab_utils search`` again and again; each run is killed with SIGKILL at a random
moment (seeded): half of the kills at a random point and count of the test-only hook
``LAB_FAULT_KILL`` (between two storage writes, mid-queue-fill, between two output files), half at
a random delay after the study appeared (anywhere, including inside a journal append). A kill
inside an append leaves the last record torn only when it lands in the few microseconds of the
write itself, so after one timed kill in two the last record (if that run wrote one) is also cut at
a random byte, as a write cut short by SIGKILL or a full disk leaves it; the next run must repair
it (cut away, kept in ``study.journal.torn-*``: counted as a repair, not a loss). After every kill the study (read by
Optuna, which skips a torn last line), ``trials.csv``, ``best.json``, ``config.toml`` and every
candidate checkpoint must load; every trial COMPLETE before must still be COMPLETE with the same
configuration; no configuration may be COMPLETE twice. A run that finishes must cover every
configuration. A journal lock file left by a kill inside an append (``study.journal.lock``) names
its dead holder, so the next run takes it over at once (instead of Optuna's 30 s grace period):
counted and printed.

    .venv/bin/python bench/bench_faults.py [--kills 50] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import optuna
import pandas as pd
import torch
from _common import machine
from optuna.storages.journal import JournalFileBackend

import lab_utils.data as data
from lab_utils.training.checkpoints import load_checkpoint_file
from tests.helpers import ROOT, bruteforce_toml, tiny_checkpoint

POINTS = [("enqueued", 18), ("claimed", 8), ("evaluated", 8), ("result_written", 8), ("told", 8), ("outputs", 1)]


def network_toml(ckpt_dir: Path) -> str:
    return """
model = "jsc-three-linear-layers"
dataset = "jsc-sim"
n_samples = 2000
seed = 0
[search.search_space]
name = "graph/architecture/channel_multiplier"
[search.search_space.seed.seq_blocks_2.config]
channel_multiplier = [1, 2]
[search.search_space.seed.seq_blocks_4.config]
channel_multiplier = [1, 2]
[search.search_space.train]
epochs = 2
batch_size = 256
lr = 1e-2
[search.strategy.setup]
n_trials = 4
sampler = "brute-force"
[search.strategy.metrics.accuracy]
scale = 1.0
direction = "maximize"
[search.strategy.metrics.params]
scale = 1.0
direction = "minimize"
"""


def inspect(out: Path) -> tuple[dict | None, int]:
    """(number -> configuration of COMPLETE trials, or None if the study is unreadable; torn files)."""
    torn = 0
    for name, read in (("trials.csv", pd.read_csv), ("best.json", lambda p: json.loads(Path(p).read_text())),
                       ("config.toml", lambda p: tomllib.loads(Path(p).read_text()))):
        if (out / name).exists():
            try:
                read(out / name)
            except Exception as exc:  # noqa: BLE001 - counting torn files is the point
                print(f"  TORN {name}: {exc}")
                torn += 1
    for ckpt in sorted((out / "candidates").glob("*.ckpt")) if (out / "candidates").exists() else []:
        try:
            load_checkpoint_file(ckpt)["state_dict"]
        except Exception as exc:  # noqa: BLE001
            print(f"  TORN {ckpt.name}: {exc}")
            torn += 1
    journal = out / "study.journal"
    if not journal.exists():
        return {}, torn
    try:  # read only (nothing appended): Optuna's reader skips a torn last line, the next run cuts it
        storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
        study = optuna.load_study(study_name="search", storage=storage)
        done = {t.number: json.dumps(t.user_attrs["result"]["config"], sort_keys=True)
                for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"}
    except KeyError:
        return {}, torn  # the study exists but its fingerprint is not written yet
    except Exception as exc:  # noqa: BLE001
        if "Record does not exist" in str(exc) or "not found" in str(exc):
            return {}, torn  # killed before the study was created
        print(f"  TORN study.journal: {type(exc).__name__}: {exc}")
        return None, torn + 1
    return done, torn


def tear_last_record(journal: Path, rng: random.Random, written_from: int) -> bool:
    """Cut the journal's last record at a random byte, as a write cut short leaves it; only a record
    this run wrote (starting at or after ``written_from``): a kill cannot tear an earlier run's."""
    data = journal.read_bytes() if journal.exists() else b""
    if not data.endswith(b"\n"):
        return False
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    if start < written_from:
        return False
    journal.write_bytes(data[:rng.randint(start + 1, len(data) - 1)])
    return True


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    torch.set_num_threads(1)
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore", "LAB_DATA_DIR": str(tmp / "data"),
           "OMP_NUM_THREADS": "1"}
    env.pop("LAB_FAULT_KILL", None)
    data.DEFAULT_DATA_DIR = tmp / "data"
    ckpt = tiny_checkpoint(tmp)
    quant = tmp / "quant.toml"
    quant.write_text(bruteforce_toml(data_in=(8, 4, 16), data_frac=(4, 6, 2)).replace(
        "weight_width = [8, 8, 4, 16]", "weight_width = [8, 4]").replace(
        "weight_frac_width = [4, 6, 2, 8]", "weight_frac_width = [4]"))
    net = tmp / "net.toml"
    net.write_text(network_toml(tmp))
    print(f"machine: {machine()}")
    kills = lost = duplicates = torn = runs = studies = hook_kills = timed_kills = 0
    torn_tails = tears = repairs = stale_locks = takeovers = grace_waits = 0
    t0 = time.perf_counter()
    while kills < args.kills:
        studies += 1
        is_net = studies % 3 == 0
        cfg, n_conf = (net, 4) if is_net else (quant, 18)
        out = tmp / f"study{studies}"
        cmd = [sys.executable, "-m", "lab_utils", "search", "--config", str(cfg), "--out", str(out), "--quiet",
               *([] if is_net else ["--load", str(ckpt)])]
        kept: dict = {}
        while True:
            runs += 1
            run_env = dict(env)
            killing = kills < args.kills
            use_hook = killing and rng.random() < 0.5
            if use_hook:
                point, most = rng.choice(POINTS)
                run_env["LAB_FAULT_KILL"] = f"{point}:{rng.randint(1, most)}"
            before = (out / "study.journal").read_bytes() if (out / "study.journal").exists() else b""
            was_locked = (out / "study.journal.lock").exists()
            was_torn = (out / "study.journal").exists() and (out / "study.journal").read_bytes()[-1:] not in (b"", b"\n")
            proc = subprocess.Popen(cmd, env=run_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
            if killing and not use_hook:
                while proc.poll() is None and not (out / "study.journal").exists():
                    time.sleep(0.005)
                time.sleep(rng.uniform(0.0, 1.5))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=600)
            killed = proc.returncode == -signal.SIGKILL
            repairs += err.count("torn record")
            takeovers += err.count("killed while writing the journal; taken over")
            grace_waits += err.count("Forcibly releasing the lock file")  # Optuna's 30 s grace period
            if killed and (out / "study.journal").exists():
                tail = (out / "study.journal").read_bytes()[-1:]
                torn_tails += tail not in (b"", b"\n") and not was_torn  # this kill landed inside a write
                stale_locks += (out / "study.journal.lock").exists() and not was_locked  # left by this kill
                if not use_hook and rng.random() < 1 / 2:
                    tears += tear_last_record(out / "study.journal", rng, len(before))
            if proc.returncode not in (0, -signal.SIGKILL):
                print(f"  run failed (exit {proc.returncode}, fault {run_env.get('LAB_FAULT_KILL')}): {err.strip()[-3000:]}")
                return 1
            done, n_torn = inspect(out)
            torn += n_torn
            if done is None:
                break
            gone = [n for n, c in kept.items() if done.get(n) != c]
            if gone:
                print(f"  study {studies}: trial(s) {gone} COMPLETE before are not now (run {runs}, "
                      f"fault {run_env.get('LAB_FAULT_KILL') or 'timed'}, exit {proc.returncode}): "
                      f"{[(n, kept[n], done.get(n)) for n in gone][:2]}")
                keep = tmp.parent / f"bench-faults-lost-{studies}-{runs}"  # for a post-mortem
                shutil.copytree(out, keep, dirs_exist_ok=True)
                (keep / "study.journal.before-run").write_bytes(before)
                (keep / "stderr.txt").write_text(err)
            lost += len(gone)
            duplicates += len(done) - len(set(done.values()))
            kept = done
            if killed:
                kills += 1
                hook_kills += use_hook
                timed_kills += not use_hook
            if proc.returncode == 0:
                missing = n_conf - len(set(done.values()))
                if missing:
                    print(f"  study {studies}: finished with {missing} configuration(s) never evaluated")
                    lost += missing
                break
        shutil.rmtree(out, ignore_errors=True)
    seconds = time.perf_counter() - t0
    print(f"kills: {kills} ({hook_kills} at hook points, {timed_kills} at random delays) over {runs} runs, "
          f"{studies} studies")
    print(f"journal: {torn_tails} kill(s) left a torn last record, {tears} more cut at a random byte; "
          f"{repairs} repair(s) by the next run (of {torn_tails + tears}); {stale_locks} kill(s) left the journal lock "
          f"({takeovers} taken over at once by a later run, {grace_waits} after Optuna's 30 s grace period)")
    print(f"trials lost: {lost}")
    print(f"duplicates: {duplicates}")
    print(f"torn files: {torn}")
    print(f"seconds: {seconds:.0f}")
    print(f"ratio: lost/kills = {lost}/{kills}, duplicates/kills = {duplicates}/{kills}, torn/kills = {torn}/{kills}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if lost == duplicates == torn == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
