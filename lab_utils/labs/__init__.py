"""What the notebooks call, one module per lab under the lab's name (the notebook's task key, the figure
module in :mod:`lab_utils.report.plots` and the test module share it): ``lab0``; ``lab3`` and
``lab3_claims`` (lab3_1 to lab3_3); ``lab3_4``; ``lab3_5`` and ``lab3_5_claims``; ``lab3_6`` and
``lab3_6_claims``; ``lab4`` and ``lab4_claims`` (lab4_1 to lab4_3); ``lab4_4``; ``lab4_5``. Beside them,
``baselines`` (the data and the trained baselines every notebook starts from) and ``presets`` (the
quick-mode parameters). Nothing in the package imports ``labs``; a lab module may import the modules
of its own lab and ``baselines``."""
