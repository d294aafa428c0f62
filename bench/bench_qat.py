"""Quantization-aware training of the lab's 144 configurations: batched slots against one-by-one DataLoader.

Workload: Lab 3's brute-force grid (``configs/jsc_tiny_by_name_bruteforce.toml``: ``seq_blocks_2`` of
jsc-tiny, 144 unique data_in x weight (width, frac) pairs, bias (8, 4)), each fine-tuned for one epoch
of full-size jsc-sim (597,600 training jets, batch 512, Adam 1e-3, linear decay) from one float
checkpoint (jsc-tiny trained for two epochs), then evaluated on the 66,400 validation jets.

- batched: :func:`lab_utils.training.qat.qat_runs`, in one process and in two spawned processes
  (the two-process time includes starting them).
- baseline, the lab way: ``quantize_model`` then a standard loop over
  ``DataLoader(TensorDataset, batch_size=512, shuffle=True)`` with ``torch.optim.Adam``
  (``bench/_common.dataloader_epoch``) and an evaluation, one configuration after another, on one
  torch thread (the faster setting for this model: :func:`lab_utils.training.train.num_threads`).
  It is timed on the first ``BASELINE_CONFIGS`` configurations and **extrapolated** to 144.

Prints both times, ``ratio: X.Xx (one-by-one DataLoader / batched)`` (against the faster batched
time) and whether the 144 x 1 epoch run holds the 5-minute target; then float, PTQ and QAT validation
accuracy at a few configurations (including 2-bit weights, outside the lab's grid; single seed: an
indication, not a result). On a shared machine every time is inflated, the ratio less so.
"""

import itertools
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import torch
from _common import dataloader_epoch, machine

from lab_utils.data import load_dataset
from lab_utils.models import build_model
from lab_utils.passes.quantize import lab_config, quantize_model
from lab_utils.training.checkpoints import save_checkpoint
from lab_utils.training.qat import QATRecipe, qat_runs
from lab_utils.training.train import Recipe, evaluate, train

ROOT = Path(__file__).resolve().parent.parent
BASELINE_CONFIGS = 4
TARGET_S = 300.0


def lab_grid() -> list[dict]:
    """The 144 unique configurations of the lab's brute-force TOML (its lists repeat values)."""
    toml = tomllib.loads((ROOT / "configs/jsc_tiny_by_name_bruteforce.toml").read_text())
    table = toml["search"]["search_space"]["seed"]["seq_blocks_2"]["config"]
    keys = ("data_in_width", "data_in_frac_width", "weight_width", "weight_frac_width")
    values = [sorted(set(table[k])) for k in keys]
    bias = (table["bias_width"][0], table["bias_frac_width"][0])
    return [{"by": "name", "seq_blocks_2": {"config": lab_config((a, af), (w, wf), bias)}}
            for a, af, w, wf in itertools.product(*values)]


def baseline(model, configs, data) -> float:
    """Seconds for the one-by-one DataLoader way over ``configs`` (one epoch each, then evaluation)."""
    t0 = time.perf_counter()
    for args in configs:
        q = quantize_model(model, args)
        torch.manual_seed(0)
        dataloader_epoch(q, data.x_train, data.y_train, 512)
        evaluate(q, data.x_val, data.y_val)
    return time.perf_counter() - t0


def accuracy_table(model, data) -> None:
    """Float, PTQ and QAT (one epoch at two learning rates) validation accuracy at a few configurations.

    The first row (every layer float: a ``bypass`` config) is the control: the float checkpoint
    fine-tuned by the same recipe, so QAT's gain over PTQ is not mistaken for the extra epoch's."""
    cfgs = {"float (bypass)": ((8, 4), (8, 4)), "8-bit in, 8-bit w": ((8, 4), (8, 4)),
            "8-bit in, 4-bit w (frac 2)": ((8, 4), (4, 2)), "8-bit in, 4-bit w (frac 3)": ((8, 4), (4, 3)),
            "8-bit in, 2-bit w (frac 1)": ((8, 4), (2, 1)), "4-bit in, 4-bit w": ((4, 2), (4, 2))}
    args = [{"by": "name", "seq_blocks_2": {"config": lab_config(di, w, (8, 4), bypass=name.startswith("float"))}}
            for name, (di, w) in cfgs.items()]
    res = {lr: qat_runs(model, args, data, QATRecipe(max_epochs=1, learning_rate=lr), progress=False)
           for lr in (1e-3, 1e-2)}
    float_acc = evaluate(model, data.x_val, data.y_val)["accuracy"]
    print(f"validation accuracy (jsc-sim, synthetic); float checkpoint {float_acc:.4f}; QAT: 1 epoch, Adam, linear")
    for j, (name, a) in enumerate(zip(cfgs, args)):
        ptq = evaluate(quantize_model(model, a), data.x_val, data.y_val)["accuracy"]
        qat = "   ".join(f"QAT lr {lr:g} {r[j]['val']['accuracy']:.4f}" for lr, r in res.items())
        print(f"  {name:28s} PTQ {ptq:.4f}   {qat}")


def cli_search(model, data) -> tuple[float, str]:
    """Seconds for the same 144 x 1 epoch through the CLI: ``python -m lab_utils search`` with the lab's
    brute-force TOML turned quantization-aware (``eval_mode = false`` + ``basic_train``), end to end
    (start-up, data, study, the trials' batched prefetch, outputs); and its summary line."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-qat-"))
    ckpt = tmp / "tiny.ckpt"
    save_checkpoint(ckpt, model, meta={"model": "jsc-tiny", "model_args": {}, "dataset": data.describe()})
    text = (ROOT / "configs/jsc_tiny_by_name_bruteforce.toml").read_text().replace("eval_mode = true",
                                                                                  "eval_mode = false")
    (tmp / "qat.toml").write_text(text + "\n[search.strategy.sw_runner.basic_train]\nmax_epochs = 1\n")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "lab_utils", "search", "--config", str(tmp / "qat.toml"), "--load",
                        str(ckpt), "--out", str(tmp / "out"), "--quiet"], cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"QAT search failed: {r.stderr}")
    return took, next(line for line in r.stdout.splitlines() if "trials complete" in line)


def main():
    torch.set_num_threads(1)
    data = load_dataset("jsc-sim")
    torch.manual_seed(0)
    model = build_model("jsc-tiny")
    train(model, data, Recipe(epochs=2), progress=False)
    model.train()
    configs, recipe = lab_grid(), QATRecipe(max_epochs=1)
    t0 = time.perf_counter()
    base = baseline(model, configs[:BASELINE_CONFIGS], data) * len(configs) / BASELINE_CONFIGS
    t_base = time.perf_counter() - t0
    t0 = time.perf_counter()
    qat_runs(model, configs, data, recipe, workers=1, progress=False)
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    qat_runs(model, configs, data, recipe, workers=2, progress=False)
    two = time.perf_counter() - t0
    best = min(one, two)
    print(f"machine: {machine()}")
    print(f"workload: {len(configs)} configurations x 1 epoch of QAT on {len(data.y_train):,} jsc-sim jets "
          f"(batch 512) + validation on {len(data.y_val):,}")
    print(f"one-by-one DataLoader: {base:.0f} s for {len(configs)} (extrapolated from {BASELINE_CONFIGS} configs "
          f"timed in {t_base:.1f} s)")
    print(f"batched, 1 process:    {one:.1f} s")
    print(f"batched, 2 processes:  {two:.1f} s")
    print(f"ratio: {base / best:.1f}x (one-by-one DataLoader / batched)")
    print(f"target <= {TARGET_S:.0f} s for 144 x 1 epoch: {'holds' if best <= TARGET_S else 'MISSED'} ({best:.1f} s)")
    took, line = cli_search(model, data)
    print(f"through the CLI (brute-force QAT search, end to end): {took:.1f} s; {line}")
    print(f"ratio: {base / took:.1f}x (one-by-one DataLoader / CLI search); target <= {TARGET_S:.0f} s: "
          f"{'holds' if took <= TARGET_S else 'MISSED'}")
    accuracy_table(model, data)


if __name__ == "__main__":
    main()
