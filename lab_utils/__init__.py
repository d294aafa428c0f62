"""lab_utils: quantization search and network-architecture search on small PyTorch models.

A re-implementation of MASE's Lab 3 and Lab 4 (Imperial College) on plain PyTorch, torch.fx and
Optuna. The package is layered so that its folders follow the data flow (data -> model -> passes ->
training -> analysis -> search -> report), bottom to top:

- ground: ``errors`` (``LabError``, ``require_file``, ``run_command``: the one exit-status policy,
  ``Parser``), ``atomic`` (temporary file + rename), ``progress`` (tqdm that obeys ``TQDM_DISABLE``),
  ``locking`` (``flock``: a command's folder, a cache entry), ``cache`` (content keys and the
  content-addressed cache of data, trained candidates and quantization-aware trials);
- ``data/``: ``splits`` (``Splits``, the npz cache), ``jsc`` (columns, preprocessing, real readers),
  ``jsc_sim`` (the simulator), ``cifar10`` (readers, download, augmentation), ``tiny_images``
  (generated image sets for tests); ``load_dataset`` dispatches by name;
- ``models``: the lab models by name;
- ``passes/``: ``graph`` (torch.fx tracing, the chain-of-modules test), ``quantize`` (fixed-point layers
  and the quantize pass), ``widths`` (width transforms);
- ``training/``: ``train`` (loop, evaluation, metrics, thread count, BatchNorm recalibration),
  ``checkpoints``, ``candidates`` (trained-model cache), ``batched`` (many small candidates as one model), ``qat`` and ``qat_slots``
  (quantization-aware training of many configurations as one model), ``slots`` (their groups, worker
  processes and the package's one process pool), ``supernet`` (VGG7);
- ``analysis/``: ``cost`` (params, MACs, FLOPs, bit-ops, size, latency), ``pareto``, ``stats`` (every
  statistical primitive once: intervals, the paired binary test, Holm, permutation tests, rank
  correlations, the interval verdict, ``ALPHA``), ``claims`` (computed conclusions with stable keys);
- ``search/``: ``config`` (the TOML), ``space`` (protocol, registry, context), ``spaces/`` (one module
  per registered space), ``samplers``, ``strategy``, ``storage``, ``journal`` (journal-file check and
  repair), ``outputs``, ``replay``, ``tables`` (the tables replayed: every configuration evaluated
  once), ``faults`` (test-only kill hook), ``run``, ``cli``;
- ``report/``: ``paths``, ``notebook`` (the notebook API), ``plots/`` (every figure, one module per lab),
  ``preflight`` (output folders and data checked before anything runs), ``provenance``, ``harness``
  (papermill and the run), ``index`` (the HTML report), ``readme`` (the README's results section);
- ``labs/``: what the notebooks call, one module per lab under the lab's name (``lab3_4``: notebook
  ``lab3_4_*``, figures ``report/plots/lab3_4``, tests ``tests/labs/test_lab3_4``), ``baselines`` (the
  data and baselines every notebook starts from) and ``presets`` (the quick-mode parameters);
- ``cli`` / ``__main__``: ``python -m lab_utils train|eval|search|report``.

The import rule: a module imports only from its own layer or the layers below it (a package may
import its own children), with no import cycle; nothing in the package imports ``labs/`` (only the
notebooks and the tests do); imports sit at the top of the module, except a heavy optional
dependency or a spawn entry point, each with a comment saying why. ``tests/test_layers.py`` checks
all of this on the source.
"""

__version__ = "0.1.0"
