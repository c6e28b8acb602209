"""The report in a real browser: headless Debian chromium, driven by Playwright's Python
package (tests/e2e/browser/check.py) over index.html, peak.svg and peak-reversed.svg opened
from disk. For samples/log_pipeline.py (peak: 80,000,002 bytes at read_blocks line 32
out of what summary reports): clicking checksum:45 zooms it to the full width, shows
only its ancestors and callees, with the callees scaled; reset restores every frame;
searching `read_blocks` highlights just the line-32 frame and says its share of the
peak; the URL keeps zoom and search across a reload. The report of a program with
hostile names (test_reports_escaping.py) opens and is searched for its
`<script>alert(1)</script>` without any alert. No page may raise a dialog, log a
console error, throw or fail to load anything. Screenshots are left in the test's
temporary folder (screenshots/).

Needs /usr/bin/chromium (or FILREC_CHROMIUM) and the playwright package in the test
runner's interpreter (scripts/deps.sh installs both: Debian's chromium, and .venv from
tests/requirements.txt); skipped, saying which is missing, without them.
"""
import json
import os
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, TIMEOUT, record_python
from test_reports_escaping import ODD, BYTES, record_odd

BROWSER = Path(__file__).resolve().parent / "browser"
CHROMIUM = os.environ.get("FILREC_CHROMIUM", "/usr/bin/chromium")
SAMPLE = REPO / "samples" / "log_pipeline.py"
TOP_LABEL, TOP_BYTES = "log_pipeline.py:32 read_blocks", 80_000_002
CLICK = "log_pipeline.py:45 checksum"
WIDTH, PAD = 1180, 10        # an_flame.c: the frames' full width and left margin
HIGHLIGHT = "rgb(230, 0, 230)"


@pytest.fixture(scope="session")
def browse():
    """browse(report_dir, out_dir, click_label, term) -> check.py's JSON result."""
    missing = [what for what, ok in [
        (f"{CHROMIUM} (apt-get install chromium)", os.access(CHROMIUM, os.X_OK)),
        (f"playwright in {sys.executable} (scripts/deps.sh installs it in .venv)",
         importlib.util.find_spec("playwright"))] if not ok]
    if missing:
        pytest.skip("the browser test needs " + ", ".join(missing))

    def run(report, out, click, term):
        out.mkdir(parents=True, exist_ok=True)
        p = subprocess.run([sys.executable, str(BROWSER / "check.py"), str(report), str(out),
                            click, term],
                           capture_output=True, text=True, timeout=TIMEOUT,
                           env={**os.environ, "FILREC_CHROMIUM": CHROMIUM})
        assert p.returncode == 0, f"check.py exited {p.returncode}:\n{p.stderr}"
        return json.loads(p.stdout)
    return run


def by_id(frames):
    return {f["id"]: f for f in frames}


def check_zoom(page):
    """The clicked frame fills the width; its ancestors span it; its callees keep their
    share of it; everything else is hidden. Reset puts every frame back."""
    before, zoomed = by_id(page["before"]), by_id(page["zoomed"])
    c = before[page["clicked"]]
    assert c["width"] < WIDTH - 1, "the clicked frame is already full width"
    z = zoomed[c["id"]]
    assert (z["x"], z["width"], z["shown"]) == (pytest.approx(PAD), pytest.approx(WIDTH), True)
    for i, f in before.items():
        # From the frames' exact extents (data-x, data-w: fractions of the root), not
        # from the rectangles, whose pixel positions are rounded in the SVG.
        inside = f["depth"] > c["depth"] and c["fx"] - 1e-12 <= f["fx"] and \
            f["fx"] + f["fw"] <= c["fx"] + c["fw"] + 1e-12
        above = f["depth"] < c["depth"] and f["fx"] <= c["fx"] + 1e-12 and \
            f["fx"] + f["fw"] >= c["fx"] + c["fw"] - 1e-12
        assert zoomed[i]["shown"] == (inside or above or i == c["id"]), f["label"]
        if above:
            assert zoomed[i]["width"] == pytest.approx(WIDTH)
        if inside:
            assert zoomed[i]["width"] == pytest.approx(f["width"] * WIDTH / c["width"], abs=0.02)
    assert any(not f["shown"] for f in zoomed.values()), "zoom hid nothing"
    assert page["zoomedTexts"]["resetShown"] is True
    assert page["zoomedTexts"]["search"] == "?x=" + c["id"]
    assert page["resetTexts"]["resetShown"] is False
    assert page["resetTexts"]["search"] == ""
    key = lambda f: (f["id"], f["shown"], round(f["x"], 2), round(f["width"], 2))
    assert [key(f) for f in page["reset"]] == [key(f) for f in page["before"]]


def shots_ok(out, names):
    for n in names:
        data = (out / n).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, n


def test_report_browser_zoom_search_reset(browse, sample_python, filrec, summary, tmp_path):
    rec = record_python(filrec, summary, sample_python, [str(SAMPLE)], tmp_path / "lp.bin", tmp_path)
    peak = rec.summary["peak_bytes"]
    out = tmp_path / "screenshots"
    r = browse(tmp_path / "lp-report", out, CLICK, "read_blocks")
    assert r["dialogs"] == [] and r["errors"] == []
    assert int(r["index"]["peak"]) == peak
    assert r["index"]["scripts"] == 0
    assert r["index"]["embeddedFrames"] == len(r["peak"]["before"]), "the SVG in index.html"
    # at its real size: the labels read at the page's default zoom
    assert r["index"]["labelPx"] >= 10, r["index"]
    share = 100 * TOP_BYTES / peak
    for name in ("peak", "reversed"):
        page = r[name]
        assert by_id(page["before"])[page["clicked"]]["label"] == CLICK, name
        check_zoom(page)
        hits = [f for f in page["searched"] if f["hit"]]
        assert [(f["label"], f["bytes"]) for f in hits] == [(TOP_LABEL, TOP_BYTES)], name
        assert all(f["fill"] == HIGHLIGHT for f in hits)
        assert all(f["fill"] == "" for f in page["searched"] if not f["hit"])
        assert page["searchTexts"]["matched"] == "matched: %.2f%%" % share
        assert float(page["searchTexts"]["dataMatched"]) == pytest.approx(share)
        # zoom and search come back from the URL
        assert page["reloadTexts"]["search"] == f"?x={page['clicked']}&s=read_blocks"
        assert page["term"] == "read_blocks"
        assert page["reloadTexts"]["matched"] == "matched: %.2f%%" % share
        assert by_id(page["reloaded"])[page["clicked"]]["width"] == pytest.approx(WIDTH)
    shots_ok(out, ["index.png", "peak-zoomed.png", "peak-search.png",
                   "peak-reversed-zoomed.png", "peak-reversed-search.png"])


def test_report_browser_hostile_names(browse, sample_python, filrec, tmp_path):
    trace, _, _ = record_odd(filrec, sample_python, tmp_path)
    report = tmp_path / "odd-report"     # a plain path, for the file:// URLs
    p = subprocess.run([os.fsencode(filrec), b"report", b"-o", os.fsencode(report), trace],
                       capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    out = tmp_path / "screenshots"
    r = browse(report, out, "-", ODD)    # "-": no such frame, click the widest
    assert r["dialogs"] == [], "a name ran as code"
    assert r["errors"] == []
    assert r["index"]["scripts"] == 0
    assert ODD in r["index"]["title"]    # the command line, shown as text
    peak = int(r["index"]["peak"])
    for name in ("peak", "reversed"):
        page = r[name]
        check_zoom(page)
        hits = [f for f in page["searched"] if f["hit"]]
        assert hits, name
        assert float(page["searchTexts"]["dataMatched"]) >= 100 * BYTES / peak - 1e-9
        assert page["term"] == ODD
    shots_ok(out, ["index.png", "peak-search.png", "peak-reversed-search.png"])
