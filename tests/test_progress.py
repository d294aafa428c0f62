"""progress_bar: off with progress=False or a non-empty TQDM_DISABLE (read at each call), on otherwise."""

import io

import pytest

from lab_utils.progress import progress_bar


@pytest.mark.parametrize("env,progress,shown", [(None, True, True), ("", True, True), (None, False, False),
                                                ("1", True, False), ("0", True, False)])
def test_bar_obeys_progress_and_tqdm_disable(monkeypatch, env, progress, shown):
    if env is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", env)  # set after tqdm was imported: still obeyed
    out = io.StringIO()
    assert list(progress_bar(range(3), progress=progress, file=out, desc="bar", mininterval=0)) == [0, 1, 2]
    assert ("bar" in out.getvalue()) is shown
