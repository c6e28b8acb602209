"""Rough edges of `lines` and `report`: a file the trace never saw is an error, not an
empty page; a report of a cut trace warns on stderr as the other verbs do, and the
page says so."""
import subprocess

from conftest import TIMEOUT


def recorded(filrec, prog, tmp_path):
    trace = tmp_path / "hello.bin"
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--", prog("hello")],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return trace


def test_lines_file_not_in_trace_is_an_error(filrec, python, tmp_path):
    script = tmp_path / "alloc.py"
    script.write_text("x = bytearray(5_000_000)\n")
    trace = tmp_path / "a.bin"
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--python", python.exe,
                        str(script)], capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    p = subprocess.run([filrec, "lines", str(trace), "/no/such/file.py"], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.splitlines() == [f"filrec: '/no/such/file.py' is not in '{trace}': nothing "
                                     "was allocated from it"]
    ok = subprocess.run([filrec, "lines", str(trace), "alloc.py"], capture_output=True,
                        text=True, timeout=TIMEOUT)
    assert ok.returncode == 0 and str(script) in ok.stdout


def test_report_cut_trace_warns(filrec, prog, tmp_path):
    trace = recorded(filrec, prog, tmp_path)
    data = trace.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:len(data) - 10])
    p = subprocess.run([filrec, "report", "-o", str(tmp_path / "rep"), str(cut)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"filrec: warning: '{cut}' ends early")
    assert lines[1].startswith("filrec: report written to ")
    assert "ends early" in (tmp_path / "rep" / "index.html").read_text()
