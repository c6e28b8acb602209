"""Hostile names in every report. A program whose path holds `<script>alert(1)</script>`,
`&`, both quotes, a space and (where the file system takes it) the non-UTF-8 byte
0xff, and whose allocating function is renamed (code.replace: co_name, co_qualname)
to `<script>alert(1)</script>&"'`, a newline, `;x` and a lone surrogate (what Python
makes of a non-UTF-8 byte; it cannot be in an identifier). Its trace and report
folder get the same hostile name, so the command line and trace path are hostile too.

The known answer: the renamed function allocates bytearray(30_000_000), 30,000,001
bytes, live at the peak. Every report must show the names as text and run nothing:
the SVGs are well-formed XML with our one script, index.html has no script at all,
every JSON output parses as strict UTF-8 and carries the names (cleaned to UTF-8,
U+FFFD for what is not), folded stacks keep one stack per line, and the text summary
keeps one location per line.
"""
import html.parser
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import TIMEOUT, filrec_lines

ODD = '<script>alert(1)</script>&"\''
FUNC = ODD + "\n;x\udcff"          # the renamed function, as Python holds it
BYTES = 30_000_001
SVG = "{http://www.w3.org/2000/svg}"

PROGRAM = r'''import types

ODD = %r


def make(n):
    return bytearray(n)  # @odd


code = make.__code__.replace(co_name=ODD)
if hasattr(code, "co_qualname"):
    code = code.replace(co_qualname=ODD)
kept = types.FunctionType(code, globals())(30_000_000)  # @call
''' % FUNC
LINE = next(n for n, l in enumerate(PROGRAM.splitlines(), 1) if l.endswith("# @odd"))


def odd_paths(root):
    """(directory, stem) as bytes for the hostile program under root: the directory is
    `<script>alert(1)<` (a name cannot hold '/'), the stem `script>&"' \\xff` or, on a
    file system that wants UTF-8 names, `script>&"' x`."""
    head, tail = ODD.split("/", 1)
    d = os.fsencode(root) + b"/" + os.fsencode(head)
    os.makedirs(d, exist_ok=True)
    for stem in (os.fsencode(tail) + b" \xff", os.fsencode(tail) + b" x"):
        try:
            with open(d + b"/" + stem + b".py", "w") as f:
                f.write(PROGRAM)
            return d, stem
        except OSError:
            continue
    pytest.skip("the file system takes none of the hostile names")


def record_odd(filrec, py, root):
    """Record the hostile program with py into root (filrec run writes its report).
    Returns (trace, report folder, program path), all bytes."""
    d, stem = odd_paths(root)
    prog, trace = d + b"/" + stem + b".py", d + b"/" + stem + b".bin"
    r = subprocess.run([os.fsencode(filrec), b"run", b"-o", trace, b"--python",
                        os.fsencode(py.exe), prog], capture_output=True, timeout=TIMEOUT,
                       cwd=root)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    ours, rest = filrec_lines(r.stderr.decode(errors="replace"))
    assert not rest, rest
    return trace, d + b"/" + stem + b"-report", prog


def cleaned(path):
    """A path as the reports show it: the bytes cleaned to UTF-8. Python hands the
    recorder a lone surrogate for a non-UTF-8 byte, which reads back as U+FFFD (one
    or more)."""
    return os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def odd_name(s):
    """Whether s is FUNC as the reports clean it."""
    return re.fullmatch(re.escape(ODD + "\n;x") + "\ufffd+", s) is not None


def odd_file(s, prog):
    """Whether s is the program's path as the reports clean it: the hostile part is
    exact, the non-UTF-8 byte any number of U+FFFD."""
    want = re.escape(cleaned(prog)).replace("\ufffd", "\ufffd+")
    return re.fullmatch(want, s) is not None


def run(filrec, *args):
    p = subprocess.run([os.fsencode(filrec), *(a if isinstance(a, bytes) else a.encode()
                                              for a in args)],
                       capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout.decode("utf-8")     # strict: every output is UTF-8


def strings(o):
    """Every string (keys too) in a parsed JSON value."""
    if isinstance(o, str):
        yield o
    elif isinstance(o, dict):
        for k, v in o.items():
            yield k
            yield from strings(v)
    elif isinstance(o, list):
        for v in o:
            yield from strings(v)


@pytest.fixture
def odd(python, filrec, tmp_path):
    return record_odd(filrec, python, tmp_path) + (python,)


def svg_frames(path):
    root = ET.parse(path).getroot()     # well-formed XML, or this raises
    return root, [g for g in root.iter(SVG + "g") if g.get("class") == "f"]


def check_svg(path, prog, py):
    raw = open(path, "rb").read()
    raw.decode("utf-8")
    assert b"<script>alert" not in raw and b"alert(1)</script>" not in raw
    root, frames = svg_frames(path)
    scripts = list(root.iter(SVG + "script"))
    assert len(scripts) == 1 and "alert" not in scripts[0].text   # ours only
    hits = [g for g in frames if odd_name(g.get("data-l").split(f":{LINE} ", 1)[-1])]
    assert len(hits) == 1, [g.get("data-l") for g in frames]
    g = hits[0]
    assert int(g.get("data-b")) == BYTES
    name, where = g.get("data-n").rsplit(" (", 1)
    assert odd_name(name) and odd_file(where.rsplit(":", 1)[0], prog)
    assert where.endswith(f":{LINE})")
    title = g.find(SVG + "title").text
    assert title.startswith(name + " (") and "30,000,001 bytes" in title
    return root


def test_flamegraph_escapes_names(odd, filrec, tmp_path):
    trace, report, prog, py = odd
    for name in ("peak.svg", "peak-reversed.svg"):
        check_svg(os.fsdecode(report + b"/" + name.encode()), prog, py)
    out = tmp_path / "titled.svg"
    run(filrec, "flamegraph", "--title", ODD.encode() + b"\n;x\xff", "-o", str(out), trace)
    root = check_svg(out, prog, py)
    [title] = [t for t in root.iter(SVG + "text") if t.get("id") == "title"]
    assert title.text == ODD + "\n;x\ufffd"
    # the default title carries the hostile command line
    run(filrec, "flamegraph", "-o", str(out), trace)
    root = check_svg(out, prog, py)
    [title] = [t for t in root.iter(SVG + "text") if t.get("id") == "title"]
    assert ODD in title.text


class Text(html.parser.HTMLParser):
    """The text and the tags of an HTML page."""

    def __init__(self):
        super().__init__()
        self.text, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_report_html_escapes_names(odd):
    trace, report, prog, py = odd
    raw = open(report + b"/index.html", "rb").read().decode("utf-8")
    assert "<script" not in raw.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;" in raw
    page = Text()
    page.feed(raw)
    assert "script" not in page.tags
    text = "".join(page.text)
    assert cleaned(trace) in text       # shown as text: the trace, the command
    assert cleaned(prog) in text
    m = re.search(r'<td data-bytes="(\d+)">', raw)
    assert int(m.group(1)) == BYTES     # the first row is the renamed function's


@pytest.mark.parametrize("args", [
    ["summary", "--json", "--top", "0"],
    ["summary", "--json", "--by", "stack"],
    ["summary", "--json", "--by", "function"],
    ["export", "--format", "json"],
    ["export", "--format", "speedscope"],
    ["lines", "--json"],
    ["stats", "--json"],
    ["leaks", "--json"],
    ["summary", "--temporary", "--json"],
], ids=lambda a: "-".join(x.strip("-") for x in a[:3]))
def test_json_outputs_carry_names(odd, filrec, args):
    trace, report, prog, py = odd
    j = json.loads(run(filrec, *args, trace))
    ss = set(strings(j))
    if args[0] in ("summary", "export") and "--temporary" not in args:
        assert any(odd_name(s) for s in ss), sorted(ss)[:20]
    if args[0] in ("summary", "export", "lines") and "--temporary" not in args:
        assert any(odd_file(s, prog) for s in ss), sorted(ss)[:20]
    if args[0] == "stats":      # the command line, as given: the program's path, cleaned
        assert cleaned(prog) in j["command"]
    if args[:2] == ["summary", "--json"] and "--by" not in args:
        top = j["locations"][0]
        assert odd_name(top["function"]) and top["bytes"] == BYTES


def test_export_folded_one_stack_per_line(odd, filrec):
    trace, report, prog, py = odd
    out = run(filrec, "export", "--format", "folded", trace)
    assert "\r" not in out
    lines = out.split("\n")
    assert lines[-1] == ""
    parsed = [re.fullmatch(r"(.+) (\d+)", l) for l in lines[:-1]]
    assert all(parsed), [l for l, m in zip(lines, parsed) if not m]
    peak = json.loads(run(filrec, "summary", "--json", trace))["peak_bytes"]
    assert sum(int(m.group(2)) for m in parsed) == peak
    # the separators inside the name (newline, ';') are replaced by ':'
    odd_lines = [m for m in parsed if ODD + "::x" in m.group(1)]
    assert len(odd_lines) == 1 and int(odd_lines[0].group(2)) == BYTES
    inner = odd_lines[0].group(1).split(";")[-1]
    assert inner.startswith(ODD + "::x\ufffd") and inner.endswith(f":{LINE})")


def test_summary_text_one_location_per_line(odd, filrec):
    trace, report, prog, py = odd
    for by in ("line", "function", "stack"):
        out = run(filrec, "summary", "--bytes", "--by", by, trace)
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out), "a control character reached the terminal"
        rows = [l for l in out.splitlines() if ODD in l and "30,000,001" in l]
        assert len(rows) == 1, out


def test_lines_reads_file_with_non_utf8_name(odd, filrec):
    """The trace holds the program's path as the file system knows it (a non-UTF-8
    byte included), so `filrec lines` finds and lists its source."""
    trace, report, prog, py = odd
    out = run(filrec, "lines", trace)
    assert "source not readable" not in out.split("# @odd")[0], out[:2000]
    assert "kept = types.FunctionType" in out, out[:2000]
