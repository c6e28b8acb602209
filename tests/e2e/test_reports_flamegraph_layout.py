"""The flamegraph's size follows what it draws, and its options are the documented ones.

A program keeps a 600-byte bytearray allocated 60 frames deep (recursion) and then a
50,000,000-byte one allocated 3 frames deep (<module>, outer, inner). At the peak a
third of a pixel (an_flame.c's MIN_PX) is about 13 KB, so the deep stack is left out
of the picture: the known answer is that the deepest frame drawn is inner, at depth 3,
and the SVG is 4 rows high (root included) with the topmost frame on the first row,
not 61 rows with the graph at the bottom under blank space. And `-o, --output FILE`
is in --help and the man page, and both forms write FILE.
"""
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO, TIMEOUT, record_python

SVG = "{http://www.w3.org/2000/svg}"
ROW, TOP, BOTTOM = 17, 60, 30          # an_flame.c: row height, first row's y, margin
BIG = 50_000_001                       # bytearray(50_000_000), with its NUL
DEEP = 60                              # the tiny block's stack: <module> + 59 deep()

PROGRAM = '''kept = []


def deep(n):
    if n:
        return deep(n - 1)
    kept.append(bytearray(600))


def outer():
    return inner()


def inner():
    return bytearray(50_000_000)


deep(58)
big = outer()
'''


def run(filrec, *args):
    p = subprocess.run([filrec, *map(str, args)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert p.returncode == 0, f"filrec {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}"
    return p


def frames(path):
    """(svg root, [(depth, label, bytes, rect y)] of every frame drawn)."""
    root = ET.parse(path).getroot()
    out = [(int(g.get("data-d")), g.get("data-l"), int(g.get("data-b")),
            float(g.find(SVG + "rect").get("y")))
           for g in root.iter(SVG + "g") if g.get("class") == "f"]
    return root, out


@pytest.fixture
def deep_trace(python, filrec, summary, tmp_path):
    script = tmp_path / "deep.py"
    script.write_text(PROGRAM)
    rec = record_python(filrec, summary, python, [str(script)], tmp_path / "deep.bin", tmp_path)
    depth = max(len(l["stack"]) for l in rec.summary["locations"])
    assert depth >= DEEP, rec.where()     # the narrow stack is in the trace
    return rec.trace


def test_flamegraph_height_is_deepest_drawn_frame(deep_trace, filrec, tmp_path):
    for reverse in ([], ["--reverse"]):
        out = tmp_path / ("r.svg" if reverse else "f.svg")
        run(filrec, "flamegraph", *reverse, "-o", out, deep_trace)
        root, drawn = frames(out)
        deepest = max(d for d, _, _, _ in drawn)
        height = TOP + (deepest + 1) * ROW + BOTTOM
        assert int(root.get("height")) == height, (root.get("height"), deepest)
        assert root.get("viewBox") == f"0 0 1200 {height}"
        assert min(y for _, _, _, y in drawn) == TOP          # no blank rows above
        assert max(y for _, _, _, y in drawn) == TOP + deepest * ROW
        if not reverse:
            assert deepest == 3, drawn
            [(_, label, size, _)] = [f for f in drawn if f[0] == 3]
            assert label.endswith(" inner") and size == BIG


def test_flamegraph_output_long_form(deep_trace, filrec, tmp_path):
    helped = run(filrec, "flamegraph", "--help").stdout
    assert re.search(r"^  -o, --output FILE ", helped, re.M), helped
    page = (REPO / "man" / "filrec-flamegraph.1").read_text()
    assert "\\-\\-output" in page.split(".SH OPTIONS", 1)[1]
    for flag in ("-o", "--output"):
        out = tmp_path / f"{flag.strip('-')}.svg"
        p = run(filrec, "flamegraph", flag, out, deep_trace)
        assert p.stderr == f"filrec: wrote {out}\n"
        root, _ = frames(out)
        assert int(root.get("data-total")) >= BIG
