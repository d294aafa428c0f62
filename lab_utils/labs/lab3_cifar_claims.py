"""The computed conclusions of lab3_6 (Lab 3's PTQ and QAT on CIFAR-10), from per-image correctness.

Every comparison is paired: the configurations are evaluated on the same test images, so each
image contributes one difference (:func:`paired`). For two single runs (boolean correctness) the
interval is Agresti and Min's for matched proportions and the exact McNemar test
(``scipy.stats.binomtest`` on the discordant images, two-sided) is given too; otherwise it is the
normal 95 % interval of the mean per-image difference. A QAT
configuration trained on several seeds enters as the per-image share of its seeds that are right:
the interval then covers the choice of test images for these seeds, not the seed-to-seed spread,
which every evidence line states separately (the per-seed values).

Thresholds are decided by the interval, never by the point estimate: "within ``m``" holds when the
whole interval of the drop lies below ``m`` and does not hold when it lies above; otherwise the run
cannot decide (``holds=None``). A claim over several layers ("every layer") holds when each layer's
95 % interval lies inside (an intersection of tests needs no multiplicity correction) and fails when
one layer's Bonferroni-adjusted interval lies outside (a union does).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from lab_utils.analysis import claims as C

Z95 = float(stats.norm.ppf(0.975))
MARGIN = 0.01  # "within 1 point" (accuracy as a fraction)
MATCH = 0.005  # "matches float": inside ±0.5 points, as lab3_1 / lab3_3 decide it on the jets
SHARE = 0.5  # "QAT recovers at least half of what PTQ lost"


def _r(x, digits: int = 6):
    """A float to ``digits`` significant digits for summary.json (NaN stays NaN)."""
    x = float(x)
    return x if not math.isfinite(x) else float(f"{x:.{digits}g}")


def paired(a, b, z: float = Z95) -> dict:
    """Mean per-image difference ``a - b`` (fractions), its standard error and ``z`` interval.

    Two boolean arrays (single runs) get Agresti and Min's interval for matched proportions: the
    Wald interval after adding 1/2 to each of the four cells of the paired 2 x 2 table, because the
    plain Wald interval has zero width when no image is discordant (a tiny test set would "prove"
    anything); plus the discordant counts (``n10``: ``a`` right and ``b`` wrong) and the exact
    two-sided McNemar p (binomial test on the discordant images). Other arrays (shares of seeds
    right) get the normal interval of the mean per-image difference.
    """
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    d = a_arr.astype(float) - b_arr.astype(float)
    n = int(d.size)
    m = float(d.mean()) if n else float("nan")
    if a_arr.dtype == bool and b_arr.dtype == bool:
        n10, n01 = int((a_arr & ~b_arr).sum()), int((~a_arr & b_arr).sum())
        p = float(stats.binomtest(n10, n10 + n01, 0.5).pvalue) if n10 + n01 else 1.0
        n_adj, d_adj = n + 2, (n10 - n01) / (n + 2)
        se = math.sqrt(((n10 + n01 + 1) / n_adj - d_adj**2) / n_adj)
        return {"diff": m, "se": se, "low": d_adj - z * se, "high": d_adj + z * se, "n": n, "n10": n10, "n01": n01,
                "p_mcnemar": p}
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return {"diff": m, "se": se, "low": m - z * se, "high": m + z * se, "n": n}


def _pts(d: dict, what: str = "drop") -> str:
    return (f"{what} {100 * d['diff']:+.2f} points (95 % CI {100 * d['low']:+.2f} to {100 * d['high']:+.2f}, "
            f"paired over n = {d['n']:,} test images)")


def _mcnemar(d: dict) -> str:
    if "p_mcnemar" not in d:
        return "per-image share of the seeds right (McNemar needs single runs)"
    return f"exact McNemar (two-sided) {C.fmt_p(d['p_mcnemar'])}, {d['n10']} images lost / {d['n01']} gained"


def _numbers(d: dict) -> dict:
    keep = ("diff", "low", "high", "se", "n", "n10", "n01", "p_mcnemar")
    return {k: (_r(d[k]) if isinstance(d[k], float) else d[k]) for k in keep if k in d}


def claim_within(float_correct, q_correct, label: str, margin: float = MARGIN):
    """"``label`` is within ``margin`` of float (test accuracy)": the drop float - ``label``."""
    d = paired(float_correct, q_correct)
    holds = True if d["high"] < margin else (False if d["low"] > margin else None)
    return C.claim(f"{label} stays within {100 * margin:g} point of float on the test images", holds,
                   f"{_pts(d)}; {_mcnemar(d)}; tolerance {100 * margin:g} point",
                   test="paired difference (Agresti-Min 95 % CI); exact McNemar", **_numbers(d))


def claim_matches(float_correct, q_correct, label: str, margin: float = MATCH):
    """"``label`` matches float within ±``margin``": the interval of the difference inside ±margin."""
    d = paired(q_correct, float_correct)
    inside, outside = -margin < d["low"] and d["high"] < margin, d["high"] < -margin or d["low"] > margin
    return C.claim(f"{label} matches float within ±{100 * margin:g} points on the test images",
                   True if inside else (False if outside else None),
                   f"{_pts(d, 'difference')}; {_mcnemar(d)}",
                   test="paired difference (Agresti-Min 95 % CI); exact McNemar", **_numbers(d))


def claim_loses(float_correct, q_correct, label: str, margin: float = MARGIN):
    """"``label`` loses more than ``margin`` against float": the drop's interval above ``margin``."""
    d = paired(float_correct, q_correct)
    holds = True if d["low"] > margin else (False if d["high"] < margin else None)
    return C.claim(f"{label} loses more than {100 * margin:g} point against float on the test images", holds,
                   f"{_pts(d)}; {_mcnemar(d)}", test="paired difference (Agresti-Min 95 % CI); exact McNemar",
                   **_numbers(d))


def _share(share: float) -> str:
    return "half" if share == 0.5 else f"{share:.0%}"


def _seed_accuracies(runs) -> str:
    return ", ".join(f"{100 * np.mean(r):.2f}" for r in runs)


def claim_recovers(float_correct, ptq_correct, qat_runs, label: str, share: float = SHARE, control=None):
    """"QAT recovers at least ``share`` of what PTQ lost at ``label``".

    Per image: ``gain = QAT - PTQ`` (QAT: share of ``qat_runs`` seeds right), ``loss = float - PTQ``;
    holds when the interval of ``gain - share · loss`` lies above 0, fails below 0. With ``control =
    (ptq8_correct, control_runs)`` the gain is taken net of fine-tuning alone: the same recipe on the
    8-bit configuration (``control - ptq8``) is subtracted. Undetermined when PTQ lost nothing
    measurable (the loss's interval reaches 0): there is nothing to recover.
    """
    f, p = np.asarray(float_correct, float), np.asarray(ptq_correct, float)
    q = np.mean(np.stack(qat_runs).astype(float), axis=0)
    loss, gain = paired(f, p), q - p
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
        return C.claim(statement, None, f"PTQ lost nothing measurable: {_pts(loss)}; nothing to recover", test=test,
                       loss=_r(loss["diff"]), loss_low=_r(loss["low"]))
    t = paired(gain - share * (f - p), np.zeros_like(f))
    fraction = gain.mean() / loss["diff"]
    per_seed = [(np.mean(r) - p.mean()) / loss["diff"] for r in qat_runs] if control is None else []
    holds = True if t["low"] > 0 else (False if t["high"] < 0 else None)
    evidence = (f"PTQ lost {100 * loss['diff']:.2f} points; QAT recovered {100 * gain.mean():+.2f} points = "
                f"{fraction:.0%} of it (QAT test accuracy per seed: {_seed_accuracies(qat_runs)} %{net}); "
                f"recovered - {share:.0%} of the loss = {100 * t['diff']:+.2f} points (95 % CI {100 * t['low']:+.2f} to "
                f"{100 * t['high']:+.2f}, paired over n = {t['n']:,} test images; the seed-to-seed spread is not in "
                f"the interval)")
    return C.claim(statement, holds, evidence, test=test, fraction=_r(fraction), loss=_r(loss["diff"]),
                   gain=_r(gain.mean()), margin_diff=_r(t["diff"]), low=_r(t["low"]), high=_r(t["high"]),
                   seeds=len(qat_runs), per_seed_fraction=[_r(v) for v in per_seed])


def claim_qat_within(float_correct, qat_runs, label: str, margin: float = MARGIN):
    """"After QAT, ``label`` is within ``margin`` of float": the drop float - QAT (share of seeds right)."""
    q = np.mean(np.stack(qat_runs).astype(float), axis=0)
    d = paired(np.asarray(float_correct, float), q)
    holds = True if d["high"] < margin else (False if d["low"] > margin else None)
    return C.claim(f"after QAT, the network with {label} stays within {100 * margin:g} point of float on the test "
                   "images", holds,
                   f"{_pts(d)}; QAT test accuracy per seed: {_seed_accuracies(qat_runs)} % ({len(qat_runs)} seed(s); "
                   f"the seed-to-seed spread is not in the interval); tolerance {100 * margin:g} point",
                   test="paired per-image difference (normal 95 % CI)", seeds=len(qat_runs), **_numbers(d))


def claim_every_layer(float_correct, by_layer: dict, what: str, margin: float = MARGIN):
    """"``what`` in any one layer costs at most ``margin`` against float": ``by_layer`` maps a layer to
    its per-image correctness (boolean, or the share of seeds right).

    Holds when every layer's 95 % interval of the drop lies below ``margin``; does not hold when one
    layer's Bonferroni-adjusted interval (over the layers) lies above it; undetermined otherwise.
    """
    k = len(by_layer)
    z_bonf = float(stats.norm.ppf(1 - 0.025 / max(k, 1)))
    f = np.asarray(float_correct, float)
    drops = {name: paired(f, np.asarray(c, float)) for name, c in by_layer.items()}
    wide = {name: paired(f, np.asarray(c, float), z=z_bonf) for name, c in by_layer.items()}
    worst = max(drops, key=lambda name: drops[name]["diff"])
    inside = sum(d["high"] < margin for d in drops.values())
    above = [name for name, d in wide.items() if d["low"] > margin]
    holds = True if inside == k else (False if above else None)
    evidence = (f"largest drop {worst}: {_pts(drops[worst])}; {inside} of {k} layers' 95 % intervals below "
                f"{100 * margin:g} point; {len(above)} layer(s) above it with Bonferroni over {k} layers"
                + (f" ({', '.join(above)})" if above else ""))
    return C.claim(f"{what} in any one layer (the others at 8 bits) cost at most {100 * margin:g} point against float",
                   holds, evidence, test="paired per-image differences, 95 % CIs; Bonferroni for a failure",
                   worst_layer=worst, worst_drop=_r(drops[worst]["diff"]), layers=k, inside=int(inside),
                   above=above)


def jets_hold(items) -> tuple:
    """The jet conclusions set against this run: ``items`` are ``(conclusion on the jets, where it was
    drawn, claim computed here)``. Returns (claim "they hold here", table): the claim holds when every
    one holds, does not hold when any does not, and is undetermined otherwise."""
    verdicts = [c.holds for _, _, c in items]
    counts = {v: sum(x is h for x in verdicts) for v, h in (("hold", True), ("do not", False), ("undetermined", None))}
    holds = True if counts["hold"] == len(items) else (False if counts["do not"] else None)
    evidence = "; ".join(f"{conclusion}: {c.verdict}" for conclusion, _, c in items)
    claim = C.claim("the simulated-jet conclusions of Lab 3 restated here also hold on real images (CIFAR-10)", holds,
                    f"{counts['hold']} of {len(items)} hold, {counts['do not']} do not, {counts['undetermined']} "
                    f"undetermined: {evidence}", test="each conclusion's own test (above)", **counts)
    table = pd.DataFrame([{"conclusion on the simulated jets": conclusion, "drawn in": where,
                           "here": c.verdict, "tested by": c.statement} for conclusion, where, c in items])
    return claim, table
