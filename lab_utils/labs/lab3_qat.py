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
(:func:`hardest`) for more epochs at their picked rate. The conclusions are claims (:func:`study_claims`)
from per-seed test accuracies with Student-t intervals over seeds; the test set is fixed, so the
intervals cover training randomness only.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd

from lab_utils.analysis import claims as C
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
              workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """QAT of every configuration and the control: a screen, then fresh seeds at the picked learning rate.

    Screen: every config x ``screen_seeds`` at every learning rate (one batched call per rate); each
    config's rate is :func:`pick_lr` of the screen's validation accuracy. Confirm: every config x
    ``seeds`` (fresh, so the winner of the screen is not re-used) at its picked rate (one call per rate),
    evaluated on the test split. One row per run: ``phase``, config, seed, lr, validation accuracy,
    training loss, ``selected`` (the confirm runs) and ``test_accuracy`` (confirm runs only; NaN otherwise).
    """
    labelled = [(c["config"], c["args"]) for c in configs] + [(CONTROL, CONTROL_ARGS)]
    rows = []
    for lr in sorted(float(v) for v in lrs):
        recipe = QATRecipe(learning_rate=lr, max_epochs=MAIN_EPOCHS, batch_size=batch_size)
        for label, s, r in _qat_batch(model, labelled, screen_seeds, splits, recipe, workers, progress):
            rows.append({"phase": "screen", "config": label, "seed": s, "lr": lr, "val_accuracy": r["val"]["accuracy"],
                         "train_loss": r["train_loss"], "selected": False, "test_accuracy": np.nan})
    pick = pick_lr(pd.DataFrame(rows))
    for lr in sorted(set(pick.values())):
        recipe = QATRecipe(learning_rate=lr, max_epochs=MAIN_EPOCHS, batch_size=batch_size)
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


def epochs_study(model, configs: list[dict], hard: list[str], runs: pd.DataFrame, splits, epochs, seeds, *,
                 batch_size: int = 512, workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """Test accuracy of the ``hard`` configurations after each number of ``epochs`` at their selected lr.

    The :data:`MAIN_EPOCHS` runs come from ``runs`` (same recipe); each other count is a fresh run from
    the checkpoint (the schedule decays over the whole run), one batched call per (lr, epochs)."""
    sel = runs[runs["selected"]]
    lr_of = dict(sel.groupby("config")["lr"].first())
    args_of = {c["config"]: c["args"] for c in configs}
    rows = [{"config": r.config, "epochs": MAIN_EPOCHS, "seed": int(r.seed), "lr": r.lr, "test_accuracy": r.test_accuracy}
            for r in sel[sel["config"].isin(hard)].itertuples()] if MAIN_EPOCHS in epochs else []
    for e in sorted(int(e) for e in epochs if int(e) != MAIN_EPOCHS):
        for lr in sorted({lr_of[h] for h in hard}):
            recipe = QATRecipe(learning_rate=lr, max_epochs=e, batch_size=batch_size)
            group = [(h, args_of[h]) for h in hard if lr_of[h] == lr]
            for label, s, r in _qat_batch(model, group, seeds, splits, recipe, workers, progress):
                acc = evaluate(qat_model(model, r), splits.x_test, splits.y_test)["accuracy"]
                rows.append({"config": label, "epochs": e, "seed": s, "lr": lr, "test_accuracy": acc})
    return pd.DataFrame(rows).sort_values(["config", "epochs", "seed"]).reset_index(drop=True)


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
    ep = epochs_study(model, configs, hard, runs, splits, epochs, seeds, batch_size=batch_size, workers=workers,
                      progress=progress)
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


# ----------------------------------------------------------------------------- claims
def control_claim(model_name: str, runs: pd.DataFrame, float_acc: float, tol: float = 0.25) -> C.Claim:
    """"Fine-tuning the float checkpoint alone changes its test accuracy by less than ``tol`` points" (the
    baseline is converged): the t-interval over seeds of control − float lies within ±tol (equivalence);
    does not hold when it lies wholly outside."""
    d = 100 * (seed_values(runs, CONTROL).to_numpy() - float_acc)
    m, lo, hi = S.mean_ci(d)
    holds = S.interval_verdict(lo, hi, within=tol)
    return C.claim(f"control.{model_name}", f"{model_name}: fine-tuning the float checkpoint alone (the control) changes its test accuracy by "
                   f"less than {tol:g} points", holds,
                   f"control − float {m:+.2f} points (95 % CI {lo:+.2f} to {hi:+.2f}), t-interval over {len(d)} seeds",
                   test="equivalence, t-interval over seeds", model=model_name, mean_pts=m, low_pts=lo, high_pts=hi)


def recovery_claim(model_name: str, table: pd.DataFrame, runs: pd.DataFrame, against: str = "float",
                   max_weight: int = 4, min_loss_pts: float = 1.0, target: float = 0.5) -> C.Claim:
    """The issue's acceptance: at weights of ``max_weight`` bits or fewer, wherever PTQ loses more than
    ``min_loss_pts``, QAT recovers at least ``target`` of it: ``(qat − ptq) / (ref − ptq)`` per seed, with
    ``ref`` the float checkpoint or (``against="control"``) the fine-tuned float control of the same seed.
    Holds when every configuration's lower bound is ≥ target, not when one upper bound is below it."""
    low_w = table[table["max_weight_width"] <= max_weight]
    q = low_w[low_w["ptq_loss_pts"] > min_loss_pts]
    control = seed_values(runs, CONTROL)
    stats_ = []
    for r in q.itertuples():
        qat = seed_values(runs, r.config)
        ref = control.reindex(qat.index).to_numpy() if against == "control" else np.full(len(qat), r.float)
        frac = (qat.to_numpy() - r.ptq) / (ref - r.ptq)
        stats_.append((r.config, *S.mean_ci(np.where(ref > r.ptq, frac, np.nan))))
    s = pd.DataFrame(stats_, columns=["config", "mean", "low", "high"])
    gap = "the fine-tuned float control" if against == "control" else "float"
    statement = (f"{model_name}: at weights of {max_weight} bits or fewer, QAT recovers at least {target:.0%} of the gap "
                 f"between PTQ and {gap}")
    key = f"recovery.{against}.{model_name}"
    if s.empty:
        return C.claim(key, statement, None, f"no configuration with weights ≤ {max_weight} bits loses more than "
                       f"{min_loss_pts:g} point under PTQ ({len(low_w)} examined)", test="t-intervals, intersection–union",
                       model=model_name, qualified=0)
    holds = S.all_hold(S.interval_verdict(lo, hi, above=target) for lo, hi in zip(s["low"], s["high"]))
    lo, mn = s.loc[s["low"].fillna(-np.inf).idxmin()], s.loc[s["mean"].idxmin()]
    n = int(table["n_seeds"].max())
    return C.claim(key, statement, holds,
                   f"{len(s)} of {len(low_w)} configurations with weights ≤ {max_weight} bits lose > {min_loss_pts:g} "
                   f"point under PTQ; recovered fraction: lowest lower bound {lo['low']:.2f} ({lo['config']}), lowest "
                   f"mean {mn['mean']:.2f} ({mn['config']}); 95 % t-intervals over {n} seeds, every lower bound ≥ "
                   f"{target:g} required", test="t-intervals over seeds, intersection–union", model=model_name,
                   qualified=len(s), examined=len(low_w), per_config=s.round(4).to_dict("records"))


def float_gap_claim(model_name: str, table: pd.DataFrame, runs: pd.DataFrame, labels, tol: float = 1.0) -> C.Claim:
    """"At 4-bit weights and 8-bit inputs QAT is within ``tol`` points of float": float − QAT per seed with a
    t-interval for each of ``labels`` present; holds when every upper bound < tol, not when a lower bound > tol."""
    rows = []
    for r in table[table["config"].isin(list(labels))].itertuples():
        rows.append((r.config, *S.mean_ci(100 * (r.float - seed_values(runs, r.config).to_numpy()))))
    s = pd.DataFrame(rows, columns=["config", "mean", "low", "high"])
    statement = f"{model_name}: at 4-bit weights and 8-bit inputs, QAT is within {tol:g} point of float"
    if s.empty:
        return C.claim(f"float_gap.{model_name}", statement, None, "none of the configurations was run",
                       test="t-intervals over seeds")
    holds = S.all_hold(S.interval_verdict(lo, hi, below=tol) for lo, hi in zip(s["low"], s["high"]))
    parts = "; ".join(f"{r.config}: {r.mean:.2f} (95 % CI {r.low:.2f} to {r.high:.2f})" for r in s.itertuples())
    return C.claim(f"float_gap.{model_name}", statement, holds, f"float − QAT in points, {parts}; t-intervals over {int(table['n_seeds'].max())} "
                   "seeds", test="t-intervals over seeds, intersection–union", model=model_name,
                   per_config=s.round(4).to_dict("records"))


def epochs_claim(model_name: str, ep: pd.DataFrame, tol: float = 0.25) -> C.Claim:
    """The smallest number of epochs ``e`` after which more epochs (every larger count run) add less than
    ``tol`` points at every hard configuration: paired-by-seed gain ``acc(e') − acc(e)``, t-interval upper
    bound < tol. Not found: does not hold when the last step's gain is surely ≥ tol, else undetermined."""
    counts = sorted(ep["epochs"].unique())
    wide = ep.pivot_table(index=["config", "seed"], columns="epochs", values="test_accuracy")
    gains = {(a, b): [S.mean_ci(100 * (g[b] - g[a]).dropna().to_numpy()) for _, g in wide.groupby(level="config")]
             for a, b in itertools.combinations(counts, 2)}
    enough = next((a for a in counts[:-1] if all(S.interval_verdict(lo, hi, below=tol) is True
                                                  for b in counts if b > a for _, lo, hi in gains[(a, b)])), None)
    configs = ", ".join(wide.index.get_level_values("config").unique())
    if enough is not None:
        worst = max(hi for b in counts if b > enough for _, _, hi in gains[(enough, b)])
        return C.claim(f"epochs.{model_name}", f"{model_name}: at the hardest configurations, {enough} epoch(s) of QAT are enough: more epochs "
                       f"(up to {counts[-1]}) add less than {tol:g} points", True,
                       f"largest upper bound of the paired gain after {enough} epoch(s): {worst:+.2f} points; "
                       f"configurations {configs}; t-intervals over seeds", test="paired t-intervals over seeds",
                       model=model_name, epochs=int(enough), counts=[int(c) for c in counts])
    last = gains[(counts[-2], counts[-1])] if len(counts) > 1 else []
    holds = False if any(S.interval_verdict(lo, hi, below=tol) is False for _, lo, hi in last) else None
    shown = "; ".join(f"{m:+.2f} (95 % CI {lo:+.2f} to {hi:+.2f})" for m, lo, hi in last)
    return C.claim(f"epochs.{model_name}", f"{model_name}: at the hardest configurations, fewer than {counts[-1]} epochs of QAT are enough "
                   f"(more add less than {tol:g} points)", holds,
                   f"gain from {counts[-2] if len(counts) > 1 else '-'} to {counts[-1]} epochs per configuration "
                   f"({configs}): {shown or 'not run'} points; paired t-intervals over seeds",
                   test="paired t-intervals over seeds", model=model_name, counts=[int(c) for c in counts])


def spearman_claim(model_name: str, table: pd.DataFrame) -> C.Claim:
    """"QAT gains most where PTQ loses most": Spearman's rho between PTQ's loss and QAT's mean gain over the
    configurations (:func:`lab_utils.analysis.stats.spearman`); holds when rho > 0 with p < ALPHA, not when
    rho < 0 with p < ALPHA.
    The gain is the loss minus what QAT leaves (float − QAT), so when QAT ends near one accuracy everywhere
    this rho is near 1 by construction; the evidence adds the rho of PTQ's loss with what QAT leaves, which
    says whether QAT leaves more behind where PTQ lost more."""
    loss = table["ptq_loss_pts"].to_numpy(float)
    rho, p = S.spearman(loss, table["gain_pts"].to_numpy(float))
    rho_left, p_left = S.spearman(loss, 100 * (table["float"] - table["qat"]).to_numpy(float))
    holds = None if not p < S.ALPHA else rho > 0
    return C.claim(f"gain_follows_loss.{model_name}", f"{model_name}: QAT gains most where PTQ loses most", holds,
                   f"Spearman's rho {rho:+.2f} between PTQ's loss and QAT's mean gain, {C.fmt_p(p)}; between PTQ's loss "
                   f"and what QAT leaves (float − QAT) {rho_left:+.2f}, {C.fmt_p(p_left)}; n = {len(loss)} configurations",
                   test="Spearman rank correlation", model=model_name, rho=rho, p=p, rho_left=rho_left, p_left=p_left,
                   n=len(loss))


def equivalence_claim(model_name: str, table: pd.DataFrame, eq: float = 0.25, small_loss: float = 1.0) -> C.Claim:
    """Where QAT stops helping: the configurations whose QAT − PTQ interval lies within ±``eq`` points
    (equivalent to no gain), named. Holds when there are some and each loses less than ``small_loss``
    points under PTQ; does not hold when one of them loses more (QAT fails where PTQ lost); else None."""
    gain = [S.interval_verdict(lo, hi, above=0) for lo, hi in zip(table["gain_low"], table["gain_high"])]
    same = table[np.array([S.interval_verdict(lo, hi, within=eq) is True
                           for lo, hi in zip(table["gain_low"], table["gain_high"])], dtype=bool)]
    helped, hurt = sum(v is True for v in gain), sum(v is False for v in gain)
    holds = None if same.empty else bool((same["ptq_loss_pts"] < small_loss).all())
    names = ", ".join(same["config"])
    largest = float(same["ptq_loss_pts"].max()) if len(same) else float("nan")
    return C.claim(f"stops_helping.{model_name}", f"{model_name}: QAT stops helping only where PTQ loses little: every configuration where QAT's gain "
                   f"is within ±{eq:g} points of zero loses less than {small_loss:g} point under PTQ", holds,
                   f"{len(same)} of {len(table)} configurations equivalent (95 % t-interval of QAT − PTQ within "
                   f"±{eq:g} points): {names or 'none'}; largest PTQ loss among them {largest:.2f} points; QAT better "
                   f"(interval above 0) at {helped}, worse (below 0) at {hurt}", test="equivalence, t-intervals over seeds",
                   model=model_name, equivalent=same["config"].tolist(), helped=helped, hurt=hurt)


def w4_labels(model_name: str) -> list[str]:
    """The 4-bit-weight, 8-bit-input configurations of claim 2: the lab's ``in 8/4, w 4/2`` and per-layer all 4
    (the same configuration under the "half" frac rule, then run once under the lab's name)."""
    return [lab3.config_label((8, 4), (4, 2)), "per-layer w " + "-".join("4" * len(LINEARS[model_name]))]


def study_claims(study: dict) -> list[C.Claim]:
    """One model's claims, in the order of the question: control, recovery (against float and the control),
    within a point of float, epochs, where QAT stops helping."""
    name, t, runs = study["table"]["model"].iloc[0], study["table"], study["runs"]
    flt = float(study["ptq"].loc[study["ptq"]["grid"] == "float", "test_accuracy"].iloc[0])
    return [control_claim(name, runs, flt), recovery_claim(name, t, runs), recovery_claim(name, t, runs, "control"),
            float_gap_claim(name, t, runs, w4_labels(name)), epochs_claim(name, study["epochs"]),
            spearman_claim(name, t), equivalence_claim(name, t)]


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
    """Mean test accuracy (%) over seeds per hard configuration (rows) and number of epochs (columns)."""
    return (100 * ep.pivot_table(index=["model", "config"], columns="epochs", values="test_accuracy")).round(2)


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
