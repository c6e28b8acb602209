"""filrec run follows the whole job: every forked, spawned and exec'd process gets its
own trace (the first at -o PATH, the others in PATH.d/, named by pid), linked to its
parent by the header's ppid, and ended with a trailer that says how the process ended.
Each test runs a real job (tests/e2e/pyprogs/job_*.py) whose processes hold known
bytes at known lines, and checks every trace's numbers against them."""
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import (PYPROGS, SAMPLE_PYTHON, TIMEOUT, Python, ensure_support_module,
                      probe_python, program_answer)

MB = 1_000_000


def line_of(path, tag):
    """The line of path that ends with the comment `# tag`."""
    for n, text in enumerate(Path(path).read_text().splitlines(), 1):
        if text.rstrip().endswith("# " + tag):
            return n
    raise AssertionError(f"no '# {tag}' in {path}")


class Job:
    """A recorded job: `filrec run`'s result and every trace's stats and summary."""

    def __init__(self, filrec, stats, run, trace):
        self.run, self.trace = run, trace
        self.dir = Path(str(trace) + ".d")
        self.files = [trace] + (sorted(self.dir.glob("*.bin")) if self.dir.is_dir() else [])
        self.stats = {}
        for f in self.files:
            p, st = stats(f)
            assert p.returncode == 0, f"stats {f}: {p.stderr}"
            self.stats[f] = st
        self.filrec = filrec

    def by_pid(self, pid, image=None):
        """The trace of process pid: its image-th program (0 the first; None the last,
        what the process finally was: a Python that starts a child with fork and exec,
        as _posixsubprocess does before 3.10, has a first image that only execs)."""
        if image is None:
            image = max(i for i in range(64) if i == 0 or (self.dir / f"{pid}.{i}.bin").exists())
        name = self.trace if image == 0 and self.stats[self.trace]["pid"] == pid else \
            self.dir / (f"{pid}.bin" if image == 0 else f"{pid}.{image}.bin")
        assert name in self.stats, f"no trace for pid {pid} image {image}: {self.files}"
        return name, self.stats[name]

    def processes(self):
        """The pids of the job's processes (each once, however many programs it ran)."""
        return {st["pid"] for st in self.stats.values()}

    def held(self, trace, path, tag):
        """Bytes live at trace's peak at the line tagged tag of path."""
        pid = self.stats[trace]["pid"]     # that trace alone, not the job it is the root of
        p = subprocess.run([self.filrec, "summary", "--json", "--top", "0", "--process",
                            str(pid), str(trace)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr
        line = line_of(path, tag)
        return sum(l["bytes"] for l in json.loads(p.stdout)["locations"]
                   if l["file"] == str(path) and l["line"] == line)


@pytest.fixture
def job(filrec, stats, tmp_path):
    """job(py, *args, follow=True) -> Job: `filrec run` of a Python job in tmp_path."""
    def run(py, *args, follow=True, expect_rc=0):
        trace = tmp_path / "job.bin"
        cmd = [filrec, "run", "--no-report", "-o", str(trace), "--python", py.exe]
        r = subprocess.run(cmd + ([] if follow else ["--no-follow"]) + list(args),
                           capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
        assert r.returncode == expect_rc, f"filrec run exited {r.returncode}:\n{r.stderr}"
        assert "recording" not in r.stderr and "not record" not in r.stderr, r.stderr
        return Job(filrec, stats, r, trace)
    return run


@pytest.fixture(scope="session")
def one_python(build):
    """Debian's python3 alone, for the jobs too slow to run on every interpreter."""
    py = probe_python(SAMPLE_PYTHON)
    if not isinstance(py, Python):
        pytest.skip(py)
    ensure_support_module(py, build)
    return py


def ending(st):
    return st["ending"]["how"], st["ending"].get("exit_code", st["ending"].get("signal"))


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_run_job_pool_every_worker_traced(job, python, method):
    prog = PYPROGS / "job_pool.py"
    j = job(python, str(prog), method)
    a = program_answer(j.run.stdout)
    assert a["held"] == 350 * MB
    root = j.stats[j.trace]
    assert root["pid"] == a["pid"] and ending(root) == ("exit", 0)
    assert 50 * MB <= j.held(j.trace, prog, "PARENT") <= 50 * MB + 100
    for pid in a["workers"]:
        trace, st = j.by_pid(pid)
        assert 100 * MB <= j.held(trace, prog, "HOLD") <= 100 * MB + 100, trace
        assert st["peak_bytes"] >= 100 * MB
        # fork and spawn: the pool's parent; forkserver: the fork server, itself a child
        # of the parent
        parent = st["ppid"] if method != "forkserver" else j.by_pid(st["ppid"])[1]["ppid"]
        assert parent == a["pid"], (method, st["ppid"])
        assert st["ending"]["how"] in ("exit", "unknown", "signal"), st["ending"]
    # every process of the job is there: the workers, and for spawn and forkserver the
    # resource tracker (and the fork server)
    extra = {"fork": 0, "spawn": 1, "forkserver": 2}[method]
    assert len(j.processes()) == 1 + 3 + extra, j.files
    for st in j.stats.values():
        assert st["ended_cleanly"] is True
        if (j.dir / f"{st['pid']}.1.bin").exists() and st["image"] == 0:
            assert st["ending"]["how"] == "exec"   # a fork child that exec'd Python


def job_summary(filrec, trace):
    p = subprocess.run([filrec, "summary", "--json", "--top", "0", str(trace)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_summary_job_whole_peak_pool(job, one_python, filrec, tmp_path, method):
    """The whole-job peak is the moment all four hold theirs: 350,000,000 bytes above
    the same job's peak with nothing held (the interpreters' baselines), within 1%; at
    that moment each worker's HOLD line and the parent's PARENT line hold their bytes."""
    prog = PYPROGS / "job_pool.py"
    j = job(one_python, str(prog), method, "100")
    a = program_answer(j.run.stdout)
    s = job_summary(filrec, j.trace)
    base = tmp_path / "base"
    base.mkdir()
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(base / "job.bin"), "--python",
                        one_python.exe, str(prog), method, "0"], capture_output=True,
                       text=True, timeout=TIMEOUT, cwd=base)
    assert r.returncode == 0, r.stderr
    b = job_summary(filrec, base / "job.bin")
    assert s["job"] is True and len(s["processes"]) == len(j.processes())
    known = 350 * MB
    assert abs(s["peak_bytes"] - b["peak_bytes"] - known) <= known // 100, \
        (s["peak_bytes"], b["peak_bytes"])
    assert s["peak_bytes"] == sum(p["at_job_peak_bytes"] for p in s["processes"])
    hold, parent = line_of(prog, "HOLD"), line_of(prog, "PARENT")
    at = {(l["pid"], l["line"]): l["bytes"] for l in s["locations"] if l["file"] == str(prog)}
    for pid in a["workers"]:
        assert 100 * MB <= at.get((pid, hold), 0) <= 100 * MB + 100, (pid, at)
    assert 50 * MB <= at.get((a["pid"], parent), 0) <= 50 * MB + 100, at
    # each process's own peak is at least its share; the job's is no process's alone
    for p in s["processes"]:
        assert p["peak_bytes"] >= p["at_job_peak_bytes"]
    assert s["peak_bytes"] > max(p["peak_bytes"] for p in s["processes"])


def test_run_job_process_pool_executor(job, python):
    prog = PYPROGS / "job_executor.py"
    j = job(python, str(prog))
    a = program_answer(j.run.stdout)
    assert a["held"] == 4 * 30 * MB and a["workers"]
    for pid in a["workers"]:
        trace, st = j.by_pid(pid)
        assert 30 * MB <= j.held(trace, prog, "HOLD") <= 30 * MB + 100, trace
        assert st["peak_bytes"] >= 30 * MB


def test_flamegraph_and_report_of_job(job, one_python, filrec, tmp_path):
    """The job's flamegraph has one frame per process under the root, each as wide as
    that process's share of the whole-job peak; the report folder links it and lists
    the processes."""
    prog = PYPROGS / "job_pool.py"
    j = job(one_python, str(prog), "fork", "100")
    s = job_summary(filrec, j.trace)
    svg = tmp_path / "job.svg"
    p = subprocess.run([filrec, "flamegraph", "-o", str(svg), str(j.trace)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    frames = re.findall(r'<g class="f" id="f\d+" data-x="[^"]*" data-w="[^"]*" '
                        r'data-d="(\d+)" data-b="(\d+)" data-l="([^"]*)"', svg.read_text())
    root = [(int(b), l) for d, b, l in frames if d == "0"]
    assert root == [(s["peak_bytes"], "all")]
    procs = {int(l.split()[1]): int(b) for d, b, l in frames if d == "1"}
    want = {p["pid"]: p["at_job_peak_bytes"] for p in s["processes"] if p["at_job_peak_bytes"]}
    assert procs == want
    assert all(l.startswith("pid ") for d, b, l in frames if d == "1")
    r = subprocess.run([filrec, "report", "-o", str(tmp_path / "rep"), str(j.trace)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "rep" / "index.html").read_text()
    m = re.search(r'id="job" data-processes="(\d+)" data-bytes="(\d+)"', page)
    assert m and int(m[1]) == len(s["processes"]) and int(m[2]) == s["peak_bytes"]
    assert (tmp_path / "rep" / "job.svg").read_text().count('data-d="1"') == len(want)


def test_plot_job_total_and_each_process(job, one_python, filrec, tmp_path):
    """plot of a job draws all processes together and each one: the data's total column
    peaks at the whole-job peak, each process's column at most its own peak."""
    if not shutil.which("gnuplot"):
        pytest.skip("needs gnuplot (apt-get install gnuplot-nox)")
    j = job(one_python, str(PYPROGS / "job_pool.py"), "fork", "100")
    s = job_summary(filrec, j.trace)
    data, png = tmp_path / "job.dat", tmp_path / "job.png"
    p = subprocess.run([filrec, "plot", "--data", str(data), "-o", str(png), str(j.trace)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    rows = [list(map(float, l.split("\t"))) for l in data.read_text().splitlines()]
    procs = sorted(s["processes"], key=lambda p: -p["peak_bytes"])
    assert all(len(r) == 2 + len(procs) for r in rows)
    assert max(r[1] for r in rows) == s["peak_bytes"]
    for i, p in enumerate(procs):
        assert max(r[2 + i] for r in rows) <= p["peak_bytes"]
    script = (tmp_path / "job.dat.gp").read_text()
    assert all(f"title 'pid {p['pid']}'" in script for p in procs)
    r = subprocess.run([filrec, "plot", "-o", str(png), str(j.trace)], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_job_subprocess_child_traced(job, python):
    prog, child = PYPROGS / "job_children.py", PYPROGS / "job_child.py"
    j = job(python, str(prog), "subprocess")
    a = program_answer(j.run.stdout)
    assert a["rc"] == 0 and a["held"] == 200 * MB
    trace, st = j.by_pid(a["child"])
    assert st["ppid"] == a["pid"]
    assert ending(st) == ("exit", 0)
    assert 200 * MB <= j.held(trace, child, "HOLD") <= 200 * MB + 100
    assert j.held(j.trace, child, "HOLD") == 0     # nothing of it in the parent's trace


def test_run_job_fork_then_exec_native(job, python, prog):
    native = prog("fork")                           # itself forks a child: three levels
    j = job(python, str(PYPROGS / "job_children.py"), "forkexec", native)
    a = program_answer(j.run.stdout)
    assert a["status"] == 0
    _, forked = j.by_pid(a["child"], image=0)       # the Python fork child, until its exec
    assert forked["ppid"] == a["pid"]
    assert forked["ending"] == {"how": "exec", "exec": native, "by_filrec": True}
    trace, img = j.by_pid(a["child"], image=1)      # the native program it became
    assert img["command"] == [native]
    assert img["pid"] == a["child"] and ending(img) == ("exit", 0)
    assert img["peak_bytes"] == 1_000_000 + 2_000_000 + 300_000    # tests/progs/fork.c
    grandchild = [s for s in j.stats.values() if s["ppid"] == a["child"]]
    assert len(grandchild) == 1 and img["forks"] == [grandchild[0]["pid"]]
    # Its 64 MiB of heap at the peak; at its exit 32 MiB of it and the 8 MiB mapping it
    # wrote after freeing the rest (measured as the process ends, if not before).
    assert grandchild[0]["peak_bytes"] == 64 * 2**20
    assert grandchild[0]["live_at_exit_bytes"] == 32 * 2**20 + 8 * 2**20


def test_run_job_execv_into_script(job, python):
    child = PYPROGS / "job_child.py"
    j = job(python, str(PYPROGS / "job_children.py"), "execv")
    a = program_answer(j.run.stdout)                # printed by the script it became
    root = j.stats[j.trace]
    assert a["child"] == root["pid"] and a["held"] == 20 * MB
    assert root["ending"]["how"] == "exec" and root["ending"]["exec"] == python.exe
    trace, img = j.by_pid(root["pid"], image=1)
    assert ending(img) == ("exit", 0)
    assert 20 * MB <= j.held(trace, child, "HOLD") <= 20 * MB + 100


def test_run_job_os_exit_code_in_trailer(job, python):
    prog = PYPROGS / "job_children.py"
    j = job(python, str(prog), "exit")
    a = program_answer(j.run.stdout)
    assert a["code"] == 7
    trace, st = j.by_pid(a["child"])
    assert ending(st) == ("exit", 7) and st["ending"]["by_filrec"] is False
    assert 30 * MB <= st["live_at_exit_bytes"] and 30 * MB <= st["peak_bytes"]
    assert 30 * MB <= j.held(trace, prog, "EXIT_HOLD") <= 30 * MB + 100


def test_run_job_sigkill_child_marked(job, python):
    prog = PYPROGS / "job_children.py"
    j = job(python, str(prog), "kill")
    a = program_answer(j.run.stdout)
    trace, st = j.by_pid(a["child"])
    assert st["ended_cleanly"] is True and st["ending"]["by_filrec"] is True
    # killed: by SIGKILL when filrec saw the status before the parent reaped it
    assert ending(st) in (("signal", signal.SIGKILL), ("unknown", None)), st["ending"]
    assert 40 * MB <= j.held(trace, prog, "KILL_HOLD") <= 40 * MB + 100
    assert ending(j.stats[j.trace]) == ("exit", 0)  # the others are complete


def test_run_job_sigkill_zombie_signal_named(job, one_python):
    """A killed child its parent reaps a second later: filrec reads the zombie's status
    (its /proc/PID/stat exit_code field) and names the signal."""
    j = job(one_python, str(PYPROGS / "job_children.py"), "kill_late")
    a = program_answer(j.run.stdout)
    _, st = j.by_pid(a["child"])
    assert ending(st) == ("signal", signal.SIGKILL), st["ending"]


def test_run_job_many_children_none_lost(job, one_python):
    n = 200
    j = job(one_python, str(PYPROGS / "job_children.py"), "many", str(n))
    a = program_answer(j.run.stdout)
    kids = [s for f, s in j.stats.items() if f != j.trace]
    assert len(kids) == n == a["n"]
    assert {s["ppid"] for s in kids} == {a["pid"]}
    assert len({s["pid"] for s in kids}) == n
    for s in kids:
        assert ending(s) == ("exit", 0) and s["peak_bytes"] >= MB


def test_run_job_unrecorded_children_listed(filrec, python, prog, stats, tmp_path):
    """Children filrec cannot record are said and listed, never silently missing: an
    empty environment, an environment without LD_PRELOAD, a static program (exec'd by
    a fork child, and spawned); the plain child is recorded."""
    trace = tmp_path / "job.bin"
    static = prog("static_hello")
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--python", python.exe,
                        str(PYPROGS / "job_unrecorded.py"), static], capture_output=True,
                       text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    a = program_answer(r.stdout)
    said = [l for l in r.stderr.splitlines() if l.startswith("filrec: not recorded: process")]
    # The run's end counts them again, after the line that says where the trace is.
    end = r.stderr.splitlines()
    written = next(i for i, l in enumerate(end) if l.startswith("filrec: trace written to "))
    assert end[written + 1] == ("filrec: not recorded: 4 processes of the job (listed in "
                                f"{trace}.d/unrecorded.tsv)"), end
    p, st = stats(trace)
    listed = {u["pid"]: u for u in st["not_recorded"]}
    assert set(listed) == {a["scrubbed"], a["no_preload"], a["static"], a["static_spawned"]}, \
        (listed, a)
    assert len(said) == 4 and all(str(pid) in " ".join(said) for pid in listed)
    assert listed[a["scrubbed"]]["command"] == "/bin/sh -c echo scrubbed"
    assert "environment" in listed[a["no_preload"]]["why"]
    for pid in a["static"], a["static_spawned"]:
        assert listed[pid]["command"] == static and "static" in listed[pid]["why"]
    assert all(u["ppid"] == a["pid"] for u in listed.values())
    assert (trace.parent / "job.bin.d" / f"{a['followed']}.bin").exists()


def test_run_no_follow_environment_as_without_filrec(filrec, python, tmp_path):
    """--no-follow: the program and its children see the environment they would see
    without filrec (no FILREC_*, LD_PRELOAD or PYTHONPATH of ours)."""
    code = ("import json, os, subprocess, sys\n"
            "mine = {k: v for k, v in os.environ.items() if k.startswith(('FILREC', 'LD_PRE', 'PYTHONP'))}\n"
            "kid = subprocess.run([sys.executable, '-c', 'import json, os; print(json.dumps("
            "{k: v for k, v in os.environ.items() if k.startswith((\\'FILREC\\', \\'LD_PRE\\', "
            "\\'PYTHONP\\'))}))'], capture_output=True, text=True).stdout\n"
            "print(json.dumps({'mine': mine, 'kid': json.loads(kid)}))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FILREC", "LD_PRE", "PYTHONP"))}
    r = subprocess.run([filrec, "run", "--no-report", "--no-follow", "-o", str(tmp_path / "t.bin"),
                        "--python", python.exe, "-c", code], capture_output=True, text=True,
                       timeout=TIMEOUT, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert program_answer(r.stdout) == {"mine": {}, "kid": {}}


def test_run_job_no_follow_single_trace(job, python, prog):
    j = job(python, str(PYPROGS / "job_children.py"), "forkexec", prog("fork"), follow=False)
    assert j.files == [j.trace] and not j.dir.exists()
    a = program_answer(j.run.stdout)
    assert j.stats[j.trace]["forks"] == [a["child"]]
