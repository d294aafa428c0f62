"""The exclusive folder lock (``lab_utils.locking``): a second holder is refused naming the first,
the lock goes when its process dies, and the folder is usable again after a clean exit."""

import os
import signal
import subprocess
import sys

import pytest

from lab_utils.errors import LabError
from lab_utils.locking import LOCK_NAME, hold_folder
from tests.helpers import ROOT

HOLD = "import sys, time\nfrom lab_utils.locking import hold_folder\nwith hold_folder(sys.argv[1], 'train'):\n" \
       "    print('held', flush=True)\n    time.sleep(60)\n"


def _holder(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_holder_is_refused_with_the_holder_named_and_the_lock_dies_with_its_process(tmp_path):
    proc = _holder(tmp_path / "run")
    try:
        with pytest.raises(LabError) as exc, hold_folder(tmp_path / "run", "train"):
            pass
        msg = str(exc.value)
        assert f"--out {tmp_path / 'run'} is in use by" in msg and f"pid {proc.pid}" in msg and "\n" not in msg
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with hold_folder(tmp_path / "run", "train"):  # no stale lock after SIGKILL
        assert (tmp_path / "run" / LOCK_NAME).exists()


def test_released_after_the_body_even_on_error_and_in_the_same_process(tmp_path):
    with pytest.raises(ZeroDivisionError), hold_folder(tmp_path, "search"):
        raise ZeroDivisionError
    with hold_folder(tmp_path, "search"):
        with pytest.raises(LabError, match=f"pid {os.getpid()}"), hold_folder(tmp_path, "search"):
            pass
    with hold_folder(tmp_path, "search"):
        pass
