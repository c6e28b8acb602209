"""Text reports keep control characters away from the terminal. A program whose file
name holds a newline and an escape sequence (ESC [31m), and whose allocating line
holds a raw ESC byte in a comment, is recorded with `filrec run`, so the trace's file
names and command line carry them. `filrec lines` and `filrec stats` must print no
control character but newline (and the tabs of a source line): each one becomes
U+FFFD, so the file name stays on one line and no escape sequence reaches the
terminal. Known answer: the line allocates bytearray(30_000_000), 30,000,001 bytes,
live at the peak.
"""
import re
import subprocess

import pytest

from conftest import TIMEOUT, filrec_lines

HEAD, TAIL = "odd\nname", "\x1b[31mred"      # the file name: HEAD + TAIL + ".py"
BYTES = 30_000_001
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")   # all but tab and newline
PROGRAM = 'kept = bytearray(30_000_000)  # \x1b[2J\t@big\n'


def clean(s):
    return CONTROL.sub("\ufffd", s.replace("\n", "\ufffd"))


def run(filrec, *args):
    p = subprocess.run([filrec, *map(str, args)], capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout.decode("utf-8")


@pytest.fixture
def odd_trace(python, filrec, tmp_path):
    prog = tmp_path / (HEAD + TAIL + ".py")
    try:
        prog.write_text(PROGRAM)
    except OSError:
        pytest.skip("the file system takes no newline or escape in a name")
    trace = tmp_path / "odd.bin"
    r = subprocess.run([filrec, "run", "-o", str(trace), "--python", python.exe, str(prog)],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not filrec_lines(r.stderr)[1], r.stderr
    return trace, prog


def test_lines_text_cleans_control_characters(odd_trace, filrec):
    trace, prog = odd_trace
    out = run(filrec, "lines", "--bytes", trace)
    assert not CONTROL.search(out), "a control character reached the terminal"
    assert [l for l in out.splitlines() if l.startswith(clean(str(prog)))], out
    [row] = [l for l in out.splitlines() if "@big" in l]
    assert "30,000,001" in row and "# \ufffd[2J\t@big" in row, row
    split = [l for l in out.splitlines() if TAIL[1:] in l and clean(HEAD + TAIL) not in l]
    assert not split, split     # the name's second half on a line of its own


def test_stats_text_cleans_control_characters(odd_trace, filrec):
    trace, prog = odd_trace
    out = run(filrec, "stats", trace)
    assert not CONTROL.search(out), "a control character reached the terminal"
    [cmd] = [l for l in out.splitlines() if l.startswith("command:")]
    assert cmd.endswith(" " + clean(str(prog))), cmd
    peak = re.search(r"^peak: .*\(([\d,]+) bytes\)", out, re.M)
    assert int(peak.group(1).replace(",", "")) >= BYTES, out
