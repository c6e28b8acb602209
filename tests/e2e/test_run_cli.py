"""filrec run as a command: exit status, signals, an unwritable trace, overwriting."""
import json
import re
import shutil
import signal
import subprocess

import pytest

from conftest import TIMEOUT, VENV_PYTHON

HELLO = "hello from filrec's test program\n"


def run(filrec, *args, cwd=None):
    return subprocess.run([filrec, "run", *args], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=cwd)


def test_run_dev_full_program_unaffected(filrec, prog, tmp_path):
    r = run(filrec, "-o", "/dev/full", "--", prog("hello"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == HELLO
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("filrec: recording stopped:")


def test_run_exit_code_passes_through(record):
    r = record("exit_as", "code", "3", expect_rc=3)
    assert r.stats["ended_cleanly"] is True     # exit(3) is a normal exit
    assert r.stats["counts"]["alloc"] == 1 and r.stats["live_at_exit_bytes"] == 0


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGTERM], ids=lambda s: s.name)
def test_run_dies_by_program_signal(filrec, prog, tmp_path, sig):
    trace = tmp_path / "signal.bin"
    r = run(filrec, "-o", str(trace), "--", prog("exit_as"), "signal", str(int(sig)),
            cwd=tmp_path)
    assert r.returncode == -sig, r.stderr
    said = [l for l in r.stderr.splitlines() if l.startswith("filrec: program killed")]
    assert len(said) == 1, r.stderr
    assert re.fullmatch(rf"filrec: program killed by signal {int(sig)} \(.+\)", said[0])
    assert not list(tmp_path.glob("core*"))
    # raise(SIGTERM) ends the process the way exit does: the trace is finished first,
    # with its one malloc/free pair. A crash signal is left alone (a damaged process
    # must die, not wait on the writer): filrec, which sees it die, writes the trailer.
    st = json.loads(subprocess.run([filrec, "stats", "--json", str(trace)],
                                   capture_output=True, text=True, timeout=60).stdout)
    if sig == signal.SIGTERM:
        assert (st["ended_cleanly"], st["ended_by_own_signal"]) == (True, True), st
        assert (st["counts"]["alloc"], st["counts"]["free"]) == (1, 1), st
    else:
        assert (st["ended_cleanly"], st["ended_by_own_signal"]) == (True, False), st
        assert st["ending"] == {"how": "signal", "signal": int(sig), "by_filrec": True}


def test_run_refuses_to_overwrite_trace(filrec, prog, tmp_path):
    trace = tmp_path / "precious.bin"
    trace.write_bytes(b"precious\n")
    r = run(filrec, "-o", str(trace), "--", prog("hello"), cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("filrec: ") and str(trace) in lines[0]
    assert r.stdout == ""                       # the program did not run
    assert trace.read_bytes() == b"precious\n"


def test_run_force_overwrites_trace(filrec, prog, stats, tmp_path):
    trace = tmp_path / "old.bin"
    trace.write_bytes(b"old contents, longer than nothing\n" * 100)
    r = run(filrec, "-f", "-o", str(trace), "--", prog("hello"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == HELLO
    assert trace.read_bytes()[:8] == b"\x89FILREC\n"
    p, s = stats(trace)
    assert p.returncode == 0, p.stderr
    assert s["ended_cleanly"] is True
    # hello makes 1,001 mallocs and frees them all.
    assert s["counts"]["alloc"] == 1001 and s["live_at_exit_bytes"] == 0


def test_run_blocked_signal_stays_pending(record):
    """A program that blocks SIGTERM and sends it to itself goes on as it would without
    filrec: the recorder's thread blocks every signal, so it cannot take this one."""
    r = record("blocked_signal")
    assert r.stats["ended_cleanly"] is True and r.stats["ended_by_own_signal"] is False
    assert r.stats["live_at_exit_bytes"] >= r.answer["live_at_exit"]
    assert r.stats["live_at_exit_bytes"] <= r.answer["live_at_exit"] + 65536


def test_run_missing_script_leaves_no_trace(filrec, tmp_path):
    r = run(filrec, "nosuch.py", cwd=tmp_path)
    assert r.returncode == 2                    # as python3 nosuch.py exits
    assert r.stderr.splitlines() == [
        "filrec: cannot open 'nosuch.py': No such file or directory"]
    assert list(tmp_path.iterdir()) == []       # no trace, no report, no hint


def test_run_no_program_says_what_is_missing(filrec, tmp_path):
    r = run(filrec, "-f", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == ["filrec: run needs a program: SCRIPT.py, -m MODULE, "
                                     "-c CODE or PROGRAM; see 'filrec run --help'"]


def test_run_output_dashdash_is_an_error(filrec, prog, tmp_path):
    r = run(filrec, "-o", "--", prog("hello"), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == ["filrec: option '-o' needs a value; see 'filrec run --help'"]
    assert list(tmp_path.iterdir()) == []


def test_run_python_equals_form(filrec, tmp_path):
    trace = tmp_path / "eq.bin"
    r = run(filrec, "-o", str(trace), "--no-report", "--python=/usr/bin/python3", "-c",
            "import sys; print(sys.executable)", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "/usr/bin/python3" and trace.is_file()


def test_run_next_hint_is_shell_quoted(filrec, prog, tmp_path):
    trace = tmp_path / "it's here.bin"
    r = run(filrec, "-o", str(trace), "--no-report", "--", prog("hello"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    hint = [l for l in r.stderr.splitlines() if l.startswith("filrec: next: ")]
    quoted = "'" + str(trace).replace("'", "'\\''") + "'"
    assert hint == [f"filrec: next: filrec summary {quoted}"]
    # the shell reads it back as the path
    p = subprocess.run(["sh", "-c", f"printf %s {quoted}"], capture_output=True, text=True)
    assert p.stdout == str(trace)


def test_version_names_the_trace_format(filrec):
    p = subprocess.run([filrec, "--version"], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0 and p.stdout == "filrec 0.1 (trace format 2, or 3 with --native; reads 1 to 3)\n"
    h = subprocess.run([filrec, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert "--version" in h.stdout


def test_run_script_from_stdin(filrec, summary, tmp_path):
    code = "import sys\nx = bytearray(10_000_000)\nprint(len(x), sys.argv)\n"
    p = subprocess.run([filrec, "run", "--no-report", "-", "a", "b"], input=code,
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "10000000 ['-', 'a', 'b']\n"  # as `python3 - a b` prints it
    (trace,) = tmp_path.glob("filrec-stdin.*.bin")
    top = summary(trace)["locations"][0]
    assert (top["file"], top["line"], top["bytes"]) == ("<stdin>", 2, 10_000_001)


def test_summary_option_equals_forms(filrec, prog, tmp_path):
    trace = tmp_path / "t.bin"
    subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--", prog("hello")],
                   capture_output=True, check=True, timeout=TIMEOUT)
    def out(*opts):
        p = subprocess.run([filrec, "summary", *opts, str(trace)], capture_output=True,
                           text=True, timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr
    assert out("--top=1", "--by=file", "--json") == out("--top", "1", "--by", "file", "--json")
    assert out("--temporary", "--threshold=0") == out("--temporary", "--threshold", "0")
    rc, _, err = out("--json=yes")
    assert rc == 1 and err == "filrec: option '--json' takes no value; see 'filrec summary --help'\n"
    rc, _, err = out("--top=")
    assert rc == 1 and err == "filrec: bad --top '': want a count\n"


def test_progress_bar_names_its_pass(filrec, prog, tmp_path):
    """On a terminal, summary, which keeps the peak in one pass, says "finding the peak";
    with FILREC_TWO_PASS=1 it names each of its two replays ("1/2 finding the peak",
    then "2/2 replaying to the peak"); stats says "reading the trace".
    FILREC_PROGRESS_AFTER=0 shows the bar at once (it waits a second by default)."""
    import os
    import pty
    trace = tmp_path / "threads.bin"
    r = subprocess.run([filrec, "run", "-o", str(trace), "--", prog("threads")],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr

    def on_tty(*args, env=None):
        master, slave = pty.openpty()
        p = subprocess.run([filrec, *args, str(trace)], stdout=subprocess.DEVNULL, stderr=slave,
                           timeout=TIMEOUT,
                           env={**os.environ, "FILREC_PROGRESS_AFTER": "0", **(env or {})})
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        assert p.returncode == 0
        return out.decode(errors="replace")

    single = on_tty("summary")
    assert "filrec: finding the peak [" in single and "1/2" not in single and "2/2" not in single
    two = on_tty("summary", env={"FILREC_TWO_PASS": "1"})
    assert "filrec: 1/2 finding the peak [" in two and "filrec: 2/2 replaying to the peak [" in two
    assert two.index("1/2") < two.index("2/2")
    one = on_tty("stats")
    assert "filrec: reading the trace [" in one and "1/2" not in one


@pytest.mark.parametrize("args, says", [
    (["bad.py"], "SyntaxError"),
    (["-m", "no_such_module_for_filrec"], "No module named no_such_module_for_filrec"),
])
def test_run_program_that_never_starts_leaves_no_trace(filrec, tmp_path, args, says):
    """A syntax error or a missing -m module: Python's own error and exit status, one
    line from filrec, and no trace, report or "next:" hint; a script that fails once
    running keeps its trace."""
    (tmp_path / "bad.py").write_text("x = (\n")
    (tmp_path / "fails.py").write_text("x = bytearray(3_000_000)\nraise SystemExit(3)\n")
    p = subprocess.run([filrec, "run", "-o", str(tmp_path / "t.bin"), *args], capture_output=True,
                       text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert p.returncode == 1 and says in p.stderr, p.stderr
    assert "filrec: no trace: the program stopped before its code ran (see its error above)" \
        in p.stderr
    assert "next:" not in p.stderr and "trace written" not in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad.py", "fails.py"]
    p = subprocess.run([filrec, "run", "--no-report", "-o", str(tmp_path / "f.bin"), "fails.py"],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert p.returncode == 3 and (tmp_path / "f.bin").is_file(), p.stderr


def test_run_says_when_python_did_not_load_its_part(build, filrec, tmp_path):
    # A filrec binary with libfilrec.so beside it but no Python package where it looks
    # (a build folder outside the source tree): Python runs, but without the
    # bootstrap, so the trace has no Python stacks. The run says so; a whole build
    # does not.
    lone = tmp_path / "bin"
    lone.mkdir()
    for f in ("filrec", "libfilrec.so"):
        shutil.copy2(build / f, lone / f)
    code = "x = [bytearray(100) for _ in range(1000)]"
    said = {}
    for name, exe in (("lone", str(lone / "filrec")), ("whole", filrec)):
        t = tmp_path / f"{name}.bin"
        p = subprocess.run([exe, "run", "--no-report", "-o", str(t), "--python-allocators",
                            "--python", VENV_PYTHON, "-c", code],
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr
        s = subprocess.run([filrec, "stats", "--json", str(t)], capture_output=True,
                           text=True, timeout=TIMEOUT, check=True)
        said[name] = (p.stderr, json.loads(s.stdout)["counts"]["stack_node"])
    err, nodes = said["lone"]
    assert ("filrec: not recorded: Python stacks and Python's allocators: Python did "
            f"not load filrec's part from {lone}/../python/filrec\n") in err, err
    assert nodes == 0
    err, nodes = said["whole"]
    assert "not recorded" not in err and nodes > 0, err
