"""Every report of one trace tells the same numbers. samples/log_pipeline.py is recorded
once (with its report folder, as `filrec run` writes it) and its known answer is that
the peak is 100,000,035 bytes above the baseline, two blocks of 80,000,002 bytes at
line 32 (read_blocks) among them. Then:
  - the flamegraph's root is the peak, in bytes (data-total, the root frame's data-b
    and hover text, its full width) and in the title; its widest leaf is line 32;
  - `summary --json`, `stats --json`, `export --format json`, index.html (#peak) and
    both SVGs of the report carry the same peak bytes;
  - `export --format folded` and speedscope's weights sum to the peak;
  - at the end, `leaks`, `export --at end`, `flamegraph --at end` agree with the
    live-at-exit bytes of `filrec stats --json`.
"""
import json
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO, TIMEOUT, record_python

SAMPLE = REPO / "samples" / "log_pipeline.py"
PEAK_ABOVE_BASELINE = 100_000_035     # the sample's `# expect:` answers
TOP_BYTES = 80_000_002
TOP_LINE, TOP_FUNCTION = 32, "read_blocks"
TOLERANCE = 0.01
WIDTH = 1200 - 2 * 10                 # an_flame.c: WIDTH - 2 * PAD
SVG = "{http://www.w3.org/2000/svg}"


def human(n):
    """an_human() of analyze/an_util.c, for the numbers in titles."""
    units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"]
    v, u = float(n), 0
    while v >= 1000 and u < 6:
        v /= 1000
        u += 1
    if u == 0:
        return "%d B" % n
    return "%.*f %s" % (2 if v < 10 else 1 if v < 100 else 0, v, units[u])


def run(filrec, *args):
    p = subprocess.run([filrec, *map(str, args)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert p.returncode == 0, f"filrec {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}"
    return p.stdout


def run_json(filrec, *args):
    return json.loads(run(filrec, *args))


class Flame:
    """A flamegraph SVG, parsed: its root element and its frames (g.f) as dicts."""

    def __init__(self, path):
        self.root = ET.parse(path).getroot()
        self.frames = []
        for g in self.root.iter(SVG + "g"):
            if g.get("class") != "f":
                continue
            self.frames.append({
                "id": g.get("id"), "x": float(g.get("data-x")), "w": float(g.get("data-w")),
                "d": int(g.get("data-d")), "bytes": int(g.get("data-b")),
                "label": g.get("data-l"), "title": g.find(SVG + "title").text,
                "rect_w": float(g.find(SVG + "rect").get("width"))})

    def text(self, ident):
        return "".join("".join(e.itertext()) for e in self.root.iter(SVG + "text")
                       if e.get("id") == ident)

    def top(self):
        [root] = [f for f in self.frames if f["d"] == 0]
        return root

    def leaves(self):
        """Frames with no frame drawn on them (children are inside the parent's x range,
        one row further)."""
        def has_child(f):
            return any(c["d"] == f["d"] + 1 and f["x"] - 1e-9 <= c["x"] < f["x"] + f["w"] - 1e-12
                       for c in self.frames)
        return [f for f in self.frames if not has_child(f)]


@pytest.fixture(scope="module")
def pipeline(sample_python, filrec, summary, baseline, tmp_path_factory):
    """(PyRecording, its report folder, stats --json, baseline) of log_pipeline.py."""
    d = tmp_path_factory.mktemp("pipeline")
    rec = record_python(filrec, summary, sample_python, [str(SAMPLE)], d / "pipeline.bin", d)
    report = d / "pipeline-report"
    assert (report / "index.html").is_file(), "filrec run wrote no report"
    stats = run_json(filrec, "stats", "--json", rec.trace)
    return rec, report, stats, baseline(sample_python, "import sys\nimport zlib\n")


def test_summary_peak_is_known_answer(pipeline):
    rec, _, stats, base = pipeline
    peak = rec.summary["peak_bytes"]
    assert peak == stats["peak_bytes"]
    assert abs(peak - base - PEAK_ABOVE_BASELINE) <= TOLERANCE * PEAK_ABOVE_BASELINE, \
        f"peak {peak:,} - baseline {base:,} is not {PEAK_ABOVE_BASELINE:,}\n{rec.where()}"
    top = rec.summary["locations"][0]
    assert (top["line"], top["function"], top["bytes"]) == (TOP_LINE, TOP_FUNCTION, TOP_BYTES)


def test_flamegraph_root_is_peak(pipeline, filrec, tmp_path):
    rec, _, _, _ = pipeline
    peak = rec.summary["peak_bytes"]
    svg = tmp_path / "peak.svg"
    run(filrec, "flamegraph", "-o", svg, rec.trace)
    fl = Flame(svg)
    root = fl.top()
    assert int(fl.root.get("data-total")) == peak
    assert root["bytes"] == peak
    assert root["rect_w"] == pytest.approx(WIDTH)
    assert "(%s bytes)" % f"{peak:,}" in root["title"]
    assert fl.text("title").startswith("Peak memory: %s at " % human(peak)), fl.text("title")


def test_flamegraph_widest_leaf_is_known_line(pipeline, filrec, tmp_path):
    rec, _, _, _ = pipeline
    svg = tmp_path / "peak.svg"
    run(filrec, "flamegraph", "-o", svg, rec.trace)
    fl = Flame(svg)
    leaf = max(fl.leaves(), key=lambda f: f["bytes"])
    assert leaf["label"] == f"{SAMPLE.name}:{TOP_LINE} {TOP_FUNCTION}"
    assert leaf["bytes"] == TOP_BYTES
    assert f"({SAMPLE}:{TOP_LINE})" in leaf["title"]
    assert leaf["rect_w"] == pytest.approx(WIDTH * TOP_BYTES / rec.summary["peak_bytes"], abs=0.01)
    # reversed: the innermost frames are the first row, the widest is the same line
    run(filrec, "flamegraph", "--reverse", "-o", svg, rec.trace)
    rev = Flame(svg)
    first = max((f for f in rev.frames if f["d"] == 1), key=lambda f: f["bytes"])
    assert (first["label"], first["bytes"]) == (f"{SAMPLE.name}:{TOP_LINE} {TOP_FUNCTION}", TOP_BYTES)
    assert rev.top()["bytes"] == rec.summary["peak_bytes"]


def test_report_peak_matches_summary(pipeline):
    rec, report, stats, _ = pipeline
    peak = rec.summary["peak_bytes"]
    html = (report / "index.html").read_text()
    m = re.search(r'<dd id="peak" data-bytes="(\d+)">([^<]*)</dd>', html)
    assert m, "index.html has no #peak"
    assert int(m.group(1)) == peak
    assert m.group(2).startswith(f"{human(peak)} ({peak:,} bytes)")
    # the first row of the table is the top location, with its exact bytes
    first = re.search(r'<td data-bytes="(\d+)">', html)
    assert int(first.group(1)) == TOP_BYTES
    for name in ("peak.svg", "peak-reversed.svg"):
        fl = Flame(report / name)
        assert int(fl.root.get("data-total")) == peak, name
        assert fl.top()["bytes"] == peak, name
        assert fl.text("title").startswith("Peak memory: %s at " % human(peak)), name


def test_export_json_peak_matches_summary(pipeline, filrec):
    rec, _, stats, _ = pipeline
    peak = rec.summary["peak_bytes"]
    j = run_json(filrec, "export", "--format", "json", rec.trace)
    assert (j["peak_bytes"], j["at"], j["tree"]["bytes"]) == (peak, "peak", peak)
    assert (j["live_bytes"], j["time_s"]) == (peak, rec.summary["peak_time_s"])

    def check(node):        # every node's bytes are its self plus its children's
        kids = node.get("children", [])
        assert node["bytes"] == node["self"] + sum(c["bytes"] for c in kids), node.get("name")
        for c in kids:
            check(c)
    check(j["tree"])


def test_export_folded_sums_to_peak(pipeline, filrec):
    rec, _, _, _ = pipeline
    out = run(filrec, "export", "--format", "folded", rec.trace)
    lines = out.splitlines()
    parsed = [re.fullmatch(r"(.+) (\d+)", l) for l in lines]
    assert all(parsed), [l for l, m in zip(lines, parsed) if not m]
    assert sum(int(m.group(2)) for m in parsed) == rec.summary["peak_bytes"]
    stack, size = max(((m.group(1), int(m.group(2))) for m in parsed), key=lambda s: s[1])
    assert size == TOP_BYTES
    assert stack.endswith(f";{TOP_FUNCTION} ({SAMPLE}:{TOP_LINE})"), stack
    assert run(filrec, "export", "--format", "folded", "-o", "-", rec.trace) == out  # '-': stdout


def test_export_speedscope_is_valid(pipeline, filrec):
    rec, _, _, _ = pipeline
    peak = rec.summary["peak_bytes"]
    s = run_json(filrec, "export", "--format", "speedscope", rec.trace)
    assert s["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = s["shared"]["frames"]
    assert frames and all(isinstance(f["name"], str) for f in frames)
    assert all(isinstance(f.get("line", 0), int) for f in frames)
    [p] = s["profiles"]
    assert (p["type"], p["unit"], p["startValue"], p["endValue"]) == ("sampled", "bytes", 0, peak)
    assert isinstance(p["name"], str)
    assert len(p["samples"]) == len(p["weights"])
    assert all(s and all(isinstance(i, int) and 0 <= i < len(frames) for i in s)
               for s in p["samples"])
    assert sum(p["weights"]) == peak
    heaviest = max(range(len(p["weights"])), key=lambda i: p["weights"][i])
    inner = frames[p["samples"][heaviest][-1]]
    assert (inner["name"], inner["line"], p["weights"][heaviest]) == \
        (TOP_FUNCTION, TOP_LINE, TOP_BYTES)


def test_leaks_agree_with_stats_at_end(pipeline, filrec, tmp_path):
    rec, _, stats, _ = pipeline
    live = stats["live_at_exit_bytes"]
    assert live > 0     # the interpreter leaves some memory at exit
    leaks = run_json(filrec, "leaks", "--json", "--top", "0", rec.trace)
    assert leaks["report"] == "leaks"
    assert leaks["live_at_end_bytes"] == live
    assert sum(l["bytes"] for l in leaks["locations"]) == live
    assert leaks["peak_bytes"] == stats["peak_bytes"]
    j = run_json(filrec, "export", "--format", "json", "--at", "end", rec.trace)
    assert (j["at"], j["tree"]["bytes"], j["live_bytes"]) == ("end", live, live)
    assert j["time_s"] == stats["duration_s"] and j["peak_bytes"] == stats["peak_bytes"]
    folded = run(filrec, "export", "--format", "folded", "--at", "end", rec.trace)
    assert sum(int(l.rsplit(" ", 1)[1]) for l in folded.splitlines()) == live
    s = run_json(filrec, "export", "--format", "speedscope", "--at", "end", rec.trace)
    assert sum(s["profiles"][0]["weights"]) == s["profiles"][0]["endValue"] == live
    svg = tmp_path / "end.svg"
    run(filrec, "flamegraph", "--at", "end", "-o", svg, rec.trace)
    fl = Flame(svg)
    assert int(fl.root.get("data-total")) == fl.top()["bytes"] == live
    assert fl.text("title").startswith("Memory live at exit: %s of " % human(live))
