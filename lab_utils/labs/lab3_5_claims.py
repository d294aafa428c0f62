"""lab3_5's computed conclusions (what QAT wins back of what PTQ loses), from the study's tables
(:func:`lab_utils.labs.lab3_5.run_study`): per-seed test accuracies with Student-t intervals over seeds
(:func:`lab_utils.analysis.stats.mean_ci`; the test set is fixed, so the intervals cover training
randomness only), each verdict read by :func:`lab_utils.analysis.claims.interval_claim` and, over
several configurations, intersection-union (:func:`lab_utils.analysis.stats.all_hold`: holds when
every configuration's interval is on the claimed side, refuted when one is wholly on the other, not
shown otherwise). An intersection claim records the interval that decides it (:func:`_deciding`: the
one furthest on the wrong side when refuted, the one that straddles the margin most when not shown,
the one closest to the margin when it holds), so its verdict is that interval's reading.

:func:`study_claims` lists one model's claims in the order of the question: the control, the
recovery against float and against the fine-tuned control, within a point of float, epochs, where
QAT gains most and where it stops helping.

May import every layer below ``labs``, :mod:`lab_utils.labs.lab3` and :mod:`lab_utils.labs.lab3_5`.
Tests: ``tests/labs/test_lab3_5.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab_utils.analysis import claims as C
from lab_utils.analysis import stats as S
from lab_utils.labs import lab3
from lab_utils.labs.lab3_5 import CONTROL, LINEARS, MAIN_EPOCHS, seed_values


def _deciding(intervals, **rule) -> int:
    """The index of the interval that decides an intersection of ``intervals`` (``(low, high)`` pairs) read
    against ``rule`` (one of ``below=``, ``above=``, ``within=``): its :func:`~lab_utils.analysis.stats.
    interval_verdict` is the intersection's (:func:`~lab_utils.analysis.stats.all_hold`). Refuted: the one
    furthest on the wrong side; not shown: the one reaching furthest past the margin; holds: the one closest
    to the margin (the weakest support)."""
    verdicts = [S.interval_verdict(lo, hi, **rule) for lo, hi in intervals]
    overall = S.all_hold(verdicts)

    def past(lo, hi):  # how far the interval reaches to the wrong side of the margin (negative: clear of it)
        if "below" in rule:
            return hi - rule["below"]
        if "above" in rule:
            return rule["above"] - lo
        w = rule["within"]
        a, b = (-w, w) if not isinstance(w, tuple) else w
        return max(hi - b, a - lo)

    def inside(lo, hi):  # for a refutation: how far the nearer end lies on the wrong side (past, ends swapped)
        return past(hi, lo)

    pool = [i for i, v in enumerate(verdicts) if v is overall]
    score = inside if overall is False else past
    return max(pool, key=lambda i: (np.nan_to_num(score(*intervals[i]), nan=np.inf)))


def control_claim(model_name: str, runs: pd.DataFrame, float_acc: float, tol: float = 0.25) -> C.Claim:
    """"Fine-tuning the float checkpoint alone changes its test accuracy by less than ``tol`` points" (the
    baseline is converged): the t-interval over seeds of control − float lies within ±tol (equivalence);
    refuted when it lies wholly outside, not shown when it straddles ±tol."""
    d = 100 * (seed_values(runs, CONTROL).to_numpy() - float_acc)
    m, lo, hi = S.mean_ci(d)
    return C.interval_claim(f"control.{model_name}", f"{model_name}: fine-tuning the float checkpoint alone (the control) "
                            f"changes its test accuracy by less than {tol:g} points", lo, hi,
                            f"control − float {m:+.2f} points (95 % CI {lo:+.2f} to {hi:+.2f}), t-interval over {len(d)} seeds",
                            test="equivalence, t-interval over seeds", within=tol, unit="points", model=model_name, mean_pts=m,
                            low_pts=lo, high_pts=hi)


def recovery_claim(model_name: str, table: pd.DataFrame, runs: pd.DataFrame, against: str = "float",
                   max_weight: int = 4, min_loss_pts: float = 1.0, target: float = 0.5) -> C.Claim:
    """The issue's acceptance: at weights of ``max_weight`` bits or fewer, wherever PTQ loses more than
    ``min_loss_pts``, QAT recovers at least ``target`` of it: ``(qat − ptq) / (ref − ptq)`` per seed, with
    ``ref`` the float checkpoint or (``against="control"``) the fine-tuned float control of the same seed.
    Holds when every configuration's lower bound is above target, refuted when one upper bound is below it,
    not shown otherwise; not applicable when no configuration qualifies (nothing to recover)."""
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
        return C.claim(key, statement, C.NOT_APPLICABLE, f"no configuration with weights ≤ {max_weight} bits loses more "
                       f"than {min_loss_pts:g} point under PTQ ({len(low_w)} examined): nothing to recover",
                       test="t-intervals, intersection–union", model=model_name, qualified=0)
    lo, mn = s.loc[s["low"].fillna(-np.inf).idxmin()], s.loc[s["mean"].idxmin()]
    k = _deciding(list(zip(s["low"], s["high"])), above=target)
    n = int(table["n_seeds"].max())
    return C.interval_claim(key, statement, s["low"].iloc[k], s["high"].iloc[k],
                            f"{len(s)} of {len(low_w)} configurations with weights ≤ {max_weight} bits lose > {min_loss_pts:g} "
                            f"point under PTQ; recovered fraction: lowest lower bound {lo['low']:.2f} ({lo['config']}), lowest "
                            f"mean {mn['mean']:.2f} ({mn['config']}); 95 % t-intervals over {n} seeds, every lower bound > "
                            f"{target:g} required (deciding: {s['config'].iloc[k]})",
                            test="t-intervals over seeds, intersection–union", above=target, model=model_name,
                            qualified=len(s), examined=len(low_w), deciding=s["config"].iloc[k],
                            per_config=s.round(4).to_dict("records"))


def float_gap_claim(model_name: str, table: pd.DataFrame, runs: pd.DataFrame, labels, tol: float = 1.0) -> C.Claim:
    """"At 4-bit weights and 8-bit inputs QAT is within ``tol`` points of float": float − QAT per seed with a
    t-interval for each of ``labels`` present; holds when every upper bound < tol, refuted when a lower bound > tol,
    not shown otherwise (and when none of ``labels`` was run)."""
    rows = []
    for r in table[table["config"].isin(list(labels))].itertuples():
        rows.append((r.config, *S.mean_ci(100 * (r.float - seed_values(runs, r.config).to_numpy()))))
    s = pd.DataFrame(rows, columns=["config", "mean", "low", "high"])
    statement = f"{model_name}: at 4-bit weights and 8-bit inputs, QAT is within {tol:g} point of float"
    if s.empty:
        return C.claim(f"float_gap.{model_name}", statement, None, "none of the configurations was run",
                       test="t-intervals over seeds")
    k = _deciding(list(zip(s["low"], s["high"])), below=tol)
    parts = "; ".join(f"{r.config}: {r.mean:.2f} (95 % CI {r.low:.2f} to {r.high:.2f})" for r in s.itertuples())
    return C.interval_claim(f"float_gap.{model_name}", statement, s["low"].iloc[k], s["high"].iloc[k],
                            f"float − QAT in points, {parts}; t-intervals over {int(table['n_seeds'].max())} seeds",
                            test="t-intervals over seeds, intersection–union", below=tol, unit="points", model=model_name,
                            per_config=s.round(4).to_dict("records"))


def _direction(m: float, lo: float, hi: float) -> str:
    """"lose 3.57 points" (interval wholly below 0), "add 0.80 points" (wholly above) or "change by +0.05
    points" (the interval contains 0), with the 95 % interval."""
    ci = f"(95 % CI {lo:+.2f} to {hi:+.2f})"
    if hi < 0:
        return f"lose {-m:.2f} points {ci}"
    return f"add {m:.2f} points {ci}" if lo > 0 else f"change it by {m:+.2f} points {ci}"


def epochs_claim(model_name: str, ep: pd.DataFrame, tol: float = 0.25, base: int = MAIN_EPOCHS) -> C.Claim:
    """"More epochs of QAT than ``base`` change test accuracy by less than ``tol`` points" (``base`` epochs are
    as good as more), two-sided: per hard configuration and larger epoch count ``e``, the paired-by-seed
    difference ``acc(e) − acc(base)`` with its t-interval. Holds when every interval lies within ±tol, refuted
    when one lies wholly outside (more epochs then surely add, or surely lose, more than ``tol``), not shown
    otherwise. The evidence says for each whether more epochs lose (interval wholly below 0), add (wholly
    above) or neither, and each count's learning rate (the epochs study picks it per count on validation)."""
    counts = sorted(int(c) for c in ep["epochs"].unique())
    base = base if base in counts else (counts[0] if counts else base)
    more = [c for c in counts if c > base]
    statement = (f"{model_name}: at the hardest configurations, QAT for more than {base} epoch"
                 f"{'s' if base != 1 else ''} (up to {counts[-1] if counts else base}) changes test accuracy by less "
                 f"than {tol:g} points against {base} (two-sided)")
    key = f"epochs.{model_name}"
    if not more:
        return C.claim(key, statement, None, f"only {base} epoch(s) run: nothing to compare",
                       test="paired t-intervals over seeds", model=model_name, counts=counts)
    wide = ep.pivot_table(index=["config", "seed"], columns="epochs", values="test_accuracy")
    lr = ep.groupby(["config", "epochs"])["lr"].first()
    rows = []
    for config, g in wide.groupby(level="config", sort=False):
        for e in more:
            d = 100 * (g[e] - g[base]).dropna().to_numpy()
            m, lo, hi = S.mean_ci(d)
            rows.append({"config": config, "epochs": e, "mean": m, "low": lo, "high": hi, "n": len(d),
                         "lr": float(lr.get((config, e), np.nan))})
    r = pd.DataFrame(rows)
    k = _deciding(list(zip(r["low"], r["high"])), within=tol)
    lost = r[r["high"] < 0]
    parts = "; ".join(f"{x.config}: {x.epochs} epochs {_direction(x.mean, x.low, x.high)}" for x in r.itertuples())
    lead = ("more epochs lose points: " + ", ".join(f"{x.config} at {x.epochs} epochs {-x.mean:.2f}"
                                                   for x in lost.itertuples()) + "; ") if len(lost) else ""
    lrs = "; ".join(f"{c}: " + ", ".join(f"{e} ep. {v:.0e}" for (cc, e), v in lr.items() if cc == c)
                    for c in r["config"].unique())
    return C.interval_claim(key, statement, r["low"].iloc[k], r["high"].iloc[k],
                            f"{lead}against {base} epoch(s), per configuration: {parts}; paired by seed, t-intervals over "
                            f"{int(r['n'].max())} seeds; learning rate picked on validation per epoch count ({lrs})",
                            test="paired t-intervals over seeds, equivalence, intersection–union", within=tol, unit="points",
                            model=model_name, base=base, counts=counts, deciding=f"{r['config'].iloc[k]} at "
                            f"{int(r['epochs'].iloc[k])} epochs", lost=[f"{x.config} at {x.epochs} epochs" for x in lost.itertuples()],
                            per_pair=r.round(4).to_dict("records"))


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
    note = ""
    if holds is None and len(loss) > 3:  # the smallest |rho| this n makes significant (the t approximation)
        t = float(S.t_quantile(len(loss) - 1))  # t(0.975) on n - 2 degrees of freedom
        note = (f"; not shown at α = {S.ALPHA:g}: with {len(loss)} configurations |rho| must exceed about "
                f"{t / np.sqrt(len(loss) - 2 + t * t):.2f}")
    return C.claim(f"gain_follows_loss.{model_name}", f"{model_name}: QAT gains most where PTQ loses most", holds,
                   f"Spearman's rho {rho:+.2f} between PTQ's loss and QAT's mean gain, {C.fmt_p(p)}; between PTQ's loss "
                   f"and what QAT leaves (float − QAT) {rho_left:+.2f}, {C.fmt_p(p_left)}; n = {len(loss)} configurations{note}",
                   test="Spearman rank correlation", model=model_name, rho=rho, p=p, rho_left=rho_left, p_left=p_left,
                   n=len(loss))


def equivalence_claim(model_name: str, table: pd.DataFrame, eq: float = 0.25, small_loss: float = 1.0) -> C.Claim:
    """Where QAT stops helping: the configurations whose QAT − PTQ interval lies within ±``eq`` points
    (equivalent to no gain), named. Holds when each of them loses less than ``small_loss`` points under PTQ (PTQ
    is one deterministic evaluation on the fixed test set); refuted when one of them loses more (QAT fails where
    PTQ lost); not applicable when no configuration's gain is equivalent to zero (the statement is then vacuous)."""
    gain = [S.interval_verdict(lo, hi, above=0) for lo, hi in zip(table["gain_low"], table["gain_high"])]
    same = table[np.array([S.interval_verdict(lo, hi, within=eq) is True
                           for lo, hi in zip(table["gain_low"], table["gain_high"])], dtype=bool)]
    helped, hurt = sum(v is True for v in gain), sum(v is False for v in gain)
    holds = C.NOT_APPLICABLE if same.empty else bool((same["ptq_loss_pts"] < small_loss).all())
    names = ", ".join(same["config"])
    largest = f"largest PTQ loss among them {float(same['ptq_loss_pts'].max()):.2f} points; " if len(same) else ""
    return C.claim(f"stops_helping.{model_name}", f"{model_name}: QAT stops helping only where PTQ loses little: every configuration where QAT's gain "
                   f"is within ±{eq:g} points of zero loses less than {small_loss:g} point under PTQ", holds,
                   f"{len(same)} of {len(table)} configurations equivalent (95 % t-interval of QAT − PTQ within "
                   f"±{eq:g} points): {names or 'none'}; {largest}QAT better "
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
