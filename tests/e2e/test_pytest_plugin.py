"""filrec's pytest plugin, run by pytest's own pytester in a fresh pytest process on a
small test file with known sizes: limit_memory fails the test whose peak is over its
limit and lists the lines at its peak, limit_leaks the test that leaves too much
allocated, --filrec-limit sets a default, --filrec prints the peaks, and the traces of
failing tests are kept."""
import json
import subprocess

import pytest

from conftest import REPO

SRC = '''
import pytest
LEAK = []

@pytest.mark.limit_memory("100 MB")
def test_small():
    x = bytearray(50_000_000)  # SMALL

@pytest.mark.limit_memory("100 MB")
def test_big():
    x = bytearray(150_000_000)  # BIG

@pytest.mark.limit_leaks("1 MB")
def test_leaky():
    LEAK.append(bytearray(5_000_000))  # LEAK

@pytest.mark.limit_leaks("1 MB")
def test_clean():
    x = bytearray(5_000_000)

def test_plain():
    y = bytearray(20_000_000)  # PLAIN
'''


def line(tag):
    return next(n for n, t in enumerate(SRC.splitlines()) if t.endswith("# " + tag))


@pytest.fixture
def tester(pytester, build, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO / "python"))
    monkeypatch.setenv("FILREC_BIN", str(build / "filrec"))
    pytester.makepyfile(test_mem=SRC)
    return pytester


def test_limits_fail_with_the_lines_at_the_peak(tester, filrec):
    r = tester.runpytest_subprocess("-p", "filrec", "--filrec", "--filrec-top", "3")
    r.assert_outcomes(passed=3, failed=2)
    f = tester.path / "test_mem.py"
    out = r.stdout.str()
    kept = tester.path / ".filrec"
    r.stdout.fnmatch_lines([
        "filrec: test_big used 150.0 MB at its peak, over its limit of 100.0 MB (limit_memory).",
        "At the peak:",
        f"      150.0 MB  {f}:{line('BIG')} test_big",
        f"trace: {kept / 'test_mem.py_test_big.bin'}",
    ])
    r.stdout.fnmatch_lines([
        "filrec: test_leaky left 5.0 MB allocated, over its limit of 1.0 MB (limit_leaks).",
        "Still allocated when it returned:",
        f"        5.0 MB  {f}:{line('LEAK')} test_leaky",
    ])
    assert "test_small used" not in out and "test_clean left" not in out
    # The summary: the 3 highest peaks of the 5 tests, largest first, with their lines.
    r.stdout.fnmatch_lines([
        "*filrec: peak memory of the 3 highest of 5 tests*",
        "  150.0 MB  test_mem.py::test_big",
        f"              150.0 MB  {f}:{line('BIG')} test_big",
        "   50.0 MB  test_mem.py::test_small",
        f"               50.0 MB  {f}:{line('SMALL')} test_small",
        "   20.0 MB  test_mem.py::test_plain",
    ])
    # Only the failing tests' traces are kept, and they hold the known answer.
    assert sorted(p.name for p in kept.iterdir()) == ["test_mem.py_test_big.bin",
                                                      "test_mem.py_test_leaky.bin"]
    s = json.loads(subprocess.run([filrec, "summary", "--json", str(kept / "test_mem.py_test_big.bin")],
                                  capture_output=True, text=True, check=True).stdout)
    assert 150_000_000 <= s["peak_bytes"] <= 150_100_000
    assert (s["locations"][0]["line"], s["locations"][0]["bytes"]) == (line("BIG"), 150_000_001)


def test_default_limit_and_dir(tester, tmp_path):
    keep = tmp_path / "kept"
    r = tester.runpytest_subprocess("-p", "filrec", "--filrec-limit", "30MB", "--filrec-dir",
                                    str(keep))
    # 30 MB for all: test_small's own mark (100 MB) wins; test_plain (20 MB) passes;
    # test_big fails on its own mark, test_leaky on its leak.
    r.assert_outcomes(passed=3, failed=2)
    assert sorted(p.name for p in keep.iterdir()) == ["test_mem.py_test_big.bin",
                                                      "test_mem.py_test_leaky.bin"]
    r = tester.runpytest_subprocess("-p", "filrec", "--filrec-limit", "10MB", "-k", "plain")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["filrec: test_plain used 20.0 MB at its peak, over its limit of "
                            "10.0 MB (limit_memory)."])


def test_bad_limit_is_a_usage_error(tester):
    r = tester.runpytest_subprocess("-p", "filrec", "--filrec-limit", "lots")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*'lots' is not a size*"])


def test_native_stacks_in_kept_traces(tester, filrec):
    """--filrec-native: the kept trace of a failing test holds the native frames under
    its line (format version 3)."""
    r = tester.runpytest_subprocess("-p", "filrec", "--filrec-native", "-k", "big")
    r.assert_outcomes(failed=1)
    kept = tester.path / ".filrec" / "test_mem.py_test_big.bin"
    assert kept.read_bytes()[8] == 3
    s = json.loads(subprocess.run([filrec, "summary", "--json", str(kept)], capture_output=True,
                                  text=True, check=True).stdout)
    top = s["locations"][0]
    assert (top["line"], top["bytes"]) == (line("BIG"), 150_000_001)
    names = [f["function"] for f in top["stack"]]
    assert names.index("test_big") < len(names) - 1, names  # native frames below the line


def test_sampled_kept_traces(tester, filrec):
    """--filrec-sample: each test is recorded with sampling; the kept trace of the failing
    test says so, and its 150 MB block, over the interval, is there exactly. A bad size
    is a usage error."""
    r = tester.runpytest_subprocess("-p", "filrec", "--filrec-sample", "512KiB", "-k", "big")
    r.assert_outcomes(failed=1)
    kept = tester.path / ".filrec" / "test_mem.py_test_big.bin"
    s = json.loads(subprocess.run([filrec, "summary", "--json", str(kept)], capture_output=True,
                                  text=True, check=True).stdout)
    assert s["sample_bytes"] == 512 * 1024
    top = s["locations"][0]
    assert (top["line"], top["bytes"]) == (line("BIG"), 150_000_001)
    r = tester.runpytest_subprocess("-p", "filrec", "--filrec-sample", "lots")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
