"""The report: output paths (:mod:`.paths`), the notebook API (:mod:`.notebook`), every figure
(:mod:`.plots`) and the papermill/HTML harness (:mod:`.harness`)."""
