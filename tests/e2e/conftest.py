"""Fixtures for the end-to-end tests: where the build is, and a helper that records a
test program with `filrec run` and reads the trace back with `filrec stats --json`.

Environment (set by `make e2e` / `make test`):
  FILREC_BUILD       the build directory (default /work/main/build): filrec,
                     libfilrec.so and progs/NAME for every tests/progs/NAME.c
  FILREC_ASAN_BUILD  optional: a directory with an ASan+UBSan `filrec`; when present,
                     every `stats` is also run with it and must print the same thing
"""
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

TIMEOUT = 120  # seconds for any one command; the slowest test needs a few


def _build_dir():
    return Path(os.environ.get("FILREC_BUILD", "/work/main/build")).resolve()


@pytest.fixture(scope="session")
def build():
    d = _build_dir()
    if not (d / "filrec").is_file():
        pytest.fail(f"{d / 'filrec'} is missing: run make (or set FILREC_BUILD)")
    return d


@pytest.fixture(scope="session")
def filrec(build):
    return str(build / "filrec")


@pytest.fixture(scope="session")
def asan_filrec():
    d = os.environ.get("FILREC_ASAN_BUILD")
    exe = Path(d) / "filrec" if d else None
    return str(exe) if exe and exe.is_file() else None


@pytest.fixture(scope="session")
def prog(build):
    """prog("name") -> absolute path of build/progs/name (built from tests/progs/name.c)."""
    def path(name):
        p = build / "progs" / name
        if not p.is_file():
            pytest.fail(f"{p} is missing: run make")
        return str(p)
    return path


def program_answer(stdout):
    """The known answer a test program printed: its last stdout line that is JSON."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"the program printed no JSON line; stdout was {stdout!r}")


@dataclass
class Recording:
    trace: Path
    run: subprocess.CompletedProcess    # `filrec run`, text mode
    stats_proc: subprocess.CompletedProcess
    stats: dict                         # `filrec stats --json` output, parsed
    answer: dict                        # the program's own JSON line, or None


@pytest.fixture
def stats(filrec, asan_filrec):
    """stats(trace) -> (CompletedProcess, parsed JSON or None) of `filrec stats --json`.
    With an ASan build at hand, the ASan binary must print exactly the same (asan=False
    skips that, for a second big trace of a kind already checked: it costs seconds)."""
    def run_stats(trace, asan=True):
        p = subprocess.run([filrec, "stats", "--json", str(trace)], capture_output=True,
                           text=True, timeout=TIMEOUT)
        if asan and asan_filrec:
            a = subprocess.run([asan_filrec, "stats", "--json", str(trace)],
                               capture_output=True, text=True, timeout=TIMEOUT)
            assert (a.returncode, a.stdout, a.stderr) == (p.returncode, p.stdout, p.stderr), \
                f"the ASan build disagrees:\n{a.stderr}"
        return p, json.loads(p.stdout) if p.returncode == 0 else None
    return run_stats


@pytest.fixture
def record(filrec, prog, stats, tmp_path):
    """record("name", *args) runs `filrec run -o TMP -- build/progs/name args`, checks that
    it and `filrec stats --json` succeeded, and returns a Recording."""
    def run(name, *args, expect_rc=0):
        trace = tmp_path / f"{name}.bin"
        r = subprocess.run([filrec, "run", "-o", str(trace), "--", prog(name), *args],
                           capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
        assert r.returncode == expect_rc, f"filrec run exited {r.returncode}:\n{r.stderr}"
        assert "recording stopped" not in r.stderr, r.stderr
        sp, st = stats(trace)
        assert sp.returncode == 0, f"filrec stats exited {sp.returncode}:\n{sp.stderr}"
        answer = program_answer(r.stdout) if expect_rc == 0 else None
        return Recording(trace, r, sp, st, answer)
    return run
