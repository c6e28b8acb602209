"""Never harm the job: a child that closes every descriptor (the recorder's connection
among them), a daemon that outlives the program, a fork while threads allocate. Each
program prints what it should, exits 0, and every trace is complete with the known
bytes at the known line."""
import json
import subprocess

import pytest

from conftest import PYPROGS, TIMEOUT, program_answer
from test_run_job import line_of

PROG = PYPROGS / "job_harm.py"


def run_job(filrec, py, tmp_path, what):
    trace = tmp_path / "job.bin"
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--python", py.exe,
                        str(PROG), what], capture_output=True, text=True, timeout=TIMEOUT,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "recording stopped" not in r.stderr, r.stderr
    return trace, program_answer(r.stdout)


def held(filrec, trace, tag):
    p = subprocess.run([filrec, "summary", "--json", "--top", "0", str(trace)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    line = line_of(PROG, tag)
    return s, sum(l["bytes"] for l in s["locations"] if l["file"] == str(PROG) and l["line"] == line)


def stats(filrec, trace):
    p = subprocess.run([filrec, "stats", "--json", str(trace)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("what,key,tag,size", [
    ("closefds", "child", "HOLD_CLOSED", 50_000_000),
    ("daemon", "daemon", "HOLD_DAEMON", 30_000_000),
    ("threads", "child", "HOLD_FORKED", 10_000_000),
    ("late", "late", "HOLD_LATE", 20_000_000),
])
def test_run_job_hard_children_unharmed(filrec, python, tmp_path, what, key, tag, size):
    trace, a = run_job(filrec, python, tmp_path, what)
    assert a.get("status", 0) == 0
    child = tmp_path / "job.bin.d" / f"{a[key]}.bin"
    st = stats(filrec, child)
    assert st["ended_cleanly"] is True and st["ending"]["how"] == "exit", st["ending"]
    assert st["ending"].get("exit_code") == 0
    _, got = held(filrec, child, tag)
    assert size <= got <= size + 4096  # the bytearray, and the odd small object
    assert stats(filrec, trace)["ending"]["how"] == "exit"


def test_run_job_children_killed_at_once_no_hang(filrec, python, tmp_path):
    """Children killed before (or while) they join: filrec run ends with the program,
    and every trace it wrote is complete."""
    trace, a = run_job(filrec, python, tmp_path, "killfast")
    assert a["killed"] == 50
    for child in (tmp_path / "job.bin.d").glob("*.bin"):
        st = stats(filrec, child)
        assert st["ended_cleanly"] is True, child
