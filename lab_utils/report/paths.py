"""Where the project writes, in one place: the repository root, ``LAB_OUTPUT_DIR``, and the folders
the notebooks share.

Every path is computed when asked (not at import), so a test or the report harness can point
``LAB_OUTPUT_DIR`` elsewhere before a notebook runs. Layout under the output root::

    results/<task>/                one folder per notebook (tables, summary.json, search outputs)
    results/lab0/models/           the trained baselines and lab0's variants (the model cache)
    results/lab4_candidates/       the candidate cache lab4_2 and lab4_3 fill and lab4_4 reads
    figures/<task>_<name>.png      every saved figure
    reports/                       the executed notebooks, their HTML and index.html
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lab_utils.errors import LabError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def output_root() -> Path:
    """``LAB_OUTPUT_DIR`` if set, else the repository root."""
    return Path(os.environ.get("LAB_OUTPUT_DIR", ROOT)).resolve()


def results_dir(task: str) -> Path:
    """``results/<task>/``: what one notebook writes (``task`` is e.g. ``"lab3_1"``)."""
    return output_root() / "results" / task


def figures_dir() -> Path:
    return output_root() / "figures"


def reports_dir() -> Path:
    return output_root() / "reports"


def model_cache() -> Path:
    """Where the baselines and lab0's variants are cached (``results/lab0/models``)."""
    return results_dir("lab0") / "models"


def candidate_cache() -> Path:
    """The Lab 4 width-candidate cache shared by lab4_2, lab4_3 and lab4_4 (``results/lab4_candidates``)."""
    return results_dir("lab4_candidates")


def read_summary(task: str) -> dict:
    """The ``summary.json`` a notebook wrote (see :func:`lab_utils.report.notebook.write_summary`);
    ``{}`` when that notebook has not run; a :class:`LabError` naming the file when it cannot be read
    (torn, foreign, not JSON, not a JSON object)."""
    path = results_dir(task) / "summary.json"
    return read_summary_file(path) if path.exists() else {}


def read_summary_file(path: Path, what: str = "summary", fix: str = "rerun its notebook") -> dict:
    """One ``summary.json`` (or another JSON object file: ``what``) as a dict, or a one-line
    :class:`LabError` naming the file and the ``fix``."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError and UnicodeDecodeError
        raise LabError(f"{path}: {what} unreadable (torn or foreign file: {type(exc).__name__}); {fix}") from None
    if not isinstance(obj, dict):
        raise LabError(f"{path}: {what} unreadable (torn or foreign file: a JSON {type(obj).__name__}, "
                       f"not an object); {fix}")
    return obj
