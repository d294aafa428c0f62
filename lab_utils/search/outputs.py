"""What a search leaves in ``--out`` (all written atomically) and the table it prints.

- ``trials.csv``: one row per trial: number, state, every parameter (its value, not MASE's index),
  every metric, the objective value(s), whether the metrics came from the evaluation cache, the
  duration in seconds and, for failed trials, why.
- ``best.json``: ``summary`` (trials, unique configurations evaluated, space size with and without
  duplicates, data set label) and ``best``: MASE's rows (number, value, software_metrics,
  hardware_metrics, scaled_metrics, sampled_config), the Pareto front when multi-objective.
- ``config.toml``: the resolved configuration (CLI > TOML > default), reusable as ``--config``.

The "Best trial(s)" table is MASE's: ``tabulate`` in ``orgtbl`` format over number and the three
metric dicts, floats rounded to 3 decimals.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from optuna.trial import TrialState
from tabulate import tabulate

from lab_utils import atomic
from lab_utils.search.faults import fault_point


def _round(d: dict) -> dict:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in (d or {}).items()}


def trials_frame(study, space, metric_names):
    """One row per trial (the ``trials.csv`` columns, module docstring)."""
    rows = []
    keys = list(space.choices())
    for t in study.get_trials(deepcopy=False):
        r = t.user_attrs.get("result", {})
        config = r.get("config")
        if config is None and t.params:
            try:
                config = space.decode({**t.params})
            except (KeyError, IndexError):
                config = None
        row = {"number": t.number, "state": t.state.name}
        for k in keys:
            row[k] = (config or {}).get(k)
        metrics = {**r.get("software_metrics", {}), **r.get("hardware_metrics", {})}
        for m in sorted(metrics):
            row[m] = metrics[m]
        if t.state == TrialState.COMPLETE:
            vals = t.values
            if len(vals) == 1:
                row["value"] = vals[0]
            else:
                for n, v in zip(metric_names, vals):
                    row[f"value_{n}"] = v
        row["cached"] = r.get("cached")
        row["duration_s"] = t.duration.total_seconds() if t.duration is not None else None
        row["fail_reason"] = t.system_attrs.get("lab:fail_reason")
        rows.append(row)
    return pd.DataFrame(rows)


def best_rows(study) -> list[dict]:
    """MASE's best-trial rows: the best trial, or the Pareto front when multi-objective."""
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        return []
    trials = study.best_trials if len(study.directions) > 1 else [study.best_trial]
    return [{"number": t.number, "value": t.values if len(t.values) > 1 else t.values[0],
             **{k: t.user_attrs["result"][k] for k in ("software_metrics", "hardware_metrics", "scaled_metrics",
                                                       "sampled_config")}} for t in sorted(trials, key=lambda t: t.number)]


def study_summary(study, space, splits=None) -> dict:
    """Trial counts by state, unique configurations evaluated, cache hits, space size and data label."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    keys = [t.user_attrs["result"]["config_key"] for t in complete]
    return {
        "trials": len(trials),
        "complete": len(complete),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "waiting": sum(t.state == TrialState.WAITING for t in trials),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
        "duplicates_dropped": sum(t.state == TrialState.PRUNED for t in trials),  # a slot queued twice, run once
        "unique_configurations_evaluated": len(set(keys)),
        "evaluations_from_cache": sum(bool(t.user_attrs["result"]["cached"]) for t in complete),
        "index_combinations": space.index_combinations(),
        "unique_configurations": space.n_configurations(),
        "dataset": splits.label if splits is not None else None,
        "synthetic": bool(getattr(splits, "synthetic", False)),
    }


def best_table(rows: list[dict]) -> str:
    """MASE's "Best trial(s)" table (``orgtbl``, floats rounded to 3 decimals)."""
    table = [[r["number"], _round(r["software_metrics"]), _round(r["hardware_metrics"]), _round(r["scaled_metrics"])]
             for r in rows]
    return tabulate(table, headers=["number", "software_metrics", "hardware_metrics", "scaled_metrics"],
                    tablefmt="orgtbl")


def write_outputs(out_dir: Path, cfg, study, space, splits=None) -> dict:
    """Write trials.csv, best.json and config.toml; return ``{"summary", "best"}``."""
    out_dir = Path(out_dir)
    frame = trials_frame(study, space, cfg.strategy.metric_names)
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    atomic.write_text(out_dir / "trials.csv", buf.getvalue())
    fault_point("outputs")
    result = {"summary": study_summary(study, space, splits), "best": best_rows(study)}
    atomic.write_json(out_dir / "best.json", result)
    atomic.write_text(out_dir / "config.toml", cfg.to_toml())
    return result
