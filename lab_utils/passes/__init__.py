"""Graph passes with MASE's shape ``pass(graph, pass_args) -> (graph, info)``: the torch.fx graph
(:mod:`.graph`), fixed-point quantization (:mod:`.quantize`) and width transforms (:mod:`.widths`)."""
