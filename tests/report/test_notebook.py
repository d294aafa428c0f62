"""The notebook API and the output paths: everything under LAB_OUTPUT_DIR, summaries read back."""

import json

import matplotlib.pyplot as plt
import pandas as pd

from lab_utils.report import notebook, paths


class _Data:
    label = "toy (SYNTHETIC)"
    synthetic = True

    def describe(self):
        return {"dataset": "toy", "synthetic": True}


def test_paths_follow_lab_output_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path))
    assert paths.output_root() == tmp_path.resolve()
    assert paths.results_dir("lab3_1") == tmp_path.resolve() / "results" / "lab3_1"
    assert paths.candidate_cache() == tmp_path.resolve() / "results" / "lab4_candidates"
    assert paths.model_cache() == tmp_path.resolve() / "results" / "lab0" / "models"
    assert paths.read_summary("lab4_3") == {}
    monkeypatch.delenv("LAB_OUTPUT_DIR")
    assert paths.output_root() == paths.ROOT


def test_setup_save_and_write_summary(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    ctx = notebook.setup("labX", quick=True, seed=3)
    assert ctx.results_dir == paths.results_dir("labX") and ctx.results_dir.is_dir()
    fig, _ = plt.subplots()
    notebook.save_figure(ctx, fig, "f", dataset=_Data())
    notebook.save_table(ctx, pd.DataFrame({"x": [1]}), "t", dataset=_Data())
    out = notebook.write_summary(ctx, question="q?", dataset=_Data(), numbers={"n": 1})
    assert paths.read_summary("labX") == json.loads(json.dumps(out))
    assert out["figures"] == ["labX_f.png"] and out["tables"] == ["t.csv"] and out["synthetic"] and out["quick"]
    assert (paths.figures_dir() / "labX_f.png").stat().st_size > 1000
    meta = json.loads((ctx.results_dir / "t.meta.json").read_text())
    assert meta == {"table": "t", "dataset": "toy", "synthetic": True}
