"""`filrec plot` on samples/three_phases.py, whose answer is known: three plateaus of
300, 100 and 500 MB above the interpreter's own memory, a marker before each phase and
one after, a region around the third, the peak charged to grow's bytearray line. The
data the plot is drawn from (--data) must say so; the picture must be a PNG, SVG or
PDF of the size asked for; bad input must give one line and exit 1."""
import os
import re
import subprocess
import xml.dom.minidom

import pytest

from conftest import REPO, TIMEOUT

SAMPLE = REPO / "samples" / "three_phases.py"
MB = 1_000_000
PLATEAUS = [300 * MB, 100 * MB, 500 * MB]
LABELS = ["phase 1: load 300 MB", "phase 2: trim to 100 MB", "phase 3: grow to 500 MB",
          "done"]
PAUSE = 0.3     # the sample's sleep after each phase


def expect(key):
    m = re.search(r"^# expect: %s = (.+)$" % key, SAMPLE.read_text(), re.M)
    return m.group(1).strip()


def read_data(path):
    """The data file's five blocks (heap, rss, markers, regions, peak) as lists of
    rows: numbers as float (time) or int (bytes), labels as str; placeholder rows of
    empty blocks (NaN) left out."""
    blocks = path.read_text().split("\n\n\n")
    assert len(blocks) == 5, blocks
    out = []
    for block in blocks:
        rows = []
        for line in block.splitlines():
            if not line or line.startswith("#") or line.startswith("NaN"):
                continue
            cells = line.split("\t")
            rows.append([float(cells[0])] + [int(c) if c.isdigit() else
                                             float(c) if re.fullmatch(r"[\d.]+", c) else c
                                             for c in cells[1:]])
        out.append(rows)
    return out


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def phases(tmp_path_factory, build):
    """The sample recorded once (with its report), plotted with --data kept."""
    from conftest import ensure_support_module, probe_python, SAMPLE_PYTHON, FILREC_SAYS
    py = probe_python(SAMPLE_PYTHON)
    if isinstance(py, str):
        pytest.skip(py)
    ensure_support_module(py, build)
    d = tmp_path_factory.mktemp("phases")
    filrec = str(build / "filrec")
    trace = d / "phases.bin"
    r = subprocess.run([filrec, "run", "-o", str(trace), "--python", py.exe, str(SAMPLE)],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=d)
    assert r.returncode == 0, r.stderr
    assert not [l for l in r.stderr.splitlines() if l.startswith(FILREC_SAYS)
                and ("plot" in l or "gnuplot" in l)], r.stderr
    p = subprocess.run([filrec, "plot", "--data", str(d / "phases.dat"), "--width", "800",
                        "--height", "500", "-o", str(d / "phases.png"), str(trace)],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=d)
    assert p.returncode == 0, p.stderr
    assert p.stderr == f"filrec: wrote {d / 'phases.png'}\n"
    summary = subprocess.run([filrec, "summary", "--json", str(trace)], capture_output=True,
                             text=True, timeout=TIMEOUT)
    import json
    return d, filrec, trace, read_data(d / "phases.dat"), json.loads(summary.stdout)


def test_plot_phases_three_plateaus(phases):
    _, _, _, (heap, _, markers, _, _), _ = phases
    base = markers[0][1]            # live bytes at "phase 1", before any phase
    for k, want in enumerate(PLATEAUS):
        # the last 0.15 s before the next marker lie inside the phase's pause
        end = markers[k + 1][0]
        window = [v for t, v in heap if end - PAUSE / 2 <= t <= end]
        assert len(window) >= 3, (k, heap)
        for v in window:
            assert abs(v - base - want) <= 0.02 * want, (k, v - base, want)
        # the marker after the phase saw the plateau too, exactly at its event
        assert abs(markers[k + 1][1] - base - want) <= 0.02 * want, markers


def test_plot_phases_markers_in_order(phases):
    _, _, _, (heap, rss, markers, regions, _), _ = phases
    assert [m[2] for m in markers] == LABELS
    times = [m[0] for m in markers]
    for a, b in zip(times, times[1:]):
        assert b - a >= PAUSE * 0.9, times       # a plateau between two markers
    assert heap[0][0] <= times[0] and times[-1] <= heap[-1][0]
    assert len(regions) == 1 and regions[0][2] == "merge", regions
    assert times[2] <= regions[0][0] <= regions[0][1] <= times[3], (regions, times)
    assert rss and max(v for _, v in rss) >= PLATEAUS[2]


def test_plot_phases_peak_label(phases):
    _, _, _, (heap, _, _, _, peak), summary = phases
    assert len(peak) == 1
    t, bytes_, label = peak[0]
    assert bytes_ == summary["peak_bytes"]
    assert abs(t - summary["peak_time_s"]) < 1e-6
    assert [t, bytes_] in [list(p) for p in heap]            # the exact peak is plotted
    assert max(v for _, v in heap) == bytes_
    where = f"{SAMPLE}:{expect('top_line')} {expect('top_function')}"
    assert label.startswith("peak ") and label.endswith(": " + where), label


def test_plot_phases_png_size(phases):
    d = phases[0]
    assert png_size(d / "phases.png") == (800, 500)
    assert (d / "phases.dat.gp").read_text().startswith("# filrec plot")


def test_plot_phases_svg_pdf_default_name(phases, tmp_path):
    d, filrec, trace, _, _ = phases
    svg, pdf = tmp_path / "m.svg", tmp_path / "m.pdf"
    for out in (svg, pdf):
        p = subprocess.run([filrec, "plot", "-o", str(out), "--width", "640", str(trace)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr
    doc = xml.dom.minidom.parse(str(svg)).documentElement
    assert doc.tagName == "svg" and doc.getAttribute("width").startswith("640")
    assert "phase 2: trim to 100 MB" in svg.read_text()
    assert pdf.read_bytes()[:5] == b"%PDF-"
    p = subprocess.run([filrec, "plot", str(trace)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert p.returncode == 0 and png_size(d / "phases.png") == (1200, 600), p.stderr
    assert not list(d.glob("phases.png.*")), "a temporary file was left"


def test_plot_phases_in_report(phases, tmp_path):
    """The report draws its plot from its own two replays: the same picture, byte for
    byte, as `filrec plot` draws from its own."""
    d, filrec, trace = phases[:3]
    report = d / "phases-report"
    doc = xml.dom.minidom.parse(str(report / "memory.svg")).documentElement
    assert doc.tagName == "svg"
    assert '<img src="memory.svg"' in (report / "index.html").read_text()
    p = subprocess.run([filrec, "plot", "-o", str(tmp_path / "m.svg"), str(trace)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "m.svg").read_bytes() == (report / "memory.svg").read_bytes()


def one_line_error(p, start):
    assert p.returncode == 1, p
    assert p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith(start), p.stderr


def test_plot_bad_input(filrec, tmp_path):
    run = lambda *a, **kw: subprocess.run([filrec, "plot", *a], capture_output=True,
                                          text=True, timeout=TIMEOUT, cwd=tmp_path, **kw)
    one_line_error(run("missing.bin"), "filrec: cannot open 'missing.bin': ")
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(b"\x89FILREC\n" + os.urandom(200))
    one_line_error(run(str(corrupt)), f"filrec: '{corrupt}': ")
    assert not (tmp_path / "corrupt.png").exists()
    one_line_error(run("-o", "x.gif", str(corrupt)), "filrec: cannot tell the format of 'x.gif'")
    one_line_error(run("--width", "7", str(corrupt)), "filrec: bad --width '7'")
    one_line_error(run("--bogus", str(corrupt)), "filrec: unknown option '--bogus'")
    assert run("--help").returncode == 0


def test_plot_without_gnuplot(phases, tmp_path):
    _, filrec, trace, _, _ = phases
    env = dict(os.environ, PATH=str(tmp_path))      # no gnuplot there
    p = subprocess.run([filrec, "plot", "-o", str(tmp_path / "m.png"), str(trace)],
                       capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert (p.returncode, p.stderr) == (1, "filrec: cannot run gnuplot: not found "
                                           "(install the Debian package gnuplot-nox)\n")
    assert list(tmp_path.iterdir()) == []
    p = subprocess.run([filrec, "report", "-o", str(tmp_path / "r"), str(trace)],
                       capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stderr == f"filrec: report written to {tmp_path / 'r'}/index.html\n"
    assert not (tmp_path / "r" / "memory.svg").exists()
    assert "No plot: it needs gnuplot" in (tmp_path / "r" / "index.html").read_text()


REGIONS = """\
import time
import filrec

keep = []
for i in range(3):
    with filrec.region("step %d" % i):
        keep.append(bytearray(20_000_000))
        time.sleep(0.05)
"""


def test_plot_neighbouring_regions_differ_in_colour(phases, tmp_path):
    """Three regions one after another: three shaded spans, each its own colour."""
    d, filrec, _, _, _ = phases
    script = tmp_path / "regions.py"
    script.write_text(REGIONS)
    trace = tmp_path / "r.bin"
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--python",
                        "/usr/bin/python3", str(script)], capture_output=True, text=True,
                       timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    svg = tmp_path / "r.svg"
    p = subprocess.run([filrec, "plot", "--data", str(tmp_path / "r.dat"), "-o", str(svg),
                        str(trace)], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    regions = read_data(tmp_path / "r.dat")[3]
    assert [row[2] for row in regions] == ["step 0", "step 1", "step 2"]
    fills = re.findall(r'fill="(rgb\([\d, ]+\))"', svg.read_text())
    assert len(fills) == 3 and len(set(fills)) == 3, fills
