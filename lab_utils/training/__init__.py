"""Training: the loop, evaluation, metrics and the thread switch (:mod:`.train`), checkpoint files
(:mod:`.checkpoints`), the trained-candidate cache (:mod:`.candidates`), many width candidates
trained at once (:mod:`.batched`), the VGG weight-sharing supernet (:mod:`.supernet`), and
quantization-aware training of many quantization configurations at once (:mod:`.qat`, with the
per-slot quantized layers in :mod:`.qat_slots`)."""
