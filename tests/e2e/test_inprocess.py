"""Recording from inside Python, without LD_PRELOAD: filrec.recording(), start()/stop()
and @filrec.profile load libfilrec.so into the running interpreter, patch every loaded
library's allocation slots (and those of libraries loaded later), and start a sink
process of their own. Each test runs a real interpreter on a program of
tests/e2e/pyprogs/inproc_*.py with known bytes at known lines, and checks the handle's
numbers and the trace's (read by `filrec summary`) against them."""
import json
import os
import subprocess

import pytest

from conftest import PYPROGS, REPO, TIMEOUT, program_answer
from test_run_job import line_of

MB = 1_000_000


def inproc_env(build):
    """The environment of a program that imports filrec from the source tree."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python")
    env["FILREC_BIN"] = str(build / "filrec")
    for k in ("LD_PRELOAD", "FILREC_SOCK"):
        env.pop(k, None)
    return env


def run_py(py, build, prog, *args, expect_rc=0, cwd=None):
    p = subprocess.run([py.exe, str(PYPROGS / prog), *map(str, args)], capture_output=True,
                       text=True, timeout=TIMEOUT, env=inproc_env(build), cwd=cwd)
    assert p.returncode == expect_rc, f"{prog} exited {p.returncode}:\n{p.stderr}"
    return p


def top_at(summ, path, line):
    """Bytes at the peak of the summary's locations at path:line (innermost frame)."""
    return sum(l["bytes"] for l in summ["locations"] if l["file"] == str(path) and l["line"] == line)


def test_block_twice_counts_only_inside(python, build, summary, stats, tmp_path):
    prog = PYPROGS / "inproc_block.py"
    p = run_py(python, build, prog.name, tmp_path / "t")
    out = program_answer(p.stdout)
    assert out["active_after"] is False
    inside = line_of(prog, "INSIDE")
    assert len(out["rounds"]) == 2
    for i, r in enumerate(out["rounds"]):
        assert r["path"] == str(tmp_path / ("t.%d.bin" % i)) and not r["nested"]
        # The handle: 100 MB at the line inside, plus at most 1 MB of the rest.
        assert 100 * MB <= r["peak"] <= 101 * MB, r
        file, line, func, nbytes = r["top"][0]
        assert (file, line, func) == (str(prog), inside, "<module>"), r["top"]
        assert 100 * MB <= nbytes <= 100 * MB + 4096
        # The trace says the same to every verb, and holds nothing of outside.
        s = summary(r["path"])
        assert s["peak_bytes"] == r["peak"] and s["started_late"] is True
        assert s["ending"]["how"] == "running"
        assert s["total_allocated_bytes"] < 110 * MB, "the 300 MB outside was counted"
        assert not any(l["line"] == line_of(prog, "OUTSIDE") and l["file"] == str(prog)
                       for l in s["locations"])
        _, st = stats(r["path"])  # markers work in-process too
        assert [(m["label"], m["type"]) for m in st["markers"]] == [("round %d" % i, "point")]
        assert st["markers"][0]["live_bytes"] < MB


def test_native_buffers_and_a_library_loaded_later(sample_python, build, summary, tmp_path):
    prog = PYPROGS / "inproc_native.py"
    p = subprocess.run([sample_python.exe, "-c", "import numpy"], capture_output=True)
    if p.returncode:
        pytest.skip(f"{sample_python} has no NumPy")
    p = run_py(sample_python, build, prog.name, build / "clib" / "libgrow.so", tmp_path / "n")
    out = program_answer(p.stdout)
    nat = summary(out["native"]["path"])
    assert nat["peak_bytes"] == out["native"]["peak"]
    # NumPy's 40,000,000 (under the NUMPY line) and the C library's 30,000,000 (under
    # CLIB: libgrow.so was loaded after start, so only the dlopen hook patched it).
    def under(line):
        return sum(l["bytes"] for l in nat["locations"]
                   if any(f["file"] == str(prog) and f["line"] == line for f in l["stack"]))
    assert 40 * MB <= under(line_of(prog, "NUMPY")) <= 40 * MB + 4096
    assert under(line_of(prog, "CLIB")) == 30 * MB
    assert 70 * MB <= nat["peak_bytes"] <= 71 * MB
    # python_allocators: the 200,000 small str objects each recorded (by pymalloc's
    # callers), not only the arenas behind them.
    obj = summary(out["objects"]["path"])
    assert obj["allocations"] >= 200_000
    small = top_at(obj, prog, line_of(prog, "SMALL"))
    assert small >= 200_000 * 50, obj["locations"][:3]


def test_profile_returns_the_value_and_exit_ends_the_trace(python, build, summary, tmp_path):
    prog = PYPROGS / "inproc_profile.py"
    p = run_py(python, build, prog.name, tmp_path, expect_rc=3)
    out = program_answer(p.stdout)
    assert out["value"] == 2 * (64 << 20)
    assert 64 << 20 <= out["peak"] <= (64 << 20) + MB
    assert out["top"][0][:3] == [str(prog), line_of(prog, "HOLD"), python.qualname("build")]
    assert "filrec: build(): peak 64.0 MiB" in p.stderr
    s = summary(tmp_path / "exit.bin")
    assert s["ending"]["how"] == "exit" and s["ending"]["exit_code"] == 3, s["ending"]
    # (the interpreter frees the block as it finalizes, before the trailer)
    assert 10 * MB <= top_at(s, prog, line_of(prog, "EXIT_HOLD")) <= 10 * MB + 4096
    assert s["started_late"] is True


def test_nested_under_filrec_run_is_a_region(python, filrec, stats, tmp_path):
    prog = PYPROGS / "inproc_nested.py"
    trace = tmp_path / "run.bin"
    env = inproc_env(REPO / "build")
    env.pop("FILREC_BIN")
    p = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--python", python.exe,
                        str(prog)], capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert p.returncode == 0, p.stderr
    out = program_answer(p.stdout)
    assert out == {"nested": True, "path": None, "peak": None}
    _, st = stats(trace)
    assert [(m["label"], m["type"]) for m in st["markers"]] == \
        [("filrec.recording", "begin"), ("filrec.recording", "end")]
    assert not list(tmp_path.glob("filrec-*.bin")), "a second trace was started"


def test_misuse_says_so(python, build, tmp_path):
    code = r"""
import filrec, sys
assert filrec.stop() is None
r = filrec.start(sys.argv[1])
try:
    filrec.start(sys.argv[1] + ".2")
except RuntimeError as e:
    print("twice:", e)
filrec.stop()
try:
    filrec.start(sys.argv[1])
except FileExistsError as e:
    print("exists:", e)
print("peak", r.peak is not None)
"""
    p = subprocess.run([python.exe, "-c", code, str(tmp_path / "m.bin")], capture_output=True,
                       text=True, timeout=TIMEOUT, env=inproc_env(build))
    assert p.returncode == 0, p.stderr
    assert "twice: filrec: this process is being recorded already" in p.stdout
    assert "exists: filrec: '%s' exists" % (tmp_path / "m.bin") in p.stdout
    assert "peak True" in p.stdout


def test_fork_and_a_killed_sink_do_no_harm(python, build, tmp_path):
    p = run_py(python, build, "inproc_harm.py", tmp_path / "h")
    out = program_answer(p.stdout)
    assert out["fork"]["child_status"] == 0
    assert out["fork"]["peak"] is not None
    assert out["total"] == 300_000 * 600 and out["stop_s"] < 30
    # Said once, and the program's own result came out whole.
    assert p.stderr.count("filrec: recording stopped") == 1, p.stderr


def test_profile_lines_table(python, build, tmp_path):
    prog = PYPROGS / "inproc_lines.py"
    p = run_py(python, build, prog.name, cwd=tmp_path)
    out = p.stdout.splitlines()
    assert out[-1] == "result 3"
    head = out[0].split()
    assert head[:3] == ["filrec:", "build,", f"{prog}:{line_of(prog, 'KEEP') - 4};"], out[0]
    assert 80_000_004 <= int(head[4].replace(",", "")) <= 80_000_004 + 4096, out[0]
    assert out[2].split() == ["Line", "#", "Mem", "usage", "Increment", "Occurrences", "Allocated",
                              "At", "peak", "Line", "Contents"]
    rows = {int(r.split()[0]): r.split() for r in out[4:-1]}
    keep, tmp, drop = (rows[line_of(prog, t)] for t in ("KEEP", "TMP", "DROP"))
    # Mem usage adds what the call's set-up left live before its first line (under 1 KB).
    base = int(keep[1].replace(",", "")) - 30_000_003
    assert 0 <= base < 4096
    assert keep[2:6] == ["+30,000,003", "3", "30,000,003", "30,000,003"]
    assert int(tmp[1].replace(",", "")) == base + 80_000_004
    assert tmp[2:6] == ["+50,000,001", "1", "50,000,001", "50,000,001"]
    assert int(drop[1].replace(",", "")) == base + 30_000_003
    assert drop[2:5] == ["-50,000,001", "1", "0"]


NATIVE_INPROC = """\
import sys
import filrec

rec = filrec.start(sys.argv[1], force=True, native=True)


def f():
    return bytearray(7_000_000)  # F


x = f()
print(filrec.stop().peak)
"""


def test_start_native(python, build, summary, tmp_path):
    """filrec.start(native=True): the Python line, with the C frames under it; a trace
    of format version 3, started late."""
    prog = tmp_path / "native_inproc.py"
    prog.write_text(NATIVE_INPROC)
    trace = tmp_path / "n.bin"
    p = subprocess.run([python.exe, str(prog), str(trace)], capture_output=True, text=True,
                       timeout=TIMEOUT, env=inproc_env(build))
    assert p.returncode == 0, p.stderr
    assert 7 * MB <= int(p.stdout) <= 7 * MB + 64 * 1024
    assert trace.read_bytes()[8] == 3
    s = summary(trace)
    top = s["locations"][0]
    assert (top["file"], top["function"], top["line"]) == (str(prog), "f", 8)
    assert 7 * MB <= top["bytes"] <= 7 * MB + 64
    stack = [(f["file"], f["function"]) for f in top["stack"]]
    at = stack.index((str(prog), "f"))
    assert stack[at - 1] == (str(prog), "<module>") and len(stack) > at + 1, stack
    assert s["started_late"] is True


@pytest.mark.parametrize("lanes", ["never", "always"])
def test_threads_at_once_three_times(sample_python, build, summary, tmp_path, monkeypatch, lanes):
    """C work in four Python threads at once (the GIL let go), recorded three times in a
    row from inside the process: each recording has its four 8 MB blocks live together
    at the peak, every allocation the C calls made, and ends clean, whether the threads
    shared one log or wrote into logs of their own (the next start writing on in them)."""
    monkeypatch.setenv("FILREC_LANES", lanes)
    prog = PYPROGS / "inproc_threads.py"
    p = run_py(sample_python, build, prog.name, build / "clib" / "libspin.so", tmp_path / "t")
    out = program_answer(p.stdout)
    n, keep = out["threads"], out["keep"]
    for r in out["rounds"]:
        s = summary(r["path"])
        assert s["ending"]["how"] == "running", s["ending"]
        assert n * keep <= s["peak_bytes"] <= n * keep + MB, s["peak_bytes"]
        assert s["peak_bytes"] == r["peak"]
        assert n * keep <= top_at(s, prog, line_of(prog, "KEEP")) <= n * keep + 16 * 512 * n
        assert s["allocations"] >= n * (out["pairs"] + 1)
        assert out["bytes"] <= s["total_allocated_bytes"] <= out["bytes"] + MB
