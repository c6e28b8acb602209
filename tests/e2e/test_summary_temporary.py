"""`filrec summary --temporary`: memory churn, by location. pyprogs/temp_churn.py makes
10,000 bytearrays of 100,000 bytes at one line, each freed before the next is made.
The known answer is exact: each buffer is one malloc of 100,001 bytes (too big for
pymalloc, so filrec sees it; below glibc's mmap threshold, so it is a heap block) and
one free, with no other malloc of the thread in between. So with the default
threshold (at most one other allocation in between, memray's), with 0 (none) and with
a larger one, the line has count 10,000, bytes 10,000 x 100,001 and average 100,001,
and it is the top of the report (sorted by bytes), each buffer counted once. The report folder's
temporary table says the same."""
import json
import re
import shutil
import subprocess

import pytest

from conftest import PYPROGS, TIMEOUT

COUNT = 10_000
ALLOC = 100_001


@pytest.fixture
def churn(python, pyrecord, tmp_path):
    """(PyRecording, program path, the @churn line) of temp_churn.py on python."""
    prog = tmp_path / "temp_churn.py"
    shutil.copy(PYPROGS / "temp_churn.py", prog)
    [line] = [n for n, text in enumerate(prog.read_text().splitlines(), 1)
              if text.endswith("# @churn")]
    return pyrecord(python, str(prog)), prog, line


def temporary(filrec, trace, *opts):
    p = subprocess.run([filrec, "summary", "--temporary", *opts, str(trace)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize("threshold", [None, 0, 1, 8])
def test_summary_temporary_counts_churn(churn, filrec, python, threshold):
    rec, prog, line = churn
    opts = ["--json", "--top", "0"] + (["--threshold", str(threshold)] if threshold is not None
                                       else [])
    j = json.loads(temporary(filrec, rec.trace, *opts))
    assert (j["report"], j["threshold"]) == ("temporary", 1 if threshold is None else threshold)
    top = j["locations"][0]
    assert (top["file"], top["line"], top["function"]) == (str(prog), line, "churn"), \
        j["locations"][:3]
    assert top["count"] == COUNT
    assert top["bytes"] == COUNT * ALLOC
    assert top["average_bytes"] == ALLOC
    assert [(f["function"], f["line"]) for f in top["stack"]][-1] == ("churn", line)
    assert sum(1 for l in j["locations"] if l["line"] == line and l["file"] == str(prog)) == 1


def test_summary_temporary_text_and_report(churn, filrec):
    rec, prog, line = churn
    out = temporary(filrec, rec.trace, "--bytes")
    rows = [l for l in out.splitlines() if l.endswith(f"{prog}:{line} churn")]
    assert len(rows) == 1, out
    assert rows[0].split()[:3] == ["10,000", f"{COUNT * ALLOC:,}", f"{ALLOC:,}"]
    html = (rec.trace.parent / (rec.trace.stem + "-report") / "index.html").read_text()
    temp = html.split("<h2>Temporary allocations</h2>", 1)[1]
    m = re.search(r'<td data-count="(\d+)">', temp)
    assert m and int(m.group(1)) == COUNT


def test_numpy_temporary_found_with_the_default(sample_python, filrec, tmp_path):
    prog = PYPROGS / "numpy_temporaries.py"
    trace = tmp_path / "t.bin"
    p = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--python",
                        sample_python.exe, str(prog)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    if p.returncode and "No module named 'numpy'" in p.stderr:
        pytest.skip(f"{sample_python} has no NumPy")
    assert p.returncode == 0, p.stderr
    line = next(n for n, t in enumerate(prog.read_text().splitlines(), 1) if t.endswith("# TEMP"))
    j = json.loads(temporary(filrec, trace, "--json"))
    top = j["locations"][0]
    assert (top["file"], top["line"]) == (str(prog), line), j["locations"][:3]
    # Each array but the last is freed right after its successor is made.
    assert top["count"] in (99, 100) and top["bytes"] == top["count"] * 8_000_000
    assert top["bytes"] == max(l["bytes"] for l in j["locations"])
    # With 0 (no newer allocation live), the new array, made before the old is freed,
    # hides them.
    j0 = json.loads(temporary(filrec, trace, "--json", "--threshold", "0"))
    assert not any(l["line"] == line and l["file"] == str(prog) and l["count"] >= 99
                   for l in j0["locations"])
