"""gnuplot runs shell commands (backquotes, system(), `!`), so no string from a trace
or the command line may reach its script as code. A script whose file name and
markers are made of quotes, backquotes, system() calls and newlines, plotted with a
hostile title and data file name, must draw its picture and create no file."""
import subprocess
import xml.dom.minidom

from conftest import TIMEOUT

NAME = 'x"; system("touch pwned") #.py'
PROGRAM = r'''
import time
import filrec

filrec.mark("it's")
filrec.mark('say "hi" \' ` ')
filrec.mark("`touch pwned2`")
filrec.mark("a\nb\tc\r ! touch pwned3\n; system('touch pwned4') @x $(touch pwned5) <&>")
with filrec.region("r'\"`touch pwned6`\n!touch pwned7"):
    big = bytearray(50_000_000)   # the peak, charged to this hostile file name
    time.sleep(0.05)
del big
print("ok")
'''
HOSTILE = ["it's", 'say \u201dhi\u201d \' ` ',  "`touch pwned2`",
           "a b c  ! touch pwned3 ; system('touch pwned4') @x $(touch pwned5) <&>"]


def pwned(d):
    """Files the commands would have made (touch pwned, pwned2, ...), anywhere below d."""
    return sorted(p.name for p in d.rglob("pwned*"))


def test_plot_injection_no_command_runs(filrec, sample_python, pyrecord, tmp_path):
    script = tmp_path / NAME
    script.write_text(PROGRAM)
    rec = pyrecord(sample_python, NAME, cwd=tmp_path)
    assert rec.run.stdout == "ok\n"
    assert pwned(tmp_path) == []            # the report's memory.svg was drawn already
    for bad in ("d'a.dat", "d`touch pwned13`.dat", "d\n.dat"):   # unsafe in the script
        p = subprocess.run([filrec, "plot", "--data", bad, str(rec.trace)], text=True,
                           capture_output=True, timeout=TIMEOUT, cwd=tmp_path)
        assert p.returncode == 1 and p.stderr.startswith("filrec: cannot use '"), p.stderr
        assert p.stderr.count("\n") == 1 + bad.count("\n"), p.stderr
    data = tmp_path / 'd"a $(touch pwned8);t.dat'
    title = "t' . system('touch pwned9') . '`touch pwned10`\n!touch pwned11"
    out = tmp_path / "o'u`touch pwned12`.svg"
    p = subprocess.run([filrec, "plot", "--data", str(data), "--title", title, "-o", str(out),
                        str(rec.trace)], capture_output=True, text=True, timeout=TIMEOUT,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert pwned(tmp_path) == []

    blocks = data.read_text().split("\n\n\n")
    markers = [l.split("\t") for l in blocks[2].splitlines() if not l.startswith("#")]
    assert [m[2] for m in markers] == HOSTILE           # one line each, quotes replaced
    regions = [l.split("\t") for l in blocks[3].splitlines() if not l.startswith("#")]
    assert [r[2] for r in regions] == ["r'\u201d`touch pwned6` !touch pwned7"]
    peak = [l.split("\t") for l in blocks[4].splitlines() if not l.startswith("#")]
    assert peak[0][2].endswith(": %s:10 <module>" % str(script).replace('"', "\u201d"))

    text = out.read_text()
    xml.dom.minidom.parseString(text)                   # gnuplot escaped for XML
    assert "`touch pwned2`" in text and "system(\u201dtouch pwned\u201d)" in text
    # the script holds the title and data file name single-quoted, nothing else
    gp = (tmp_path / (data.name + ".gp")).read_text()
    # doubling ' is gnuplot's escape, but 5.4 ends 'a''''b' early: ' is U+2019 instead
    assert "'t\u2019 . system(\u2019touch pwned9\u2019) . \u2019\u2018touch pwned10\u2018 " \
        "!touch pwned11'" in gp
    assert "pwned2" not in gp and "pwned6" not in gp and "system(\"" not in gp
    for line in gp.splitlines():
        assert line.count("'") % 2 == 0, line               # every string closed
        assert "`" not in line and "''" not in line.replace(" '' index", ""), line
