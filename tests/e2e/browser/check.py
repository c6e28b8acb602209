"""check.py: drive headless Debian chromium over a filrec report folder, for
tests/e2e/test_reports_browser.py, through Playwright's Python package (PyPI; its
driver ships in the wheel, the browser is Debian's). It only acts and measures; the
test holds the known answers. Usage:
  python check.py REPORT_DIR OUT_DIR CLICK_LABEL SEARCH_TERM
Opens REPORT_DIR/index.html, then peak.svg and peak-reversed.svg from disk. In each
SVG: clicks the frame labelled CLICK_LABEL (data-l; the widest frame below the root
when it is not there), measures the zoom, clicks reset, types SEARCH_TERM into the
search box, measures the highlight and the matched text, then reloads with the URL
the page wrote (zoom and search kept there). Screenshots go to OUT_DIR. Prints one
JSON object; exits 1 only when the browser itself cannot be driven.
"""
import json
import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

# The frames of an SVG page, as the test wants to see them.
FRAMES_JS = """() => [...document.querySelectorAll('g.f')].map(g => {
    const r = g.querySelector('rect');
    return {
        id: g.id, label: g.getAttribute('data-l'), depth: +g.getAttribute('data-d'),
        bytes: +g.getAttribute('data-b'), shown: getComputedStyle(g).display !== 'none',
        x: +r.getAttribute('x'), width: +r.getAttribute('width'),
        fx: +g.getAttribute('data-x'), fw: +g.getAttribute('data-w'),
        fill: r.style.fill, hit: g.classList.contains('hit'),
    };
})"""

TEXTS_JS = """() => ({
    title: document.getElementById('title').textContent,
    matched: document.getElementById('matched').textContent,
    dataMatched: document.getElementById('matched').getAttribute('data-matched'),
    resetShown: getComputedStyle(document.getElementById('reset')).display !== 'none',
    search: location.search,
})"""

TERM_JS = """() => {
    const t = document.getElementById('term');
    return t.value === undefined ? `<${t.namespaceURI} ${t.localName}>` : t.value;
}"""

INDEX_JS = """() => ({
    peak: document.getElementById('peak').getAttribute('data-bytes'),
    title: document.title,
    scripts: document.querySelectorAll('script').length,
    objects: document.querySelectorAll('object').length,
})"""


class Watch:
    """What every page did that it must not: alert/confirm/prompt dialogs, console
    errors, uncaught exceptions, failed loads."""

    def __init__(self):
        self.dialogs, self.errors = [], []

    def page(self, page, name):
        def dialog(d):
            self.dialogs.append(f"{name}: {d.type}: {d.message}")
            d.dismiss()
        page.on("dialog", dialog)
        page.on("console", lambda m: m.type == "error" and
                self.errors.append(f"{name}: console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"{name}: exception: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"{name}: failed to load {r.url}"))
        return page


def svg_page(browser, watch, file, name, click_label, term, out_dir):
    page = watch.page(browser.new_page(viewport={"width": 1240, "height": 900}), name)
    url = Path(file).resolve().as_uri()
    page.goto(url)
    out = {"url": url, "before": page.evaluate(FRAMES_JS)}
    below_root = [f for f in out["before"] if f["depth"] > 0]
    target = next((f for f in below_root if f["label"] == click_label), None) or \
        max(below_root, key=lambda f: f["bytes"])
    out["clicked"] = target["id"]
    page.click(f"#{target['id']} rect")
    out["zoomed"] = page.evaluate(FRAMES_JS)
    out["zoomedTexts"] = page.evaluate(TEXTS_JS)
    page.screenshot(path=str(out_dir / f"{name}-zoomed.png"))
    page.click("#reset")
    out["reset"] = page.evaluate(FRAMES_JS)
    out["resetTexts"] = page.evaluate(TEXTS_JS)
    page.fill("#term", "")
    page.type("#term", term)
    out["searched"] = page.evaluate(FRAMES_JS)
    out["searchTexts"] = page.evaluate(TEXTS_JS)
    page.screenshot(path=str(out_dir / f"{name}-search.png"))
    # zoom again, then reload from the URL the page wrote: both must come back
    page.click(f"#{target['id']} rect")
    state = page.evaluate(TEXTS_JS)
    page.goto(url + state["search"])
    out["reloadTexts"] = page.evaluate(TEXTS_JS)
    out["reloaded"] = page.evaluate(FRAMES_JS)
    out["term"] = page.evaluate(TERM_JS)
    page.close()
    return out


def main(argv):
    if len(argv) != 5:
        print("usage: python check.py REPORT_DIR OUT_DIR CLICK_LABEL SEARCH_TERM",
              file=sys.stderr)
        return 2
    report, out_dir, click_label, term = Path(argv[1]), Path(argv[2]), argv[3], argv[4]
    watch = Watch()
    result = {"dialogs": watch.dialogs, "errors": watch.errors}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=os.environ.get("FILREC_CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-gpu"])
        try:
            page = watch.page(browser.new_page(viewport={"width": 1300, "height": 1000}),
                              "index.html")
            page.goto((report / "index.html").resolve().as_uri())
            result["index"] = page.evaluate(INDEX_JS)
            # the <object> holds peak.svg: its frames are drawn there
            svg = next((f for f in page.frames if f.url.endswith("/peak.svg")), None)
            if svg:
                svg.wait_for_selector("g.f")
                result["index"]["embeddedFrames"] = svg.evaluate(
                    "() => document.querySelectorAll('g.f').length")
                # how tall the frame labels are drawn in the page (CSS px): the
                # smallest of those with text
                result["index"]["labelPx"] = svg.evaluate(
                    "() => Math.min(...[...document.querySelectorAll('g.f text')]"
                    ".filter(t => t.textContent.length > 2)"
                    ".map(t => t.getBoundingClientRect().height))")
            page.screenshot(path=str(out_dir / "index.png"), full_page=True)
            page.close()
            for key, name in (("peak", "peak"), ("reversed", "peak-reversed")):
                result[key] = svg_page(browser, watch, report / f"{name}.svg", name,
                                       click_label, term, out_dir)
        finally:
            browser.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
