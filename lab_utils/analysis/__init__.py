"""Analysis of models and results: cost metrics (:mod:`.cost`) and Pareto fronts (:mod:`.pareto`)."""
