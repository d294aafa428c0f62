"""lab3_6 (Lab 3 on real images): post-training quantization (PTQ) and quantization-aware training
(QAT) of a small CIFAR-10 CNN, by type and one layer at a time, measured on the test images.

How it works:

- the data is the real CIFAR-10 (quick mode: a tiny generated image set, labelled synthetic) from
  :func:`lab_utils.labs.baselines.cifar_data`, with :data:`VAL_FRACTION` of the training images held
  out: the split ``load_dataset("cifar10")`` makes, so the shipped search config
  (``configs/cifar10_cnn_qat.toml``) validates on images the CNN never trained on.
- :func:`trained_cnn` trains a narrow VGG7 (SGD, crop + flip augmentation, channels-last) once per
  architecture, recipe, augmentation and data set, cached in ``results/lab3_6/models/`` by the
  candidate cache (:func:`lab_utils.training.candidates.trained_candidate` with :data:`EXTRA_DESC`
  in the key; the file is a ``--load`` checkpoint for the CLI). The recipe's
  augmented batches leave BatchNorm statistics of padded crops; they are recomputed on clean
  training images afterwards (:func:`lab_utils.training.train.recalibrate_bn`), as for the
  VGG baselines of lab4_5, so that fine-tuning (which trains without augmentation) does not gain
  accuracy merely by refreshing them.
- :func:`ptq_configs` writes the quantize pass arguments: every Conv2d and Linear at each weight
  width (by type), and one layer at :data:`LOW` bits with the others at :data:`HIGH` (by name);
  inputs and biases at 8 bits; every fractional width ``"auto"`` (weights and biases from their
  own range, inputs from :data:`N_CALIBRATION` training images). Besides them, :data:`FIXED`: the
  jet grids' own formats with *fixed* fractional widths (Lab 3's ``in 16/8, w 16/8`` and
  ``in 8/4, w 4/2``, biases 8/4) in every layer, so that Lab 3's jet conclusions are tested on the
  same kind of format (:func:`jet_conclusions`).
- :func:`ptq_runs` evaluates each configuration on the test images, :func:`qat_run` fine-tunes
  configurations with :func:`lab_utils.training.qat.qat_runs` (one configuration after another: a
  CNN is not batched) on several seeds and evaluates them the same way; both keep the per-image
  correctness, so every comparison is paired (same images). QAT is judged against the fine-tuned
  8-bit control (every layer at 8 bits, fine-tuned with the same recipe and seeds), not against
  the float model that was never fine-tuned. The claims are in :mod:`lab_utils.labs.lab3_6_claims`.

May import every layer below ``labs``, :mod:`lab_utils.labs.baselines` and
:mod:`lab_utils.labs.lab3_6_claims`. Figures: :mod:`lab_utils.report.plots.lab3_6`; tests:
``tests/labs/test_lab3_6.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lab_utils.analysis import stats
from lab_utils.data.cifar10 import augment
from lab_utils.errors import LabError
from lab_utils.labs import baselines, lab3_6_claims
from lab_utils.passes import graph as graph_mod
from lab_utils.passes.quantize import QUANTIZED_MODULES, lab_config, quantize_model
from lab_utils.report.paths import results_dir
from lab_utils.training.candidates import trained_candidate
from lab_utils.training.qat import QATRecipe, qat_model, qat_runs
from lab_utils.training.train import recalibrate_bn, train

MODEL = "vgg7"
VAL_FRACTION = 0.1  # load_dataset's default: the search CLI splits the images the same way
AUGMENT = "crop 4 + horizontal flip"  # lab_utils.data.cifar10.augment, part of the cache key
N_CALIBRATION = 256  # training images that set the inputs' fractional widths ("auto")
CALIB_BATCHES = 16  # x 256 clean training images recompute BatchNorm's statistics after training
EXTRA_DESC = {"augment": AUGMENT, "bn_recalibration": f"{CALIB_BATCHES} x 256 clean training images"}  # in the key
DATA_IN, BIAS = 8, 8  # input and bias widths of every quantized layer
WEIGHT_WIDTHS = (16, 8, 4)  # by type
LOW, HIGH = 4, 8  # one layer at LOW bits, the others at HIGH
FLOAT = "float32"
JET_BIAS = (8, 4)  # Lab 3's bias format (lab_utils.labs.lab3.LAB_BIAS)
WIDEST, JET_W4 = "in 16/8, w 16/8 (fixed)", "in 8/4, w 4/2 (fixed)"  # the jet grids' formats, fixed frac widths
FIXED = {WIDEST: ((16, 8), (16, 8)), JET_W4: ((8, 4), (4, 2))}  # label: (data_in, weight) as (width, frac_width)


def model_args(channels, fc: int) -> dict:
    """``build_model("vgg7", **model_args(...))``: six conv widths, classifier width, BatchNorm
    momentum 0.1 (PyTorch's default; MASE's 0.9 keeps the statistics of the last batch or two)."""
    return {"channels": [int(c) for c in channels], "fc": int(fc), "bn_momentum": 0.1}


def trained_cnn(splits, args: dict, recipe, cache_dir=None, progress: bool = True):
    """``(model, info)``: the CNN trained with ``recipe`` + :data:`AUGMENT`, BatchNorm recalibrated,
    in eval mode; loaded from ``cache_dir`` (default ``results/lab3_6/models``) when trained before.

    ``info``: ``path`` (a checkpoint ``python -m lab_utils search --load`` reads), ``cached``,
    ``history`` (per epoch; None when loaded from an older file) and ``seconds`` of training.
    """
    cache_dir = results_dir("lab3_6") / "models" if cache_dir is None else cache_dir

    def train_cnn(model):
        history = train(model.to(memory_format=torch.channels_last), splits, recipe, augment=augment,
                        progress=progress, desc="train the CNN")
        recalibrate_bn(model, splits.x_train, n_batches=CALIB_BATCHES)
        return history

    model, info = trained_candidate(MODEL, args, splits, recipe, cache_dir, extra_desc=EXTRA_DESC, train_fn=train_cnn)
    history = info["history"] or {}
    return model.to(memory_format=torch.channels_last), {"path": Path(info["path"]), "cached": info["cached"],
                                                         "history": history.get("epochs"),
                                                         "seconds": history.get("seconds")}


# ---------------------------------------------------------------- configurations
def layers(model) -> list[tuple[str, str, str]]:
    """``(label, node, op)`` of every quantizable layer in order: conv1..conv6, fc1..fc3."""
    out, count = [], {}
    for n in graph_mod.trace(model).nodes():
        if n.op in QUANTIZED_MODULES:
            short = {"conv2d": "conv", "linear": "fc"}[n.op]
            count[short] = count.get(short, 0) + 1
            out.append((f"{short}{count[short]}", n.name, n.op))
    return out


def node_config(weight: int) -> dict:
    """One layer's config: ``weight``-bit weights, 8-bit inputs and biases, fractional widths "auto"."""
    return lab_config(data_in=(DATA_IN, "auto"), weight=(int(weight), "auto"), bias=(BIAS, "auto"))


def ptq_configs(model, weight_widths=WEIGHT_WIDTHS, low: int = LOW, high: int = HIGH) -> pd.DataFrame:
    """One row per configuration: ``config`` (label), ``scope`` (``by type`` / ``fixed`` / ``one layer``), ``layer``
    (``all`` or the layer's label), ``node``, ``weight_width`` (of the layer in question) and
    ``pass_args`` (without the calibration batch: :func:`with_calibration` adds it)."""
    rows = [{"config": f"all w{w}", "scope": "by type", "layer": "all", "node": "", "weight_width": int(w),
             "pass_args": {"by": "type", "default": {"config": {"name": None}},
                           **{op: {"config": node_config(w)} for op in QUANTIZED_MODULES}}}
            for w in weight_widths]
    for label, (data_in, weight) in FIXED.items():
        cfg = lab_config(data_in=data_in, weight=weight, bias=JET_BIAS)
        rows.append({"config": label, "scope": "fixed", "layer": "all", "node": "", "weight_width": int(weight[0]),
                     "pass_args": {"by": "type", "default": {"config": {"name": None}},
                                   **{op: {"config": cfg} for op in QUANTIZED_MODULES}}})
    for label, node, _ in layers(model):
        args = {"by": "name", "default": {"config": node_config(high)}, node: {"config": node_config(low)}}
        rows.append({"config": f"{label} w{low}", "scope": "one layer", "layer": label, "node": node,
                     "weight_width": int(low), "pass_args": args})
    return pd.DataFrame(rows)


def with_calibration(pass_args: dict, splits) -> dict:
    """``pass_args`` plus the calibration batch (the first :data:`N_CALIBRATION` training images)."""
    return {**pass_args, "calibration": splits.x_train[:N_CALIBRATION].contiguous()}


# ---------------------------------------------------------------- runs
def ptq_runs(model, configs: pd.DataFrame, splits, split: str = "test") -> tuple[pd.DataFrame, dict]:
    """The float model and every configuration on ``split``: (table, per-image correctness by config).

    Table columns: config, scope, layer, weight_width, accuracy, macro_accuracy, loss, n.
    """
    rows, correct = [], {}
    s = baselines.scores(model, splits, split)
    correct[FLOAT] = s.pop("correct")
    rows.append({"config": FLOAT, "scope": "float", "layer": "", "weight_width": 32, **s})
    for _, c in configs.iterrows():
        q = quantize_model(model, with_calibration(c.pass_args, splits))
        s = baselines.scores(q, splits, split)
        correct[c.config] = s.pop("correct")
        rows.append({"config": c.config, "scope": c.scope, "layer": c.layer, "weight_width": c.weight_width, **s})
    return pd.DataFrame(rows), correct


def qat_recipe(epochs: int, lr: float, batch_size: int, seed: int = 0) -> QATRecipe:
    """MASE's ``basic_train`` recipe for the fine-tuning: Adam, linear decay, ``epochs`` passes."""
    return QATRecipe(max_epochs=int(epochs), learning_rate=float(lr), optimizer="adam", lr_scheduler="linear",
                     batch_size=int(batch_size), seed=int(seed))


def qat_plan(configs: pd.DataFrame, n_seeds: int, n_layer_seeds: int, seed: int = 0) -> pd.DataFrame:
    """The QAT jobs, one row per (configuration, seed): every layer at :data:`LOW` bits, the jets' fixed
    4-bit format (:data:`JET_W4`) and the 8-bit control (every layer at :data:`HIGH` bits, fine-tuned the
    same way) on ``n_seeds`` seeds, each one-layer configuration on ``n_layer_seeds``; seeds ``seed``,
    ``seed + 1``, ..."""
    rows = []
    for _, c in configs.iterrows():
        if (c.scope == "by type" and c.weight_width not in (LOW, HIGH)) or (c.scope == "fixed" and c.config != JET_W4):
            continue
        n = n_layer_seeds if c.scope == "one layer" else n_seeds
        rows += [{**c.to_dict(), "seed": int(seed) + k} for k in range(int(n))]
    return pd.DataFrame(rows)


def qat_run(model, plan: pd.DataFrame, splits, recipe: QATRecipe, split: str = "test",
            progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Fine-tune every job of ``plan`` (:func:`qat_plan`) from ``model``'s weights (the job's seed orders
    the minibatches), then evaluate on ``split``: (table, per-image correctness by (config, seed)).

    Table columns: config, scope, layer, weight_width, seed, val_accuracy (the fine-tuning's own
    validation score), accuracy, macro_accuracy, loss, n (on ``split``), train_loss, steps.
    """
    results = qat_runs(model, [with_calibration(a, splits) for a in plan.pass_args], splits, recipe,
                       seeds=[int(s) for s in plan.seed], progress=progress)
    rows, correct = [], {}
    for (_, c), r in zip(plan.iterrows(), results):
        s = baselines.scores(qat_model(model, r), splits, split)
        correct[(c.config, int(c.seed))] = s.pop("correct")
        rows.append({"config": c.config, "scope": c.scope, "layer": c.layer, "weight_width": c.weight_width,
                     "seed": int(c.seed), "val_accuracy": r["val"]["accuracy"], **s, "train_loss": r["train_loss"],
                     "steps": r["steps"]})
    return pd.DataFrame(rows), correct


def seed_mean(correct: dict, config: str) -> np.ndarray:
    """Per-image share of the seeds that classify each image right (``config``'s QAT runs)."""
    runs = [v for (c, _), v in sorted(correct.items()) if c == config]
    if not runs:
        raise LabError(f"no QAT run of {config!r}")
    return np.mean(np.stack(runs).astype(float), axis=0)


def results_table(ptq: pd.DataFrame, qat: pd.DataFrame, ptq_correct: dict, qat_correct: dict) -> pd.DataFrame:
    """One row per configuration: PTQ accuracy and, where fine-tuned, the QAT mean over seeds, both
    in % with their paired difference to float in points and its 95 % interval
    (:func:`lab_utils.labs.lab3_6_claims.per_image_difference`: Agresti–Min for PTQ's single run, the
    normal interval for QAT's share of seeds right)."""
    base = ptq_correct[FLOAT]
    rows = []
    for _, r in ptq.iterrows():
        row = {"config": r.config, "scope": r.scope, "ptq_%": 100 * r.accuracy}
        d = lab3_6_claims.per_image_difference(ptq_correct[r.config], base)
        row.update({"ptq_vs_float_pts": 100 * d["diff"], "ptq_low": 100 * d["low"], "ptq_high": 100 * d["high"]})
        if r.config in set(qat.config):
            acc = qat.loc[qat.config == r.config, "accuracy"]
            d = lab3_6_claims.per_image_difference(seed_mean(qat_correct, r.config), base)
            row.update({"qat_%": 100 * acc.mean(), "qat_seeds": len(acc), "qat_min_%": 100 * acc.min(),
                        "qat_max_%": 100 * acc.max(), "qat_vs_float_pts": 100 * d["diff"],
                        "qat_low": 100 * d["low"], "qat_high": 100 * d["high"]})
        rows.append(row)
    return pd.DataFrame(rows)


def accuracy_intervals(ptq: pd.DataFrame) -> pd.DataFrame:
    """config, accuracy and its exact (Clopper–Pearson) 95 % interval, from the PTQ table's counts."""
    rows = []
    for _, r in ptq.iterrows():
        k = int(round(r.accuracy * r.n))
        acc, lo, hi = stats.proportion_ci(k, int(r.n))
        rows.append({"config": r.config, "accuracy": acc, "low": lo, "high": hi})
    return pd.DataFrame(rows)


def seed_runs(correct: dict, config: str) -> list[np.ndarray]:
    """The per-image correctness of every QAT seed of ``config``, in seed order."""
    return [v for (c, _), v in sorted(correct.items()) if c == config]


def conclusions(ptq_correct: dict, qat_correct: dict, configs: pd.DataFrame) -> dict:
    """The notebook's claims by name (see :mod:`lab_utils.labs.lab3_6_claims`): on the calibrated formats
    ``int8``, ``w16``, ``w4_loss``, ``recovers``, ``recovers_net``, ``qat_w4``, ``layers_ptq``, ``layers_qat``;
    on the jets' fixed formats ``fixed_w16``, ``fixed_w4_loss``, ``fixed_recovers_net``, ``fixed_qat_w4``.
    QAT's distance (``qat_w4``, ``layers_qat``, ``fixed_qat_w4``) is judged against the fine-tuned 8-bit
    control (``all w8`` fine-tuned with the same recipe), its recovery net of what that fine-tuning gains."""
    f = ptq_correct[FLOAT]
    low, high = f"all w{LOW}", f"all w{HIGH}"
    one = configs[configs.scope == "one layer"]
    runs, control = seed_runs(qat_correct, low), seed_runs(qat_correct, high)
    c = lab3_6_claims
    low_bits, by_layer = f"{LOW}-bit weights in every layer", {r.layer: r.config for _, r in one.iterrows()}
    out = {
        "int8": c.claim_within("int8", f, ptq_correct[high], "8-bit PTQ (weights, inputs and biases of every layer)"),
        "w16": c.claim_matches("w16", f, ptq_correct["all w16"], "PTQ with 16-bit weights (8-bit inputs)"),
        "w4_loss": c.claim_loses("w4_loss", f, ptq_correct[low], f"PTQ with {low_bits}"),
        "recovers": c.claim_recovers("recovers", f, ptq_correct[low], runs, low_bits),
        "recovers_net": c.claim_recovers("recovers_net", f, ptq_correct[low], runs, low_bits,
                                         control=(ptq_correct[high], control)),
        "qat_w4": c.claim_qat_within("qat_w4", f, runs, f"{low_bits} (8-bit inputs)", reference=control),
        "layers_ptq": c.claim_every_layer("layers_ptq", f, {k: ptq_correct[v] for k, v in by_layer.items()},
                                          f"With PTQ, {LOW}-bit weights"),
        "layers_qat": c.claim_every_layer("layers_qat", f, {k: seed_mean(qat_correct, v) for k, v in by_layer.items()},
                                          f"After QAT, {LOW}-bit weights", reference=control),
    }
    if WIDEST in ptq_correct and JET_W4 in ptq_correct:
        jet = seed_runs(qat_correct, JET_W4)
        out |= {
            "fixed_w16": c.claim_matches("fixed_w16", f, ptq_correct[WIDEST], f"PTQ with {WIDEST} in every layer"),
            "fixed_w4_loss": c.claim_loses("fixed_w4_loss", f, ptq_correct[JET_W4], f"PTQ with {JET_W4} in every layer"),
            "fixed_recovers_net": c.claim_recovers("fixed_recovers_net", f, ptq_correct[JET_W4], jet,
                                                   f"{JET_W4} in every layer", control=(ptq_correct[high], control)),
            "fixed_qat_w4": c.claim_qat_within("fixed_qat_w4", f, jet, f"{JET_W4} in every layer", reference=control),
        }
    return out


def jet_conclusions(found: dict):
    """(claim, table): the conclusions Lab 3's jet notebooks drew, each with the claim that tests it here on the
    same kind of format (fixed fractional widths, as the jet grids have them; QAT against the fine-tuned 8-bit
    control). "8-bit PTQ within 1 point" is not among them: no jet notebook concluded it."""
    return lab3_6_claims.jets_hold([
        ("the widest format matches float within ±0.5 points", "lab3_1, lab3_3", WIDEST, found["fixed_w16"]),
        ("weights with 2 fractional bits (a step of 1/4) lose more than 1 point with PTQ", "lab3_1, lab3_3",
         JET_W4, found["fixed_w4_loss"]),
        ("QAT recovers at least half of what PTQ lost at 4-bit weights (here net of the control's fine-tuning)",
         "lab3_5", JET_W4, found["fixed_recovers_net"]),
        ("after QAT, 4-bit weights with 8-bit inputs are within 1 point (of float on the jets, where fine-tuning "
         "alone moved nothing; here of the fine-tuned 8-bit control)", "lab3_5", JET_W4, found["fixed_qat_w4"]),
    ])


def table_view(table: pd.DataFrame) -> pd.DataFrame:
    """The results table as the notebook shows it: accuracies in %, differences in points, 2 decimals."""
    cols = [c for c in ("config", "ptq_%", "ptq_vs_float_pts", "qat_%", "qat_seeds", "qat_vs_float_pts")
            if c in table]
    return table[cols].round(2)


def _name(config: str) -> str:
    """A configuration's label as a summary key: ``all w4`` -> ``all_w4``, ``in 8/4, w 4/2 (fixed)`` ->
    ``in_8_4_w_4_2_fixed``."""
    return re.sub(r"[^a-z0-9]+", "_", config.lower()).strip("_")


def summary_numbers(ptq: pd.DataFrame, qat: pd.DataFrame, splits, p) -> dict:
    """What summary.json records: accuracies (4 decimals), the QAT means, sizes and the recipe (nothing
    that depends on the cache: a loaded and a freshly trained CNN give the same summary)."""
    acc = dict(zip(ptq.config, ptq.accuracy.round(4)))
    mean = qat.groupby("config").accuracy.mean().round(4)
    out = {"float_test_accuracy": acc[FLOAT], **{f"ptq_{_name(k)}_accuracy": v for k, v in acc.items() if k != FLOAT},
           **{f"qat_{_name(k)}_accuracy": float(v) for k, v in mean.items()},
           "qat_runs": len(qat), "channels": list(p.channels), "fc": p.fc, "epochs": p.epochs,
           "qat_epochs": p.qat_epochs, "qat_lr": p.qat_lr, "qat_seeds": p.qat_seeds, "layer_seeds": p.layer_seeds}
    return {**out, **{f"{k}_images": v for k, v in splits.sizes().items()}}
