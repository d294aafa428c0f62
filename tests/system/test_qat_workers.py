"""Batched QAT in two spawned worker processes gives, bit for bit, what one process gives (each slot's
result does not depend on its group, and the workers run on one torch thread as the parent does)."""

import torch

from lab_utils.passes.quantize import lab_config
from lab_utils.training.qat import QATRecipe, plan_groups, qat_runs
from tests.helpers import trained_on_blobs


def test_two_worker_processes_equal_one(blobs):
    model = trained_on_blobs("jsc-toy", blobs).train()
    configs = [{"by": "type", "linear": {"config": lab_config((8, 4), (w, w // 2), (8, 4))}} for w in (2, 4, 6, 8, 16)]
    assert len(plan_groups(len(configs), 2)) == 2  # the two processes really split the work
    recipe = QATRecipe(max_epochs=1, batch_size=256, learning_rate=5e-3)
    seeds = [0, 1, 0, 2, 1]
    one = qat_runs(model, configs, blobs, recipe, seeds=seeds, workers=1, progress=False)
    two = qat_runs(model, configs, blobs, recipe, seeds=seeds, workers=2, progress=False)
    for a, b in zip(one, two):
        assert a["val"] == b["val"] and a["train_loss"] == b["train_loss"] and a["config"] == b["config"]
        assert a["state_dict"].keys() == b["state_dict"].keys()
        assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
