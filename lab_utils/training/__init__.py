"""Training: the loop and evaluation (:mod:`.train`), the trained-candidate cache (:mod:`.candidates`),
many width candidates trained at once (:mod:`.batched`) and the VGG weight-sharing supernet (:mod:`.supernet`)."""
