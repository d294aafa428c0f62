"""``python -m lab_utils``: train, eval, search and report from the command line.

One argparse parser (:class:`lab_utils.errors.Parser`) with four subcommands: ``train`` (a model on a
data set, writing ``best.ckpt``, ``last.ckpt`` and ``metrics.json``; ``--resume`` continues a killed
run), ``eval`` (a checkpoint on one split, printed as JSON), ``search`` (added by
:func:`lab_utils.search.cli.add_parser`) and ``report`` (check the data, then every notebook, through
:func:`lab_utils.report.harness.run_report`; ``--readme`` rewrites the README's results section,
:mod:`lab_utils.report.readme`). Each subcommand is a ``cmd_*`` function run by
:func:`lab_utils.errors.run_command`, the one exit-status policy: every user mistake ends as one line
``error: <what is wrong and what is allowed>`` on stderr and exit status 2, never a traceback
(:class:`lab_utils.errors.LabError`); Ctrl-C exits with 130 after saying how to resume.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import sys
from pathlib import Path

import torch

from lab_utils import atomic
from lab_utils.data import cifar10, load_dataset
from lab_utils.errors import LabError, Parser, is_machine_fault, run_command
from lab_utils.locking import LOCK_NAME, hold_folder
from lab_utils.models import build_model, count_params, input_shape
from lab_utils.report import readme
from lab_utils.report.harness import ReportInterrupted, run_report
from lab_utils.search import cli as search_cli
from lab_utils.search.config import MAX_SAMPLES
from lab_utils.training.checkpoints import load_checkpoint_file, load_weights, save_checkpoint
from lab_utils.training.train import Recipe, evaluate, train

# the command line's caps: those of the TOML files (lab_utils.search.config), so a typo cannot ask for
# a data set, a run or a minibatch no machine holds; the seed range is numpy's and Optuna's
TRAIN_LIMITS = {"--epochs": (1, 10_000), "--batch-size": (1, 1_048_576), "--seed": (0, 2**32 - 1)}


def _check_whole(flag: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:20]}...({len(str(value))} digits)"
        raise LabError(f"{flag} must be a whole number >= {lo} and <= {hi:_}, got {shown}")


def _data_args(p) -> None:
    p.add_argument("--dataset", default="jsc-sim", help="jsc-sim (synthetic simulator, default), jsc (real) or cifar10")
    p.add_argument("--data-path", default=None, help="a local data file/folder (real JSC file, CIFAR-10 archive/npz/folder)")
    p.add_argument("--n-samples", type=int, default=None,
                   help=f"data set size (jsc-sim) or subsample (real sets), 1..{MAX_SAMPLES:_}; default full")


def _check_data_args(args) -> None:
    """The data flags' ranges, checked before anything is loaded or written."""
    if args.n_samples is not None:
        _check_whole("--n-samples", args.n_samples, 1, MAX_SAMPLES)


def _load_data(args):
    _check_data_args(args)
    return load_dataset(args.dataset, n_samples=args.n_samples, path=args.data_path)


def _check_model_data(model: str, dataset: str) -> None:
    image = input_shape(model) == (3, 32, 32)
    if image != (dataset == "cifar10"):
        raise LabError(f"model {model!r} does not take data set {dataset!r}: "
                       f"{'vgg7 needs cifar10' if image else 'JSC models need jsc-sim or jsc'}")


def _check_train_args(args) -> Recipe:
    """Every flag of ``train`` in range (one line naming the flag and what is allowed); returns the recipe."""
    _check_data_args(args)
    for flag, (lo, hi) in TRAIN_LIMITS.items():
        _check_whole(flag, getattr(args, flag[2:].replace("-", "_")), lo, hi)
    if not 0 < args.lr <= 10:
        raise LabError(f"--lr must be a number in (0, 10], got {args.lr}")
    if not 0 <= args.weight_decay < math.inf:
        raise LabError(f"--weight-decay must be a finite number >= 0, got {args.weight_decay}")
    _check_model_data(args.model, args.dataset)
    return Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                  optimizer=args.optimizer, seed=args.seed)


def _out_folder(text: str, create: bool = True) -> Path:
    """``--out`` as a folder (made if missing and ``create``): never the current directory by accident, never a file.

    Refused in one line (exit 2): an empty or blank name, an existing file, a path that cannot be a
    folder (a name too long, a file on the way, a NUL byte, no permission). A full disk stays an
    ``OSError`` (exit 1, :func:`lab_utils.errors.run_command`).
    """
    if not text.strip():
        raise LabError(f"--out must name a folder, got {text!r}")
    out = Path(text)
    try:
        if out.exists() and not out.is_dir():
            raise LabError(f"--out {out} exists and is not a directory; name a folder")
        if create:
            out.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        if is_machine_fault(exc):
            raise
        cause = (f"{exc.strerror or exc}, {errno.errorcode.get(exc.errno, '?')}" if isinstance(exc, OSError)
                 else str(exc))
        raise LabError(f"--out {str(out)[:200]} cannot be used as a folder ({cause})") from None
    return out


@contextlib.contextmanager
def _hold_out(out: Path):
    """:func:`lab_utils.locking.hold_folder` on ``--out`` for a ``train`` run; a folder we may not write
    (read-only, no permission) is one line naming ``--out`` (exit 2), a full disk one naming the lock file."""
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(hold_folder(out, "train"))
    except OSError as exc:
        if is_machine_fault(exc):
            raise OSError(exc.errno, f"{exc.strerror}; nothing else was written: free space, then rerun the same "
                          "command", str(out / LOCK_NAME)) from None
        raise LabError(f"--out {out} is not writable ({exc.strerror or exc}, {errno.errorcode.get(exc.errno, '?')}); "
                       "choose another --out") from None
    with stack:
        yield


def _refuse_finished(out: Path, resume: bool, *, locked: bool) -> None:
    """Without ``--resume``, a folder holding a ``last.ckpt`` is refused. ``locked=False`` (the check before
    the data is loaded) takes the lock for a moment first, so a run still going is named as the holder."""
    if (out / "last.ckpt").exists() and not resume:
        with contextlib.nullcontext() if locked else _hold_out(out):
            raise LabError(f"{out} already holds a training run; pass --resume to continue it or choose another --out")


def cmd_train(args) -> int:
    """``train``: flags checked, data loaded, then the run under the lock of ``--out`` (see :func:`_train_in`)."""
    recipe = _check_train_args(args)
    _refuse_finished(_out_folder(args.out, create=False), args.resume, locked=False)  # again under the lock
    model_args = {"logit_relu": not args.no_logit_relu}
    torch.manual_seed(args.seed)  # same seed, same initial weights, same numbers
    model = build_model(args.model, **model_args)
    splits = _load_data(args)
    out = _out_folder(args.out)
    with _hold_out(out):
        _refuse_finished(out, args.resume, locked=True)
        return _train_in(out, args, model, model_args, splits, recipe)


def _train_in(out: Path, args, model, model_args: dict, splits, recipe: Recipe) -> int:
    """Train, evaluate and write ``best.ckpt`` and ``metrics.json`` (the caller holds the lock).

    Ctrl-C, SIGTERM and SIGHUP (all ``KeyboardInterrupt``, see :func:`lab_utils.errors.run_command`)
    end with 130 and say how to resume; a full disk keeps every file already written (atomic writes) and
    says to rerun with ``--resume``.
    """
    meta = {"model": args.model, "model_args": model_args, "dataset": splits.describe()}
    augment = cifar10.augment if args.dataset == "cifar10" else None  # random crop + flip, CIFAR-10 only
    try:
        history = train(model, splits, recipe, out_dir=out, resume=args.resume, meta=meta, augment=augment,
                        progress=not args.quiet, desc=f"train {args.model}")
        metrics = {s: evaluate(model, *splits.split(s)) for s in ("val", "test")}
        result = {"model": args.model, "params": count_params(model), "dataset": splits.describe(),
                  "recipe": recipe.as_dict(), "best_epoch": history.best_epoch, "seconds": round(history.seconds, 2),
                  **metrics, "history": history.epochs}
        save_checkpoint(out / "best.ckpt", model, meta=meta, recipe=recipe, metrics=metrics)
        try:
            atomic.write_json(out / "metrics.json", result)
        except OSError as exc:  # the write's own error names no file (or the temporary one)
            raise OSError(exc.errno, exc.strerror, str(out / "metrics.json")) from None
    except KeyboardInterrupt:
        last = out / "last.ckpt"
        print("\ninterrupted: " + (f"the last complete epoch is saved in {last}; rerun the same command with "
                                   "--resume to continue" if last.exists() else
                                   "no epoch was complete, nothing was saved; rerun the same command"), file=sys.stderr)
        return 130
    except OSError as exc:
        if not is_machine_fault(exc):
            raise
        raise OSError(exc.errno, f"{exc.strerror}; the files already in {out} are kept: free space, then rerun "
                      "the same command with --resume", exc.filename) from None
    print(json.dumps({k: result[k] for k in ("model", "params", "best_epoch", "seconds", "val", "test")}, indent=2))
    if splits.synthetic:
        print(f"note: computed on {splits.label}", file=sys.stderr)
    return 0


def cmd_eval(args) -> int:
    _check_data_args(args)
    _check_model_data(args.model, args.dataset)
    obj = load_checkpoint_file(args.load)
    model_args = dict(obj.get("model_args", {})) if obj.get("model") == args.model else {}
    model = build_model(args.model, **model_args)
    load_weights(model, args.load)
    splits = _load_data(args)
    metrics = evaluate(model, *splits.split(args.split))
    print(json.dumps({"model": args.model, "split": args.split, **metrics, "dataset": splits.label}, indent=2))
    return 0


def cmd_report(args) -> int:
    if args.readme:
        path = readme.update_readme(allow_quick=args.allow_quick)
        print(f"wrote the results section of {path}")
        return 0
    try:
        run_report(quick=args.quick, names=args.only, params=args.param, download=not args.no_download)
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: one line, exit 130 (as run_command would)
        where = f"{exc.notebook} was stopped and its kernel shut down; " if isinstance(exc, ReportInterrupted) else ""
        print(f"\ninterrupted: {where}the notebooks and figures already written are kept; rerun `make report` "
              "(or the same command) to run the rest", file=sys.stderr)
        return 130
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m lab_utils", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="{train,eval,search,report}", parser_class=Parser)
    sub.required = True

    p = sub.add_parser("train", help="train a model and write DIR/best.ckpt and DIR/metrics.json")
    p.add_argument("--model", required=True, help="jsc-tiny, jsc-toy, jsc-three-linear-layers, jsc-mlp or vgg7")
    _data_args(p)
    p.add_argument("--epochs", type=int, default=10, help="1..10_000 (default 10)")
    p.add_argument("--batch-size", type=int, default=512, help="1..1_048_576 (default 512; 1 only without BatchNorm)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate in (0, 10] (default 1e-3)")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--optimizer", default="adam", help="adam (default), adamw or sgd")
    p.add_argument("--seed", type=int, default=0, help="0..2**32-1 (default 0)")
    p.add_argument("--no-logit-relu", action="store_true", help="drop MASE's ReLU on the logits")
    p.add_argument("--out", required=True, help="output directory (held by one train run at a time)")
    p.add_argument("--resume", action="store_true",
                   help="continue from DIR/last.ckpt (same final weights; same flags and data required)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a checkpoint on a split and print the metrics as JSON")
    p.add_argument("--model", required=True)
    _data_args(p)
    p.add_argument("--load", required=True, help="checkpoint (.ckpt: ours or MASE/Lightning)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.set_defaults(func=cmd_eval)

    search_cli.add_parser(sub)

    p = sub.add_parser("report", help="run every notebook (papermill) and build reports/index.html")
    p.add_argument("--quick", action="store_true", help="small parameters (what `make test` runs)")
    p.add_argument("--only", nargs="*", help="notebook names (stems, or task names such as lab3_1) to run")
    p.add_argument("--param", action="append", metavar="[TASK.]NAME=VALUE",
                   help="set a notebook parameter (every notebook that has it, or only TASK's), e.g. data_path=/data/cifar10")
    p.add_argument("--no-download", action="store_true", help="never download a missing data set: stop instead")
    p.add_argument("--readme", action="store_true",
                   help="run nothing: rewrite README.md's results section from results/*/summary.json")
    p.add_argument("--allow-quick", action="store_true", help="with --readme: accept quick-mode summaries")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(args.func, args)
