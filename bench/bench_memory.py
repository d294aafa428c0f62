"""Peak memory of loading the full-size data set and training jsc-tiny (target <= 2 GB).

Runs the work in a fresh subprocess and reads its peak resident set size (``ru_maxrss``), so the
figure is the whole process: Python, torch, the 830,000-jet splits and one training epoch.
The baseline it is compared with is the 2 GB budget of the issue.
"""

import subprocess
import sys
from pathlib import Path

from _common import machine

CHILD = r"""
import resource, sys, torch
sys.path.insert(0, %r)
torch.set_num_threads(2)
from lab_utils.data import load_dataset
from lab_utils.models import build_model
from lab_utils.training.train import Recipe, train
splits = load_dataset("jsc-sim")
train(build_model("jsc-tiny"), splits, Recipe(epochs=1), progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


def main():
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", CHILD % root], capture_output=True, text=True, check=True)
    peak_gb = int(out.stdout.strip().splitlines()[-1]) * 1024 / 1e9
    print(f"machine: {machine()}")
    print(f"peak RSS, load full jsc-sim + train jsc-tiny one epoch: {peak_gb:.2f} GB")
    print(f"ratio: peak/budget = {peak_gb / 2.0:.2f} (target <= 1.0, budget 2 GB)")


if __name__ == "__main__":
    main()
