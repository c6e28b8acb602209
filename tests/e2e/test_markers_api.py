"""The markers API (python/filrec): under filrec run, mark() and region() write
markers with the exact live bytes at that point; under plain python they do nothing
but say so once on stderr."""
import json
import subprocess

from conftest import REPO, TIMEOUT

PROGRAM = """
import filrec
filrec.mark("start")
with filrec.region("load"):
    x = bytearray(20_000_000)
filrec.mark("end")
del x
filrec.mark("freed")
print(filrec.active())
"""


def test_markers_record_live_bytes(python, filrec, tmp_path):
    trace = tmp_path / "m.bin"
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--python",
                        python.exe, "-c", PROGRAM], capture_output=True, text=True,
                       timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "True\n", r.stderr
    s = json.loads(subprocess.run([filrec, "stats", "--json", str(trace)], capture_output=True,
                                  text=True, timeout=TIMEOUT).stdout)
    m = s["markers"]
    assert [(x["label"], x["type"]) for x in m] == [
        ("start", "point"), ("load", "begin"), ("load", "end"), ("end", "point"),
        ("freed", "point")]
    base = m[0]["live_bytes"]
    # the bytearray is 20,000,001 bytes; a few small objects may come and go besides
    assert abs(m[2]["live_bytes"] - base - 20_000_001) < 65536, m
    assert abs(m[4]["live_bytes"] - base) < 65536, m
    times = [x["time_s"] for x in m]
    assert times == sorted(times) and times[-1] <= s["duration_s"]


def test_markers_without_filrec_warn_once(python, tmp_path):
    env = {"PYTHONPATH": str(REPO / "python"), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([python.exe, "-c", PROGRAM], capture_output=True, text=True,
                       timeout=TIMEOUT, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "False\n"
    assert r.stderr == "filrec: not recording; markers are ignored\n"
