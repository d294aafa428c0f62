"""The registered search spaces, one module each; importing this package registers all three."""

from lab_utils.search.spaces import channel_multiplier, ptq, vgg_channels  # noqa: F401 (registers the spaces)
