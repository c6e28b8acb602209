"""Threads Python never sees, and --python-allocators: a thread started from C is
charged to the Python stack that started it; with --python-allocators every small
object is its own block at the line that made it."""
import shutil

import pytest

from conftest import PYPROGS, frames
from test_python_stacks import at

OBJECTS = 200_000
OBJECT_SIZE = 16          # sizeof(PyObject) for object(): refcount and type


@pytest.fixture
def progs(tmp_path):
    d = tmp_path / "progs"
    shutil.copytree(PYPROGS, d)
    return d


def test_stack_c_thread_charged_to_creator(python, pyrecord, progs):
    prog = progs / "c_thread.py"
    rec = pyrecord(python, str(prog))
    # The block, and what pthread_create allocates for the thread (its TLS vector).
    loc = rec.sized(17_000_000, 4096)
    assert loc["blocks"] <= 3, loc
    assert frames(loc) == [at(prog, "<module>", "main"), at(prog, "main", "spawn"),
                           at(prog, "spawn", "create")]


def objects_line(rec, prog):
    line = at(prog, "build", "objects")[2]
    return [l for l in rec.summary["locations"]
            if l["file"] == str(prog) and l["line"] == line]


def test_run_python_allocators_counts_every_object(python, pyrecord, filrec, progs):
    prog = progs / "small_objects.py"
    exact = pyrecord(python, "--python-allocators", str(prog))
    found = objects_line(exact, prog)
    assert len(found) == 1, exact.where()
    loc = found[0]
    # The objects, plus the list's pointer array growing to 200,000 (one live block,
    # at most 1.125 x 8 bytes a slot), plus a few small objects of the comprehension.
    assert OBJECTS <= loc["blocks"] <= OBJECTS + 100, loc
    assert OBJECTS * OBJECT_SIZE <= loc["bytes"] <= OBJECTS * (OBJECT_SIZE + 10) + 16384, loc
    assert exact.run.stdout == f"{OBJECTS}\n"


def test_run_default_mode_sees_arenas_not_objects(python, pyrecord, progs):
    prog = progs / "small_objects.py"
    rec = pyrecord(python, str(prog))
    found = objects_line(rec, prog)
    assert len(found) == 1, rec.where()
    # 3.2 MB of objects in pymalloc arenas (256 KiB or 1 MiB each) and the list array.
    assert found[0]["blocks"] < 100, found[0]
    assert found[0]["bytes"] >= OBJECTS * OBJECT_SIZE, found[0]


def test_run_ctrl_c_trace_is_complete(python, filrec, summary, tmp_path):
    """CPython ends a run stopped by KeyboardInterrupt by killing itself with SIGINT
    after finalizing, so exit handlers never run; the trace is finished just before,
    and holds the last allocation made (one that a lost last frame would drop)."""
    import subprocess
    trace = tmp_path / "int.bin"
    code = "x = bytearray(31_000_000)\nraise KeyboardInterrupt"
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--python",
                        python.exe, "-c", code], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert r.returncode == -2, r.stderr
    assert r.stderr.rstrip().endswith("filrec: program killed by signal 2 (Interrupt)")
    s = summary(trace)
    assert s["ended_cleanly"] is True, s
    top = s["locations"][0]
    assert (top["file"], top["line"], top["bytes"]) == ("<string>", 1, 31_000_001), top


def test_run_python_allocators_keeps_pymalloc(python, filrec, tmp_path):
    """--python-allocators wraps Python's allocator: pymalloc still serves the objects
    (sys.getallocatedblocks() counts its blocks; it is 0 under PYTHONMALLOC=malloc), so
    the program uses memory as it does without filrec."""
    import subprocess
    code = "import sys; print(sys.getallocatedblocks())"
    r = subprocess.run([filrec, "run", "--no-report", "--python-allocators", "-o",
                        str(tmp_path / "a.bin"), "--python", python.exe, "-c", code],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    plain = subprocess.run([python.exe, "-c", code], capture_output=True, text=True,
                           timeout=60)
    assert int(plain.stdout) > 1000
    assert int(r.stdout) > 1000, "pymalloc is not serving objects under --python-allocators"
