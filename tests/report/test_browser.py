"""reports/index.html in a real browser (Debian's headless Chromium, driven by tests/report/browser.py):
every table-of-contents link scrolls to a section that exists, every image has loaded, no section is
empty; a screenshot is saved under the test's temporary folder.

Skipped, with the reason, where chromium is not installed (.ci/run installs it).
"""

from __future__ import annotations

import pytest

from tests.report.browser import Browser, find_chromium
from tests.report.test_index import constructed_report

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")

TOC_LINKS = "Array.from(document.querySelectorAll('#toc a')).map(a => a.getAttribute('href'))"
FOLLOW = """(() => {{
  window.scrollTo(0, 0);
  const a = document.querySelector('#toc a[href="{href}"]');
  a.click();
  const t = document.getElementById('{target}');
  if (!t) return {{found: false}};
  const top = t.getBoundingClientRect().top;
  const atBottom = window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2;
  return {{found: true, hash: location.hash, top: top, atBottom: atBottom, scrollY: window.scrollY}};
}})()"""
IMAGES = "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
SECTIONS = """Array.from(document.querySelectorAll('section')).map(s => {
  const h = s.querySelector('h2');
  const body = s.innerText.replace(h ? h.innerText : '', '').trim();
  return [s.id, h ? h.innerText.trim() : '', body.length, s.children.length];
})"""


def check_index(index, tmp_path) -> dict:
    """Open ``index`` in Chromium and check it (see the module docstring); returns what it saw."""
    with Browser(tmp_path / "profile") as b:
        b.open(index.resolve().as_uri())
        assert b.js("document.title")
        links = b.js(TOC_LINKS)
        assert links and all(h.startswith("#") for h in links), links
        for href in links:
            seen = b.js(FOLLOW.format(href=href, target=href[1:]))
            assert seen["found"], f"table-of-contents link {href} has no target"
            assert seen["hash"] == href
            # the target is scrolled to the top of the window, unless the page cannot scroll that far
            assert abs(seen["top"]) <= 2 or (seen["atBottom"] and seen["top"] > 0), (href, seen)
        images = b.js(IMAGES)
        for alt, complete, w, h in images:
            assert complete and w > 0 and h > 0, f"image not loaded: {alt!r} ({w}x{h})"
        sections = b.js(SECTIONS)
        assert sections, "no section"
        for sid, heading, body_len, n_children in sections:
            assert heading and body_len > 40 and n_children > 1, f"section {sid!r} is empty ({heading!r})"
        assert {f"#{s[0]}" for s in sections} <= set(links), "a section is missing from the table of contents"
        b.js("window.scrollTo(0, 0)")
        shot = b.screenshot(tmp_path / "index_first_screen.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    return {"links": links, "images": images, "sections": sections, "screenshot": shot}


def test_constructed_index_in_chromium(tmp_path, monkeypatch):
    index = constructed_report(tmp_path, monkeypatch)
    seen = check_index(index, tmp_path)
    assert len(seen["images"]) == 1 and seen["images"][0][2] == 320  # the constructed figure's width in pixels
    assert [s[0] for s in seen["sections"]] == ["lab0_data_and_baselines", "lab3_1_metrics"]
    assert "FAILED" in seen["sections"][1][1]  # the failed notebook has a section that says so


def test_broken_image_is_caught(tmp_path, monkeypatch):
    """The image check can fail: an index whose figure is not a PNG."""
    index = constructed_report(tmp_path, monkeypatch)
    index.write_text(index.read_text().replace("data:image/png;base64,", "data:image/png;base64,AAAA"))
    with pytest.raises(AssertionError, match="image not loaded"):
        check_index(index, tmp_path)


@pytest.mark.notebooks
@pytest.mark.slow
def test_quick_report_in_chromium(quick_report, tmp_path):
    seen = check_index(quick_report / "reports" / "index.html", tmp_path)
    assert len(seen["images"]) >= 10
    print(f"screenshot: {seen['screenshot']}")
