"""lab_utils: quantization search and network-architecture search on small PyTorch models.

A re-implementation of MASE's Lab 3 and Lab 4 (Imperial College) on plain PyTorch, torch.fx and
Optuna. Modules, one concern each: ``data`` / ``jsc_sim`` / ``cifar10`` (data sets), ``models``,
``train`` (training, evaluation, checkpoints), ``graph`` / ``quantize`` / ``architecture`` (fx
passes), ``cost`` (params, MACs, FLOPs, bit-ops, size, latency), ``search`` (Optuna search),
``report`` (the notebook harness), ``cli`` (``python -m lab_utils``).
"""

__version__ = "0.1.0"
