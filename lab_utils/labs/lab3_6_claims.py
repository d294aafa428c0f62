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
(:func:`lab_utils.analysis.claims.interval_claim`): "within ``m``" holds when the whole interval
of the drop lies below ``m`` and is refuted when it lies wholly above; otherwise it is not shown
(the evidence then says the smallest effect the run could have detected). A claim over several
layers ("every layer") holds when each layer's 95 % interval lies inside (an intersection of tests
needs no multiplicity correction) and is refuted when one layer's Bonferroni-adjusted interval lies
outside (a union does); the claim records the interval that decides it.

QAT can be judged against float or against ``reference`` runs: the fine-tuned 8-bit control (the
same recipe at 8 bits), so that what fine-tuning alone gives is not credited to QAT.

:func:`jets_hold` sets Lab 3's jet conclusions beside this run on like-for-like formats: only what
the jet notebooks concluded, each tested here on the same kind of format (fixed fractional widths,
as the jet grids use them); it holds when every part holds, is refuted when one is, and is not
shown otherwise.
"""

from __future__ import annotations

import dataclasses

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


def _interval_claim(key: str, statement: str, low: float, high: float, evidence: str, test: str, side: dict,
                    numbers: dict) -> C.Claim:
    """:func:`lab_utils.analysis.claims.interval_claim` with ``numbers`` that may hold their own ``low`` and
    ``high`` (the paired difference's interval, in the keys every lab3_6 claim has used)."""
    own = {k: numbers[k] for k in ("low", "high") if k in numbers}
    c = C.interval_claim(key, statement, low, high, evidence, test, **side, unit="points", scale=100,
                         **{k: v for k, v in numbers.items() if k not in own})
    return dataclasses.replace(c, numbers={**numbers, **c.numbers})


def _drop_claim(key: str, float_correct, q_correct, statement: str, note: str = "", **side) -> C.Claim:
    """A claim on the paired drop float - quantized, decided by its interval (``side``: ``below=``,
    ``above=`` or ``within=`` a margin, :func:`lab_utils.analysis.claims.interval_claim`)."""
    d = per_image_difference(float_correct, q_correct)
    return _interval_claim(key, statement, d["low"], d["high"], f"{_pts(d)}; {_discordant_line(d)}{note}",
                           "paired difference (Agresti-Min 95 % CI); exact McNemar", side, _numbers(d))


def claim_within(key: str, float_correct, q_correct, label: str, margin: float = MARGIN):
    """"``label`` is within ``margin`` of float (test accuracy)": the drop float - ``label``."""
    return _drop_claim(key, float_correct, q_correct,
                       f"{label} stays within {100 * margin:g} point of float on the test images",
                       f"; tolerance {100 * margin:g} point", below=margin)


def claim_matches(key: str, float_correct, q_correct, label: str, margin: float = MATCH):
    """"``label`` matches float within ±``margin``": the interval of the drop inside ±margin (an
    equivalence test; refuted when the interval lies wholly outside)."""
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
    holds when the interval of ``gain - share · loss`` lies above 0, refuted below 0. With ``control =
    (ptq8_correct, control_runs)`` the gain is taken net of fine-tuning alone: the same recipe on the
    8-bit configuration (``control - ptq8``) is subtracted. Not shown when PTQ lost nothing
    measurable (the loss's interval reaches 0): the run cannot tell a recovery from noise.
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
    evidence = (f"PTQ lost {100 * loss['diff']:.2f} points; QAT recovered {100 * gain.mean():+.2f} points = "
                f"{fraction:.0%} of it (QAT test accuracy per seed: {_seed_accuracies(qat_runs)} %{net}); "
                f"recovered - {share:.0%} of the loss = {100 * t['diff']:+.2f} points (95 % CI {100 * t['low']:+.2f} to "
                f"{100 * t['high']:+.2f}, paired over n = {t['n']:,} test images; the seed-to-seed spread is not in "
                f"the interval)")
    r = C.rounded
    return _interval_claim(key, statement, t["low"], t["high"], evidence, test, {"above": 0},
                           {"fraction": r(fraction), "loss": r(loss["diff"]), "gain": r(gain.mean()),
                            "margin_diff": r(t["diff"]), "low": r(t["low"]), "high": r(t["high"]), "seeds": len(qat_runs),
                            "per_seed_fraction": [r(v) for v in per_seed]})


def _reference(float_correct, reference):
    """The per-image reference and its name: float (``reference`` None) or the share of the ``reference`` runs
    (the fine-tuned 8-bit control's seeds) right."""
    if reference is None:
        return np.asarray(float_correct, float), "float"
    return np.mean(np.stack(reference).astype(float), axis=0), f"the fine-tuned 8-bit control ({len(reference)} seed(s))"


def claim_qat_within(key: str, float_correct, qat_runs, label: str, margin: float = MARGIN, reference=None):
    """"After QAT, ``label`` is within ``margin`` of float" (or, with ``reference`` runs, of the fine-tuned
    8-bit control: its per-image share of seeds right): the drop reference - QAT (share of seeds right)."""
    q = np.mean(np.stack(qat_runs).astype(float), axis=0)
    ref, name = _reference(float_correct, reference)
    d = per_image_difference(ref, q)
    control = "" if reference is None else f"; the control's test accuracy per seed: {_seed_accuracies(reference)} %"
    return _interval_claim(key, f"after QAT, the network with {label} stays within {100 * margin:g} point of "
                           f"{'float' if reference is None else 'the fine-tuned 8-bit control'} on the test images",
                           d["low"], d["high"],
                           f"{_pts(d)} against {name}; QAT test accuracy per seed: {_seed_accuracies(qat_runs)} % "
                           f"({len(qat_runs)} seed(s); the seed-to-seed spread is not in the interval){control}; "
                           f"tolerance {100 * margin:g} point", "paired per-image difference (normal 95 % CI)",
                           {"below": margin}, {"seeds": len(qat_runs), **_numbers(d)})


def claim_every_layer(key: str, float_correct, by_layer: dict, what: str, margin: float = MARGIN, reference=None):
    """"``what`` in any one layer costs at most ``margin`` against float" (or, with ``reference`` runs, against
    the fine-tuned 8-bit control): ``by_layer`` maps a layer to its per-image correctness (boolean, or the share
    of seeds right).

    Holds when every layer's 95 % interval of the drop lies below ``margin``; refuted when one layer's
    Bonferroni-adjusted interval (over the layers) lies wholly above it; not shown otherwise. The claim records
    the deciding interval: the worst layer's 95 % one when it holds, the refuting layer's Bonferroni one when
    refuted, a straddling layer's Bonferroni one when not shown.
    """
    k = len(by_layer)
    f, name = _reference(float_correct, reference)
    drops = {n: per_image_difference(f, np.asarray(c, float)) for n, c in by_layer.items()}  # normal intervals
    wide = {n: per_image_difference(f, np.asarray(c, float), level=1 - (1 - S.LEVEL) / max(k, 1))
            for n, c in by_layer.items()}
    worst = max(drops, key=lambda n: drops[n]["diff"])
    inside = sum(S.interval_verdict(d["low"], d["high"], below=margin) is True for d in drops.values())
    above = [n for n, d in wide.items() if S.interval_verdict(d["low"], d["high"], below=margin) is False]
    if inside == k:  # every 95 % interval inside: the one reaching highest decides
        decide = max(drops, key=lambda n: drops[n]["high"])
        d = drops[decide]
    elif above:  # a Bonferroni interval wholly above: the one whose lower bound is highest (the clearest refutation)
        decide = max(above, key=lambda n: wide[n]["low"])
        d = wide[decide]
    else:  # some 95 % interval reaches the margin and no Bonferroni one is wholly above it: those straddle
        decide = max((n for n in drops if S.interval_verdict(drops[n]["low"], drops[n]["high"], below=margin) is not True),
                     key=lambda n: wide[n]["high"])
        d = wide[decide]
    evidence = (f"largest drop {worst}: {_pts(drops[worst])} against {name}; {inside} of {k} layers' 95 % intervals "
                f"below {100 * margin:g} point; {len(above)} layer(s) above it with Bonferroni over {k} layers"
                + (f" ({', '.join(above)})" if above else ""))
    against = "float" if reference is None else "the fine-tuned 8-bit control"
    return C.interval_claim(key, f"{what} in any one layer (the others at 8 bits) cost at most {100 * margin:g} point "
                            f"against {against}", d["low"], d["high"], evidence, unit="points", scale=100,
                            test="paired per-image differences, 95 % CIs; Bonferroni for a refutation", below=margin,
                            worst_layer=worst, worst_drop=C.rounded(drops[worst]["diff"]), layers=k, inside=int(inside),
                            layers_above=above, deciding=decide)


def jets_hold(items) -> tuple:
    """Lab 3's jet conclusions set against this run: ``items`` are ``(conclusion on the jets, where it was
    drawn, format, claim computed here on the same kind of format)``. Returns (claim "they hold here",
    table): an intersection of the parts, which holds when every one holds, is refuted when any is
    refuted, and is not shown otherwise."""
    verdicts = [c.holds for *_, c in items]
    holds = S.all_hold(verdicts)
    counts = {v: sum(x is h for x in verdicts) for v, h in (("hold", True), ("refuted", False), ("not shown", None))}
    evidence = "; ".join(f"{conclusion} [{fmt}]: {c.verdict}" for conclusion, _, fmt, c in items)
    claim = C.claim("jet_conclusions_hold", "the conclusions Lab 3 drew on the simulated jets hold on real images "
                    "(CIFAR-10) with the same kind of format (fixed fractional widths)", holds,
                    f"{counts['hold']} of {len(items)} hold, {counts['refuted']} refuted, {counts['not shown']} not "
                    f"shown: {evidence}; intersection of the parts (holds only if all hold)",
                    test="each conclusion's own test (above), intersection", **counts)
    table = pd.DataFrame([{"conclusion on the simulated jets": conclusion, "drawn in": where, "format here": fmt,
                           "here": c.verdict, "tested by": c.statement} for conclusion, where, fmt, c in items])
    return claim, table
