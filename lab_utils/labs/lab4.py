"""Lab 4's width search for lab4_1 to lab4_3: the layers of a widened graph and its claims (lab4_1,
:func:`double_width_claims`), and the results of the trained candidates (lab4_2, lab4_3).

:func:`results_table` turns the runs of :func:`lab_utils.training.batched.train_runs` into a DataFrame
(model variant, multipliers, parameters, bit-ops, validation and test metrics, classes predicted
and whether the run failed); :func:`screen_plan` and :func:`confirm_seeds` lay out the screen and the
confirmation; :func:`study_claims` gathers the claims of :mod:`lab_utils.labs.lab4_claims` (the
statistics: failures apart from accuracy, selection-aware tests, confirmation on fresh seeds).
Selection uses the validation split; the confirmation is judged on the test split. Pareto fronts
come from :func:`lab_utils.analysis.pareto.pareto_mask`, the figures from
:mod:`lab_utils.report.plots.lab4`. lab4_4 (the same search from the command line) is
:mod:`lab_utils.labs.lab4_4`.

May import every layer below ``labs`` and :mod:`lab_utils.labs.lab4_claims`. Tests:
``tests/labs/test_lab4.py``.
"""

from __future__ import annotations

import pandas as pd
import torch

from lab_utils.analysis import claims
from lab_utils.analysis import stats as S
from lab_utils.analysis.cost import cost_summary
from lab_utils.labs import lab4_claims
from lab_utils.labs.lab4_claims import CONFIRM_SEED_OFFSET, MODELS
from lab_utils.training.train import evaluate, metrics_from_logits, predict

BASE_WIDTH = 16
# the search's parameter names -> the multipliers' names in lab4_3's tables


def layer_table(graph, shapes: dict | None = None) -> pd.DataFrame:
    """One row per node of a traced graph (name, op, module), with each node's ``output shape``
    from ``shapes`` (as :func:`lab_utils.passes.widths.check_shapes` returns them) when given."""
    table = pd.DataFrame([{"node": n.name, "op": n.op, "module": repr(n.module)} for n in graph.nodes()])
    if shapes is not None:
        table["output shape"] = table["node"].map(lambda n: shapes.get(n))
    return table


def results_table(rows: list[dict], splits, phase: str = "screen") -> pd.DataFrame:
    """One row per run of :func:`lab_utils.training.batched.train_runs`: model ("faithful" with the
    logit ReLU, "fixed" without), a, c, hidden widths, seed, ``phase``, params, bit-ops, validation
    and test metrics, ``classes_predicted`` (distinct classes the run predicts on the validation
    split) and ``failed`` (fewer than all classes)."""
    out, costs = [], {}
    x_val, y_val = splits.split("val")
    n_classes = int(y_val.max()) + 1
    for r in rows:
        h1, h2 = r["hidden"]
        if (h1, h2) not in costs:
            costs[(h1, h2)] = cost_summary(r["model"], (splits.x_val.shape[1],), 1)
        cost = costs[(h1, h2)]
        logits = predict(r["model"], x_val)
        val = metrics_from_logits(logits, y_val)
        test = evaluate(r["model"], *splits.split("test"))
        predicted = int(torch.unique(logits.argmax(1)).numel())
        out.append({"model": MODELS[bool(r.get("logit_relu", True))], "a": h1 // BASE_WIDTH, "c": h2 // BASE_WIDTH,
                    "h1": h1, "h2": h2, "seed": r["seed"], "phase": phase,
                    "params": cost["params"], "macs": cost["macs"], "bitops": cost["bitops"],
                    "val_accuracy": val["accuracy"], "val_macro_accuracy": val["macro_accuracy"],
                    "val_loss": val["loss"], "test_accuracy": test["accuracy"],
                    "test_macro_accuracy": test["macro_accuracy"], "n_test": test["n"],
                    "classes_predicted": predicted, "failed": predicted < n_classes,
                    "best_epoch": (r.get("history") or {}).get("best_epoch"), "cached": bool(r.get("cached"))})
    return pd.DataFrame(out)


def screen_plan(hiddens, seeds) -> list[tuple]:
    """The screen's ``(hidden, seed, logit_relu)`` runs: every candidate, both models, every seed."""
    return [(tuple(h), int(s), relu) for relu in MODELS for h in hiddens for s in seeds]


def confirm_seeds(seed: int, n: int) -> list[int]:
    """Fresh seeds for the confirmation (:data:`lab_utils.labs.lab4_claims.CONFIRM_SEED_OFFSET` on)."""
    return list(range(seed + CONFIRM_SEED_OFFSET, seed + CONFIRM_SEED_OFFSET + n))


def study_claims(runs, confirm, selected: dict, n_candidates: int, base=(1, 1), target=None, seed: int = 0) -> list:
    """Every claim of lab4_2/lab4_3: the screen's tests per model, the logit ReLU's effect on
    failures, and the confirmation on fresh seeds (:mod:`lab_utils.labs.lab4_claims`)."""
    out = []
    for model in MODELS.values():
        out += lab4_claims.screen_claims(lab4_claims.screen_tests(runs, model, base, seed), n_candidates)
    out.append(lab4_claims.logit_relu_claim(runs))
    return out + lab4_claims.confirm_claims(confirm, selected, base, target)


# the lab report's width results (MASE's accuracy on training data, lr 1e-5): candidate (a, c), accuracy
REPORT_RESULTS = {"lab4_2": ((5, 5), 0.235, "multiplier 5 is best, with 23.5 % accuracy"),
                  "lab4_3": ((1, 4), 0.322, "a = 1, c = 4 is best, with 32.2 % accuracy")}


def select_all(table: pd.DataFrame) -> dict:
    """The screen's choice per model variant (:func:`lab_utils.labs.lab4_claims.select_best`)."""
    return {m: lab4_claims.select_best(table, m) for m in MODELS.values()}


def report_checks(task: str, table: pd.DataFrame, claim_list: list) -> list:
    """The lab report's width result for ``task`` set against this run (faithful model)."""
    ac, acc, said = REPORT_RESULTS[task]
    return [lab4_claims.report_check(table, claim_list, "width results (23–32 %)", said, ac, acc)]


def study_numbers(table: pd.DataFrame, selected: dict, runs: pd.DataFrame, confirm: pd.DataFrame, seeds,
                  n_confirm: int, epochs: int, target=None) -> dict:
    """The numbers summary.json keeps: per model the choice, its trained runs' accuracy and failure
    rate, the base's, and the run counts (accuracies as fractions, rounded to 4 decimals)."""
    out = {"screen seeds": len(seeds), "confirmation seeds": n_confirm, "epochs": epochs,
           "screen runs": len(runs), "confirmation runs": len(confirm), "candidates": int(table[["a", "c"]].drop_duplicates().shape[0])}
    for model, ac in selected.items():
        t = table[table["model"] == model].set_index(["a", "c"])
        out[f"{model}: failed runs"] = int(t["failed"].sum())
        out[f"{model}: best (a, c)"] = str(ac)
        for name, key in (("best", ac), ("base", (1, 1)), ("target", target)):
            if key is not None and tuple(key) in t.index:
                r = t.loc[tuple(key)]
                v = float(r["val_mean"])
                out[f"{model}: {name} val accuracy (trained runs)"] = None if v != v else round(v, 4)
                out[f"{model}: {name} failure rate"] = round(float(r["failure_rate"]), 4)
    return out


def rounded(table: pd.DataFrame, columns) -> pd.DataFrame:
    """``columns`` of ``table`` for display: accuracies and rates in % (2 decimals), other floats to 2 decimals."""
    t = table[list(columns)].copy()
    for c in t.columns:
        if c.startswith(("val_", "test_", "failure_")) and t[c].dtype.kind == "f":
            t[c] = (100 * t[c]).round(2)
        elif t[c].dtype.kind == "f":
            t[c] = t[c].round(2)
    return t.rename(columns={c: f"{c} (%)" for c in t.columns if c.startswith(("val_", "test_", "failure_"))})


# ----------------------------------------------------------------------------- lab4_1: doubling the widths
def double_width_claims(params_after: int, hidden: tuple[int, int], multiplier: int, untrained: dict,
                        trained: dict, predicted=None, class_names=None) -> list:
    """lab4_1's claims.

    - a *check* (a hand count, it cannot come out otherwise unless the passes are wrong): the passes
      give the widths and the parameter count of the hand formula for 16 -> 16m -> 16m -> 5 with
      BatchNorm(16);
    - "the expanded model learns": its validation accuracy after training above the untrained one
      (exact binomial test of the trained model's hits against the untrained accuracy): holds when the
      one-sided p < α, refuted when the opposite one-sided p < α (training made it worse), not shown otherwise;
    - with ``predicted`` (how many validation jets the trained model assigns to each class), "the trained
      run predicts every class": refuted when some class is never predicted, the failed run of lab0's
      logit-ReLU study and lab4_2's failure counts (its accuracy is then a collapsed model's, not what
      the width buys)."""
    h = BASE_WIDTH * multiplier
    hand = 16 * h + h + h * h + h + h * 5 + 5 + 2 * 16
    n = int(trained["n"])
    hits = round(trained["accuracy"] * n)
    p = S.binomial_p(hits, n, untrained["accuracy"], alternative="greater")
    p_less = S.binomial_p(hits, n, untrained["accuracy"], alternative="less")
    learns = True if p < S.ALPHA else (False if p_less < S.ALPHA else None)
    tail = {True: "", None: f"; not shown at α = {S.ALPHA:g}",
            False: f"; trained below untrained (opposite one-sided {claims.fmt_p(p_less)})"}[learns]
    out = [
        claims.check("passes_give_widths", f"the lab's passes give 16 → {h} → {h} → 5 with the hand-counted parameters",
                     tuple(hidden) == (h, h) and params_after == hand,
                     f"hidden widths {tuple(hidden)}, {params_after:,} parameters; hand count {hand:,}",
                     test="exact count"),
        claims.claim("expanded_model_learns", "the expanded model learns: trained validation accuracy above the untrained one",
                     learns,
                     f"{100 * untrained['accuracy']:.2f} % untrained -> {100 * trained['accuracy']:.2f} % trained "
                     f"on {n:,} validation jets; one-sided exact binomial test, {claims.fmt_p(p)}{tail}",
                     test="exact binomial test", p=p, p_opposite=p_less),
    ]
    if predicted is not None:
        counts = [int(c) for c in predicted]
        names = list(class_names) if class_names is not None else [str(i) for i in range(len(counts))]
        never = [nm for nm, c in zip(names, counts) if c == 0]
        shares = ", ".join(f"{nm} {100 * c / max(sum(counts), 1):.1f} %" for nm, c in zip(names, counts))
        out.append(claims.claim(
            "trained_run_predicts_every_class",
            "the trained expanded model predicts every class on the validation split (it did not fail to train)",
            not never,
            (f"class{'es' if len(never) > 1 else ''} {', '.join(never)} never predicted: a failed run (the failure "
             f"mode of MASE's ReLU on the logits that lab0 counts), so its {100 * trained['accuracy']:.2f} % is a collapsed model's accuracy"
             if never else f"all {len(counts)} classes predicted") + f"; predictions per class: {shares}",
            test="count of predicted classes", classes_predicted=len(counts) - len(never), never_predicted=never))
    return out
