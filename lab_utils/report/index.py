"""``reports/index.html``: the report a grader reads top to bottom, built from the ``summary.json`` files.

One self-contained HTML file (figures embedded as base64 PNG): a header with the run's provenance
(:mod:`lab_utils.report.provenance`) and a table of contents, then one ``<section>`` per notebook,
titled by lab and question, with its computed conclusions (each claim's verdict badge, statement and
evidence), the lab report's statements set against this run, the key numbers, the figures with their
captions, the data set, the run time and peak memory, the parameters, and a link to the executed
notebook. A notebook that failed gets a section with its error; one whose ``summary.json`` cannot be
read (torn by a kill, or a foreign file) gets a section saying so ("summary unreadable ...: rerun it"),
and the other notebooks are shown as usual. Plain string building with ``html.escape`` (no template
engine: the page has one fixed layout).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path

from lab_utils import atomic
from lab_utils.analysis import claims as C
from lab_utils.errors import LabError
from lab_utils.report import provenance as prov_mod
from lab_utils.report.paths import figures_dir, read_summary, reports_dir, results_dir

# Colours that mean what they say: green supported, amber refuted (a finding of the run, not an error of
# the project), grey not shown / not applicable, outlined blue for a passed implementation check, red only
# for a failed check (an error of the project).
BADGE = {"holds": "ok", "refuted": "ref", "not shown": "unk", "not applicable": "na",
         "check passed": "chk", "check failed": "bad",
         "agrees": "ok", "disagrees": "ref", "partly": "unk", "not comparable": "na"}
STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;line-height:1.45;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:0;padding-top:.8em}h3{font-size:1.05em;margin:1.2em 0 .4em}
section{border-top:3px solid #ccd;margin-top:2.2em}table{border-collapse:collapse;font-size:90%;margin:.4em 0}
td,th{border:1px solid #ddd;padding:3px 7px;vertical-align:top;text-align:left}th{background:#f3f3f7}
.syn{color:#b22222;font-weight:bold}img{max-width:100%;border:1px solid #eee}figure{margin:1em 0}
figcaption{font-size:92%;color:#444;margin-top:.3em}nav{background:#f7f7fb;border:1px solid #dde;padding:.6em 1.2em}
nav ol{margin:.3em 0}.badge{display:inline-block;min-width:7.5em;text-align:center;border-radius:3px;
padding:0 .4em;font-size:85%;font-weight:bold;color:#fff}.ok{background:#2e7d32}.bad{background:#c62828}
.unk{background:#757575}.ref{background:#b45309}.na{background:#fff;color:#555;border:1px solid #999}
.chk{background:#fff;color:#1565c0;border:1px solid #1565c0}.fail{color:#c62828;font-weight:bold}.quick{background:#fff3cd;border:1px solid #e0c36a;
padding:.5em}ul.claims{list-style:none;padding-left:0}ul.claims li{margin:.35em 0}.ev{color:#555;font-size:92%}
pre{white-space:pre-wrap;background:#fbeaea;padding:.5em}"""


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def lab_title(task: str) -> str:
    """``lab3_1`` → ``Lab 3.1``; ``lab0`` → ``Lab 0``."""
    m = re.fullmatch(r"lab(\d+)(?:_(\d+))?", task)
    return f"Lab {m.group(1)}{'.' + m.group(2) if m.group(2) else ''}" if m else task


def fmt_number(v) -> str:
    """Numbers rounded to what a reader needs: 4 significant digits, integers as they are, NaN as "n/a"."""
    if isinstance(v, bool) or v is None:
        return "n/a" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt_number(x) for x in v) + "]"
    return str(v)


UNREADABLE = "summary unreadable (torn or foreign file): rerun it"


def summary_of(run: dict) -> tuple[dict, str]:
    """``(summary, problem)`` of one run: ``({}, "")`` for a failed run; ``({}, why)`` if the summary
    cannot be read, so one torn file costs its own section only."""
    if run["status"] != "ok":
        return {}, ""
    try:
        return read_summary(run["task"]), ""
    except LabError as exc:
        return {}, str(exc)


def dataset_sizes(task: str) -> dict:
    """``{label: {"train": n, "val": n, "test": n}}`` from the ``.meta.json`` files beside a notebook's tables."""
    out = {}
    for meta in sorted(results_dir(task).glob("*.meta.json")):
        try:
            d = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(d.get("sizes"), dict) and d.get("label"):
            out.setdefault(d["label"], d["sizes"])
    return out


def _provenance(prov: dict, runs: list) -> list[str]:
    m, v = prov.get("machine", {}), prov.get("versions", {})
    commit = prov.get("commit") or "unknown"
    rows = [("Commit", f"{commit}{' (work tree had uncommitted changes)' if prov.get('dirty') else ''}"),
            ("Date", prov.get("date", "?")), ("Mode", prov.get("mode", "?")),
            ("Machine", f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('ram_gb', '?')} GB RAM, {m.get('os', '')}"),
            ("Versions", ", ".join(f"{k} {val}" for k, val in v.items()))]
    data = {}
    for r in runs:
        s, _ = summary_of(r)
        if s.get("dataset"):
            data.setdefault(s["dataset"], {}).update(dataset_sizes(r["task"]).get(s["dataset"], {}))
    if data:
        rows.append(("Data sets", "; ".join(
            f"{label}"
            + (f" ({', '.join(f'{k} {n:,}' for k, n in sizes.items())})" if sizes else "")
            for label, sizes in data.items())))
    out = ["<h2 id='provenance'>Provenance of this run</h2><table>"]
    out += [f"<tr><th>{esc(k)}</th><td>{esc(val)}</td></tr>" for k, val in rows]
    out.append("</table>")
    out.append("<table><tr><th>notebook</th><th>status</th><th>run time</th><th>peak memory</th></tr>")
    for r in runs:
        s, problem = summary_of(r)
        mem = s.get("peak_memory_mb")
        status = ("<span class='fail'>FAILED</span>" if r["status"] != "ok" else
                  f"<span class='fail'>{esc(UNREADABLE)}</span>" if problem else "ok")
        out.append(f"<tr><td><a href='#{esc(r['stem'])}'>{esc(r['stem'])}</a></td><td>{status}</td>"
                   f"<td>{_secs(r.get('seconds'))}</td><td>{'n/a' if mem is None else f'{mem:,.0f} MB'}</td></tr>")
    out.append("</table>")
    return out


def _secs(s) -> str:
    if s is None or (isinstance(s, float) and not math.isfinite(s)):
        return "n/a"
    return f"{s:.0f} s" if s < 120 else f"{int(s // 60)} min {s % 60:.0f} s"


def _toc(runs: list) -> list[str]:
    out = ["<nav id='toc'><b>Contents</b><ol><li><a href='#provenance'>Provenance of this run</a></li>"]
    for r in runs:
        summ, problem = summary_of(r)
        tail = (" — <span class='fail'>FAILED</span>" if r["status"] != "ok" else
                f" — <span class='fail'>{esc(UNREADABLE)}</span>" if problem else
                f" — {esc(summ.get('question', ''))}")
        out.append(f"<li><a href='#{esc(r['stem'])}'>{esc(lab_title(r['task']))}</a>{tail}</li>")
    out.append("</ol></nav>")
    return out


def _claims(summ: dict) -> list[str]:
    claims = summ.get("claims") or []
    if not claims:
        return ["<h3>Conclusions</h3><p>This notebook states no computed conclusion.</p>"]
    found, checked = C.findings(claims), C.checks(claims)
    out = []
    if found:
        out += ["<h3>Findings (computed from this run)</h3><ul class='claims'>"] + [_claim_item(c) for c in found] + ["</ul>"]
    if checked:
        failed = sum(c.get("verdict") == "check failed" for c in checked)
        out += [f"<h3>Implementation checks ({len(checked) - failed} passed, {failed} failed)</h3>"
                "<p class='ev'>Properties that cannot come out otherwise unless the code is wrong (counts, definitions, "
                "arithmetic); shown apart from the findings.</p><ul class='claims'>"] + [_claim_item(c) for c in checked] + ["</ul>"]
    return out


def _claim_item(c: dict) -> str:
    verdict = c.get("verdict", "not shown")
    test = f" <i>Test: {esc(c['test'])}.</i>" if c.get("test") else ""
    return (f"<li><span class='badge {BADGE.get(verdict, 'unk')}'>{esc(verdict)}</span> {esc(c.get('statement', ''))}"
            f"<br><span class='ev'>{esc(c.get('evidence', ''))}{test}</span></li>")


def _checks(summ: dict) -> list[str]:
    checks = summ.get("report_checks") or []
    if not checks:
        return []
    out = ["<h3>The lab report said → this run shows</h3><table><tr><th>topic</th><th>the lab report said</th>"
           "<th>this run shows</th><th>verdict</th></tr>"]
    for c in checks:
        v = c.get("verdict", "")
        out.append(f"<tr><td>{esc(c.get('topic', ''))}</td><td>{esc(c.get('report_said', ''))}</td>"
                   f"<td>{esc(c.get('run_shows', ''))}</td><td><span class='badge {BADGE.get(v, 'unk')}'>{esc(v)}</span></td></tr>")
    out.append("</table>")
    return out


def _figures(summ: dict) -> list[str]:
    out = []
    captions = summ.get("captions") or {}
    for fig in summ.get("figures", []):
        fp = figures_dir() / fig
        if not fp.exists():
            out.append(f"<p class='fail'>figure {esc(fig)} is missing</p>")
            continue
        b64 = base64.b64encode(fp.read_bytes()).decode()
        cap = captions.get(fig) or fig
        out.append(f"<figure><img alt='{esc(cap)}' src='data:image/png;base64,{b64}'>"
                   f"<figcaption><b>Figure.</b> {esc(cap)} <span class='ev'>({esc(fig)})</span></figcaption></figure>")
    return (["<h3>Figures</h3>"] + out) if out else []


def _numbers(summ: dict) -> list[str]:
    nums = summ.get("numbers") or {}
    if not nums:
        return []
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(fmt_number(v))}</td></tr>" for k, v in nums.items())
    return [f"<details><summary>Key numbers ({len(nums)})</summary><table><tr><th>quantity</th><th>value</th></tr>"
            f"{rows}</table></details>"]


def _section(r: dict) -> list[str]:
    stem, task = r["stem"], r["task"]
    link = f"<a href='{esc(stem)}.html'>executed notebook</a>"
    if r["status"] != "ok":
        return [f"<section id='{esc(stem)}'><h2>{esc(lab_title(task))}: {esc(stem)} — <span class='fail'>FAILED</span></h2>",
                f"<p>The notebook stopped after {_secs(r.get('seconds'))}; its results are not shown. "
                f"Its {link} shows the failing cell.</p><pre>{esc(r.get('error', ''))}</pre></section>"]
    summ, problem = summary_of(r)
    if problem:
        return [f"<section id='{esc(stem)}'><h2>{esc(lab_title(task))}: {esc(stem)} — <span class='fail'>"
                f"{esc(UNREADABLE)}</span></h2><p>The notebook ran, but its results cannot be shown: rerun it "
                f"(<code>python -m lab_utils report --only {esc(stem)}</code>). Its {link}.</p>"
                f"<pre>{esc(problem)}</pre></section>"]
    label = summ.get("dataset", "?")
    syn = summ.get("synthetic")
    sizes = dataset_sizes(task).get(label)
    size_txt = f" ({', '.join(f'{k} {n:,}' for k, n in sizes.items())})" if sizes else ""
    mem = summ.get("peak_memory_mb")
    out = [f"<section id='{esc(stem)}'><h2>{esc(lab_title(task))}: {esc(summ.get('question', stem))}</h2>",
           f"<p><b>Data.</b> <span class='{'syn' if syn else ''}'>{esc(label)}{' — SYNTHETIC DATA' if syn else ''}</span>"
           f"{esc(size_txt)}. <b>Run time</b> {_secs(r.get('seconds'))}, <b>peak memory</b> "
           f"{'n/a' if mem is None else f'{mem:,.0f} MB'}. <b>Notebook</b> {esc(stem)} ({link}).</p>"]
    out += _claims(summ) + _checks(summ) + _figures(summ)
    if summ.get("notes"):
        out.append(f"<p><b>Notes.</b> {esc(summ['notes'])}</p>")
    out += _numbers(summ)
    params = r.get("parameters") or {}
    if params:
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in params.items())
        out.append(f"<details><summary>Parameters</summary><table><tr><th>name</th><th>value</th></tr>{rows}</table></details>")
    out.append("</section>")
    return out


def write_index(runs: list[dict], prov: dict) -> Path:
    """Write ``reports/index.html`` for ``runs`` (dicts: stem, task, status, seconds, error, parameters)."""
    quick = prov.get("mode") == "quick"
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<title>MASE Lab 3 / Lab 4 reproduced: report</title>", f"<style>{STYLE}</style></head><body>",
             "<h1>Quantization search and network-architecture search: MASE Lab 3 and Lab 4, reproduced</h1>",
             f"<p>{esc(prov_mod.describe(prov))}.</p>"]
    if quick:
        parts.append("<p class='quick'><b>QUICK MODE:</b> small parameters for testing; the numbers and "
                     "conclusions below are not the lab's results.</p>")
    failed = [r["stem"] for r in runs if r["status"] != "ok"]
    if failed:
        parts.append(f"<p class='fail'>{len(failed)} notebook(s) failed: {esc(', '.join(failed))}.</p>")
    parts += _toc(runs) + _provenance(prov, runs)
    for r in runs:
        parts += _section(r)
    parts.append("</body></html>")
    index = reports_dir() / "index.html"
    atomic.write_text(index, "\n".join(parts))
    return index
