"""Analysis of models and results: cost metrics (:mod:`.cost`), Pareto fronts (:mod:`.pareto`), every
statistical primitive once (:mod:`.stats`) and computed conclusions with stable keys (:mod:`.claims`)."""
