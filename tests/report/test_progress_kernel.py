"""Progress bars in a real Jupyter kernel: no "IProgress not found" TqdmWarning and nothing on stderr
(which JupyterLab and the HTML show as a pink block), the bar on stdout."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from lab_utils.progress import in_kernel
from tests.helpers import ROOT


def test_pytest_is_not_a_kernel():
    assert not in_kernel()


@pytest.mark.slow
def test_no_widget_warning_in_a_kernel(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)  # bars on, as in JupyterLab
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import warnings; warnings.simplefilter('always')\n"
                                          "import optuna  # imports tqdm.auto\n"
                                          "from lab_utils.progress import progress_bar, in_kernel\n"
                                          "print(in_kernel(), sum(progress_bar(range(3), desc='counting', mininterval=0)))")]
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = nb.cells[0].outputs
    text = " ".join(o.get("text", "") for o in outputs)
    assert "IProgress" not in text and "TqdmWarning" not in text, text
    assert not [o for o in outputs if o.get("name") == "stderr"], outputs
    assert "True 3" in text and "counting: 100%" in text  # the bar went to stdout, and the loop ran
