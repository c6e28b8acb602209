"""Out of memory, both ways. A failed allocation (here: NumPy arrays under an address
space limit, as `ulimit -v` sets, until MemoryError) is recorded with its size and
stack, and `summary` names it, its line, and what was live then; the program runs as
usual (MemoryError is raised and caught). A process the OOM killer kills (a memory
cgroup with a limit, made by the test where this machine lets it) ends with a trailer
that says so."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import PYPROGS, SAMPLE_PYTHON, TIMEOUT, Python, ensure_support_module, \
    probe_python, program_answer


def tag_line(path, tag):
    for n, text in enumerate(Path(path).read_text().splitlines(), 1):
        if text.rstrip().endswith("# " + tag):
            return n
    raise AssertionError(tag)


@pytest.fixture(scope="session")
def numpy_python(build):
    py = probe_python(SAMPLE_PYTHON)
    if not isinstance(py, Python):
        pytest.skip(py)
    if subprocess.run([py.exe, "-c", "import numpy"], capture_output=True).returncode:
        pytest.skip(f"{py} has no numpy")
    ensure_support_module(py, build)
    return py


def summary_json(filrec, trace):
    p = subprocess.run([filrec, "summary", "--json", str(trace)], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_summary_out_of_memory_names_line(filrec, numpy_python, tmp_path):
    prog, trace = PYPROGS / "oom_numpy.py", tmp_path / "oom.bin"
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--python",
                        numpy_python.exe, str(prog)], capture_output=True, text=True,
                       timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    a = program_answer(r.stdout)
    assert a["kept"] >= 2
    s = summary_json(filrec, trace)
    oom = s["out_of_memory"]
    first = oom["first"]
    assert oom["count"] >= 1
    assert first["size"] == a["array_bytes"]
    assert first["allocator"] in ("malloc", "calloc", "posix_memalign", "mmap")
    # the stack runs through the program's GROW line
    assert (str(prog), tag_line(prog, "GROW")) in {(f["file"], f["line"]) for f in first["stack"]}
    # what was live when it failed: every array kept, and less than one more
    kept = a["kept"] * a["array_bytes"]
    assert kept <= first["live_bytes"] <= kept + a["array_bytes"] + 200_000_000
    text = subprocess.run([filrec, "summary", str(trace)], capture_output=True, text=True,
                          timeout=TIMEOUT).stdout
    assert "out of memory: " in text and "50.0 MB" in text


def writable_memory_cgroup(limit):
    """A new memory cgroup limited to limit bytes (v2 or v1), or None."""
    for base, knob in (("/sys/fs/cgroup", "memory.max"),
                       ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")):
        d = Path(base) / f"filrec-test-{os.getpid()}"
        try:
            d.mkdir(exist_ok=True)
            if not (d / knob).exists():    # a plain folder, not a cgroup
                raise OSError(f"{base} is not a memory cgroup hierarchy")
            (d / knob).write_text(str(limit))
            if (d / "memory.swap.max").exists():
                (d / "memory.swap.max").write_text("0")
            return d
        except OSError:
            try:
                d.rmdir()
            except OSError:
                pass
    return None


def test_run_job_oom_killer_named(filrec, numpy_python, tmp_path):
    limit = 300 * 2**20
    cg = writable_memory_cgroup(limit)
    if cg is None:
        pytest.skip("cannot make a memory cgroup here (needs root and cgroupfs)")
    prog, trace = tmp_path / "grow.py", tmp_path / "killed.bin"
    prog.write_text(
        "import json, os\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    kept = []\n"
        "    while True:\n"
        "        kept.append(b\"\\1\" * 10_000_000)  # GROW: written, so resident\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(json.dumps({'child': pid, 'signal': os.WTERMSIG(status)}))\n")
    try:
        # the whole job in the cgroup, filrec run too, as a container would have it
        r = subprocess.run(["sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec "$@"', "sh",
                            filrec, "run", "--no-report", "-o", str(trace), "--python",
                            numpy_python.exe, str(prog)], capture_output=True, text=True,
                           timeout=TIMEOUT, cwd=tmp_path)
    finally:
        try:
            cg.rmdir()
        except OSError:
            pass
    assert r.returncode == 0, r.stderr
    a = program_answer(r.stdout)
    assert a["signal"] == 9
    child = tmp_path / "killed.bin.d" / f"{a['child']}.bin"
    st = json.loads(subprocess.run([filrec, "stats", "--json", str(child)], capture_output=True,
                                   text=True, timeout=TIMEOUT).stdout)
    assert st["ending"] == {"how": "oom_killer", "by_filrec": True}
    # it died holding what it had grown to: near the limit, in 10 MB steps
    assert limit - 100 * 2**20 <= st["live_at_exit_bytes"] <= limit
    s = summary_json(filrec, child)
    assert s["ending"]["how"] == "oom_killer" and s["live_at_end_bytes"] == st["live_at_exit_bytes"]
