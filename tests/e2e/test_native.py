"""--native: native stacks under every allocation, named offline, on real programs.

The native samples (samples/native/: C, C++, Fortran) state their known answer in their
header as `expect: KEY = VALUE` comment lines; each is built here with -g -O1 and run
with `filrec run --native`, and `filrec summary --json` must report exactly that. The
rest are test programs with answers they print or the test knows: libraries loaded
and closed during the run, a stripped library, NumPy under Debian's python3 with the
Python line spliced in above the C frames, and a thread started from C."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, TIMEOUT, VENV_PYTHON, frames, probe_python, Python, \
    ensure_support_module

NATIVE = REPO / "samples" / "native"
COMPILERS = {".c": ["cc", "-std=gnu11"], ".cpp": ["g++"], ".f90": ["gfortran"]}


def expectations(path):
    out = {}
    for line in path.read_text().splitlines():
        m = re.fullmatch(r"\s*(?:\*|//|!) expect: (\w+) = (.+)", line)
        if m:
            v = m.group(2).strip()
            out[m.group(1)] = int(v.replace("_", "")) if re.fullmatch(r"[\d_]+", v) else v
    return out


def run_native(filrec, summary, tmp_path, *cmd, opts=()):
    trace = tmp_path / "native.bin"
    r = subprocess.run([filrec, "run", "--native", "-f", "-o", str(trace), "--no-report",
                        *opts, *cmd], capture_output=True, text=True, timeout=TIMEOUT,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "not recording" not in r.stderr and "no native stacks" not in r.stderr, r.stderr
    return trace, r, summary(trace)


def located(s, function, line):
    found = [l for l in s["locations"] if (l["function"], l["line"]) == (function, line)]
    assert len(found) == 1, [(l["function"], l["line"], l["bytes"]) for l in s["locations"][:8]]
    return found[0]


@pytest.mark.parametrize("sample", sorted(p.name for p in NATIVE.iterdir()
                                          if p.suffix in COMPILERS))
def test_native_sample_known_answer(filrec, summary, tmp_path, sample):
    src = NATIVE / sample
    cc = COMPILERS[src.suffix]
    if not shutil.which(cc[0]):
        pytest.fail(f"{cc[0]} is missing (scripts/deps.sh installs it)")
    exe = tmp_path / src.stem
    subprocess.run([*cc, "-g", "-O1", "-o", str(exe), str(src)], check=True, timeout=TIMEOUT,
                   cwd=tmp_path)  # gfortran writes its .mod files there
    want = expectations(src)
    trace, _, s = run_native(filrec, summary, tmp_path, str(exe))
    assert s["peak_bytes"] == want["peak_bytes"] or \
        want["peak_bytes"] <= s["peak_bytes"] <= want["peak_bytes"] + 8192, s["peak_bytes"]
    for rank, which in ((0, "top"), (1, "second")):
        loc = s["locations"][rank]
        assert (loc["function"], loc["line"], loc["bytes"]) == \
            (want[which + "_function"], want[which + "_line"], want[which + "_bytes"]), \
            [(l["function"], l["line"], l["bytes"]) for l in s["locations"][:5]]
        assert loc["file"].endswith(src.name)
    if "top_chain" in want:  # every frame of the user's chain, by function and line
        mine = [f"{fn}:{line}" for file, fn, line in frames(s["locations"][0])
                if file.endswith(src.name)]
        assert mine == want["top_chain"].split(), mine
    if "not_at_peak" in want:  # allocated there (`filrec lines`), and freed by the peak
        assert not [l for l in s["locations"] if l["line"] == want["not_at_peak"] and
                    l["file"].endswith(src.name)]
        p = subprocess.run([filrec, "lines", "--json", str(trace)], capture_output=True,
                           text=True, timeout=TIMEOUT)
        rows = {r["line"]: r for f in json.loads(p.stdout)["files"]
                if f["file"].endswith(src.name) for r in f["lines"]}
        assert rows[want["not_at_peak"]]["allocated"] == want["not_at_peak_allocated"]


def test_native_dlopen_dlclose_and_stripped(filrec, summary, build, prog, tmp_path):
    """A library loaded after the start and closed before the end still names its
    frames; a stripped one gives module+offset; both with their exact bytes."""
    lib = build / "clib" / "libnatkeep.so"
    a, stripped = tmp_path / "libnat_a.so", tmp_path / "libnat_s.so"
    shutil.copy(lib, a)
    shutil.copy(lib, stripped)
    subprocess.run(["strip", str(stripped)], check=True)
    _, r, s = run_native(filrec, summary, tmp_path, prog("native_dl"), str(a), str(stripped))
    assert "native_dl: 1" in r.stdout
    kept = located(s, "nat_fill", 8)
    assert kept["bytes"] == 1_000_000 and kept["file"].endswith("natkeep.c")
    assert [f[1] for f in frames(kept)][-3:] == ["load", "nat_keep", "nat_fill"]
    anon = [l for l in s["locations"] if l["bytes"] == 2_000_000]
    assert len(anon) == 1 and re.fullmatch(r"libnat_s\.so\+0x[0-9a-f]+", anon[0]["function"]), \
        [(l["function"], l["bytes"]) for l in s["locations"][:5]]
    assert frames(anon[0])[-2][1] == "nat_keep"  # exported: named from the dynamic symbols


def test_native_child_process(filrec, summary, prog, tmp_path):
    """A forked child records native frames too: its trace inherits the modules."""
    trace, r, s = run_native(filrec, summary, tmp_path, prog("fork"))
    children = sorted((tmp_path / "native.bin.d").glob("*.bin"))
    assert children, r.stderr
    for c in children:
        cs = summary(c)
        assert cs["ended_cleanly"] is True
        fns = {f["function"] for l in cs["locations"] for f in l["stack"]}
        assert "main" in fns, sorted(fns)[:20]


NUMPY_SCRIPT = """\
import numpy as np


def make():
    return np.ones(4_000_000)  # MAKE: 32,000,000 bytes


x = make()
print(x.sum())
"""


@pytest.fixture(scope="module")
def venv_python(build):
    py = probe_python(VENV_PYTHON)
    if not isinstance(py, Python):
        pytest.fail(f".venv is missing: run scripts/deps.sh ({py})")
    ensure_support_module(py, build)
    return py


def numpy_location(filrec, summary, tmp_path, py, view=None):
    script = tmp_path / "np_native.py"
    script.write_text(NUMPY_SCRIPT)
    trace, r, _ = run_native(filrec, summary, tmp_path, str(script), opts=("--python", py.exe))
    cmd = [filrec, "summary", "--json", "--top", "0", str(trace)]
    if view:
        cmd[2:2] = ["--native-frames", view]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    found = [l for l in s["locations"] if l["bytes"] == 32_000_000]
    assert len(found) == 1, [(l["function"], l["line"], l["bytes"]) for l in s["locations"][:5]]
    return script, found[0]


def test_native_numpy_hybrid_stack(filrec, summary, venv_python, tmp_path):
    """NumPy 2 (PyPI, with symbols) under Debian's python3: the location is the user's
    line, its stack runs from the Python frames into NumPy's C functions, and the
    interpreter's evaluation frames are hidden by default."""
    script, loc = numpy_location(filrec, summary, tmp_path, venv_python)
    assert (loc["file"], loc["function"], loc["line"]) == (str(script), "make", 5)
    fs = frames(loc)
    names = [f[1] for f in fs]
    i = fs.index((str(script), "make", 5))
    assert fs[i - 1] == (str(script), "<module>", 8)
    assert "PyArray_NewFromDescr_int" in names[i + 1:], names
    assert "_PyEval_EvalFrameDefault" not in names and "_start" not in names, names
    assert "_multiarray_umath" in fs[-1][0]  # the innermost frame is NumPy's


def test_native_numpy_frames_all_and_none(filrec, summary, venv_python, tmp_path):
    _, every = numpy_location(filrec, summary, tmp_path, venv_python, "all")
    names = [f[1] for f in frames(every)]
    assert "_PyEval_EvalFrameDefault" in names and "PyArray_NewFromDescr_int" in names
    # The evaluation frame that runs the module sits right above it (make runs in the
    # same one: Python 3.11 calls Python functions without a C call).
    assert names[names.index("<module>") - 1] == "_PyEval_EvalFrameDefault", names
    script, python_only = numpy_location(filrec, summary, tmp_path, venv_python, "none")
    fs = frames(python_only)  # Python frames only: the script's, then NumPy's ones()
    assert fs[:2] == [(str(script), "<module>", 8), (str(script), "make", 5)], fs
    assert all(f[0].endswith(".py") for f in fs), fs


THREAD_SCRIPT = """\
import ctypes
import sys

lib = ctypes.CDLL(sys.argv[1])
lib.grow_in_thread.argtypes = [ctypes.c_size_t]
lib.grow_in_thread(3_000_000)  # STARTS
print("done")
"""


def test_native_thread_started_from_c(filrec, summary, build, venv_python, tmp_path):
    """A thread a C library starts shows its own native frames under the Python line
    that started it."""
    script = tmp_path / "thread_native.py"
    script.write_text(THREAD_SCRIPT)
    _, r, s = run_native(filrec, summary, tmp_path, str(script),
                         str(build / "clib" / "libgrow.so"), opts=("--python", venv_python.exe))
    assert "done" in r.stdout
    loc = [l for l in s["locations"] if l["bytes"] == 3_000_000]
    assert len(loc) == 1, [(l["function"], l["line"], l["bytes"]) for l in s["locations"][:5]]
    fs = frames(loc[0])
    names = [f[1] for f in fs]
    assert (str(script), "<module>", 6) in fs, names
    assert names[-1] == "grow_worker", names
    assert "start_thread" in names[names.index("<module>"):], names


HYBRID_SCRIPT = """\
def f():
    return bytearray(5_000_000)  # F


x = f()
"""


def test_native_splice_every_version(filrec, summary, python, tmp_path):
    """On CPython 3.8-3.13, each Python frame goes under the evaluation frame that runs
    it: one per frame before 3.11, one per call from C after (3.11 runs a Python call
    in the caller's evaluation frame)."""
    script = tmp_path / "hybrid.py"
    script.write_text(HYBRID_SCRIPT)
    trace, _, s = run_native(filrec, summary, tmp_path, str(script), opts=("--python", python.exe))
    loc = [l for l in s["locations"] if 5_000_000 <= l["bytes"] <= 5_000_100]
    assert len(loc) == 1 and (loc[0]["function"], loc[0]["line"]) == ("f", 2), s["locations"][:3]
    p = subprocess.run([filrec, "summary", "--native-frames", "all", "--json", "--top", "0",
                        str(trace)], capture_output=True, text=True, timeout=TIMEOUT)
    every = [l for l in json.loads(p.stdout)["locations"] if l["bytes"] == loc[0]["bytes"]][0]
    names = [f[1] for f in frames(every)]
    eval_fn = "_PyEval_EvalFrameDefault"
    assert names[names.index("<module>") - 1] == eval_fn, names
    if python.version < (3, 11):
        assert names[names.index("f") - 1] == eval_fn, names
    else:
        assert names[names.index("f") - 1] == "<module>", names
    assert names.count("<module>") == 1 and names.count("f") == 1, names
    default = [f[1] for f in frames(loc[0])]
    assert eval_fn not in default and default.index("f") == default.index("<module>") + 1, default


def test_native_separate_debug_info_by_build_id(filrec, summary, build, prog, tmp_path):
    """A stripped library whose debug information is a separate file, found by build id
    under a debug folder (/usr/lib/debug, or FILREC_DEBUG_PATH): named with file and
    line, as the unstripped one is."""
    lib = tmp_path / "libnat_d.so"
    shutil.copy(build / "clib" / "libnatkeep.so", lib)
    notes = subprocess.run(["readelf", "-n", str(lib)], capture_output=True, text=True).stdout
    bid = re.search(r"Build ID: ([0-9a-f]+)", notes).group(1)
    dbg = tmp_path / "debug" / ".build-id" / bid[:2] / (bid[2:] + ".debug")
    dbg.parent.mkdir(parents=True)
    subprocess.run(["objcopy", "--only-keep-debug", str(lib), str(dbg)], check=True)
    subprocess.run(["strip", "--strip-debug", "--strip-unneeded", str(lib)], check=True)
    trace, r, _ = run_native(filrec, summary, tmp_path, prog("native_dl"), str(lib), str(lib))
    p = subprocess.run([filrec, "summary", "--json", str(trace)], capture_output=True, text=True,
                       timeout=TIMEOUT, env={**os.environ, "FILREC_DEBUG_PATH": str(tmp_path / "debug")})
    s = json.loads(p.stdout)
    named = [l for l in s["locations"] if l["function"] == "nat_fill"]
    assert named and named[0]["line"] == 8 and named[0]["file"].endswith("natkeep.c"), \
        [(l["function"], l["file"], l["line"]) for l in s["locations"][:4]]
    assert named[0]["bytes"] == 3_000_000  # both loads: 1,000,000 and 2,000,000 bytes
    without = summary(trace)  # no debug folder: the stripped library's own symbols only
    assert not [l for l in without["locations"] if l["function"] == "nat_fill"]
