"""The lab models, built by name from one registry.

Every model is a module whose only child is ``seq_blocks`` (an ``nn.Sequential``), so torch.fx
names its layers ``seq_blocks_<i>`` exactly as in MASE and the lab configs carry over unchanged.

Faithful to MASE by default: every JSC model ends with a ReLU on the logits and
``nn.ReLU(k)`` in MASE means ``inplace=True`` (we use non-inplace ReLUs, which compute the same
values and trace more cleanly). ``logit_relu=False`` drops the final ReLU: cross-entropy then sees
signed logits, which trains better; lab0 shows the difference.

Width arguments (``hidden`` for the three-linear-layer model, ``channels``/``fc`` for VGG) let a
checkpoint of a width-transformed candidate be rebuilt by name; the default values are the labs'.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lab_utils.errors import LabError

VGG7_CHANNELS = (128, 128, 256, 256, 512, 512)
# Sequential indices of VGG7's convolutions (each followed by BatchNorm2d at +1, ReLU at +2).
VGG7_CONV_INDICES = (0, 3, 7, 10, 14, 17)
VGG7_FIRST_LINEAR = 22


class SeqModel(nn.Module):
    """A model that is one ``nn.Sequential`` called ``seq_blocks`` (MASE's layout)."""

    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.seq_blocks = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq_blocks(x)


def _tail(logit_relu: bool) -> list[nn.Module]:
    return [nn.ReLU()] if logit_relu else [nn.Identity()]


def jsc_tiny(logit_relu: bool = True) -> SeqModel:
    """BN(16) → ReLU → Linear(16, 5) → ReLU: 117 parameters."""
    return SeqModel(nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 5), *_tail(logit_relu))


def jsc_toy(logit_relu: bool = True) -> SeqModel:
    """16 → 8 → 8 → 5 with BatchNorm after every Linear: 327 parameters."""
    return SeqModel(
        nn.BatchNorm1d(16), nn.ReLU(),
        nn.Linear(16, 8), nn.BatchNorm1d(8), nn.ReLU(),
        nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(),
        nn.Linear(8, 5), nn.BatchNorm1d(5), *_tail(logit_relu),
    )


def jsc_three_linear_layers(logit_relu: bool = True, hidden: tuple[int, int] = (16, 16)) -> SeqModel:
    """Lab 4's model, version B (ReLUs between the Linears): 661 parameters at hidden (16, 16).

    Linears are ``seq_blocks_2``, ``seq_blocks_4`` and ``seq_blocks_6``.
    """
    h1, h2 = (int(h) for h in hidden)
    return SeqModel(
        nn.BatchNorm1d(16), nn.ReLU(),
        nn.Linear(16, h1), nn.ReLU(),
        nn.Linear(h1, h2), nn.ReLU(),
        nn.Linear(h2, 5), *_tail(logit_relu),
    )


def jsc_mlp(logit_relu: bool = False, hidden: tuple[int, ...] = (64, 32, 32)) -> SeqModel:
    """The 16-64-32-32-5 MLP used to calibrate jsc-sim (hls4ml's three-layer model)."""
    layers: list[nn.Module] = [nn.BatchNorm1d(16)]
    width = 16
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    layers += [nn.Linear(width, 5), *_tail(logit_relu)]
    return SeqModel(*layers)


def vgg7(
    logit_relu: bool = False,
    channels: tuple[int, ...] = VGG7_CHANNELS,
    fc: int = 1024,
    num_classes: int = 10,
    bn_momentum: float = 0.9,
) -> SeqModel:
    """MASE's VGG7 for CIFAR-10 as one Sequential (first Linear at ``seq_blocks_22``).

    ``channels`` are the six conv output widths; the first Linear takes ``channels[-1] * 4 * 4``.
    ``bn_momentum=0.9`` is MASE's (PyTorch semantics). About 14.03 M parameters at the defaults.
    VGG7 has no logit ReLU in MASE, so ``logit_relu`` defaults to False here.
    """
    if len(channels) != 6:
        raise LabError(f"vgg7 channels: expected 6 conv widths, got {len(channels)}")
    c = [int(v) for v in channels]
    layers: list[nn.Module] = []
    cin = 3
    for i, cout in enumerate(c):
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout, momentum=bn_momentum), nn.ReLU()]
        if i % 2 == 1:
            layers.append(nn.MaxPool2d(2))
        cin = cout
    layers += [
        nn.Flatten(),
        nn.Linear(c[-1] * 16, fc), nn.ReLU(),
        nn.Linear(fc, fc), nn.ReLU(),
        nn.Linear(fc, num_classes), *(_tail(True) if logit_relu else []),
    ]
    return SeqModel(*layers)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "jsc-tiny": jsc_tiny,
    "jsc-toy": jsc_toy,
    "jsc-three-linear-layers": jsc_three_linear_layers,
    "jsc-mlp": jsc_mlp,
    "vgg7": vgg7,
}

# The data set family each model expects (its input shape).
MODEL_INPUT = {
    "jsc-tiny": (16,), "jsc-toy": (16,), "jsc-three-linear-layers": (16,), "jsc-mlp": (16,),
    "vgg7": (3, 32, 32),
}


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model by name; unknown names or arguments are a :class:`LabError`."""
    if name not in MODELS:
        raise LabError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    try:
        return MODELS[name](**kwargs)
    except TypeError as exc:
        raise LabError(f"model {name!r}: bad arguments {sorted(kwargs)} ({exc})") from None


def count_params(model: nn.Module) -> int:
    """Trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def input_shape(name: str) -> tuple[int, ...]:
    """Per-sample input shape of registry model ``name`` (e.g. ``(16,)``, ``(3, 32, 32)``)."""
    if name not in MODEL_INPUT:
        raise LabError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return MODEL_INPUT[name]
