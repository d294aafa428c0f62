"""lab3_5's computed conclusions (what QAT wins back of what PTQ loses), from the study's tables
(:func:`lab_utils.labs.lab3_5.run_study`): per-seed test accuracies with Student-t intervals over seeds
(:func:`lab_utils.analysis.stats.mean_ci`; the test set is fixed, so the intervals cover training
randomness only), each verdict read by :func:`lab_utils.analysis.stats.interval_verdict` and, over
several configurations, intersection-union (:func:`lab_utils.analysis.stats.all_hold`: holds when
every configuration's interval is on the claimed side, fails when one is wholly on the other).

:func:`study_claims` lists one model's claims in the order of the question: the control, the
recovery against float and against the fine-tuned control, within a point of float, epochs, where
QAT gains most and where it stops helping.

May import every layer below ``labs``, :mod:`lab_utils.labs.lab3` and :mod:`lab_utils.labs.lab3_5`.
Tests: ``tests/labs/test_lab3_5.py``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from lab_utils.analysis import claims as C
from lab_utils.analysis import stats as S
from lab_utils.labs import lab3
from lab_utils.labs.lab3_5 import CONTROL, LINEARS, seed_values


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
