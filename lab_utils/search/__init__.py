"""Optuna search over quantization and width configurations, configured by MASE's TOML schema.

- :mod:`.config`: the TOML parsed into frozen dataclasses (unknown keys are errors).
- :mod:`.space`: the search-space protocol, the registry, :class:`~.space.SpaceContext` and
  :func:`~.space.build_context`; :mod:`.spaces`: one module per registered space
  (``graph/quantize/mixed_precision_ptq``, ``graph/architecture/channel_multiplier``,
  ``graph/architecture/vgg_channels``).
- :mod:`.samplers`: Optuna samplers by name and brute force's seeded order (shared by the engine
  and the replay). :mod:`.strategy`: the objective (MASE's scaled metrics), the study's waiting
  queue and the worker loop. :mod:`.storage`: storages, trial
  hand-out, killed-worker recovery; :mod:`.journal`: a journal file checked (and repaired) before
  anything is appended; :mod:`.faults`: the test-only kill hook. :mod:`.replay`: sampler sample-efficiency by replaying a table;
  :mod:`.tables`: the tables replayed (every configuration of a space evaluated once).
- :mod:`.outputs`: ``trials.csv``, ``best.json``, ``config.toml`` and the best-trials table.
- :mod:`.run` / :mod:`.cli`: ``python -m lab_utils search --config FILE ...``; ``run.run_search``
  returns a ``SearchResult`` (status, space, study, splits).
"""

from lab_utils.search import spaces  # noqa: F401 (registers every space before a config is parsed)
