"""Where the project writes: the repository root, ``LAB_OUTPUT_DIR``, results, figures, reports."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def output_root() -> Path:
    return Path(os.environ.get("LAB_OUTPUT_DIR", ROOT)).resolve()
