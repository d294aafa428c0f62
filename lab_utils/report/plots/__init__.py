"""Every figure of the report, one module per lab helper module of :mod:`lab_utils.labs` (same name):
:mod:`.lab0`, :mod:`.lab3` (lab3_1 to lab3_3), :mod:`.lab3_4`, :mod:`.lab3_5`, :mod:`.lab3_6`, :mod:`.lab4`
(lab4_2, lab4_3), :mod:`.lab4_4`, :mod:`.lab4_5`, and :mod:`.common` for figures several labs draw.

Each public function takes tables or arrays the notebook already has and returns a matplotlib Figure;
none computes a result a notebook reports: intervals come from :mod:`lab_utils.analysis.stats` (so a
figure's bar is the interval of the claim beside it) and fronts from
:func:`lab_utils.analysis.pareto.pareto_mask`. Saving is :func:`lab_utils.report.notebook.save_figure`.

``matplotlib.pyplot`` is imported at the top and the backend is left to matplotlib: a headless run
(the report harness, the tests) gets Agg by default, and inside Jupyter ipykernel selects the inline
backend before these modules are imported. A notebook imports the package and names the lab:
``from lab_utils.report import plots`` then ``plots.lab3.metric_panels(table)``.
"""

from lab_utils.report.plots import common, lab0, lab3, lab3_4, lab3_5, lab3_6, lab4, lab4_4, lab4_5

__all__ = ["common", "lab0", "lab3", "lab3_4", "lab3_5", "lab3_6", "lab4", "lab4_4", "lab4_5"]
