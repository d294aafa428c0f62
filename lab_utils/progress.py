"""Progress bars that respect ``TQDM_DISABLE`` (headless runs) as well as ``progress=False``.

Passing ``disable=not progress`` to tqdm would override the environment variable with an explicit
``False``, so saved notebooks would fill with bars; here ``disable`` is only passed to switch off.
tqdm reads ``TQDM_DISABLE`` once, when it is first imported (any non-empty value disables), so
:func:`progress_bar` also reads it at each call with the same rule: a variable set after tqdm was
imported (the tests' ``conftest``, the report harness) is obeyed too.
"""

from __future__ import annotations

import os

from tqdm.auto import tqdm


def progress_bar(iterable=None, *, progress: bool = True, **kwargs):
    """``tqdm(iterable, **kwargs)``, switched off by ``progress=False`` or a non-empty ``TQDM_DISABLE``."""
    if not progress or os.environ.get("TQDM_DISABLE"):
        kwargs["disable"] = True
    return tqdm(iterable, **kwargs)
