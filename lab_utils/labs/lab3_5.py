"""Lab 3.5: what quantization-aware training (QAT) wins back of what post-training quantization (PTQ) loses.

How it works, per model (:func:`run_study`): the float checkpoint (lab0's converged baseline) is
quantized with every configuration of two grids (:func:`study_configs`): the lab's 16 by-type
configurations, and per-layer weight widths (every Linear by name, inputs and biases 8/4). PTQ is the
quantized checkpoint as it is (:func:`ptq_table`: validation and test accuracy, bit-ops per jet from
:func:`lab_utils.analysis.cost.cost_table`). QAT fine-tunes the checkpoint under each configuration with
:func:`lab_utils.training.qat.qat_runs` (straight-through estimator, one epoch, Adam, linear decay), every
configuration x seed a slot of one batched call per learning rate (:func:`qat_study`): a screen at every
rate of a pre-declared set picks each configuration's rate on validation accuracy, then fresh seeds run at
the picked rate and only they are evaluated on the test split, which gives every reported number. The
seeds change only the minibatch order (every run starts from the same checkpoint). A control slot
fine-tunes the float model with the same recipe and seeds, because fine-tuning alone can change accuracy.
The epochs study (:func:`epochs_study`) re-trains the configurations PTQ hurts most on validation
(:func:`hardest`) for each other number of epochs with the same screen-then-confirm procedure, so every
epoch count gets its own learning rate (picked on validation at that count): more epochs cannot lose merely
because the rate was picked for one epoch. The conclusions are claims
(:func:`lab_utils.labs.lab3_5_claims.study_claims`) from per-seed test accuracies with Student-t
intervals over seeds; the test set is fixed, so the intervals cover training randomness only.

May import every layer below ``labs`` and :mod:`lab_utils.labs.lab3`. Figures:
:mod:`lab_utils.report.plots.lab3_5`; tests: ``tests/labs/test_lab3_5.py``.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd

from lab_utils.analysis import cost
from lab_utils.analysis import stats as S
from lab_utils.errors import LabError
from lab_utils.labs import lab3
from lab_utils.passes.quantize import lab_config, quantize_model
from lab_utils.training.qat import QATRecipe, qat_model, qat_runs
from lab_utils.training.train import evaluate

DATA_IN = (8, 4)  # per-layer grid: inputs and biases 8 bits, 4 fractional
BIAS = (8, 4)
LINEARS = {"jsc-tiny": ("seq_blocks_2",), "jsc-three-linear-layers": ("seq_blocks_2", "seq_blocks_4", "seq_blocks_6")}
FLOAT = "float32"
CONTROL = "float, fine-tuned (control)"
CONTROL_ARGS = {"by": "type", "default": {"config": {"name": None}}}  # nothing quantized: plain fine-tuning
MAIN_EPOCHS = 1
FRAC_RULES = ("half", "auto")


# ----------------------------------------------------------------------------- configurations
def per_layer_args(layers, widths, frac_rule: str = "half") -> dict:
    """By name: Linear ``layers[i]`` gets weight width ``widths[i]``; inputs and biases 8/4. ``frac_rule``
    "half" is MASE's default ``width // 2``; "auto" the largest frac width that holds the largest weight."""
    args = {"by": "name", "default": {"config": {"name": None}}}
    for node, w in zip(layers, widths):
        args[node] = {"config": lab_config(DATA_IN, (int(w), int(w) // 2 if frac_rule == "half" else "auto"), BIAS)}
    return args


def study_configs(model_name: str, widths, frac_rule: str = "half") -> list[dict]:
    """The lab grid (16 by type) then every per-layer weight-width combination over ``widths``.

    Each entry: ``config`` (label), ``grid`` ("lab" or "per-layer"), ``args`` (pass args),
    ``data_in_width``, ``weight_bits`` (per Linear, "2-4-8") and ``max_weight_width``. A per-layer
    combination equal to a lab configuration (every Linear at 8 or 4 bits, frac width//2) is left out.
    """
    out = [{"config": lab3.config_label(a, w), "grid": "lab", "args": lab3.grid_pass_args(a, w),
            "data_in_width": a[0], "weight_bits": str(w[0]), "max_weight_width": w[0]} for a, w in lab3.lab_grid()]
    layers = LINEARS[model_name]
    for combo in itertools.product(sorted(int(w) for w in widths), repeat=len(layers)):
        if frac_rule == "half" and len(set(combo)) == 1 and (combo[0], combo[0] // 2) in lab3.LAB_PAIRS \
                and DATA_IN in lab3.LAB_PAIRS and BIAS == lab3.LAB_BIAS:
            continue  # the same configuration as the lab's "in 8/4, w W/W//2": run once, under the lab's name
        bits = "-".join(map(str, combo))
        out.append({"config": f"per-layer w {bits}", "grid": "per-layer", "args": per_layer_args(layers, combo, frac_rule),
                    "data_in_width": DATA_IN[0], "weight_bits": bits, "max_weight_width": max(combo)})
    return out


def frac_rule(model, model_name: str, splits, widths, max_weight: int = 4) -> tuple[str, pd.DataFrame]:
    """Which frac-width rule the per-layer grid uses: the one with the higher mean PTQ validation accuracy
    over the per-layer configurations with weights of ``max_weight`` bits or fewer (ties: MASE's "half").
    Chosen for PTQ, on validation data, so PTQ is compared at its better rule. Returns ``(rule, table)``."""
    rows = []
    for combo in itertools.product(sorted(int(w) for w in widths), repeat=len(LINEARS[model_name])):
        if max(combo) <= max_weight:
            accs = {r: evaluate(quantize_model(model, per_layer_args(LINEARS[model_name], combo, r)),
                                splits.x_val, splits.y_val)["accuracy"] for r in FRAC_RULES}
            rows.append({"model": model_name, "weight_bits": "-".join(map(str, combo)), **accs})
    table = pd.DataFrame(rows, columns=["model", "weight_bits", *FRAC_RULES])
    rule = "auto" if len(table) and table["auto"].mean() > table["half"].mean() else "half"
    return rule, table


# ----------------------------------------------------------------------------- measurements
def ptq_table(model, configs: list[dict], splits) -> pd.DataFrame:
    """Float (first row) and PTQ of every configuration: validation and test accuracy, bit-ops per jet."""
    shape = tuple(splits.x_val.shape[1:])
    rows = []
    for c in [{"config": FLOAT, "grid": "float", "args": None, "data_in_width": 32, "weight_bits": "32",
               "max_weight_width": 32}] + list(configs):
        m = model.eval() if c["args"] is None else quantize_model(model, c["args"]).eval()
        rows.append({k: c[k] for k in ("config", "grid", "data_in_width", "weight_bits", "max_weight_width")}
                    | {"val_accuracy": evaluate(m, splits.x_val, splits.y_val)["accuracy"],
                       "test_accuracy": evaluate(m, splits.x_test, splits.y_test)["accuracy"],
                       "bitops": int(cost.cost_table(m, shape, 1).iloc[-1]["bitops"])})
    return pd.DataFrame(rows)


def pick_lr(runs: pd.DataFrame) -> dict:
    """Per configuration, the learning rate with the best mean validation accuracy over the seeds of ``runs``
    (ties: the smaller)."""
    mean = runs.groupby(["config", "lr"], sort=False)["val_accuracy"].mean().reset_index()
    mean = mean.sort_values(["config", "val_accuracy", "lr"], ascending=[True, False, True], kind="stable")
    return dict(mean.groupby("config", sort=False)["lr"].first())


def _qat_batch(model, labelled_args: list[tuple[str, dict]], seeds, splits, recipe, workers, progress):
    """One :func:`qat_runs` call: every (config, seed) a slot; returns ``[(label, seed, result)]``."""
    jobs = [(label, args, int(s)) for label, args in labelled_args for s in seeds]
    res = qat_runs(model, [a for _, a, _ in jobs], splits, recipe, seeds=[s for *_, s in jobs], workers=workers,
                   progress=progress)
    return [(label, s, r) for (label, _, s), r in zip(jobs, res)]


def qat_study(model, configs: list[dict], splits, lrs, seeds, screen_seeds, *, batch_size: int = 512,
              workers: int = 1, progress: bool = True, epochs: int = MAIN_EPOCHS, control: bool = True) -> pd.DataFrame:
    """QAT of every configuration (and, with ``control``, the control): a screen, then fresh seeds at the picked
    learning rate, every run ``epochs`` epochs long.

    Screen: every config x ``screen_seeds`` at every learning rate (one batched call per rate); each
    config's rate is :func:`pick_lr` of the screen's validation accuracy. Confirm: every config x
    ``seeds`` (fresh, so the winner of the screen is not re-used) at its picked rate (one call per rate),
    evaluated on the test split. One row per run: ``phase``, config, seed, lr, validation accuracy,
    training loss, ``selected`` (the confirm runs) and ``test_accuracy`` (confirm runs only; NaN otherwise).
    """
    labelled = [(c["config"], c["args"]) for c in configs] + ([(CONTROL, CONTROL_ARGS)] if control else [])
    rows = []
    for lr in sorted(float(v) for v in lrs):
        recipe = QATRecipe(learning_rate=lr, max_epochs=int(epochs), batch_size=batch_size)
        for label, s, r in _qat_batch(model, labelled, screen_seeds, splits, recipe, workers, progress):
            rows.append({"phase": "screen", "config": label, "seed": s, "lr": lr, "val_accuracy": r["val"]["accuracy"],
                         "train_loss": r["train_loss"], "selected": False, "test_accuracy": np.nan})
    pick = pick_lr(pd.DataFrame(rows))
    for lr in sorted(set(pick.values())):
        recipe = QATRecipe(learning_rate=lr, max_epochs=int(epochs), batch_size=batch_size)
        group = [(label, args) for label, args in labelled if pick[label] == lr]
        for label, s, r in _qat_batch(model, group, seeds, splits, recipe, workers, progress):
            rows.append({"phase": "confirm", "config": label, "seed": s, "lr": lr, "val_accuracy": r["val"]["accuracy"],
                         "train_loss": r["train_loss"], "selected": True,
                         "test_accuracy": evaluate(qat_model(model, r), splits.x_test, splits.y_test)["accuracy"]})
    return pd.DataFrame(rows)


def hardest(ptq: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` quantized configurations with the largest PTQ loss on validation (declared before any QAT)."""
    flt = float(ptq.loc[ptq["grid"] == "float", "val_accuracy"].iloc[0])
    q = ptq[ptq["grid"] != "float"].assign(loss=lambda d: flt - d["val_accuracy"])
    return q.sort_values("loss", ascending=False, kind="stable")["config"].head(int(n)).tolist()


def epochs_study(model, configs: list[dict], hard: list[str], runs: pd.DataFrame, splits, epochs, seeds,
                 screen_seeds, lrs, *, batch_size: int = 512, workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """Test accuracy of the ``hard`` configurations after each number of ``epochs``, each count at its own
    learning rate.

    The :data:`MAIN_EPOCHS` runs come from ``runs`` (the main study: screen and confirm at that count); every
    other count runs :func:`qat_study` on the hard configurations alone (no control) with ``epochs`` epochs: a
    screen over ``lrs`` on ``screen_seeds`` picks each configuration's rate on validation at that count, then the
    confirm ``seeds`` (the main study's, so the comparison is paired by seed) run at it, each a fresh run from the
    checkpoint (the schedule decays over the whole run). One row per confirm run: config, epochs, seed, lr (picked
    for that count), val_accuracy, test_accuracy."""
    keep = ["config", "epochs", "seed", "lr", "val_accuracy", "test_accuracy"]
    sel = runs[runs["selected"] & runs["config"].isin(hard)].assign(epochs=MAIN_EPOCHS)
    parts = [sel[keep]] if MAIN_EPOCHS in [int(e) for e in epochs] else []
    args_of = {c["config"]: c for c in configs}
    for e in sorted(int(e) for e in epochs if int(e) != MAIN_EPOCHS):
        r = qat_study(model, [args_of[h] for h in hard], splits, lrs, seeds, screen_seeds, batch_size=batch_size,
                      workers=workers, progress=progress, epochs=e, control=False)
        parts.append(r[r["selected"]].assign(epochs=e)[keep])
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=keep)
    out["seed"] = out["seed"].astype(int)
    return out.sort_values(["config", "epochs", "seed"]).reset_index(drop=True)


def study_seeds(n_seeds: int, n_screen: int) -> tuple[list[int], list[int]]:
    """``(screen seeds, confirm seeds)``: ``0 .. n_screen − 1`` and the next ``n_seeds`` (disjoint)."""
    if n_seeds < 1 or n_screen < 1:
        raise LabError(f"n_seeds and n_screen must be >= 1, got {n_seeds} and {n_screen}")
    return list(range(n_screen)), list(range(n_screen, n_screen + n_seeds))


def run_study(model_name: str, model, splits, *, widths, lrs, n_seeds: int, n_screen: int, epochs, n_hard: int,
              batch_size: int = 512, workers: int = 1, progress: bool = True) -> dict:
    """Everything for one model: ``frac`` (rule table), ``ptq``, ``runs``, ``table`` (:func:`config_table`),
    ``epochs``, ``hard``, ``seconds`` (wall time of the QAT runs, not stored as a result); seeds from
    :func:`study_seeds`."""
    screen_seeds, seeds = study_seeds(int(n_seeds), int(n_screen))
    rule, frac = frac_rule(model, model_name, splits, widths)
    configs = study_configs(model_name, widths, rule)
    ptq = ptq_table(model, configs, splits)
    t0 = time.perf_counter()
    runs = qat_study(model, configs, splits, lrs, seeds, screen_seeds, batch_size=batch_size, workers=workers,
                     progress=progress)
    hard = hardest(ptq, n_hard)
    ep = epochs_study(model, configs, hard, runs, splits, epochs, seeds, screen_seeds, lrs, batch_size=batch_size,
                      workers=workers, progress=progress)
    out = {"rule": rule, "frac": frac, "ptq": ptq, "runs": runs, "hard": hard, "epochs": ep,
           "seconds": time.perf_counter() - t0}
    out["table"] = config_table(ptq, runs)
    for key in ("ptq", "runs", "table", "epochs"):
        out[key].insert(0, "model", model_name)
    return out


# ----------------------------------------------------------------------------- per-configuration summary
def seed_values(runs: pd.DataFrame, config: str) -> pd.Series:
    """Test accuracy by seed of ``config``'s selected runs."""
    r = runs[(runs["config"] == config) & runs["selected"]]
    return r.set_index("seed")["test_accuracy"].sort_index().astype(float)


def config_table(ptq: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per quantized configuration (test split, points = percentage points): PTQ, QAT mean and
    t-interval over seeds, PTQ's loss, QAT's gain (mean, interval), the recovered fraction
    ``(qat − ptq) / (float − ptq)`` (mean, interval; NaN when PTQ loses nothing), the control's mean."""
    flt = float(ptq.loc[ptq["grid"] == "float", "test_accuracy"].iloc[0])
    control = seed_values(runs, CONTROL)
    rows = []
    for r in ptq[ptq["grid"] != "float"].itertuples():
        qat = seed_values(runs, r.config)
        ptq_acc = float(r.test_accuracy)
        row = {"config": r.config, "grid": r.grid, "data_in_width": r.data_in_width, "weight_bits": r.weight_bits,
               "max_weight_width": r.max_weight_width, "bitops": r.bitops, "lr": float(runs.loc[
                   (runs["config"] == r.config) & runs["selected"], "lr"].iloc[0]), "n_seeds": len(qat),
               "float": flt, "control": float(control.mean()), "ptq": ptq_acc, "ptq_val": float(r.val_accuracy),
               "ptq_loss_pts": 100 * (flt - ptq_acc)}
        row.update(zip(("qat", "qat_low", "qat_high"), S.mean_ci(qat.to_numpy())))
        row.update(zip(("gain_pts", "gain_low", "gain_high"), S.mean_ci(100 * (qat.to_numpy() - ptq_acc))))
        frac = (qat.to_numpy() - ptq_acc) / (flt - ptq_acc) if flt > ptq_acc else np.full(len(qat), np.nan)
        row.update(zip(("recovered", "recovered_low", "recovered_high"), S.mean_ci(frac)))
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- views
def config_view(table: pd.DataFrame, model_name: str) -> pd.DataFrame:
    """One model's configurations as a reader wants them (fits a notebook's width): accuracies in %, PTQ's loss
    and QAT's gain in points, the recovered fraction, the picked learning rate in e-notation."""
    t = table[table["model"] == model_name]
    return pd.DataFrame({"config": t["config"], "bit-ops/jet": t["bitops"], "PTQ %": (100 * t["ptq"]).round(2),
                         "QAT %": (100 * t["qat"]).round(2),
                         "QAT 95 % CI": [f"{100 * a:.2f}–{100 * b:.2f}" if a == a else "n/a"
                                         for a, b in zip(t["qat_low"], t["qat_high"])],
                         "loss": t["ptq_loss_pts"].round(2), "gain": t["gain_pts"].round(2),
                         "recovered": t["recovered"].round(2), "lr": t["lr"].map(lambda v: f"{v:.0e}")}
                        ).reset_index(drop=True)


def lr_view(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model and learning rate: mean validation accuracy (%) of the screen's runs, configurations that picked it."""
    picked = runs[runs["selected"]].drop_duplicates(["model", "config"]).groupby(["model", "lr"]).size()
    out = runs[runs["phase"] == "screen"].groupby(["model", "lr"])["val_accuracy"].mean().mul(100).round(2).rename("mean val accuracy %").to_frame()
    out["configurations that picked it"] = picked.reindex(out.index).fillna(0).astype(int)
    out = out.reset_index()
    out["lr"] = out["lr"].map(lambda v: f"{v:.0e}")
    return out


def epochs_view(ep: pd.DataFrame) -> pd.DataFrame:
    """Per hard configuration (rows) and number of epochs: mean test accuracy (%) over seeds and the learning
    rate picked on validation for that count (columns ``"<e> ep. %"``, ``"<e> ep. lr"``)."""
    acc = (100 * ep.pivot_table(index=["model", "config"], columns="epochs", values="test_accuracy")).round(2)
    lr = ep.pivot_table(index=["model", "config"], columns="epochs", values="lr", aggfunc="first")
    out = pd.DataFrame(index=acc.index)
    for e in acc.columns:
        out[f"{e} ep. %"] = acc[e]
        out[f"{e} ep. lr"] = lr[e].map(lambda v: f"{v:.0e}")
    return out


def combine(studies: dict, key: str) -> pd.DataFrame:
    """The ``key`` tables of every model's study, one below the other."""
    return pd.concat([s[key] for s in studies.values()], ignore_index=True)


def frac_view(studies: dict) -> pd.DataFrame:
    """PTQ validation accuracy (%) under each frac-width rule for the per-layer configurations with
    weights of 4 bits or fewer, and the rule each model's per-layer grid uses."""
    out = combine(studies, "frac")
    out[list(FRAC_RULES)] = (100 * out[list(FRAC_RULES)]).round(2)
    return out.assign(chosen=out["model"].map({name: s["rule"] for name, s in studies.items()}))


def summary_numbers(studies: dict) -> dict:
    """The rounded numbers of ``summary.json``, flat (``"<quantity> (<model>)"``), most telling first: float and
    control test accuracy, configurations, the qualifying ones at ≤ 4-bit weights and their lowest mean recovered
    fraction, the largest PTQ loss and QAT gain, the hardest configurations, the learning rates picked."""
    per = {}
    for name, s in studies.items():
        t = s["table"]
        low = t[(t["max_weight_width"] <= 4) & (t["ptq_loss_pts"] > 1.0)]
        picked = s["runs"][s["runs"]["selected"]].drop_duplicates("config")["lr"].value_counts().sort_index()
        per[name] = {"float test accuracy": round(float(t["float"].iloc[0]), 4),
                     "control test accuracy": round(float(t["control"].iloc[0]), 4), "configurations": len(t),
                     "configurations with weights <= 4 bits and PTQ loss > 1 point": len(low),
                     "lowest mean recovered fraction there": round(float(low["recovered"].min()), 3) if len(low) else None,
                     "largest PTQ loss (points)": round(float(t["ptq_loss_pts"].max()), 2),
                     "largest mean QAT gain (points)": round(float(t["gain_pts"].max()), 2),
                     "hardest configurations": list(s["hard"]), "per-layer frac rule": s["rule"],
                     **{f"configurations picking lr {lr:.0e}": int(n) for lr, n in picked.items()}}
    keys = list(dict.fromkeys(k for v in per.values() for k in v))
    return {f"{k} ({name})": v[k] for k in keys for name, v in per.items() if k in v}
