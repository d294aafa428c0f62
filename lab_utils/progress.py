"""Progress bars that respect ``TQDM_DISABLE`` (headless runs) as well as ``progress=False``, and that
never put tqdm's "IProgress not found" warning or a pink stderr block into a notebook.

The bar is tqdm's text bar (``tqdm.std``) everywhere. Inside a Jupyter kernel (JupyterLab, papermill)
it writes to stdout, because a kernel shows stderr as a pink block; JupyterLab redraws the line on
each carriage return, so it reads as one updating bar. Why not ``tqdm.auto``: merely importing it in a
kernel without ipywidgets emits the "IProgress not found" TqdmWarning, and its widget bars need
``tqdm.notebook``, which imports IPython and ipywidgets (0.4 s) into every command-line start.
(optuna imports ``tqdm.auto`` itself, which is why ipywidgets is in requirements.txt.)

Passing ``disable=not progress`` to tqdm would override the environment variable with an explicit
``False``, so saved notebooks would fill with bars; here ``disable`` is only passed to switch off.
tqdm reads ``TQDM_DISABLE`` once, when it is first imported (any non-empty value disables), so
:func:`progress_bar` also reads it at each call with the same rule: a variable set after tqdm was
imported (the tests' ``conftest``, the report harness) is obeyed too.
"""

from __future__ import annotations

import os
import sys

from tqdm.std import tqdm


def in_kernel() -> bool:
    """True inside a Jupyter (IPython) kernel: JupyterLab, papermill, nbconvert."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_bar(iterable=None, *, progress: bool = True, **kwargs):
    """``tqdm(iterable, **kwargs)`` (see the module docstring), switched off by ``progress=False`` or a
    non-empty ``TQDM_DISABLE``; on stdout inside a kernel unless ``file`` is given."""
    if not progress or os.environ.get("TQDM_DISABLE"):
        kwargs["disable"] = True
    if in_kernel():
        kwargs.setdefault("file", sys.stdout)
    return tqdm(iterable, **kwargs)
