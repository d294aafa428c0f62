"""Training: the loop, evaluation, metrics and the thread switch (:mod:`.train`), checkpoint files
(:mod:`.checkpoints`), the trained-candidate cache (:mod:`.candidates`), many width candidates
trained at once (:mod:`.batched`), the VGG weight-sharing supernet (:mod:`.supernet`),
quantization-aware training of many quantization configurations at once (:mod:`.qat`, with the
per-slot quantized layers in :mod:`.qat_slots`), and the process plumbing both slot trainers share
(:mod:`.slots`: groups, spawned workers, the numpy hand-off)."""
