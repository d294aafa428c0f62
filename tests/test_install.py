"""Packaging: lab_utils is installed into the project's environment (``make install``: ``pip install -e .``),
so a Python or a kernel started in any folder imports it; the wheel holds only the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata

import pytest

from tests.helpers import ROOT


def _env():
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_lab_utils_is_installed_and_imports_anywhere(tmp_path):
    assert metadata.distribution("lab-utils").version, "run `make install` (pip install -e .)"
    proc = subprocess.run([sys.executable, "-c", "import lab_utils; print(lab_utils.__file__)"], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(ROOT / "lab_utils" / "__init__.py")


@pytest.mark.slow
def test_wheel_holds_only_the_package(tmp_path):
    """``pip install -e .`` failed with setuptools' "Multiple top-level packages"; the wheel is built from a
    copy (pyproject.toml + every top-level folder) so the checkout gets no build/ or .egg-info."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    for folder in ("lab_utils", "tests", "bench", "notebooks", "configs"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "dist").glob("lab_utils-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"lab_utils", "lab_utils-0.1.0.dist-info"}, tops
    assert "lab_utils/report/harness.py" in zipfile.ZipFile(wheel).namelist()
