"""The one exit-status and usage-error policy of every entry point (``lab_utils.errors``).

``run_command``: success gives 0 (or the command's own status) and prints nothing; a ``LabError``
gives 2 and exactly one ``error:`` line on stderr; Ctrl-C gives 130 and says how to resume. ``Parser``:
a usage mistake is one ``error:`` line and exit 2. ``LabError`` and ``require_file`` are one line too.
"""

import pytest

from lab_utils.errors import LabError, Parser, require_file, run_command


def _run(func, capsys):
    rc = run_command(func, None)
    out, err = capsys.readouterr()
    return rc, out, err


def test_success_is_0_or_the_commands_own_status(capsys):
    assert _run(lambda args: None, capsys) == (0, "", "")
    assert _run(lambda args: 0, capsys) == (0, "", "")
    assert _run(lambda args: 3, capsys) == (3, "", "")


def test_lab_error_is_exit_2_and_one_line(capsys):
    def bad(args):
        raise LabError("key 'x' must be\n  an integer,\n got 'y'")

    rc, out, err = _run(bad, capsys)
    assert rc == 2 and out == ""
    assert err == "error: key 'x' must be an integer, got 'y'\n"


def test_ctrl_c_is_exit_130_and_says_how_to_resume(capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    rc, out, err = _run(interrupted, capsys)
    assert rc == 130 and out == ""
    assert "run the same command again to resume" in err and "Traceback" not in err


def test_a_programming_error_keeps_its_traceback():
    def broken(args):
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        run_command(broken, None)


def test_usage_mistake_is_one_error_line_and_exit_2(capsys):
    p = Parser(prog="tool")
    p.add_argument("--n", type=int)
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--n", "ten"])
    assert exc.value.code == 2
    _, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: tool: argument --n") and lines[0].endswith("(see --help)")


def test_require_file_names_what_and_path(tmp_path):
    (tmp_path / "a.ckpt").write_text("x")
    assert require_file(tmp_path / "a.ckpt", "checkpoint") == tmp_path / "a.ckpt"
    with pytest.raises(LabError, match=r"checkpoint '.*none\.ckpt' does not exist or is not a file"):
        require_file(tmp_path / "none.ckpt", "checkpoint")
    with pytest.raises(LabError, match="does not exist"):
        require_file(tmp_path, "checkpoint")  # a folder
    with pytest.raises(LabError, match="does not exist"):
        require_file("bad\0name", "config")


def test_os_errors_are_one_line_naming_the_file_2_for_input_1_for_the_machine(capsys, tmp_path):
    import errno

    def read_only(args):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "out" / "best.ckpt"))

    rc, out, err = _run(read_only, capsys)
    assert rc == 2 and err == f"error: {tmp_path / 'out' / 'best.ckpt'}: Permission denied (EACCES)\n"

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "study.journal")

    rc, out, err = _run(full, capsys)
    assert rc == 1 and err == "error: study.journal: No space left on device (ENOSPC)\n"


def test_storage_errors_are_one_line_exit_1_with_the_password_masked(capsys):
    import sqlalchemy.exc

    def lost(args):
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception(
            "connection to postgresql://lab:s3cret@127.0.0.1:5432/db failed\nDETAIL: server closed"))

    rc, out, err = _run(lost, capsys)
    assert rc == 1 and len(err.splitlines()) == 1
    assert "s3cret" not in err and "storage failed (OperationalError" in err and "resume" in err


def test_broken_pipe_is_141_and_silent(capsys):
    def piped(args):
        raise BrokenPipeError(32, "Broken pipe")

    import os
    saved = os.dup(1)
    try:
        rc = run_command(piped, None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    out, err = capsys.readouterr()
    assert rc == 141 and err == ""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_are_handled_like_ctrl_c(capsys, sig):
    import os
    import signal

    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}

    def killed(args):
        os.kill(os.getpid(), getattr(signal, sig))
        raise AssertionError("the signal did not interrupt")

    try:
        rc, out, err = _run(killed, capsys)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    assert rc == 130 and "run the same command again to resume" in err


def test_a_wrapped_storage_error_shows_the_drivers_cause(capsys):
    """Optuna wraps the driver's error in StorageInternalError ("An exception is raised during the
    commit ..."): the line shows the cause (the server went away), not the wrapper."""
    import optuna
    import sqlalchemy.exc

    def lost(args):
        try:
            raise sqlalchemy.exc.OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
        except sqlalchemy.exc.OperationalError as exc:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from exc

    rc, out, err = _run(lost, capsys)
    assert rc == 1 and len(err.splitlines()) == 1
    assert "OperationalError" in err and "server closed the connection unexpectedly" in err
