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
import json
import sys
from pathlib import Path

import torch

from lab_utils import atomic
from lab_utils.data import cifar10, load_dataset
from lab_utils.errors import LabError, Parser, run_command
from lab_utils.models import build_model, count_params, input_shape
from lab_utils.report import readme
from lab_utils.report.harness import run_report
from lab_utils.search import cli as search_cli
from lab_utils.training.checkpoints import load_checkpoint_file, load_weights, save_checkpoint
from lab_utils.training.train import Recipe, evaluate, train


def _data_args(p) -> None:
    p.add_argument("--dataset", default="jsc-sim", help="jsc-sim (synthetic simulator, default), jsc (real) or cifar10")
    p.add_argument("--data-path", default=None, help="a local data file/folder (real JSC file, CIFAR-10 archive/npz/folder)")
    p.add_argument("--n-samples", type=int, default=None, help="data set size (jsc-sim) or subsample (real sets); default full")


def _load_data(args):
    if args.n_samples is not None and args.n_samples < 1:
        raise LabError(f"--n-samples must be >= 1, got {args.n_samples}")
    return load_dataset(args.dataset, n_samples=args.n_samples, path=args.data_path)


def _check_model_data(model: str, dataset: str) -> None:
    image = input_shape(model) == (3, 32, 32)
    if image != (dataset == "cifar10"):
        raise LabError(f"model {model!r} does not take data set {dataset!r}: "
                       f"{'vgg7 needs cifar10' if image else 'JSC models need jsc-sim or jsc'}")


def cmd_train(args) -> int:
    _check_model_data(args.model, args.dataset)
    recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                    optimizer=args.optimizer, seed=args.seed)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise LabError(f"--out {out} exists and is not a directory")
    if (out / "last.ckpt").exists() and not args.resume:
        raise LabError(f"{out} already holds a training run; pass --resume to continue it or choose another --out")
    model_args = {"logit_relu": not args.no_logit_relu}

    torch.manual_seed(args.seed)  # same seed, same initial weights, same numbers
    model = build_model(args.model, **model_args)
    splits = _load_data(args)
    meta = {"model": args.model, "model_args": model_args, "dataset": splits.describe()}
    augment = cifar10.augment if args.dataset == "cifar10" else None  # random crop + flip, CIFAR-10 only
    try:
        history = train(model, splits, recipe, out_dir=out, resume=args.resume, meta=meta, augment=augment,
                        progress=not args.quiet, desc=f"train {args.model}")
    except KeyboardInterrupt:
        print(f"\ninterrupted: the last complete epoch is saved in {out / 'last.ckpt'}; "
              f"rerun the same command with --resume to continue", file=sys.stderr)
        return 130
    metrics = {s: evaluate(model, *splits.split(s)) for s in ("val", "test")}
    result = {"model": args.model, "params": count_params(model), "dataset": splits.describe(),
              "recipe": recipe.as_dict(), "best_epoch": history.best_epoch, "seconds": round(history.seconds, 2),
              **metrics, "history": history.epochs}
    save_checkpoint(out / "best.ckpt", model, meta=meta, recipe=recipe, metrics=metrics)
    atomic.write_json(out / "metrics.json", result)
    print(json.dumps({k: result[k] for k in ("model", "params", "best_epoch", "seconds", "val", "test")}, indent=2))
    if splits.synthetic:
        print(f"note: computed on {splits.label}", file=sys.stderr)
    return 0


def cmd_eval(args) -> int:
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
    run_report(quick=args.quick, names=args.only or None, params=args.param, download=not args.no_download)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m lab_utils", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="{train,eval,search,report}", parser_class=Parser)
    sub.required = True

    p = sub.add_parser("train", help="train a model and write DIR/best.ckpt and DIR/metrics.json")
    p.add_argument("--model", required=True, help="jsc-tiny, jsc-toy, jsc-three-linear-layers, jsc-mlp or vgg7")
    _data_args(p)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--optimizer", default="adam", help="adam (default), adamw or sgd")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-logit-relu", action="store_true", help="drop MASE's ReLU on the logits")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--resume", action="store_true", help="continue from DIR/last.ckpt (same final weights)")
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
    p.add_argument("--only", nargs="*", help="notebook names (stems) to run")
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
