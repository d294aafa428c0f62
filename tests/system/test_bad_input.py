"""The bad-input catalogue: every class of user mistake gets exit 2 and one ``error:`` line naming
the key or file, no traceback, and nothing already written is damaged (hashed before and after).

Rows run ``lab_utils.cli.main`` in-process (fast; stdout/stderr captured) against one real study
and one real training run made by the fixtures; ``test_one_row_through_a_real_process`` checks
that a subprocess behaves the same. ``CATALOGUE`` is the README table (mistake -> message).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from pathlib import Path

import nbformat
import pytest
import torch

import lab_utils.data as data
from lab_utils.cli import main
from lab_utils.data.jsc import JSC_FEATURES
from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.report.harness import run_notebook
from lab_utils.training.checkpoints import save_checkpoint
from tests.helpers import ROOT, assert_one_line_error, run_cli, small_toml, tiny_checkpoint


@pytest.fixture(scope="module")
def world(tmp_path_factory, one_thread):
    """A finished 6-configuration study, a training run (best.ckpt + last.ckpt) and their hashes."""
    tmp = tmp_path_factory.mktemp("bad")
    mp = pytest.MonkeyPatch()
    mp.setattr(data, "DEFAULT_DATA_DIR", tmp / "data")
    ckpt = tiny_checkpoint(tmp)
    good = tmp / "good.toml"
    good.write_text(small_toml())
    study = tmp / "study"
    rc, out, err = call(["search", "--config", good, "--load", ckpt, "--out", study, "--quiet"])
    assert rc == 0, err
    run = tmp / "run"
    rc, out, err = call(["train", "--model", "jsc-tiny", "--n-samples", "500", "--epochs", "2", "--batch-size", "128",
                         "--out", run, "--quiet"])
    assert rc == 0, err
    yield {"tmp": tmp, "ckpt": ckpt, "good": good, "study": study, "run": run}
    mp.undo()


def call(argv) -> tuple[int, str, str]:
    """``python -m lab_utils ARGV`` in-process: (exit status, stdout, stderr); never raises."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def digests(*dirs: Path) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for d in dirs for p in sorted(Path(d).rglob("*"))
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def one_error_line(rc, out, err, *needles) -> str:
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in out + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# (row id, mistake, how to make it: fn(world) -> argv, the words the message must contain)
def _search(w, text=None, *extra, load=True):
    cfg = w["tmp"] / "case.toml"
    cfg.write_text(small_toml() if text is None else text)
    return ["search", "--config", cfg, "--out", w["study"], "--quiet", *(["--load", w["ckpt"]] if load else []), *extra]


def _torn_ckpt(w):
    p = w["tmp"] / "torn.ckpt"
    p.write_bytes(w["ckpt"].read_bytes()[:300])
    return p


def _text_ckpt(w):
    p = w["tmp"] / "notes.ckpt"
    p.write_text("these are my notes, not a checkpoint\n")
    return p


def _other_model_ckpt(w):
    p = w["tmp"] / "toy.ckpt"
    save_checkpoint(p, build_model("jsc-toy"), meta={"model": "jsc-toy", "model_args": {}})
    return p


def _bare_ckpt(w):
    p = w["tmp"] / "bare.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, p)
    return p


def _train(w, out, *extra):
    """``train`` on the world's data (issue 13 rows); ``out`` is the --out text."""
    return ["train", "--model", "jsc-tiny", "--n-samples", "500", "--epochs", "2", "--batch-size", "128", "--out",
            out, "--quiet", *extra]


def _resume(w, *extra, n_samples="500", model="jsc-tiny", out=None):
    """``train --resume`` into the world's run (or ``out``) with one thing changed."""
    return ["train", "--model", model, "--n-samples", n_samples, "--epochs", "2", "--batch-size", "128", "--out",
            out or w["run"], "--resume", "--quiet", *extra]


def _copied_run(w, write_last):
    """A copy of the world's run whose last.ckpt is replaced by ``write_last(path)``."""
    run = w["tmp"] / "copied"
    run.mkdir(exist_ok=True)
    for name in ("best.ckpt", "metrics.json"):
        (run / name).write_bytes((w["run"] / name).read_bytes())
    write_last(run / "last.ckpt")
    return run


def _csv(w, body):
    p = w["tmp"] / "jets.csv"
    p.write_text(body)
    return p


FEATS = ",".join(JSC_FEATURES)

CATALOGUE = [
    # --- command-line flags
    ("cli-subcommand", "unknown subcommand", lambda w: ["frobnicate"], ["invalid choice", "frobnicate"]),
    ("cli-required", "a required flag missing", lambda w: ["search"], ["--config", "required"]),
    ("cli-type", "a flag of the wrong type", lambda w: ["train", "--model", "jsc-tiny", "--epochs", "ten", "--out", "x"],
     ["--epochs", "invalid int value", "ten"]),
    ("cli-model", "unknown model", lambda w: ["train", "--model", "resnet", "--out", w["tmp"] / "r"], ["resnet", "jsc-tiny"]),
    ("cli-dataset", "unknown data set", lambda w: ["train", "--model", "jsc-tiny", "--dataset", "mnist", "--out",
                                                    w["tmp"] / "m"], ["mnist", "jsc-sim"]),
    ("cli-n-samples", "--n-samples < 1", lambda w: ["train", "--model", "jsc-tiny", "--n-samples", "0", "--out",
                                                     w["tmp"] / "n"], ["--n-samples", ">= 1"]),
    ("cli-optimizer", "unknown optimizer", lambda w: ["train", "--model", "jsc-tiny", "--optimizer", "rmsprop",
                                                       "--out", w["tmp"] / "o"], ["optimizer", "rmsprop", "adam"]),
    ("cli-model-data", "model and data set do not fit", lambda w: ["eval", "--model", "vgg7", "--load", w["ckpt"]],
     ["vgg7", "cifar10"]),
    ("cli-train-over", "train into a folder holding a run, without --resume",
     lambda w: ["train", "--model", "jsc-tiny", "--n-samples", "500", "--epochs", "2", "--batch-size", "128",
                "--out", w["run"], "--quiet"], ["already holds a training run", "--resume"]),
    ("cli-resume-recipe", "--resume with another recipe",
     lambda w: ["train", "--model", "jsc-tiny", "--n-samples", "500", "--epochs", "3", "--batch-size", "128",
                "--out", w["run"], "--resume", "--quiet"], ["last.ckpt", "recipe", "same flags"]),
    ("cli-workers", "--workers 0", lambda w: _search(w, None, "--workers", "0"), ["n_jobs", "must be 1..", "got 0"]),
    ("cli-sampler", "unknown --sampler", lambda w: _search(w, None, "--sampler", "anneal"), ["sampler", "anneal", "tpe"]),
    ("cli-n-trials", "--n-trials 0", lambda w: _search(w, None, "--n-trials", "0"), ["n_trials", "must be 1..", "got 0"]),
    ("cli-seed", "negative --seed", lambda w: _search(w, None, "--seed", "-3"), ["seed", "-3"]),
    # --- TOML files
    ("toml-missing", "config file does not exist", lambda w: ["search", "--config", w["tmp"] / "nope.toml", "--out",
                                                               w["study"]], ["nope.toml", "does not exist"]),
    ("toml-syntax", "malformed TOML", lambda w: _search(w, "model = [\n"), ["case.toml", "malformed TOML"]),
    ("toml-unknown-key", "unknown key (a typo)", lambda w: _search(w, small_toml().replace(
        "[search.strategy]", "[search.strategy]\ndata_loader = 1")), ["search.strategy.data_loader", "unknown key"]),
    ("toml-unknown-section", "unknown section", lambda w: _search(w, small_toml() + "\n[search.runner]\nx = 1\n"),
     ["search.runner", "unknown key"]),
    ("toml-type", "wrong type", lambda w: _search(w, small_toml().replace("seed = 0", 'seed = "zero"')),
     ["seed", "wrong type", "whole number"]),
    ("toml-empty-choices", "empty choice list", lambda w: _search(w, small_toml().replace(
        "weight_width = [8, 4]", "weight_width = []")), ["weight_width", "non-empty list"]),
    ("toml-choice", "a choice out of range", lambda w: _search(w, small_toml().replace(
        "weight_width = [8, 4]", "weight_width = [8, 40]")), ["weight_width", "40", "1..32"]),
    ("toml-node", "node name not in the model", lambda w: _search(w, small_toml().replace(
        "seq_blocks_2.config", "seq_blocks_7.config")), ["seq_blocks_7", "quantizable: seq_blocks_2"]),
    ("toml-space", "unknown search space", lambda w: _search(w, small_toml().replace(
        "graph/quantize/mixed_precision_ptq", "graph/quantize/magic")), ["search.search_space.name", "magic"]),
    ("toml-metric", "unknown metric", lambda w: _search(w, small_toml().replace(
        "metrics.average_bitwidth]", "metrics.energy]")), ["search.strategy.metrics.energy", "unknown metric"]),
    ("toml-direction", "multi-objective without a direction", lambda w: _search(w, small_toml().replace(
        'direction = "minimize"', "")), ["average_bitwidth.direction", "multi-objective"]),
    ("toml-n-samples", "n_samples out of range", lambda w: _search(w, small_toml().replace(
        "n_samples = 2000", "n_samples = 50")), ["n_samples", "between 100"]),
    ("toml-project", "project is a path", lambda w: _search(w, 'project = "../../etc"\n' + small_toml()),
     ["project", "../../etc", "plain name"]),
    ("toml-train-split", "search on the training data", lambda w: _search(w, 'eval_split = "train"\n' + small_toml()),
     ["eval_split", "train"]),
    ("toml-changed-space", "resume a study with another space", lambda w: _search(w, small_toml().replace(
        "weight_width = [8, 4]", "weight_width = [8, 2]")), ["study", "different choices", "--out"]),
    # --- data files
    ("data-missing", "data file does not exist", lambda w: ["train", "--model", "jsc-tiny", "--dataset", "jsc",
                                                             "--data-path", w["tmp"] / "nope.h5", "--out", w["tmp"] / "d"],
     ["nope.h5", "does not exist"]),
    ("data-columns", "data file without the JSC columns", lambda w: ["train", "--model", "jsc-tiny", "--dataset", "jsc",
                                                                      "--data-path", _csv(w, "a,b\n1,2\n"), "--out",
                                                                      w["tmp"] / "d"], ["jets.csv", "missing JSC feature columns"]),
    ("data-nan", "data file with NaN", lambda w: ["train", "--model", "jsc-tiny", "--dataset", "jsc", "--data-path",
                                                   _csv(w, FEATS + ",class\n" + ",".join(["1"] * 15 + ["nan", "g"]) + "\n"),
                                                   "--out", w["tmp"] / "d"], ["jets.csv", "NaN", "j_multiplicity"]),
    ("data-type", "data file of an unknown type", lambda w: ["train", "--model", "jsc-tiny", "--dataset", "jsc",
                                                              "--data-path", w["good"], "--out", w["tmp"] / "d"],
     ["good.toml", "unknown JSC file type"]),
    # --- checkpoints
    ("ckpt-missing", "checkpoint does not exist", lambda w: _search(w, None, "--load", w["tmp"] / "none.ckpt", load=False),
     ["load", "none.ckpt", "does not exist"]),
    ("ckpt-torn", "torn checkpoint", lambda w: _search(w, None, "--load", _torn_ckpt(w), load=False),
     ["load", "torn.ckpt", "cannot be read"]),
    ("ckpt-foreign", "a file that is not a checkpoint", lambda w: ["eval", "--model", "jsc-tiny", "--load", _text_ckpt(w)],
     ["notes.ckpt", "cannot be read"]),
    ("ckpt-model", "checkpoint of another model", lambda w: _search(w, None, "--load", _other_model_ckpt(w), load=False),
     ["load", "toy.ckpt", "jsc-toy", "jsc-tiny"]),
    ("ckpt-shape", "weights that do not fit the model", lambda w: ["eval", "--model", "jsc-tiny", "--load", _bare_ckpt(w)],
     ["bare.ckpt", "does not fit this model"]),
    ("ckpt-needed", "quantization search without a checkpoint", lambda w: _search(w, None, load=False),
     ["load", "--load CKPT"]),
    # --- storage URLs
    ("storage-scheme", "not a storage URL", lambda w: _search(w, None, "--storage", "my-study"),
     ["--storage", "my-study", "sqlite:///"]),
    ("storage-unreachable", "database not reachable (password masked)",
     lambda w: _search(w, None, "--storage", "postgresql://lab:s3cretpw@127.0.0.1:1/search"),
     ["storage postgresql://lab:***@127.0.0.1:1/search", "cannot open"]),
    ("storage-driver", "database driver not installed", lambda w: _search(w, None, "--storage", "mysql://u:s3cretpw@h/db"),
     ["storage mysql://u:***@h/db", "cannot open"]),
    # --- issue 13: search (queue, caps, config file)
    ("cli-workers-cap", "--workers beyond 4 per core", lambda w: _search(w, None, "--workers", "500"),
     ["n_jobs", "--workers", "got 500", "per core"]),
    ("cli-n-trials-cap", "--n-trials beyond a million", lambda w: _search(w, None, "--n-trials", "1000000000"),
     ["n_trials", "1..1,000,000", "1,000,000,000"]),
    ("cli-seed-huge", "--seed beyond 64 bits", lambda w: _search(w, None, "--seed", str(2**70)),
     ["seed", "0..4294967295", str(2**70)]),
    ("search-out-file", "--out is a file", lambda w: _search(w, None)[:4] + [w["good"]] + _search(w, None)[5:],
     ["--out", "good.toml", "is not a folder"]),
    ("search-out-long", "--out name too long", lambda w: _search(w, None)[:4] + [w["tmp"] / ("x" * 300)]
     + _search(w, None)[5:], ["File name too long", "ENAMETOOLONG"]),
    ("toml-huge-file", "config file larger than 1 MB (not read)", lambda w: _search(w, small_toml() + "#" * 1_100_000),
     ["case.toml", "larger than 1,000,000 bytes"]),
    ("toml-deep", "tables nested too deeply", lambda w: _search(w, small_toml() + "deep = " + "[" * 5000 + "]" * 5000),
     ["case.toml", "nested too deeply"]),
    ("toml-deep-tables", "tables nested deeper than the schema", lambda w: _search(
        w, small_toml() + "\n[a.b.c.d.e.f.g.h.i.j.k.l.m.n]\nx = 1\n"), ["case.toml", "nested more than 12 levels"]),
    # --- issue 13: storage (journal, databases)
    ("journal-foreign", "--storage journal:FILE on a file that is not an Optuna journal (left untouched)",
     lambda w: [(w["tmp"] / "notes.txt").write_text("my notes\nline two\n"),
                _search(w, None, "--storage", f"journal:{w['tmp'] / 'notes.txt'}")][1],
     ["notes.txt", "not an Optuna journal"]),
    ("journal-corrupt", "a journal corrupt in the middle (not torn at its end)",
     lambda w: [(w["tmp"] / "corrupt").mkdir(exist_ok=True), (w["tmp"] / "corrupt" / "study.journal").write_bytes(
         b"".join(b'{"op_code":4,"wor{"op_code":5}\n' if i == 2 else line for i, line in
                  enumerate((w["study"] / "study.journal").read_bytes().splitlines(keepends=True)))),
                _search(w, None, "--out", w["tmp"] / "corrupt")][2],
     ["corrupt/study.journal", "line 3 is not a journal record"]),
    ("journal-dir", "--storage journal:DIR", lambda w: _search(w, None, "--storage", f"journal:{w['tmp']}"),
     ["journal", "is a directory"]),
    ("sqlite-foreign", "--storage sqlite:///FILE on a file that is not a database",
     lambda w: [(w["tmp"] / "notes.db").write_text("my notes\n" * 200),
                _search(w, None, "--storage", f"sqlite:///{w['tmp'] / 'notes.db'}")][1],
     ["notes.db", "corrupt or not a database"]),
    ("storage-workers-sqlite", "--workers 2 on an older study's study.db (SQLite)",
     lambda w: [(w["tmp"] / "old").mkdir(exist_ok=True), (w["tmp"] / "old" / "study.db").write_bytes(b""),
                _search(w, None, "--workers", "2", "--out", w["tmp"] / "old")][2],
     ["--workers 2", "old/study.db", "not safe"]),
    # --- issue 13: training and its command line
    ("train-out-empty", "train --out \"\" (would write into the current folder)",
     lambda w: _train(w, "", "--epochs", "1"), ["--out must name a folder", "''"]),
    ("train-out-blank", "train --out of blanks", lambda w: _train(w, "  "), ["--out must name a folder"]),
    ("train-out-file", "train --out naming an existing file", lambda w: _train(w, w["good"]),
     ["--out", "good.toml", "not a directory"]),
    ("train-out-under-file", "train --out inside a file", lambda w: _train(w, w["good"] / "run"),
     ["--out", "good.toml/run", "cannot be used as a folder", "ENOTDIR"]),
    ("train-out-too-long", "train --out with a name too long", lambda w: _train(w, w["tmp"] / ("r" * 300)),
     ["--out", "cannot be used as a folder", "ENAMETOOLONG"]),
    ("train-n-samples-cap", "--n-samples beyond the TOML's cap", lambda w: _train(w, w["tmp"] / "t", "--n-samples",
                                                                                     "10000001"),
     ["--n-samples", ">= 1 and <= 10_000_000", "10000001"]),
    ("eval-n-samples-cap", "eval --n-samples beyond the cap",
     lambda w: ["eval", "--model", "jsc-tiny", "--load", w["run"] / "best.ckpt", "--n-samples", "99999999999"],
     ["--n-samples", "<= 10_000_000"]),
    ("train-epochs-cap", "--epochs beyond 10,000", lambda w: _train(w, w["tmp"] / "t", "--epochs", "10001"),
     ["--epochs", ">= 1 and <= 10_000", "10001"]),
    ("train-batch-size-cap", "--batch-size beyond 2**20", lambda w: _train(w, w["tmp"] / "t", "--batch-size",
                                                                            "1048577"),
     ["--batch-size", "<= 1_048_576"]),
    ("train-seed-64-bits", "--seed beyond 64 bits (a torch traceback before)",
     lambda w: _train(w, w["tmp"] / "t", "--seed", str(2**70)), ["--seed", ">= 0 and <= 4_294_967_295"]),
    ("train-seed-negative", "negative --seed", lambda w: _train(w, w["tmp"] / "t", "--seed", "-1"),
     ["--seed", ">= 0", "-1"]),
    ("train-lr-zero", "--lr 0", lambda w: _train(w, w["tmp"] / "t", "--lr", "0"), ["--lr", "(0, 10]"]),
    ("train-lr-nan", "--lr nan", lambda w: _train(w, w["tmp"] / "t", "--lr", "nan"), ["--lr", "(0, 10]", "nan"]),
    ("train-weight-decay-inf", "--weight-decay inf", lambda w: _train(w, w["tmp"] / "t", "--weight-decay", "inf"),
     ["--weight-decay", "finite"]),
    ("train-batch-size-one", "--batch-size 1 on a BatchNorm model",
     lambda w: _train(w, w["tmp"] / "b1", "--batch-size", "1"), ["batch size 1", "BatchNorm", ">= 2"]),
    ("resume-model-args", "--resume with --no-logit-relu added", lambda w: _resume(w, "--no-logit-relu"),
     ["last.ckpt", "another run", "logit_relu was True, now False", "--no-logit-relu"]),
    ("resume-data", "--resume with other --n-samples", lambda w: _resume(w, n_samples="600"),
     ["last.ckpt", "data set", "n_raw was 500, now 600", "--n-samples"]),
    ("resume-model", "--resume with another --model", lambda w: _resume(w, model="jsc-toy"),
     ["last.ckpt", "model was 'jsc-tiny', now 'jsc-toy'", "--model"]),
    ("resume-best-as-last", "--resume on a best.ckpt copied over last.ckpt",
     lambda w: _resume(w, out=_copied_run(w, lambda p: p.write_bytes((w["run"] / "best.ckpt").read_bytes()))),
     ["last.ckpt", "not a resume checkpoint", "lacks optimizer"]),
    ("resume-bare-state-dict", "--resume on a bare state dict as last.ckpt",
     lambda w: _resume(w, out=_copied_run(w, lambda p: torch.save(build_model("jsc-tiny").state_dict(), p))),
     ["last.ckpt", "not a resume checkpoint"]),
    ("resume-foreign-file", "--resume on a text file as last.ckpt",
     lambda w: _resume(w, out=_copied_run(w, lambda p: p.write_text("not a checkpoint\n"))),
     ["last.ckpt", "cannot be read"]),
    # --- issue 13: data files and the report
    ("data-empty", "JSC file of 0 bytes", lambda w: ["train", "--model", "jsc-tiny", "--dataset", "jsc", "--data-path",
                                                      _csv(w, ""), "--out", w["tmp"] / "d"],
     ["jets.csv", "empty file (0 bytes)", "at least 4"]),
    ("data-header-only", "JSC CSV with a header and no rows",
     lambda w: ["train", "--model", "jsc-tiny", "--dataset", "jsc", "--data-path", _csv(w, FEATS + ",class\n"),
                "--out", w["tmp"] / "d"], ["jets.csv", "no rows", "at least 4"]),
    ("data-three-rows", "JSC CSV with three rows (too few for train/val/test)",
     lambda w: ["train", "--model", "jsc-tiny", "--dataset", "jsc", "--data-path", _csv(w, FEATS + ",class\n" + "".join(
         ",".join([f"{i}.5"] * 16) + f",{c}\n" for i, c in enumerate("gqw"))), "--out", w["tmp"] / "d"],
     ["jets.csv", "3 distinct row(s)", "too few to split", "at least 4"]),
    ("data-h5-group", "HDF5 't_allpar_new' is a group",
     lambda w: ["train", "--model", "jsc-tiny", "--dataset", "jsc", "--data-path", __import__(
         "tests.data.jsc_files", fromlist=["make"]).make(w["tmp"], "h5-group"), "--out", w["tmp"] / "d"],
     ["h5-group.h5", "'t_allpar_new' is a group, not a table", "compound dataset"]),
    ("data-h5-strings", "HDF5 't_allpar_new' is an array of strings",
     lambda w: ["train", "--model", "jsc-tiny", "--dataset", "jsc", "--data-path", __import__(
         "tests.data.jsc_files", fromlist=["make"]).make(w["tmp"], "h5-strings"), "--out", w["tmp"] / "d"],
     ["h5-strings.h5", "array of strings", "not a table with named columns"]),
    ("data-h5-1d", "HDF5 't_allpar_new' is a plain 1-D array",
     lambda w: ["train", "--model", "jsc-tiny", "--dataset", "jsc", "--data-path", __import__(
         "tests.data.jsc_files", fromlist=["make"]).make(w["tmp"], "h5-1d"), "--out", w["tmp"] / "d"],
     ["h5-1d.h5", "1-D array of float64", "not a table with named columns"]),
    ("report-only-empty", "report --only without a name (ran every notebook)", lambda w: ["report", "--only"],
     ["--only needs at least one notebook name", "choose from", "lab0_data_and_baselines"]),
    ("report-only-unknown", "report --only with an unknown name", lambda w: ["report", "--only", "lab9_nothing"],
     ["lab9_nothing", "choose from", "lab3_1_metrics"]),
]


@pytest.mark.parametrize("row", CATALOGUE, ids=[r[0] for r in CATALOGUE])
def test_catalogue_row(world, row):
    _, _, argv, needles = row
    before = digests(world["study"], world["run"])
    rc, out, err = call(argv(world))
    line = one_error_line(rc, out, err, *needles)
    assert "s3cretpw" not in out + err
    assert digests(world["study"], world["run"]) == before, line  # nothing already written damaged


def test_one_row_through_a_real_process(world):
    """The same message from a real ``python -m lab_utils`` process (no traceback, exit 2)."""
    w = world
    proc = run_cli(*_search(w, small_toml().replace("seed = 0", 'seed = "zero"')),
                   env={"LAB_DATA_DIR": str(w["tmp"] / "data")})
    assert_one_line_error(proc, "seed", "wrong type")


def test_notebook_parameter_error_names_notebook_cell_and_error(tmp_path, monkeypatch):
    """A bad notebook parameter fails in its first data cell with the LabError's one line."""
    nb = nbformat.read(ROOT / "notebooks" / "lab0_data_and_baselines.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert 'dataset: str = "jsc-sim"' in cell.source
    cell.source = cell.source.replace('dataset: str = "jsc-sim"', 'dataset: str = "mnist"')
    copy = tmp_path / "lab0_bad.ipynb"
    nbformat.write(nb, copy)
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(LabError) as info:
        run_notebook(copy, tmp_path / "reports", quick=True)
    msg = str(info.value)
    m = re.match(r"notebook lab0_bad\.ipynb failed in cell \d+ \(cell index (\d+)\): "
                 r"LabError: unknown data set 'mnist'; choose one of: jsc-sim, jsc, cifar10$", msg)
    assert m, msg
    executed = nbformat.read(tmp_path / "reports" / "lab0_bad.ipynb", as_version=4)  # kept for inspection
    failed = [c for c in executed.cells if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1 and "baselines.jsc_data(" in failed[0].source  # the first data cell
