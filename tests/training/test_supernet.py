"""Weight-sharing VGG supernet: candidate space, MACs (oracle: torch's FlopCounterMode), slicing
equal to an exported plain network, BatchNorm recalibration (oracle: statistics computed by hand),
training lowering the loss, and determinism: candidate weights, retraining and supernet training
depend on their seeds only, never on (nor change) the global RNG."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from lab_utils.data.cifar10 import augment, load_cifar10
from lab_utils.data.tiny_images import make_tiny_image_set
from lab_utils.errors import LabError
from lab_utils.models import vgg7
from lab_utils.training import supernet as S

pytestmark = pytest.mark.usefixtures("one_thread")


def test_candidate_space_is_the_non_decreasing_tuples():
    brute = [c for c in itertools.product((16, 32, 48, 64), repeat=6) if all(a <= b for a, b in zip(c, c[1:]))]
    assert S.all_candidates([64, 16, 48, 32]) == brute and len(brute) == 84  # C(9, 6)
    assert len(S.all_candidates(S.REPORT_CHOICES)) == 84
    assert S.check_channels([16, 16, 32, 32, 64, 64], (16, 32, 64)) == (16, 16, 32, 32, 64, 64)
    with pytest.raises(LabError, match="non-decreasing"):
        S.check_channels((32, 16, 32, 32, 64, 64), (16, 32, 64))
    with pytest.raises(LabError, match="not one of the choices"):
        S.check_channels((16, 16, 24, 32, 64, 64), (16, 32, 64))
    with pytest.raises(LabError, match="6 convolutions"):
        S.check_channels((16, 32), (16, 32, 64))


@pytest.mark.parametrize("channels,fc", [((16, 16, 32, 32, 64, 64), 256), ((64, 128, 128, 256, 512, 512), 1024)])
def test_macs_match_torch_flop_counter(channels, fc):
    model = vgg7(channels=channels, fc=fc)
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 32, 32))
    assert counter.get_total_flops() == 2 * S.vgg_macs(channels, fc)  # torch counts a MAC as 2 FLOPs


def test_transform_built_candidate_has_vgg7_shapes():
    c = (16, 32, 32, 48, 64, 64)
    m = S.build_candidate(c, fc=32, seed=0)
    ref = vgg7(channels=c, fc=32)
    assert {k: v.shape for k, v in m.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert torch.equal(S.build_candidate(c, fc=32, seed=0).seq_blocks.get_submodule("0").weight,
                       m.seq_blocks.get_submodule("0").weight)  # seeded init repeats


def test_slicing_equals_the_exported_network_and_weight_prefixes():
    torch.manual_seed(0)
    sn = S.VGGSupernet((8, 16), fc=32)
    sn.train()
    x = torch.randn(6, 3, 32, 32)
    for c in S.all_candidates(sn.choices):
        m = S.export(sn, c)
        m.train()  # batch statistics on both sides
        torch.testing.assert_close(m(x), sn(x, c), rtol=1e-5, atol=1e-5)
    c = (8, 8, 16, 16, 16, 16)
    m = S.export(sn, c)
    assert torch.equal(m.state_dict()["seq_blocks.3.weight"], sn.net.seq_blocks[3].weight[:8, :8])
    assert torch.equal(m.state_dict()["seq_blocks.22.weight"], sn.net.seq_blocks[22].weight[:, : 16 * 16])
    # the widest candidate is the supernet itself
    torch.testing.assert_close(sn(x, sn.largest), sn.net(x), rtol=1e-5, atol=1e-5)


def test_bn_recalibration_recomputes_running_statistics():
    torch.manual_seed(1)
    sn = S.VGGSupernet((4, 8), fc=16)
    c = (4, 4, 8, 8, 8, 8)
    x = torch.randn(40, 3, 32, 32)
    m = S.candidate_model(sn, c, x, n_batches=1, batch_size=40)
    conv0 = F.conv2d(x, sn.net.seq_blocks[0].weight[:4], sn.net.seq_blocks[0].bias[:4], padding=1)
    bn = m.seq_blocks.get_submodule("1")
    torch.testing.assert_close(bn.running_mean, conv0.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn.running_var, conv0.var((0, 2, 3), correction=1), rtol=1e-4, atol=1e-5)
    assert not m.training
    # two equal batches: the cumulative average of the two batch means = the overall mean
    m2 = S.candidate_model(sn, c, x, n_batches=2, batch_size=20)
    torch.testing.assert_close(m2.seq_blocks.get_submodule("1").running_mean, conv0.mean((0, 2, 3)),
                               rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = make_tiny_image_set(tmp_path_factory.mktemp("tiny"), "npz", n_per_class=12, n_test_per_class=3)
    return load_cifar10(path=d, val_fraction=0.2, download=False)


def test_training_lowers_the_loss_and_is_seeded(tiny):
    sn = S.VGGSupernet((4, 8), fc=16)
    recipe = S.SupernetRecipe(epochs=4, batch_size=32, lr=0.05, n_random=1, seed=0)
    rows = S.train_supernet(sn, tiny, recipe, augment=augment, progress=False)
    assert len(rows) == 4
    assert rows[-1]["loss_largest"] < rows[0]["loss_largest"]
    assert rows[-1]["loss_smallest"] < rows[0]["loss_smallest"]
    # same seed, same weights
    sn2 = S.VGGSupernet((4, 8), fc=16)
    S.train_supernet(sn2, tiny, recipe, augment=augment, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(sn.state_dict().values(), sn2.state_dict().values()))


def test_retrain_from_scratch_runs(tiny):
    from lab_utils.training.train import Recipe

    model, hist = S.retrain((4, 4, 8, 8, 8, 8), tiny, Recipe(epochs=2, batch_size=32, lr=0.05, optimizer="sgd"),
                            fc=16, augment=augment, progress=False)
    assert len(hist.epochs) == 2 and model(tiny.x_val[:2]).shape == (2, 10)


def test_candidate_weights_do_not_depend_on_the_global_rng():
    c = (16, 16, 32, 48, 48, 64)
    torch.manual_seed(1)
    a = S.build_candidate(c, fc=32, seed=3).state_dict()
    torch.manual_seed(2)
    torch.rand(1000)  # another history of the global RNG
    state = torch.get_rng_state()
    b = S.build_candidate(c, fc=32, seed=3).state_dict()
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is left as it was
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # every layer, untouched ones too
    other = S.build_candidate(c, fc=32, seed=4).state_dict()
    assert not torch.equal(a["seq_blocks.24.weight"], other["seq_blocks.24.weight"])  # the seed matters (2nd Linear)


def test_retrain_is_seeded_and_leaves_the_global_rng_alone(tiny):
    from lab_utils.training.train import Recipe

    recipe = Recipe(epochs=1, batch_size=32, lr=0.05, optimizer="sgd", seed=5)
    torch.manual_seed(1)
    m1, _ = S.retrain((4, 4, 4, 8, 8, 8), tiny, recipe, fc=16, augment=augment, progress=False)
    torch.manual_seed(2)
    state = torch.get_rng_state()
    m2, _ = S.retrain((4, 4, 4, 8, 8, 8), tiny, recipe, fc=16, augment=augment, progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))


def test_supernet_training_leaves_the_global_rng_alone(tiny):
    sn = S.VGGSupernet((4, 8), fc=16)
    torch.manual_seed(7)
    state = torch.get_rng_state()
    S.train_supernet(sn, tiny, S.SupernetRecipe(epochs=1, batch_size=64, seed=0), augment=augment, progress=False)
    assert torch.equal(torch.get_rng_state(), state)


def test_chunked_eval_gives_the_same_logits_in_eval_mode():
    torch.manual_seed(0)
    net = S.build_candidate((4, 4, 4, 8, 8, 8), fc=16).eval()
    x = torch.randn(S.EVAL_CHUNK + 37, 3, 32, 32)
    wrapped = S.ChunkedEval(net).eval()
    torch.testing.assert_close(wrapped(x), net(x), rtol=1e-5, atol=1e-5)
    assert list(wrapped.state_dict()) == [f"net.{k}" for k in net.state_dict()]  # same tensors, prefixed


def test_a_lone_last_image_joins_the_batch_before_it(tiny, monkeypatch):
    """Every training loop slices with ``train.minibatches`` (issue 13): with n % batch_size == 1 the
    supernet never trains on a one-image minibatch (before: a last step on 1 image, one more scheduler step)."""
    n = tiny.x_train.shape[0]
    sizes = []
    real_forward = S.VGGSupernet.forward

    def forward(self, x, channels=None):
        sizes.append(x.shape[0])
        return real_forward(self, x, channels)

    monkeypatch.setattr(S.VGGSupernet, "forward", forward)
    bs = n - 1  # n % bs == 1
    S.train_supernet(S.VGGSupernet((4, 8), fc=16), tiny, S.SupernetRecipe(epochs=1, batch_size=bs, n_random=0),
                     progress=False)
    assert set(sizes) == {n}  # one minibatch of every image (largest and smallest candidate)
