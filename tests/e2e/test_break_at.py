"""Thresholds: `filrec run --break-at SIZE` drops into pdb in the main thread right
after the allocation that made tracked live memory pass SIZE (the recorder only queues
a pending call; pdb runs between two bytecodes), and the program goes on after `c`;
the API's on_threshold=(size, fn) calls fn the same way. Known answers: the lines of
pyprogs/break_at.py and pyprogs/on_threshold.py and the bytes they hold."""
import subprocess

from conftest import PYPROGS, TIMEOUT, program_answer
from test_inprocess import inproc_env
from test_run_job import line_of

MB = 1_000_000
PROG = PYPROGS / "break_at.py"


def run_break(filrec, python, tmp_path, size, commands):
    return subprocess.run([filrec, "run", "--no-report", "-o", str(tmp_path / "t.bin"), "--python",
                           python.exe, "--break-at", size, str(PROG)], input=commands,
                          capture_output=True, text=True, timeout=TIMEOUT)


def test_break_at_stops_in_pdb_then_continues(filrec, python, summary, tmp_path):
    p = run_break(filrec, python, tmp_path, "200MB", 'p "in pdb", small.__len__()\nc\n')
    assert p.returncode == 0, p.stderr
    big, after = line_of(PROG, "BIG"), line_of(PROG, "AFTER")
    said = [l for l in p.stderr.splitlines() if "tracked memory passed" in l]
    assert len(said) == 1, p.stderr
    assert said[0].startswith("filrec: tracked memory passed 200.0 MB (")
    assert said[0].endswith(f" live) at {PROG}:{big}; pdb follows ('c' goes on)")
    live = float(said[0].split("(")[1].split(" MB")[0]) * MB
    assert 350 * MB <= live <= 360 * MB  # both blocks, and what Python's start-up holds
    # pdb stops in the module's frame: at the next line, or (pdb of 3.13 on stops at
    # once) on the allocating line itself, still to store its result; then it finishes.
    stop = big if python.version >= (3, 13) else after
    assert f"> {PROG}({stop})<module>()" in p.stdout, p.stdout
    assert "(Pdb) ('in pdb', 50000000)" in p.stdout
    assert p.stdout.rstrip().endswith("finished 1")
    s = summary(tmp_path / "t.bin")
    assert s["ending"]["how"] == "exit" and s["ending"]["exit_code"] == 0


def test_break_at_not_reached_stays_quiet(filrec, python, tmp_path):
    p = run_break(filrec, python, tmp_path, "1GB", "c\n")
    assert p.returncode == 0 and "pdb" not in p.stderr + p.stdout, p.stderr
    assert p.stdout.splitlines() == ["start", "finished 1"]


def test_break_at_refuses_bad_values(filrec, prog, tmp_path):
    for bad in ("lots", "-5MB", "0", "12QB"):
        p = subprocess.run([filrec, "run", "--break-at", bad, str(PROG)], capture_output=True,
                           text=True, timeout=TIMEOUT, cwd=tmp_path)
        assert p.returncode == 1
        assert p.stderr == f"filrec: bad --break-at '{bad}': want a size, such as 500MB or 2GiB\n"
    p = subprocess.run([filrec, "run", "--break-at", "1MB", "--", prog("hello")],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert p.returncode == 1 and "--break-at needs a Python program" in p.stderr
    assert not list(tmp_path.iterdir())


def test_on_threshold_runs_in_the_main_thread(python, build, tmp_path):
    prog = PYPROGS / "on_threshold.py"
    p = subprocess.run([python.exe, str(prog), str(tmp_path / "o")], capture_output=True,
                       text=True, timeout=TIMEOUT, env=inproc_env(build))
    assert p.returncode == 0, p.stderr
    out = program_answer(p.stdout)
    (first,) = out["first"]
    assert first["main"] and first["line"] == line_of(prog, "BIG")
    assert 130 * MB <= first["live"] <= 131 * MB
    assert len(out["all"]) == 2
    second = out["all"][1]
    assert second["main"] and 150 * MB <= second["live"] <= 151 * MB


def test_parse_size(python, build):
    code = ("import filrec\nfor s in ('500MB', '1.5 GiB', '64k', '1000000', 7, '2 gb'):\n"
            "    print(filrec.parse_size(s))\n"
            "for bad in ('lots', '-1MB', '5QB'):\n"
            "    try:\n        filrec.parse_size(bad)\n    except ValueError as e:\n"
            "        print('bad', bad)\n")
    p = subprocess.run([python.exe, "-c", code], capture_output=True, text=True,
                       timeout=TIMEOUT, env=inproc_env(build))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:-1] == ["500000000", str(3 * 2**29), "64000", "1000000", "7",
                                        "2000000000", "bad lots", "bad -1MB", "bad 5QB"]
