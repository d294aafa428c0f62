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
