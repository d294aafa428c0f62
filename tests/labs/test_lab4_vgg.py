"""lab4_5's Pareto front (the shared pareto_mask, as the notebook calls it) and spread, against a naive loop."""

import numpy as np
import pandas as pd

from lab_utils.analysis.pareto import pareto_mask
from lab_utils.labs.lab4_vgg import spread, unique_candidates


def test_pareto_mask_and_spread_against_a_naive_loop():
    rng = np.random.default_rng(0)
    acc = rng.integers(0, 6, 40) / 10  # ties on purpose
    macs = rng.integers(1, 8, 40) * 1000
    naive = [not any(acc[j] >= acc[i] and macs[j] <= macs[i] and (acc[j] > acc[i] or macs[j] < macs[i])
                     for j in range(40)) for i in range(40)]
    frame = pd.DataFrame({"accuracy": acc, "macs": macs})
    assert pareto_mask(frame[["accuracy", "macs"]].to_numpy(float), maximize=(True, False)).tolist() == naive
    front = pd.DataFrame({"macs": [5, 1, 3, 9, 7], "accuracy": [0.5, 0.1, 0.3, 0.9, 0.7]})
    assert spread(front, 3)["macs"].tolist() == [1, 5, 9]
    assert spread(front, 9)["macs"].tolist() == [1, 3, 5, 7, 9]


def test_unique_candidates_one_row_per_architecture():
    df = pd.DataFrame({"channels": [(4, 8), (4, 4), (4, 8)], "macs": [20, 10, 20], "accuracy": [0.3, 0.2, 0.3]})
    u = unique_candidates(df)
    assert u["channels"].tolist() == [(4, 4), (4, 8)] and u.index.tolist() == [0, 1]
