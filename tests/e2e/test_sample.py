"""filrec run --sample: allocations sampled by bytes (FORMAT.md, "Sampling"). Each check
compares the sampled estimate with an exact recording of the same script: within twice
its reported 95% bound (a false alarm once in about 10,000 runs), exact where the blocks
are over the interval. Known answers in pyprogs/sampled.py."""
import json
import os
import subprocess

import pytest

from conftest import PYPROGS, TIMEOUT, VENV_PYTHON
from test_run_job import line_of

PROG = PYPROGS / "sampled.py"
T = 64 << 10


@pytest.fixture(scope="module")
def runs(tmp_path_factory, filrec):
    d = tmp_path_factory.mktemp("sample")
    out = {}
    for name, opts in (("exact", []), ("sampled", ["--sample", "64KiB"]),
                       ("objects", ["--sample", "64KiB", "--python-allocators"])):
        t = d / f"{name}.bin"
        p = subprocess.run([filrec, "run", "--no-report", "-o", str(t), *opts, "--python",
                            VENV_PYTHON, str(PROG)], capture_output=True, text=True,
                           timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "100000 10\n"
        out[name] = (t, p.stderr)
    return out


def summ(filrec, trace):
    p = subprocess.run([filrec, "summary", "--json", "--top", "0", str(trace)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout), p.stderr


def stats(filrec, trace):
    p = subprocess.run([filrec, "stats", "--json", str(trace)], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def at(s, tag):
    line = line_of(PROG, tag)
    (l,) = [l for l in s["locations"] if l["file"] == str(PROG) and l["line"] == line]
    return l


@pytest.mark.parametrize("mode", ["sampled", "objects"])
def test_sampled_estimates_within_their_bounds(filrec, runs, mode):
    exact, _ = summ(filrec, runs["exact"][0])
    s, err = summ(filrec, runs[mode][0])
    assert s["sample_bytes"] == T and "sample_bytes" not in exact
    assert "holds a sample of the allocations" in err, err  # every verb says so
    small, big = at(s, "SMALL"), at(s, "BIG")
    # Ten blocks of 4 MiB, each over the interval: all of them, exactly. With every
    # object recorded, the line's ten bytearray objects (57 bytes each) are sampled too:
    # each that is stands for about one interval, the only error the line can have.
    extra = big["blocks"] - 10
    assert 0 <= extra <= (10 if mode == "objects" else 0), big
    got, want_big = big["bytes"], at(exact, "BIG")["bytes"]
    assert want_big + extra * T <= got <= want_big + extra * (T + 4096), (got, want_big)
    assert (big["bytes_error_95"] == 0) == (extra == 0), big
    # 200,000 blocks of 1,001 bytes: about 3,000 samples; the estimate within twice
    # its bound, and the bound about what 3,000 samples give (1.96 / sqrt(3,000)).
    want = at(exact, "SMALL")["bytes"]
    assert abs(small["bytes"] - want) <= 2 * small["bytes_error_95"], (small, want)
    assert 0.02 * want < small["bytes_error_95"] < 0.06 * want, small
    assert small["blocks"] < 10_000
    assert abs(s["peak_bytes"] - exact["peak_bytes"]) <= 2 * s["peak_error_95"]


@pytest.mark.parametrize("mode", ["sampled", "objects"])
def test_sampled_frees_match_their_samples(filrec, runs, mode):
    # objects: the frees go through the recorder's wrapper of Python's allocators,
    # which asks the filter of sampled blocks; a block it missed would stay live.
    e, s = stats(filrec, runs["exact"][0]), stats(filrec, runs[mode][0])
    assert s["unmatched_frees"] == 0
    assert s["sample_bytes"] == T and e["sample_bytes"] == 0
    # The sample is small: a fraction of the exact recording's events.
    assert s["counts"]["alloc"] * 20 < e["counts"]["alloc"]
    # Half the small blocks freed, at the marker: the estimate follows, within twice
    # the peak's bound (the bound then, of half the samples, is smaller).
    (me,), (ms,) = [[m for m in x["markers"] if m["label"] == "freed"] for x in (e, s)]
    assert abs(ms["live_bytes"] - me["live_bytes"]) <= 2 * s["peak_error_95"], (ms, me)
    assert me["live_bytes"] < e["peak_bytes"] * 0.7


def test_sample_refuses_bad_sizes_and_break_at(filrec, tmp_path):
    for bad in ("0", "x", "2TiB"):
        p = subprocess.run([filrec, "run", "--sample", bad, "--", "true"], capture_output=True,
                           text=True, cwd=tmp_path)
        assert p.returncode == 1 and p.stderr.startswith(f"filrec: bad --sample '{bad}'"), p.stderr
    p = subprocess.run([filrec, "run", "--sample", "1MiB", "--break-at", "1GB", "-c", "0"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 1 and "cannot be used with --sample" in p.stderr, p.stderr


def test_sampled_numpy_peak_within_2_percent(filrec, tmp_path):
    """A NumPy job with a peak over 500 MB, at --sample 512KiB: its arrays are over the
    interval, so the peak and the top line match exact mode within 2%."""
    script = tmp_path / "np_job.py"
    script.write_text(
        "import numpy as np\n"
        "rows = [np.full(12_500_000, i, dtype=np.float64) for i in range(6)]  # 600 MB\n"
        "small = [list(range(20)) for _ in range(100_000)]\n"
        "total = sum(float(r[0]) for r in rows)\n"
        "print(total)\n")
    got = {}
    for name, opts in (("exact", []), ("sampled", ["--sample", "512KiB"])):
        t = tmp_path / f"{name}.bin"
        p = subprocess.run([filrec, "run", "--no-report", "-o", str(t), *opts, "--python",
                            VENV_PYTHON, str(script)], capture_output=True, text=True,
                           timeout=TIMEOUT)
        if p.returncode and "No module named 'numpy'" in p.stderr:
            pytest.skip("no NumPy in .venv")
        assert p.returncode == 0 and p.stdout == "15.0\n", p.stderr
        got[name], _ = summ(filrec, t)
    e, s = got["exact"], got["sampled"]
    assert e["peak_bytes"] > 600_000_000
    assert abs(s["peak_bytes"] - e["peak_bytes"]) <= 0.02 * e["peak_bytes"]
    te, ts = e["locations"][0], s["locations"][0]
    assert (te["file"], te["line"]) == (ts["file"], ts["line"]) == (str(script), 2)
    assert abs(ts["percent"] - te["percent"]) <= 2


def test_inprocess_sample_matches_exact(build, filrec, tmp_path):
    """filrec.start(sample="64KiB"): the trace says it is sampled; the 4 MiB blocks are
    exact; the small ones and the peak within twice their bounds of an exact start()."""
    from test_inprocess import inproc_env, run_py

    class Py:  # run_py takes the interpreter as the python fixture gives it
        exe = VENV_PYTHON

    prog = PYPROGS / "inproc_sampled.py"
    got = {}
    for mode in ("exact", "sampled"):
        trace = tmp_path / f"{mode}.bin"
        r = run_py(Py, build, prog, mode, str(trace))
        assert int(r.stdout) > 240_000_000, r.stdout
        got[mode], _ = summ(filrec, trace)
    e, s = got["exact"], got["sampled"]
    assert s["sample_bytes"] == T and s["started_late"] is True
    line = lambda d, tag: [l for l in d["locations"] if l["file"] == str(prog)
                           and l["line"] == line_of(prog, tag)][0]
    big = line(s, "BIG")
    assert big["bytes"] == line(e, "BIG")["bytes"] >= 10 * (4 << 20)
    assert big["bytes_error_95"] == 0
    small_s, small_e = line(s, "SMALL"), line(e, "SMALL")
    assert abs(small_s["bytes"] - small_e["bytes"]) <= 2 * small_s["bytes_error_95"]
    assert abs(s["peak_bytes"] - e["peak_bytes"]) <= 2 * s["peak_error_95"]
    with pytest.raises(subprocess.CalledProcessError) as bad:
        subprocess.run([VENV_PYTHON, "-c", "import filrec; filrec.start(sample='2TiB')"],
                       check=True, capture_output=True, text=True,
                       env=inproc_env(build))
    assert "bad sample '2TiB'" in bad.value.stderr


# Objects that pymalloc serves itself. With its usual shape, a sampled one is made by
# malloc instead, so that its free reaches the free() hook and the interpreter's own free
# needs no wrapper (record/rec_stack.c, "sampling over pymalloc"); under PYTHONMALLOC=malloc
# and under the debug hooks (-X dev) the wrapper is the whole one. Each way: the frees
# match (a missed one would leave the lists' arrays live at "dropped"), and the
# estimates follow the exact recording within twice their bounds.
OBJS = PYPROGS / "sampled_objects.py"


@pytest.fixture(scope="module")
def object_runs(tmp_path_factory, filrec):
    d = tmp_path_factory.mktemp("sample_objects")
    out = {}
    for name, env, pre, opts in (
            ("exact", {}, [], ["--python-allocators"]),
            ("pymalloc", {}, [], ["--sample", "64KiB", "--python-allocators"]),
            ("malloc", {"PYTHONMALLOC": "malloc"}, [], ["--sample", "64KiB", "--python-allocators"]),
            ("dev", {}, ["-X", "dev"], ["--sample", "64KiB", "--python-allocators"])):
        t = d / f"{name}.bin"
        p = subprocess.run([filrec, "run", "--no-report", "-o", str(t), *opts, "--",
                            VENV_PYTHON, *pre, str(OBJS)], capture_output=True, text=True,
                           timeout=TIMEOUT, env={**os.environ, **env})
        assert p.returncode == 0, p.stderr
        assert p.stdout == "150000\n", (p.stdout, p.stderr)
        out[name] = t
    return out


@pytest.mark.parametrize("mode", ["pymalloc", "malloc", "dev"])
def test_sampled_small_objects_follow_exact(filrec, object_runs, mode):
    e, s = stats(filrec, object_runs["exact"]), stats(filrec, object_runs[mode])
    assert s["unmatched_frees"] == 0 and s["sample_bytes"] == T
    assert s["counts"]["alloc"] * 20 < e["counts"]["alloc"]
    (me,), (ms,) = [[m for m in x["markers"] if m["label"] == "dropped"] for x in (e, s)]
    assert abs(ms["live_bytes"] - me["live_bytes"]) <= 2 * s["peak_error_95"], (ms, me)
    assert me["live_bytes"] < e["peak_bytes"] * 0.6
    assert abs(s["peak_bytes"] - e["peak_bytes"]) <= 2 * s["peak_error_95"], (s, e)
    if mode == "dev":
        return  # the debug hooks' own bytes are in every block: the lines differ
    ex, sm = summ(filrec, object_runs["exact"])[0], summ(filrec, object_runs[mode])[0]
    # At the peak: TUPLES (about 36 MB, some 550 samples) and GROW (the lists' arrays,
    # grown by realloc: about 8 MB, some 120 samples).
    for tag, most in (("TUPLES", 0.1), ("GROW", 0.3)):
        line = line_of(OBJS, tag)
        (want,) = [l for l in ex["locations"] if l["file"] == str(OBJS) and l["line"] == line]
        (got,) = [l for l in sm["locations"] if l["file"] == str(OBJS) and l["line"] == line]
        assert abs(got["bytes"] - want["bytes"]) <= 2 * got["bytes_error_95"], (tag, got, want)
        assert 0 < got["bytes_error_95"] < most * want["bytes"], (tag, got, want)


def test_sampled_realloc_to_zero_keeps_a_block(filrec, tmp_path):
    # At 1 KiB most of the 100-byte blocks are picked, and made by malloc; their
    # realloc to 0 bytes must not become a free (glibc's realloc(p, 0) returns NULL).
    t = tmp_path / "r0.bin"
    p = subprocess.run([filrec, "run", "--no-report", "-o", str(t), "--sample", "1KiB",
                        "--python-allocators", "--", VENV_PYTHON,
                        str(PYPROGS / "realloc_zero.py")],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "null reallocs: 0\n", p.stdout
    s = stats(filrec, t)
    assert s["unmatched_frees"] == 0 and s["counts"]["alloc"] > 1000, s["counts"]


def test_sampled_fork_child_counts_down_its_own(filrec, tmp_path):
    # The child's trace (in FILE.d/) holds its own sample, and its estimate of line
    # CHILD follows an exact recording of the same script within twice its bound.
    prog = PYPROGS / "sampled_fork.py"
    got = {}
    for name, opts in (("exact", []), ("sampled", ["--sample", "64KiB"])):
        t = tmp_path / f"{name}.bin"
        p = subprocess.run([filrec, "run", "--no-report", "-o", str(t), *opts,
                            "--python-allocators", "--python", VENV_PYTHON, str(prog)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr
        child = tmp_path / f"{name}.bin.d" / f"{p.stdout.strip()}.bin"
        s, _ = summ(filrec, child)
        assert stats(filrec, child)["unmatched_frees"] == 0
        ls = [l for l in s["locations"] if l["file"] == str(prog)
              and l["line"] == line_of(prog, "CHILD")]
        # Its stacks (the comprehension's, and the module's own line on 3.12 and
        # later): the bytes add up, and so, conservatively, do the bounds.
        got[name] = [sum(l.get(k, 0) for l in ls) for k in ("bytes", "bytes_error_95")]
    (want, _), (est, err) = got["exact"], got["sampled"]
    assert want > 300_000 * 100 * 1.5
    assert abs(est - want) <= 2 * err, (est, err, want)
    assert 0 < err < 0.1 * want, (est, err, want)
