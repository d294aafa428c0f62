"""Training: the loop, evaluation, metrics and the thread switch (:mod:`.train`), checkpoint files
(:mod:`.checkpoints`), the trained-candidate cache (:mod:`.candidates`), many width candidates
trained at once (:mod:`.batched`) and the VGG weight-sharing supernet (:mod:`.supernet`)."""
