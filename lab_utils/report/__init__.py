"""The report: output paths (:mod:`.paths`), the notebook API (:mod:`.notebook`: setup, tables, figures,
claims and ``summary.json``), every figure (:mod:`.plots`, one module per lab), the checks before a run
(:mod:`.preflight`), what the run was made with (:mod:`.provenance`), the papermill harness
(:mod:`.harness`), the HTML report (:mod:`.index`) and the README's results section (:mod:`.readme`)."""
