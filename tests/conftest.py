"""Shared fixtures (a small in-memory classification problem, the quick report, one torch thread, a
PostgreSQL server), a known environment for every test, and the markers ``notebooks`` and ``slow``.

Environment: the tests never see the caller's ``LAB_*`` or ``TQDM_*`` variables. They are removed here,
before ``lab_utils`` or tqdm is imported (both read some at import: ``LAB_DATA_DIR``, ``LAB_FAULT_KILL``,
tqdm's ``TQDM_*`` defaults), and :func:`known_environment` resets them before each test to
:data:`KNOWN_ENV` (``TQDM_DISABLE=1``: no bars). A test that needs a variable sets it itself
(``monkeypatch.setenv``, or ``env=`` of :func:`tests.helpers.run_cli`); subprocesses inherit the known
environment. Hypothesis keeps its files in ``.hypothesis/`` at the repository root, wherever pytest starts.

Markers: every test under ``tests/notebooks/`` is ``notebooks`` (the quick report runs every notebook);
every test under the :data:`SLOW_PATHS` (``tests/system/``, ``tests/search/test_workers.py``) is ``slow``,
and so is each test elsewhere decorated ``@pytest.mark.slow`` (measured at more than a few seconds with
``pytest --durations=30``, or one that starts processes). ``--strict-markers`` (pyproject.toml) rejects an
unregistered marker. ``make test`` runs everything; ``make test-unit`` runs ``-m "not slow and not notebooks"``.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

USER_PREFIXES = ("LAB_", "TQDM_")  # the variables the package, the tests and tqdm read
_early = [m for m in ("lab_utils", "tqdm") if m in sys.modules]
_removed = sorted(k for k in os.environ if k.startswith(USER_PREFIXES))
for _k in _removed:
    del os.environ[_k]
if _early and _removed:  # a plugin imported them first: they already read the caller's variables
    raise RuntimeError(f"tests/conftest.py: {', '.join(_early)} imported before {', '.join(_removed)} "
                       "could be removed from the environment")

import hypothesis.configuration  # noqa: E402
import pytest  # noqa: E402

from lab_utils.training.train import num_threads  # noqa: E402
from tests.helpers import make_blobs, run_cli  # noqa: E402

TESTS = Path(__file__).resolve().parent
hypothesis.configuration.set_hypothesis_home_dir(TESTS.parent / ".hypothesis")  # not ./.hypothesis
# set after tqdm was imported (with no TQDM_* variable), as the report harness does: tqdm's defaults stay
# its own, and lab_utils.progress reads TQDM_DISABLE at each call (tests/test_progress.py checks both)
KNOWN_ENV = {"TQDM_DISABLE": "1"}
os.environ.update(KNOWN_ENV)

SLOW_PATHS = ("system/", "search/test_workers.py")  # relative to tests/; every test under them is slow
for _p in SLOW_PATHS:
    assert (TESTS / _p).exists(), f"SLOW_PATHS names {_p}, which is not under tests/"


def pytest_collection_modifyitems(config, items):
    """Mark by path: ``tests/notebooks/**`` -> notebooks; :data:`SLOW_PATHS` -> slow. The test that every
    finding can fail (:data:`FINDINGS_TEST`) runs last, after the unit tests whose claims it reads."""
    for item in items:
        rel = Path(item.path).resolve().relative_to(TESTS).as_posix()
        if rel.startswith("notebooks/"):
            item.add_marker(pytest.mark.notebooks)
        if rel.startswith(SLOW_PATHS):
            item.add_marker(pytest.mark.slow)
    last = [i for i in items if FINDINGS_TEST in i.nodeid]
    items[:] = [i for i in items if i not in last] + last


# ----------------------------------------------------------------------------- every finding can fail
# Every Claim built while a unit test of a claim function runs (tests/labs/) is recorded
# as (key, kind, verdict, test, numbers). tests/labs/test_findings_can_fail.py, run last, fails for a *finding*
# family (its key less the last dot-separated part: "control.jsc-tiny" and "control.jsc-mlp" are one
# family) whose unit tests only ever produced one verdict: a statement that comes out the same for every input
# is a definition or an implementation check (claims.check), not a finding.
FINDINGS_TEST = "tests/labs/test_findings_can_fail.py::"  # its tests run after every other test
CLAIM_LOG: list[tuple[str, str, str, str, dict]] = []
UNIT_DIRS = ("tests/labs/",)


def _record_claims():
    from lab_utils.analysis import claims as claims_mod

    original = claims_mod.Claim.__post_init__

    def recording(self):
        original(self)
        test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
        if test.startswith(UNIT_DIRS):
            CLAIM_LOG.append((self.key, self.kind, self.verdict, test, dict(self.numbers)))

    claims_mod.Claim.__post_init__ = recording


_record_claims()


@pytest.fixture(autouse=True)
def known_environment(monkeypatch):
    """Every test starts in :data:`KNOWN_ENV` with no other ``LAB_*``/``TQDM_*`` variable, whatever an
    earlier test left behind (the report harness sets ``TQDM_DISABLE`` itself); undone after the test."""
    for k in [k for k in os.environ if k.startswith(USER_PREFIXES) and k not in KNOWN_ENV]:
        monkeypatch.delenv(k)
    for k, v in KNOWN_ENV.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def blobs():
    """Five Gaussian blobs in 16-d (:func:`tests.helpers.make_blobs`): a learnable JSC-shaped problem with no
    data files; 4,000 / 1,000 / 1,000 rows."""
    return make_blobs(spread=2.0, train=4000, val=1000, test=1000)


@pytest.fixture(scope="session")
def quick_report(tmp_path_factory):
    """Run every notebook in quick mode through the real harness (``python -m lab_utils report --quick``)
    once per test session, into a temporary output root; returns that root. Used by tests/notebooks and by
    the browser test (tests/report/test_browser.py, marked ``notebooks`` so ``make test-unit`` skips it)."""
    out = tmp_path_factory.mktemp("quick_report")
    proc = run_cli("report", "--quick", env={"LAB_OUTPUT_DIR": str(out)}, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def one_thread():
    """Small convolutions run far faster on one thread when other processes share the cores."""
    with num_threads(1):
        yield


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server():
    """A PostgreSQL server of its own on 127.0.0.1 with a database ``search``: yields ``(url, stop, start)``
    (``stop(mode)`` and ``start()`` let a test take it away mid-search); skips without PostgreSQL."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL (initdb) is not installed")
    bindir = os.path.dirname(bins[-1])
    root = tempfile.mkdtemp(prefix="pg-")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(root, "postgres")
    data, port = os.path.join(root, "data"), _free_port()
    subprocess.run(as_pg + [f"{bindir}/initdb", "-D", data, "-U", "lab", "--auth=trust"], check=True,
                   capture_output=True)

    def start():
        subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(root, "log"), "-o",
                                f"-h 127.0.0.1 -p {port} -k {root}", "start"], check=True, capture_output=True)

    def stop(mode="immediate"):
        subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", data, "-m", mode, "stop"], capture_output=True)

    start()
    try:
        subprocess.run(as_pg + [f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "lab", "search"],
                       check=True, capture_output=True)
        yield f"postgresql://lab:secretpw@127.0.0.1:{port}/search", stop, start
    finally:
        stop("fast")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres():
    """The URL of a fresh PostgreSQL database (:func:`postgres_server`)."""
    with postgres_server() as (url, _stop, _start):
        yield url
