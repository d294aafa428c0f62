"""Optuna search over quantization and width configurations, configured by MASE's TOML schema.

- :mod:`.config`: the TOML parsed into frozen dataclasses (unknown keys are errors).
- :mod:`.spaces`: the search-space protocol and registry (``graph/quantize/mixed_precision_ptq``,
  ``graph/architecture/channel_multiplier``, ...): adding a space is one class and one line.
- :mod:`.strategy`: samplers by name, the objective (MASE's scaled metrics), the study's waiting
  queue and the worker loop. :mod:`.storage`: storages, trial hand-out, killed-worker recovery.
- :mod:`.outputs`: ``trials.csv``, ``best.json``, ``config.toml`` and the best-trials table.
- :mod:`.run` / :mod:`.cli`: ``python -m lab_utils search --config FILE ...``.
"""

from .config import SearchConfig, load_config, parse_config  # noqa: F401
from .spaces import SPACES, SearchSpace, SpaceContext, register  # noqa: F401
