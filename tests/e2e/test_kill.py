"""kill -9: a program killed mid-run leaves a trace that ends early but still reads."""
import os
import re
import select
import signal
import subprocess
import time

# The recorder seals a frame at least every 250 ms (FORMAT.md, "Body"); after a full
# second every event made before "ready" is in a complete frame on disk.
SETTLE_S = 1.0


def read_line(pipe, timeout):
    """One line from a binary pipe, or fail after timeout seconds."""
    deadline, buf = time.monotonic() + timeout, b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        assert left > 0 and select.select([pipe], [], [], left)[0], f"no line; got {buf!r}"
        chunk = os.read(pipe.fileno(), 1)
        assert chunk, f"pipe closed; got {buf!r}"
        buf += chunk
    return buf.decode()


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_stats_killed_program_trailer_by_filrec(filrec, prog, stats, tmp_path):
    trace = tmp_path / "killed.bin"
    run = subprocess.Popen([filrec, "run", "-o", str(trace), "--", prog("alloc_forever")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pid = None
    try:
        word, pid = read_line(run.stdout, 30).split()
        pid = int(pid)
        assert word == "ready"
        assert parent_of(pid) == run.pid      # the program itself, not filrec
        time.sleep(SETTLE_S)
        os.kill(pid, signal.SIGKILL)
        _, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:                # a failed check above: leave nothing behind
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            run.kill()
            run.wait()
    err = err.decode()
    assert run.returncode == -signal.SIGKILL, err   # filrec dies the program's death
    assert f"filrec: program killed by signal {int(signal.SIGKILL)} (" in err

    p, s = stats(trace)
    assert p.returncode == 0, p.stderr
    # The sink, a process apart, saw it die: everything it logged is there, and the
    # trailer filrec wrote says how it ended.
    assert p.stderr == ""
    assert s["ended_cleanly"] is True
    assert s["ending"] == {"how": "signal", "signal": int(signal.SIGKILL), "by_filrec": True}
    assert s["pid"] == pid and s["ppid"] == run.pid
    assert s["counts"]["alloc"] > 0
    # alloc_forever printed "ready" after 100,001 mallocs, all sealed since.
    assert s["counts"]["alloc"] >= 100001


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])    # utime + stime


def test_run_killed_filrec_program_runs_on(filrec, prog, tmp_path):
    """`filrec run` reads the program's log (record/rec_sink.c). Killed, it cannot: the
    program must not wait for it forever once its buffers fill, but stop recording, say
    so once, and run on."""
    trace = tmp_path / "orphan.bin"
    run = subprocess.Popen([filrec, "run", "-o", str(trace), "--", prog("alloc_forever")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pid = None
    try:
        word, pid = read_line(run.stdout, 30).split()
        pid = int(pid)
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
        time.sleep(1.0)                       # buffers fill in well under this
        before = cpu_ticks(pid)
        time.sleep(1.0)
        assert cpu_ticks(pid) - before > 20, "the program stopped running"
        with open(f"/proc/{pid}/wchan") as f:
            assert "futex" not in f.read()
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if run.poll() is None:
            run.kill()
            run.wait()
    err = run.stderr.read().decode()
    assert err.count("filrec: recording stopped: the filrec process went away") == 1, err
