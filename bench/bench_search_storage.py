"""Benchmark: the default study storage against an in-memory Optuna study, end to end.

The lab report's brute-force search (``configs/jsc_tiny_by_name_bruteforce.toml``: 256 index
combinations, 144 unique configurations, full-size jsc-sim) is run three ways, each a fresh
subprocess so that every one pays interpreter, torch and data start-up:

- ours: ``python -m lab_utils search`` on its default storage (``<out>/study.journal``), through the
  CLI: study, queue, evaluation cache, outputs;
- in-memory Optuna: a plain script, ``optuna.create_study(sampler=BruteForceSampler(seed=0))`` with
  NO storage and ``study.optimize(n_trials=256)``; it loads the data, model and search space with
  the same ``lab_utils`` functions (the space suggests an index per unique value, so the sampler is
  exhausted, and stops the study, after the same 144 configurations ours runs: the stricter
  baseline; suggesting over the TOML's raw 4-entry lists would add 112 cached repeats to its time)
  and caches evaluations by configuration;
- for reference, ours with ``--storage sqlite:///...`` (the default before the journal).

Each is timed ``--repeat`` times (interleaved) and the fastest kept: the machine is shared, so the
minimum is the least disturbed run. Prints ``ratio: X.XXx (ours / in-memory Optuna; target <= 1.2)``.
``--profile`` runs ours once more under cProfile and prints the top of its cumulative profile.

    .venv/bin/python bench/bench_search_storage.py [--load CKPT] [--repeat 2] [--profile]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401 - puts the repository root on sys.path
from _common import machine

from lab_utils.data import load_dataset
from lab_utils.models import build_model
from lab_utils.training.checkpoints import save_checkpoint
from lab_utils.training.train import Recipe, train

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "jsc_tiny_by_name_bruteforce.toml"

IN_MEMORY = r'''
import sys
import optuna
from lab_utils.search.config import load_config
from lab_utils.search.space import build_context
from lab_utils.search.strategy import config_key

optuna.logging.set_verbosity(optuna.logging.WARNING)
cfg = load_config(sys.argv[1], {"load": sys.argv[2]})
space, splits = build_context(cfg, None)
cache = {}


def objective(trial):
    config = space.suggest(trial)
    key = config_key(config)
    if key not in cache:
        cache[key] = space.evaluate(config)
    m = cache[key]
    return m["accuracy"] * 1.0, m["average_bitwidth"] * 0.2


study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.BruteForceSampler(seed=0))
study.optimize(objective, n_trials=256)
print(f"{len(study.trials)} trials, {len(cache)} unique configurations evaluated")
'''


def timed(cmd, env) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr[-3000:]}")
    return seconds, r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--load", help="a jsc-tiny checkpoint (default: train one for 1 epoch on 20,000 jets)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore"}
    ckpt = Path(args.load) if args.load else tmp / "tiny.ckpt"
    if not args.load:  # the weights do not change the cost of a trial; the search runs on full jsc-sim
        splits = load_dataset("jsc-sim", n_samples=20000)
        model = build_model("jsc-tiny")
        train(model, splits, Recipe(epochs=1, batch_size=512, lr=1e-2), progress=False)
        save_checkpoint(ckpt, model, meta={"model": "jsc-tiny", "model_args": {}, "dataset": splits.describe()})
    load_dataset("jsc-sim")  # warm the data cache once, so no variant pays for generating it
    print(f"machine: {machine()}")
    cli = [sys.executable, "-m", "lab_utils", "search", "--config", str(CONFIG), "--load", str(ckpt), "--quiet"]
    variants = {
        "ours (CLI, default journal storage)": lambda i: cli + ["--out", str(tmp / f"journal{i}")],
        "in-memory Optuna script": lambda i: [sys.executable, "-c", IN_MEMORY, str(CONFIG), str(ckpt)],
        "ours (CLI, --storage sqlite)": lambda i: cli + ["--out", str(tmp / f"sqlite{i}"),
                                                          "--storage", f"sqlite:///{tmp / f'sqlite{i}.db'}"],
    }
    best: dict[str, float] = {}
    for i in range(args.repeat):
        for name, make in variants.items():
            seconds, out = timed(make(i), env)
            best[name] = min(best.get(name, float("inf")), seconds)
            if i == 0:
                print(f"[{name}] {out.strip().splitlines()[-1] if out.strip() else ''}")
    if args.profile:
        prof = tmp / "ours.prof"
        timed([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "lab_utils", *cli[3:], "--out",
               str(tmp / "profiled")], env)
        import pstats

        pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(30)
    for name, seconds in best.items():
        print(f"{name}: {seconds:.1f} s (fastest of {args.repeat})")
    ours, mem = best["ours (CLI, default journal storage)"], best["in-memory Optuna script"]
    print(f"sqlite / in-memory: {best['ours (CLI, --storage sqlite)'] / mem:.2f}x")
    print(f"ratio: {ours / mem:.2f}x (ours / in-memory Optuna; target <= 1.2)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
