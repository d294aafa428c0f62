"""``python -m lab_utils search``: run a TOML-configured search (see :mod:`lab_utils.search`).

``add_parser(subparsers)`` adds the ``search`` subcommand to the main CLI; ``run(args)`` runs it.
Flags override the TOML (CLI > TOML > default). ``python -m lab_utils.search.cli`` runs the same
command standalone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab_utils.errors import Parser, run_command
from lab_utils.search.config import load_config
from lab_utils.search.run import run_search
from lab_utils.search.space import build_context

HELP = """Run (or resume) a search. The study lives in --out (Optuna's journal file --out/study.journal;
an older study's study.db is resumed with SQLite), so running the same command again resumes it:
completed trials are kept, a trial lost to Ctrl-C or a killed process is retried, and a journal
record torn by a kill or a full disk is cut away (kept in a side file). --workers N runs N
processes on one journal file; --storage postgresql://USER:PASS@HOST/DB shares a study between
machines (run the same command on each). Watch a study: optuna-dashboard OUT/study.journal.
Seeded results repeat only with one worker: several workers interleave their trials differently on
every run."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``search`` subcommand (its flags override the TOML) to the main CLI's subparsers."""
    p = subparsers.add_parser("search", help="search quantization or width configurations (Optuna)",
                              description=HELP)
    p.add_argument("--config", required=True, help="search TOML (MASE's schema), e.g. configs/jsc_tiny_by_type.toml")
    p.add_argument("--load", help="checkpoint of the model to search (overrides the TOML's load)")
    p.add_argument("--out", help="output directory (default results/search/<config name>)")
    p.add_argument("--sampler", help="tpe, random, brute-force, grid, nsgaii or qmc")
    p.add_argument("--n-trials", type=int, help="total trials of the study (a resume counts the kept ones)")
    p.add_argument("--seed", type=int, help="seed of the sampler, the brute-force order and training")
    p.add_argument("--storage", help="Optuna storage URL (journal:F, sqlite:///F, postgresql://...); default "
                                        "journal:OUT/study.journal (OUT/study.db if an older study has one)")
    p.add_argument("--study-name", help="study name in the storage (default: the TOML's project, else 'search')")
    p.add_argument("--workers", type=int, help="worker processes on one study (default: the TOML's n_jobs, else 1); "
                                                "seeded results repeat only with one worker")
    p.add_argument("--timeout", type=float, help="stop taking new trials after this many seconds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--check", action="store_true",
                   help="only validate: parse the config, load the checkpoint and data, build the search space "
                        "against the model, print its summary and exit 0 (no study is opened or written)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run the ``search`` subcommand; returns the exit status (0, or 130 if interrupted)."""
    overrides = {"load": args.load, "seed": args.seed, "search.strategy.setup.sampler": args.sampler,
                 "search.strategy.setup.n_trials": args.n_trials, "search.strategy.setup.timeout": args.timeout}
    if args.workers is not None:
        overrides["search.strategy.setup.n_jobs"] = args.workers
    cfg = load_config(args.config, overrides)
    if args.check:
        return check(cfg, print_fn=print)
    out = Path(args.out) if args.out else Path("results") / "search" / Path(args.config).stem
    study_name = args.study_name or cfg.raw.get("project") or "search"
    return run_search(cfg, out, storage_url=args.storage, study_name=study_name, workers=cfg.strategy.n_jobs,
                      progress=not args.quiet).status


def check(cfg, print_fn=print) -> int:
    """``--check``: build everything a search needs except the study, and print the space.

    Nothing is written: no output directory, no storage, and a space that would train something
    first (the VGG supernet) is built untrained (``SpaceContext.dry_run``).
    """
    space, splits = build_context(cfg, None, dry_run=True)
    choices = space.choices()
    print_fn(f"config ok: space {cfg.space.name} on {cfg.model}, {splits.label}, split {cfg.eval_split}; "
             f"{space.index_combinations()} index combinations, {space.n_configurations()} unique configurations")
    for key, values in choices.items():
        print_fn(f"  {key}: {list(values)}")
    metrics = ", ".join(f"{m.name} (scale {m.scale:g}, {m.direction or '-'})" for m in cfg.strategy.metrics)
    print_fn(f"sampler {cfg.strategy.sampler}, n_trials {cfg.strategy.n_trials}, "
             f"{'sum of scaled metrics, ' + str(cfg.strategy.direction) if cfg.strategy.sum_scaled_metrics else 'multi-objective'}"
             f": {metrics}")
    return 0


def main(argv=None) -> int:
    """``python -m lab_utils.search.cli ARGS`` = ``python -m lab_utils search ARGS``."""
    parser = Parser(prog="python -m lab_utils")
    add_parser(parser.add_subparsers(dest="command", required=True, parser_class=Parser))
    args = parser.parse_args(["search", *(sys.argv[1:] if argv is None else argv)])
    return run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
