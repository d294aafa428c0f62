"""search.tables against the search engine's own ``evaluate``: the per-layer table equals the table of one
``evaluate`` per configuration, and one configuration equals the quantize pass evaluated directly; a space the
per-layer walk cannot take is a one-line error."""

from types import SimpleNamespace

import numpy as np
import pytest

from lab_utils.errors import LabError
from lab_utils.models import build_model
from lab_utils.passes.graph import trace
from lab_utils.passes.quantize import quantize_model
from lab_utils.search import tables
from lab_utils.search.config import parse_config
from lab_utils.search.space import build_context
from lab_utils.training.train import evaluate
from tests.helpers import BlobSplits, Residual, trained_on_blobs


def _by_name_space(model, blobs, nodes):
    """A by-name mixed_precision_ptq space: per node, weight width (2, 8) x weight frac (1, 4), the rest fixed."""
    seed = {"default": {"config": {"name": ["NA"]}}}
    for node in nodes:
        seed[node] = {"config": {"name": ["integer"], "data_in_width": [4], "data_in_frac_width": ["NA"],
                                 "weight_width": [2, 8], "weight_frac_width": [1, 4], "bias_width": [8],
                                 "bias_frac_width": [4]}}
    cfg = parse_config({"model": "jsc-three-linear-layers", "dataset": "jsc-sim",
                        "search": {"search_space": {"name": "graph/quantize/mixed_precision_ptq",
                                                    "setup": {"by": "name"}, "seed": seed},
                                   "strategy": {"setup": {"sampler": "brute-force", "n_trials": 100},
                                                "metrics": {"accuracy": {"scale": 1.0, "direction": "maximize"}}}}})
    return build_context(cfg, model=model, splits=BlobSplits(blobs), metrics=("accuracy",))[0]


def test_layerwise_table_equals_space_evaluate(blobs):
    model = trained_on_blobs("jsc-three-linear-layers", blobs)
    space = _by_name_space(model, blobs, ("seq_blocks_2", "seq_blocks_6"))
    slow, frame = tables.space_table(space)
    fast = tables.layerwise_table(space)
    assert slow.n == 16 and list(fast.choices) == list(slow.choices) and len(frame) == 16
    assert np.array_equal(slow.values, fast.values)
    assert slow.values.max() - slow.values.min() > 1.0  # 2-bit weights must cost accuracy: a real test
    # spot-check one configuration against a hand-built pass config evaluated directly
    j = int(np.argmin(slow.values))
    cfg = {**{k: v[0] for k, v in space.choices().items()}, **slow.config(j)}
    q = quantize_model(model, space.pass_args(cfg))
    assert 100 * evaluate(q, *blobs.split("val"))["accuracy"] == pytest.approx(slow.values[j])


def test_layerwise_table_refuses_what_it_cannot_walk():
    with pytest.raises(LabError, match="^layerwise_table: needs a by-name"):
        tables.layerwise_table(SimpleNamespace(by="type"))
    with pytest.raises(LabError, match="^layerwise_table: the model must be a chain of modules"):
        tables.layerwise_table(SimpleNamespace(by="name", graph=trace(Residual())))
    stray = SimpleNamespace(by="name", graph=trace(build_model("jsc-tiny")),
                            variable=lambda: {"seq_blocks_2/weight_width": [2, 4], "elsewhere/weight_width": [2]})
    with pytest.raises(LabError, match="^layerwise_table: every searched parameter must belong to one node"):
        tables.layerwise_table(stray)
