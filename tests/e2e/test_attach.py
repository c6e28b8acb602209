"""filrec attach / detach on real running interpreters: gdb queues a pending call, the
target starts (and later stops) recording itself, and keeps running with its own
output and exit status. The target (pyprogs/attach_target.py) allocates 5,000,000
bytes every 0.1 s and keeps 11 at most: once recorded for more than 1.1 s, the trace's
peak is 55,000,000 bytes (plus the bytearray's extra byte each and a little)."""
import shutil
import subprocess
import time

import pytest

from conftest import PYPROGS, TIMEOUT, program_answer
from test_inprocess import inproc_env
from test_run_job import line_of

MB = 1_000_000
LOOP_HELD = 11 * 5_000_001  # the last 11 bytearrays: the known bytes at LOOP
pytestmark = pytest.mark.skipif(not shutil.which("gdb"), reason="gdb is not installed")


class Target:
    def __init__(self, py, build, tmp_path):
        self.stop_file = tmp_path / "stop"
        self.p = subprocess.Popen([py.exe, str(PYPROGS / "attach_target.py"), str(self.stop_file)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=inproc_env(build))
        assert self.p.stdout.readline().startswith("up ")
        self.pid = self.p.pid

    def finish(self):
        self.stop_file.touch()
        out, err = self.p.communicate(timeout=TIMEOUT)
        return self.p.returncode, out, err


def test_attach_for_a_duration(python, filrec, summary, build, tmp_path):
    t = Target(python, build, tmp_path)
    trace = tmp_path / "a.bin"
    a = subprocess.run([filrec, "attach", "-o", str(trace), "--duration", "2", str(t.pid)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    rc, out, err = t.finish()
    assert a.returncode == 0, a.stderr
    assert f"filrec: trace written to {trace}" in a.stderr
    # The target ran on, untouched: its own output, exit 0, nothing from filrec.
    assert rc == 0 and out.startswith("done ") and err == "", (rc, out, err)
    s = summary(trace)
    assert s["started_late"] and s["ending"]["how"] == "running"
    assert 55 * MB <= s["peak_bytes"] <= 56 * MB, s["peak_bytes"]
    loop = line_of(PYPROGS / "attach_target.py", "LOOP")
    top = s["locations"][0]
    assert (top["file"], top["line"]) == (str(PYPROGS / "attach_target.py"), loop)
    assert LOOP_HELD <= top["bytes"] <= LOOP_HELD + 4096


def test_attach_then_detach_and_errors(python, filrec, summary, build, tmp_path):
    t = Target(python, build, tmp_path)
    trace = tmp_path / "b.bin"
    a = subprocess.run([filrec, "attach", "-o", str(trace), str(t.pid)], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert a.returncode == 0, a.stderr
    assert f"stop with: filrec detach {t.pid}" in a.stderr
    again = subprocess.run([filrec, "attach", "-f", "-o", str(trace), str(t.pid)],
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert again.returncode == 1
    assert again.stderr == f"filrec: process {t.pid}: filrec: this process is being recorded already\n"
    time.sleep(0.5)
    d = subprocess.run([filrec, "detach", str(t.pid)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert d.returncode == 0, d.stderr
    assert f"filrec: trace written to {trace}" in d.stderr
    s = summary(trace)  # complete as soon as detach returns
    assert 5 * MB <= s["peak_bytes"] <= 56 * MB
    d2 = subprocess.run([filrec, "detach", str(t.pid)], capture_output=True, text=True,
                        timeout=TIMEOUT)
    assert d2.returncode == 1 and "not recording itself" in d2.stderr
    rc, out, err = t.finish()
    assert rc == 0 and out.startswith("done ") and err == ""


def test_attach_refuses_what_it_cannot_do(filrec, tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        p = subprocess.run([filrec, "attach", str(sleeper.pid)], capture_output=True, text=True,
                           timeout=TIMEOUT)
        assert p.returncode == 1
        assert p.stderr == f"filrec: process {sleeper.pid} (sleep) is not Python: no python " \
                           "executable, no libpython\n"
    finally:
        sleeper.kill()
        sleeper.wait()
    for bad in ("12x", "0", "-5"):
        p = subprocess.run([filrec, "attach", "--", bad] if bad[0] == "-" else [filrec, "attach", bad],
                           capture_output=True, text=True)
        assert p.returncode == 1 and p.stderr in (f"filrec: '{bad}' is not a process id\n",
                                                  "filrec: unknown option '--' for attach; see "
                                                  "'filrec attach --help'\n")
    p = subprocess.run([filrec, "attach", "4194000"], capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr == "filrec: no process 4194000\n"
    p = subprocess.run([filrec, "attach"], capture_output=True, text=True)
    assert p.returncode == 1 and "attach needs one process id" in p.stderr
    for verb in ("attach", "detach"):
        h = subprocess.run([filrec, verb, "--help"], capture_output=True, text=True)
        assert h.returncode == 0 and h.stdout.startswith(f"usage: filrec {verb}")


def test_attach_without_gdb_says_so(python, filrec, build, tmp_path):
    t = Target(python, build, tmp_path)
    try:
        p = subprocess.run([filrec, "attach", str(t.pid)], capture_output=True, text=True,
                           timeout=TIMEOUT, env={"PATH": str(tmp_path)})
        assert p.returncode == 1
        assert p.stderr == "filrec: attach needs gdb, which is not installed (Debian: " \
                           "apt-get install gdb)\n"
    finally:
        rc, out, err = t.finish()
    assert rc == 0 and err == ""


def test_attach_native(python, filrec, summary, build, tmp_path):
    """attach --native: the loop's line, with the interpreter's C frames under it."""
    t = Target(python, build, tmp_path)
    trace = tmp_path / "n.bin"
    a = subprocess.run([filrec, "attach", "--native", "-o", str(trace), "--duration", "2",
                        str(t.pid)], capture_output=True, text=True, timeout=TIMEOUT)
    rc, out, err = t.finish()
    assert a.returncode == 0 and rc == 0 and err == "", (a.stderr, err)
    s = summary(trace)
    loop = line_of(PYPROGS / "attach_target.py", "LOOP")
    top = s["locations"][0]
    assert (top["file"], top["line"]) == (str(PYPROGS / "attach_target.py"), loop)
    assert LOOP_HELD <= top["bytes"] <= LOOP_HELD + 4096
    inner = [f for f in top["stack"] if f["file"] != str(PYPROGS / "attach_target.py")]
    assert inner and top["stack"][-1] in inner, top["stack"]  # native frames below the line


def test_attach_sampled(python, filrec, summary, build, tmp_path):
    """attach --sample: the trace says it holds a sample of one per 512 KiB; the loop's
    5,000,001-byte blocks are over the interval, so each is recorded exactly and the
    peak is the unsampled one."""
    t = Target(python, build, tmp_path)
    trace = tmp_path / "s.bin"
    a = subprocess.run([filrec, "attach", "--sample", "512KiB", "-o", str(trace), "--duration",
                        "2", str(t.pid)], capture_output=True, text=True, timeout=TIMEOUT)
    rc, out, err = t.finish()
    assert a.returncode == 0 and rc == 0 and err == "", (a.stderr, err)
    s = summary(trace)
    assert s["sample_bytes"] == 512 * 1024
    assert 55 * MB <= s["peak_bytes"] <= 56 * MB, s["peak_bytes"]
    top = s["locations"][0]
    assert (top["file"], top["line"]) == (str(PYPROGS / "attach_target.py"),
                                          line_of(PYPROGS / "attach_target.py", "LOOP"))
    assert LOOP_HELD <= top["bytes"] <= LOOP_HELD + 4096
    bad = subprocess.run([filrec, "attach", "--sample", "0", str(t.pid)], capture_output=True,
                         text=True, timeout=TIMEOUT)
    assert bad.returncode == 1 and "bad --sample '0'" in bad.stderr, bad.stderr
