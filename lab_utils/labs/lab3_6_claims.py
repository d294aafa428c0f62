"""The computed conclusions of lab3_6 (Lab 3's PTQ and QAT on CIFAR-10), from per-image correctness.

Every comparison is paired: the configurations are evaluated on the same test images, so each
image contributes one difference (:func:`per_image_difference`), always oriented as *float minus
the quantized network* (a drop) with ``n10`` the images float gets right and the quantized network
wrong (lost) and ``n01`` the reverse (gained). For two single runs (boolean correctness) the
interval is Agresti and Min's for matched proportions and the exact McNemar test is given too
(:func:`lab_utils.analysis.stats.paired_binary`); otherwise it is the normal 95 % interval of the
mean per-image difference (:func:`lab_utils.analysis.stats.normal_mean_ci`). A QAT configuration
trained on several seeds enters as the per-image share of its seeds that are right: the interval
then covers the choice of test images for these seeds, not the seed-to-seed spread, which every
evidence line states separately (the per-seed values).

Thresholds are decided by the interval, never by the point estimate
(:func:`lab_utils.analysis.stats.interval_verdict`): "within ``m``" holds when the whole interval
of the drop lies below ``m`` and does not hold when it lies above; otherwise the run cannot decide
(``holds=None``). A claim over several layers ("every layer") holds when each layer's 95 %
interval lies inside (an intersection of tests needs no multiplicity correction) and fails when
one layer's Bonferroni-adjusted interval lies outside (a union does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab_utils.analysis import claims as C
from lab_utils.analysis import stats as S

MARGIN = 0.01  # "within 1 point" (accuracy as a fraction)
MATCH = 0.005  # "matches float": inside ±0.5 points, as lab3_1 / lab3_3 decide it on the jets
SHARE = 0.5  # "QAT recovers at least half of what PTQ lost"


def per_image_difference(first, second, level: float = S.LEVEL) -> dict:
    """Mean per-image difference ``first - second`` (fractions) with its interval at ``level``.

    Two boolean arrays (single runs): :func:`lab_utils.analysis.stats.paired_binary` on their
    discordant counts (``n10``: ``first`` right and ``second`` wrong), so the result also has ``n10``,
    ``n01`` and the exact two-sided McNemar ``p_mcnemar``. Other arrays (shares of seeds right): the
    normal interval of the mean per-image difference.
    """
    a, b = np.asarray(first), np.asarray(second)
    if a.dtype == bool and b.dtype == bool:
        d = S.paired_binary(*S.discordant(a, b), a.size, level)
        return {k: d[k] for k in ("diff", "se", "low", "high", "n", "n10", "n01")} | {"p_mcnemar": d["p"]}
    return S.normal_mean_ci(a.astype(float) - b.astype(float), level)


def _pts(d: dict, what: str = "drop") -> str:
    return (f"{what} {100 * d['diff']:+.2f} points (95 % CI {100 * d['low']:+.2f} to {100 * d['high']:+.2f}, "
            f"paired over n = {d['n']:,} test images)")


def _discordant_line(d: dict) -> str:
    """The McNemar part of an evidence line for a drop (``n10`` lost, ``n01`` gained)."""
    if "p_mcnemar" not in d:
        return "per-image share of the seeds right (McNemar needs single runs)"
    return f"exact McNemar (two-sided) {C.fmt_p(d['p_mcnemar'])}, {d['n10']} images lost / {d['n01']} gained"


def _numbers(d: dict) -> dict:
    keep = ("diff", "low", "high", "se", "n", "n10", "n01", "p_mcnemar")
    return {k: (C.rounded(d[k]) if isinstance(d[k], float) else d[k]) for k in keep if k in d}


def _drop_claim(key: str, float_correct, q_correct, statement: str, note: str = "", **side) -> C.Claim:
    """A claim on the paired drop float - quantized, decided by its interval (``side``: ``below=``,
    ``above=`` or ``within=`` a margin, :func:`lab_utils.analysis.stats.interval_verdict`)."""
    d = per_image_difference(float_correct, q_correct)
    return C.claim(key, statement, S.interval_verdict(d["low"], d["high"], **side),
                   f"{_pts(d)}; {_discordant_line(d)}{note}",
                   test="paired difference (Agresti-Min 95 % CI); exact McNemar", **_numbers(d))


def claim_within(key: str, float_correct, q_correct, label: str, margin: float = MARGIN):
    """"``label`` is within ``margin`` of float (test accuracy)": the drop float - ``label``."""
    return _drop_claim(key, float_correct, q_correct,
                       f"{label} stays within {100 * margin:g} point of float on the test images",
                       f"; tolerance {100 * margin:g} point", below=margin)


def claim_matches(key: str, float_correct, q_correct, label: str, margin: float = MATCH):
    """"``label`` matches float within ±``margin``": the interval of the drop inside ±margin (an
    equivalence test; it does not hold when the interval lies wholly outside)."""
    return _drop_claim(key, float_correct, q_correct,
                       f"{label} matches float within ±{100 * margin:g} points on the test images", within=margin)


def claim_loses(key: str, float_correct, q_correct, label: str, margin: float = MARGIN):
    """"``label`` loses more than ``margin`` against float": the drop's interval above ``margin``."""
    return _drop_claim(key, float_correct, q_correct,
                       f"{label} loses more than {100 * margin:g} point against float on the test images",
                       above=margin)


def _share(share: float) -> str:
    return "half" if share == 0.5 else f"{share:.0%}"


def _seed_accuracies(runs) -> str:
    return ", ".join(f"{100 * np.mean(r):.2f}" for r in runs)


def claim_recovers(key: str, float_correct, ptq_correct, qat_runs, label: str, share: float = SHARE, control=None):
    """"QAT recovers at least ``share`` of what PTQ lost at ``label``".

    Per image: ``gain = QAT - PTQ`` (QAT: share of ``qat_runs`` seeds right), ``loss = float - PTQ``;
    holds when the interval of ``gain - share · loss`` lies above 0, fails below 0. With ``control =
    (ptq8_correct, control_runs)`` the gain is taken net of fine-tuning alone: the same recipe on the
    8-bit configuration (``control - ptq8``) is subtracted. Undetermined when PTQ lost nothing
    measurable (the loss's interval reaches 0): there is nothing to recover.
    """
    f, p = np.asarray(float_correct, float), np.asarray(ptq_correct, float)
    q = np.mean(np.stack(qat_runs).astype(float), axis=0)
    loss, gain = per_image_difference(f, p), q - p
    net = ""
    if control is not None:
        p8, c_runs = np.asarray(control[0], float), control[1]
        ft = np.mean(np.stack(c_runs).astype(float), axis=0) - p8
        gain = gain - ft
        net = (f"; fine-tuning alone (8-bit control, {len(c_runs)} seed(s)) gained {100 * ft.mean():+.2f} points, "
               "subtracted from QAT's gain")
    statement = (f"QAT recovers at least {_share(share)} of what PTQ lost with {label}"
                 + (", net of what the same fine-tuning gives the 8-bit control" if control is not None else ""))
    test = "paired per-image difference gain - share x loss (normal 95 % CI)"
    if not loss["low"] > 0:
        return C.claim(key, statement, None, f"PTQ lost nothing measurable: {_pts(loss)}; nothing to recover",
                       test=test, loss=C.rounded(loss["diff"]), loss_low=C.rounded(loss["low"]))
    t = S.normal_mean_ci(gain - share * (f - p))
    fraction = gain.mean() / loss["diff"]
    per_seed = [(np.mean(r) - p.mean()) / loss["diff"] for r in qat_runs] if control is None else []
    holds = S.interval_verdict(t["low"], t["high"], above=0)
    evidence = (f"PTQ lost {100 * loss['diff']:.2f} points; QAT recovered {100 * gain.mean():+.2f} points = "
                f"{fraction:.0%} of it (QAT test accuracy per seed: {_seed_accuracies(qat_runs)} %{net}); "
                f"recovered - {share:.0%} of the loss = {100 * t['diff']:+.2f} points (95 % CI {100 * t['low']:+.2f} to "
                f"{100 * t['high']:+.2f}, paired over n = {t['n']:,} test images; the seed-to-seed spread is not in "
                f"the interval)")
    r = C.rounded
    return C.claim(key, statement, holds, evidence, test=test, fraction=r(fraction), loss=r(loss["diff"]),
                   gain=r(gain.mean()), margin_diff=r(t["diff"]), low=r(t["low"]), high=r(t["high"]),
                   seeds=len(qat_runs), per_seed_fraction=[r(v) for v in per_seed])


def claim_qat_within(key: str, float_correct, qat_runs, label: str, margin: float = MARGIN):
    """"After QAT, ``label`` is within ``margin`` of float": the drop float - QAT (share of seeds right)."""
    q = np.mean(np.stack(qat_runs).astype(float), axis=0)
    d = per_image_difference(np.asarray(float_correct, float), q)
    holds = S.interval_verdict(d["low"], d["high"], below=margin)
    return C.claim(key, f"after QAT, the network with {label} stays within {100 * margin:g} point of float on the test "
                   "images", holds,
                   f"{_pts(d)}; QAT test accuracy per seed: {_seed_accuracies(qat_runs)} % ({len(qat_runs)} seed(s); "
                   f"the seed-to-seed spread is not in the interval); tolerance {100 * margin:g} point",
                   test="paired per-image difference (normal 95 % CI)", seeds=len(qat_runs), **_numbers(d))


def claim_every_layer(key: str, float_correct, by_layer: dict, what: str, margin: float = MARGIN):
    """"``what`` in any one layer costs at most ``margin`` against float": ``by_layer`` maps a layer to
    its per-image correctness (boolean, or the share of seeds right).

    Holds when every layer's 95 % interval of the drop lies below ``margin``; does not hold when one
    layer's Bonferroni-adjusted interval (over the layers) lies above it; undetermined otherwise.
    """
    k = len(by_layer)
    f = np.asarray(float_correct, float)
    drops = {name: per_image_difference(f, np.asarray(c, float)) for name, c in by_layer.items()}
    wide = {name: per_image_difference(f, np.asarray(c, float), level=1 - (1 - S.LEVEL) / max(k, 1))
            for name, c in by_layer.items()}
    worst = max(drops, key=lambda name: drops[name]["diff"])
    inside = sum(S.interval_verdict(d["low"], d["high"], below=margin) is True for d in drops.values())
    above = [name for name, d in wide.items() if S.interval_verdict(d["low"], d["high"], below=margin) is False]
    holds = True if inside == k else (False if above else None)  # every 95 % interval inside; one Bonferroni outside
    evidence = (f"largest drop {worst}: {_pts(drops[worst])}; {inside} of {k} layers' 95 % intervals below "
                f"{100 * margin:g} point; {len(above)} layer(s) above it with Bonferroni over {k} layers"
                + (f" ({', '.join(above)})" if above else ""))
    return C.claim(key, f"{what} in any one layer (the others at 8 bits) cost at most {100 * margin:g} point against float",
                   holds, evidence, test="paired per-image differences, 95 % CIs; Bonferroni for a failure",
                   worst_layer=worst, worst_drop=C.rounded(drops[worst]["diff"]), layers=k, inside=int(inside),
                   above=above)


def jets_hold(items) -> tuple:
    """The jet conclusions set against this run: ``items`` are ``(conclusion on the jets, where it was
    drawn, claim computed here)``. Returns (claim "they hold here", table): the claim holds when every
    one holds, does not hold when any does not, and is undetermined otherwise."""
    verdicts = [c.holds for _, _, c in items]
    counts = {v: sum(x is h for x in verdicts) for v, h in (("hold", True), ("do not", False), ("undetermined", None))}
    holds = True if counts["hold"] == len(items) else (False if counts["do not"] else None)
    evidence = "; ".join(f"{conclusion}: {c.verdict}" for conclusion, _, c in items)
    claim = C.claim("jet_conclusions_hold", "the simulated-jet conclusions of Lab 3 restated here also hold on real images (CIFAR-10)", holds,
                    f"{counts['hold']} of {len(items)} hold, {counts['do not']} do not, {counts['undetermined']} "
                    f"undetermined: {evidence}", test="each conclusion's own test (above)", **counts)
    table = pd.DataFrame([{"conclusion on the simulated jets": conclusion, "drawn in": where,
                           "here": c.verdict, "tested by": c.statement} for conclusion, where, c in items])
    return claim, table
