"""Progress bars that respect ``TQDM_DISABLE=1`` (headless runs) as well as ``progress=False``.

Passing ``disable=not progress`` to tqdm would override the environment variable with an explicit
``False``, so saved notebooks would fill with bars; here ``disable`` is only passed to switch off.
"""

from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(iterable=None, *, progress: bool = True, **kwargs):

    if not progress:
        kwargs["disable"] = True
    return tqdm(iterable, **kwargs)
