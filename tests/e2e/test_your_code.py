"""By default, summary, leaks, the report's tables and the plot's label group by the
innermost frame of the user's own code (not the standard library, site-packages,
frozen modules, or filrec), with the library call beneath it; --by innermost keeps the
innermost frame; --code-root narrows what is the user's code; the flamegraph leaves the
import machinery's frames out unless --import-frames. Known answers: the lines of
pyprogs/your_code.py and the bytes they hold."""
import html
import json
import subprocess

import pytest

from conftest import PYPROGS, TIMEOUT
from test_run_job import line_of

PROG = PYPROGS / "your_code.py"


@pytest.fixture(scope="module")
def trace(tmp_path_factory, filrec):
    from conftest import VENV_PYTHON
    t = tmp_path_factory.mktemp("yc") / "t.bin"
    p = subprocess.run([filrec, "run", "--no-report", "-o", str(t), "--python", VENV_PYTHON,
                        str(PROG)], capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode and "No module named 'numpy'" in p.stderr:
        pytest.skip("no NumPy in .venv")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "7888890"
    return t


def summ(filrec, trace, *opts):
    p = subprocess.run([filrec, "summary", "--json", "--top", "0", *opts, str(trace)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def at(s, line):
    (l,) = [l for l in s["locations"] if l["file"] == str(PROG) and l["line"] == line]
    return l


def test_default_is_your_code(filrec, trace):
    s = summ(filrec, trace)
    assert s["by"] == "code"
    top = s["locations"][0]
    assert (top["file"], top["line"], top["function"]) == (str(PROG), line_of(PROG, "ONES"), "<module>")
    assert 80_000_000 <= top["bytes"] <= 80_000_000 + 4096
    assert top["via"]["function"] == "ones" and "numpy" in top["via"]["file"]
    j = at(s, line_of(PROG, "JSON"))
    assert j["bytes"] >= 7_888_890  # the string (and, at the peak, what json held)
    # NumPy's import (OpenBLAS's buffers, its modules) is charged to the import line.
    imp = at(s, line_of(PROG, "IMPORT"))
    assert imp["bytes"] > 1_000_000 and "via" in imp
    # Generated code (file "<string>") is charged to the script's line that ran it.
    g = at(s, line_of(PROG, "GEN"))
    assert 20_000_000 <= g["bytes"] <= 20_000_000 + 4096
    assert (g["via"]["file"], g["via"]["function"]) == ("<string>", "make")
    # A library's line is a location only where no frame of the script led to it (the
    # interpreter's start-up, before the script ran).
    for l in s["locations"]:
        assert l["file"] in (str(PROG), "") or \
            not any(f["file"] == str(PROG) for f in l["stack"]), (l["file"], l["line"])


def test_innermost_and_code_root(filrec, trace, tmp_path):
    s = summ(filrec, trace, "--by", "innermost")
    assert s["by"] == "line"
    top = s["locations"][0]
    assert top["function"] == "ones" and top["file"] != str(PROG) and "via" not in top
    assert summ(filrec, trace, "--by=line")["locations"] == s["locations"]
    # A code root that does not hold the script: nothing is the user's, as innermost.
    r = summ(filrec, trace, "--code-root", str(tmp_path))
    assert [(l["file"], l["line"]) for l in r["locations"]] == \
        [(l["file"], l["line"]) for l in s["locations"]]
    r = summ(filrec, trace, "--code-root", str(PYPROGS))
    assert r["locations"][0]["file"] == str(PROG)
    p = subprocess.run([filrec, "summary", "--code-root", str(tmp_path / "nope"), str(trace)],
                       capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr.startswith("filrec: bad --code-root")


def test_text_shows_the_library_call(filrec, trace):
    p = subprocess.run([filrec, "summary", str(trace)], capture_output=True, text=True)
    assert p.returncode == 0
    row = [l for l in p.stdout.splitlines() if f"{PROG}:{line_of(PROG, 'ONES')} <module>" in l]
    assert len(row) == 1 and row[0].endswith(" \u2192 ones (numeric.py:" + row[0].split(":")[-1])


def test_flamegraph_hides_import_machinery(filrec, trace, tmp_path):
    frozen = html.escape("<frozen importlib._bootstrap>")
    out = tmp_path / "f.svg"
    subprocess.run([filrec, "flamegraph", "-o", str(out), str(trace)], check=True,
                   capture_output=True)
    assert frozen not in out.read_text()
    subprocess.run([filrec, "flamegraph", "--import-frames", "-o", str(out), str(trace)],
                   check=True, capture_output=True)
    assert frozen in out.read_text()
