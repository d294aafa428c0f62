"""The one Pareto front against a naive O(n²) loop and a hand example."""

import numpy as np
import pytest

from lab_utils.analysis.pareto import pareto_mask


def _naive_front(p, maximize):
    q = np.where(np.asarray(maximize), -np.asarray(p, float), np.asarray(p, float))
    out = []
    for i in range(len(q)):
        dominated = any(np.all(q[j] <= q[i]) and np.any(q[j] < q[i]) for j in range(len(q)) if j != i)
        out.append(not dominated)
    return np.array(out)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("maximize", [(True, False), (False, False), (True, True, False)])
def test_pareto_mask_matches_naive(seed, maximize):
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 6, size=(40, len(maximize))).astype(float)  # many ties and duplicates
    assert np.array_equal(pareto_mask(p, maximize), _naive_front(p, maximize))


def test_pareto_mask_hand_example():
    # (accuracy max, bits min): (0.9, 8) and (0.8, 4) trade off; (0.7, 8) is dominated; duplicates stay
    p = [[0.9, 8], [0.8, 4], [0.7, 8], [0.8, 4]]
    assert pareto_mask(p, (True, False)).tolist() == [True, True, False, True]
