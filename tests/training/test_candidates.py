"""The trained-candidate cache: one file per key, a hit loads it, anything in the key is a miss.

Checked against the files on disk (names, count, bytes). Torn and foreign files are
``tests/system/test_faults.py``'s.
"""

from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from lab_utils.training import candidates
from lab_utils.training.checkpoints import load_checkpoint_file
from lab_utils.training.train import Recipe, train

MODEL = "jsc-three-linear-layers"
RECIPE = Recipe(epochs=2, batch_size=256, lr=3e-3, seed=1)


@pytest.fixture
def data(blobs):
    return SimpleNamespace(**vars(blobs), describe=lambda: {"dataset": "blobs", "sizes": [4000, 1000, 1000]})


def _files(folder):
    return sorted(p.name for p in folder.glob("*.ckpt"))


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_miss_trains_and_writes_one_file_named_by_the_key(data, tmp_path):
    model, info = candidates.trained_candidate(MODEL, {"hidden": (16, 32)}, data, RECIPE, cache_dir=tmp_path)
    key, desc = candidates.candidate_key(MODEL, {"hidden": (16, 32)}, data, RECIPE)
    assert not info["cached"] and info["key"] == key and len(key) == 12
    assert _files(tmp_path) == [f"{MODEL}-{key}.ckpt"]
    assert info["path"] == str(candidates.candidate_path(tmp_path, MODEL, key)) == str(tmp_path / f"{MODEL}-{key}.ckpt")
    assert not model.training
    obj = load_checkpoint_file(info["path"])
    assert obj["candidate"] == desc and obj["model"] == MODEL and obj["model_args"] == {"hidden": [16, 32]}
    assert obj["dataset"] == data.describe() and obj["recipe"] == RECIPE.as_dict()
    assert obj["metrics"]["val"] == info["val"] and obj["metrics"]["history"] == info["history"]
    best = info["history"]["epochs"][info["history"]["best_epoch"] - 1]
    assert info["val"] == {"loss": best["val_loss"], "accuracy": best["val_accuracy"],
                           "macro_accuracy": best["val_macro_accuracy"]}
    assert all(torch.equal(v, obj["state_dict"][k]) for k, v in model.state_dict().items())


def test_hit_loads_the_file_and_writes_nothing(data, tmp_path):
    first, info = candidates.trained_candidate(MODEL, {"hidden": (16, 32)}, data, RECIPE, cache_dir=tmp_path)
    path = tmp_path / f"{MODEL}-{info['key']}.ckpt"
    blob, stamp = path.read_bytes(), path.stat().st_mtime_ns
    torch.manual_seed(999)  # the global RNG plays no part in which file is read or what it holds
    again, info2 = candidates.trained_candidate(MODEL, {"hidden": (16, 32)}, data, RECIPE, cache_dir=tmp_path)
    assert info2["cached"] and info2["key"] == info["key"] and info2["path"] == str(path)
    assert info2["val"] == info["val"] and info2["history"] == info["history"]
    assert _same(first, again) and not again.training
    assert _files(tmp_path) == [path.name]
    assert path.read_bytes() == blob and path.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("change", ["seed", "epochs", "model_args", "data"])
def test_anything_in_the_key_is_a_miss(data, tmp_path, change):
    args, recipe, splits = {"hidden": (16, 32)}, RECIPE, data
    _, info = candidates.trained_candidate(MODEL, args, splits, recipe, cache_dir=tmp_path)
    if change == "seed":
        recipe = replace(recipe, seed=2)
    elif change == "epochs":
        recipe = replace(recipe, epochs=1)
    elif change == "model_args":
        args = {"hidden": (16, 32), "logit_relu": False}
    else:
        splits = SimpleNamespace(**vars(data))
        splits.describe = lambda: {"dataset": "blobs", "sizes": [4000, 1000, 1001]}
    _, info2 = candidates.trained_candidate(MODEL, args, splits, recipe, cache_dir=tmp_path)
    assert not info2["cached"] and info2["key"] != info["key"]
    assert _files(tmp_path) == sorted([f"{MODEL}-{info['key']}.ckpt", f"{MODEL}-{info2['key']}.ckpt"])


def test_the_key_determines_the_weights_and_no_cache_writes_nothing(data, tmp_path):
    torch.manual_seed(0)
    a, info = candidates.trained_candidate(MODEL, {"hidden": (16, 16)}, data, RECIPE)
    torch.manual_seed(1)
    b, _ = candidates.trained_candidate(MODEL, {"hidden": (16, 16)}, data, RECIPE)
    assert info["path"] is None and not info["cached"] and _same(a, b)
    assert list(tmp_path.iterdir()) == []
    c, info_c = candidates.trained_candidate(MODEL, {"hidden": (16, 16)}, data, RECIPE, cache_dir=tmp_path)
    assert not info_c["cached"] and _same(a, c) and info_c["val"] == info["val"]


def test_extra_desc_joins_the_key_and_train_fn_trains_instead(data, tmp_path):
    calls = []

    def train_fn(model):
        calls.append(model)
        return train(model, data, replace(RECIPE, epochs=1), progress=False)

    _, plain = candidates.trained_candidate(MODEL, {"hidden": (16, 16)}, data, RECIPE, cache_dir=tmp_path)
    model, info = candidates.trained_candidate(MODEL, {"hidden": (16, 16)}, data, RECIPE, cache_dir=tmp_path,
                                               extra_desc={"trainer": "one epoch"}, train_fn=train_fn)
    assert not info["cached"] and info["key"] != plain["key"] and calls == [model]
    assert len(info["history"]["epochs"]) == 1 and len(plain["history"]["epochs"]) == RECIPE.epochs
    assert load_checkpoint_file(info["path"])["candidate"]["trainer"] == "one epoch"
    again, info2 = candidates.trained_candidate(MODEL, {"hidden": (16, 16)}, data, RECIPE, cache_dir=tmp_path,
                                                extra_desc={"trainer": "one epoch"}, train_fn=train_fn)
    assert info2["cached"] and info2["key"] == info["key"] and len(calls) == 1 and _same(model, again)
