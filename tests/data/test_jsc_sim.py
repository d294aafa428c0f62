"""Tests of the jsc-sim simulator: determinism, format, physics structure and a small calibration."""

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from lab_utils.data import jsc_sim, load_dataset
from lab_utils.data.jsc import JSC_FEATURES
from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.training.train import Recipe, confusion_matrix, evaluate, predict, train

G, Q, W, Z, T = range(5)
COL = {name: i for i, name in enumerate(JSC_FEATURES)}


@pytest.fixture(scope="module")
def sample():
    return jsc_sim.generate(20_000, seed=3)


def test_same_seed_same_bytes_other_seed_differs():
    x1, y1 = jsc_sim.generate(3000, seed=7)
    x2, y2 = jsc_sim.generate(3000, seed=7)
    assert x1.tobytes() == x2.tobytes() and y1.tobytes() == y2.tobytes()
    x3, y3 = jsc_sim.generate(3000, seed=8)
    assert not np.array_equal(x1, x3)
    assert not np.array_equal(y1, y3)


def test_shapes_dtypes_and_finite(sample):
    x, y = sample
    assert x.shape == (20_000, 16) and x.dtype == np.float32
    assert y.shape == (20_000,) and y.dtype == np.int64
    assert np.isfinite(x).all()
    assert set(np.unique(y)) == {0, 1, 2, 3, 4}


def test_balanced_with_remainder_spread_and_shuffled():
    _, y = jsc_sim.generate(1003, seed=0)
    assert np.bincount(y, minlength=5).tolist() == [201, 201, 201, 200, 200]
    # Shuffled: not the sorted or the round-robin order.
    assert not np.array_equal(y, np.sort(y))
    assert not np.array_equal(y, np.arange(1003) % 5)


def test_multiplicity_is_integer_and_gluons_busier_than_quarks(sample):
    x, y = sample
    mult = x[:, COL["j_multiplicity"]]
    assert np.array_equal(mult, np.round(mult)) and mult.min() >= 1
    assert mult[y == G].mean() > 1.2 * mult[y == Q].mean()
    # Gluon jets are also wider: more negative sum z log z.
    zlogz = x[:, COL["j_zlogz"]]
    assert np.median(zlogz[y == G]) < np.median(zlogz[y == Q]) < 0


def test_groomed_mass_peaks(sample):
    x, y = sample
    mass = x[:, COL["j_mass_mmdt"]]
    med = {c: float(np.median(mass[y == c])) for c in range(5)}
    assert abs(med[W] - 80.4) < 3 and abs(med[Z] - 91.2) < 3 and abs(med[T] - 173.0) < 5
    assert med[Q] < 40 and med[G] < 45 and med[G] > med[Q]
    # Detector-like resolution: the W peak is 5-14 % wide (half the 16-84 % range).
    lo, hi = np.percentile(mass[y == W], [16, 84])
    assert 0.05 < (hi - lo) / 2 / med[W] < 0.14


def test_prongs_drive_d2_and_c1_b0(sample):
    x, y = sample
    d2 = x[:, COL["j_d2_b2_mmdt"]]
    # 2-prong W/Z jets have lower D2 than 1-prong q/g jets.
    assert np.median(d2[y == W]) < 0.7 * np.median(d2[y == Q])
    c1b0 = x[:, COL["j_c1_b0_mmdt"]]  # energy sharing: 3 prongs share more evenly than 1
    assert np.median(c1b0[y == T]) > np.median(c1b0[y == W]) > np.median(c1b0[y == Q])


def test_features_correlated_skewed_heavy_tailed(sample):
    x, _ = sample
    corr = np.corrcoef(x.astype(np.float64), rowvar=False)
    off = np.abs(corr[~np.eye(16, dtype=bool)])
    assert (off > 0.3).sum() >= 10  # many correlated pairs, not independent Gaussians
    assert off.max() < 1.0 - 1e-6  # ... but no column is an exact copy of another
    skew = stats.skew(x, axis=0)
    assert (np.abs(skew) > 1.0).sum() >= 5
    assert stats.kurtosis(x[:, COL["j_d2_b1_mmdt"]]) > 3  # heavier tails than a Gaussian


def test_bad_arguments_are_lab_errors():
    with pytest.raises(LabError, match="n must be"):
        jsc_sim.generate(0)
    with pytest.raises(LabError, match="seed must be"):
        jsc_sim.generate(10, seed=-1)


def test_small_calibration_mlp_beats_tiny_and_top_confusions(tmp_path, one_thread):
    """60k jets, 3 epochs: the MLP beats jsc-tiny; q<->g and w<->z are the two largest confusions."""
    torch.manual_seed(0)
    splits = load_dataset("jsc-sim", n_samples=60_000, data_seed=0, data_dir=tmp_path)
    recipe = Recipe(epochs=3, batch_size=512, lr=1e-3, seed=0)
    acc = {}
    for name in ("jsc-mlp", "jsc-tiny"):
        model = build_model(name)
        train(model, splits, recipe, progress=False)
        acc[name] = evaluate(model, splits.x_test, splits.y_test)["accuracy"]
        if name == "jsc-mlp":
            cm = confusion_matrix(model, splits.x_test, splits.y_test, 5).numpy()
            pred = predict(model, splits.x_test).argmax(dim=1).numpy()
            ref = sk_confusion_matrix(splits.y_test.numpy(), pred, labels=range(5))
            assert np.array_equal(cm, ref)
    assert 0.65 < acc["jsc-mlp"] < 0.80
    assert acc["jsc-mlp"] > acc["jsc-tiny"] + 0.02
    rates = cm / cm.sum(axis=1, keepdims=True)
    pair = {(i, j): rates[i, j] + rates[j, i] for i in range(5) for j in range(i + 1, 5)}
    top2 = sorted(pair, key=pair.get, reverse=True)[:2]
    assert set(top2) == {(G, Q), (W, Z)}
