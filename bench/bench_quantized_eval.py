"""Benchmark: evaluating a quantized jsc-tiny (every width 8, frac 4) over the full validation split.

Baseline: the same float model with the same ``lab_utils.training.train.evaluate``. Target: quantized /
float <= 1.5 (the quantized weights are cached once per configuration; only the input quantize
ops are extra per batch). Both are timed in the same run with ``torch.utils.benchmark``.

Data: the full-size ``jsc-sim`` validation split; if it cannot be built here (no writable data
directory, say), random data of the same size (16 features, 66,400 rows), which costs the same to
evaluate and is labelled as such in the output.

Run: ``.venv/bin/python bench/bench_quantized_eval.py``
"""

from __future__ import annotations

import _common  # noqa: F401 - puts the repository root on sys.path
import torch
from torch.utils import benchmark

from lab_utils.data import load_dataset
from lab_utils.models import build_model
from lab_utils.passes.quantize import lab_config, quantize_model
from lab_utils.training.train import evaluate

VAL_ROWS = 66_400  # 10 % of the 80 % train_val of 830,000 jets
THREADS = 1  # stable on a shared CPU; both sides are timed alike


def validation_split() -> tuple[torch.Tensor, torch.Tensor, str]:
    try:
        data = load_dataset("jsc-sim")
        return data.x_val, data.y_val, data.label
    except Exception as exc:  # noqa: BLE001 - any reason the data cannot be built: time the same shape instead
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(VAL_ROWS, 16, generator=gen)
        y = torch.randint(0, 5, (VAL_ROWS,), generator=gen)
        return x, y, f"random stand-in, {VAL_ROWS} rows (jsc-sim unavailable: {type(exc).__name__})"


def main() -> None:
    x, y, label = validation_split()
    torch.manual_seed(0)
    model = build_model("jsc-tiny").eval()
    quantized = quantize_model(model, {"by": "type", "default": {"config": {"name": None}},
                                       "linear": {"config": lab_config((8, 4), (8, 4), (8, 4))}})
    evaluate(quantized, x, y)  # first call fills the quantized-weight cache, like a search trial
    times = {}
    for name, m in (("float", model), ("quantized", quantized)):
        timer = benchmark.Timer(stmt="evaluate(m, x, y)", globals={"evaluate": evaluate, "m": m, "x": x, "y": y},
                                num_threads=THREADS)
        times[name] = timer.blocked_autorange(min_run_time=2.0).median
    print(f"data: {label}; rows: {x.shape[0]}; threads: {THREADS}")
    print(f"float:     {times['float'] * 1e3:.2f} ms per evaluation")
    print(f"quantized: {times['quantized'] * 1e3:.2f} ms per evaluation")
    print(f"ratio: quantized/float = {times['quantized'] / times['float']:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
