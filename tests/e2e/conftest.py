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
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # for test_pytest_plugin.py

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


# ---- Python programs: interpreters, recording a script, reading `summary --json` ----
#
# Environment:
#   FILREC_TEST_PYTHONS  space-separated interpreters (paths or names on PATH) for the
#                        tests that take the `python` fixture (default: python3). One
#                        that is missing is skipped with a message; two names for the
#                        same interpreter run once.

REPO = Path(__file__).resolve().parents[2]
PYPROGS = Path(__file__).resolve().parent / "pyprogs"
# The samples' interpreters: Debian's, with python3-numpy and python3-pandas (NumPy 1.24
# and pandas 1.5 on Debian 12, 2.x on Debian 13), and .venv's, with NumPy 2, pandas 2,
# pyarrow and scikit-learn from PyPI (tests/requirements.txt, made by scripts/deps.sh).
# FILREC_SAMPLE_PYTHONS (space-separated) replaces the pair.
SAMPLE_PYTHON = "/usr/bin/python3"
VENV_PYTHON = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python")
SAMPLE_PYTHONS = os.environ.get("FILREC_SAMPLE_PYTHONS", f"{SAMPLE_PYTHON} {VENV_PYTHON}").split()
FILREC_SAYS = "filrec: "    # prefix of filrec run's own lines on stderr


@dataclass(frozen=True)
class Python:
    """One interpreter under test."""
    name: str           # as given in FILREC_TEST_PYTHONS
    exe: str            # its sys.executable, what `filrec run` execs
    version: tuple      # sys.version_info[:3]

    def qualname(self, qualified, plain=None):
        """A function's name as filrec reports it: co_qualname from 3.11 on, co_name
        before (the last dotted part unless given)."""
        if self.version >= (3, 11):
            return qualified
        return plain if plain is not None else qualified.rsplit(".", 1)[-1]

    def __str__(self):
        return "python%d.%d.%d (%s)" % (self.version + (self.exe,))


_python_probe_cache = {}


def probe_python(name):
    """Python for an interpreter name or path, or a string saying why there is none."""
    if name in _python_probe_cache:
        return _python_probe_cache[name]
    import shutil
    found = shutil.which(name)
    if not found:
        result = f"interpreter {name!r} not found"
    else:
        try:
            p = subprocess.run([found, "-S", "-c",
                                "import sys; print(sys.executable); print(*sys.version_info[:3])"],
                               capture_output=True, text=True, timeout=30)
            lines = p.stdout.split("\n")
            if p.returncode != 0 or len(lines) < 2:
                result = f"interpreter {name!r} does not run: {p.stderr.strip()}"
            else:
                result = Python(name, lines[0], tuple(int(x) for x in lines[1].split()))
        except OSError as e:
            result = f"interpreter {name!r} does not run: {e}"
    _python_probe_cache[name] = result
    return result


def pythons_under_test(names, prefix="py"):
    """names as (id, name) pairs, one per distinct interpreter (a venv's python is
    distinct from the interpreter it was made from: its site-packages differ)."""
    out, seen = [], set()
    for name in names:
        py = probe_python(name)
        if isinstance(py, Python):
            key = os.path.abspath(py.exe) if _in_venv(py.exe) else os.path.realpath(py.exe)
            if key in seen:
                continue
            seen.add(key)
            ident = prefix + "%d.%d.%d" % py.version
            if _in_venv(py.exe):
                ident += "-venv"
            if ident in {i for i, _ in out}:
                ident += "-" + py.exe.replace("/", "_")
        else:
            ident = "missing-" + name.replace("/", "_")
        out.append((ident, name))
    return out


def _in_venv(exe):
    return (Path(exe).parent.parent / "pyvenv.cfg").is_file()


def pytest_generate_tests(metafunc):
    for fixture, names in (("python", os.environ.get("FILREC_TEST_PYTHONS", "python3").split()),
                           ("sample_python", SAMPLE_PYTHONS)):
        if fixture in metafunc.fixturenames:
            pys = pythons_under_test(names)
            metafunc.parametrize(fixture, [n for _, n in pys], ids=[i for i, _ in pys],
                                 indirect=True, scope="session")


_pyext_built = {}


def ensure_support_module(py, build_dir):
    """Build filrec's support module for py if it is missing (scripts/pyext.sh is
    incremental); fails the test if it cannot be built."""
    if py.exe not in _pyext_built:
        p = subprocess.run(["sh", str(REPO / "scripts" / "pyext.sh"), py.exe, str(build_dir)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        _pyext_built[py.exe] = p
    p = _pyext_built[py.exe]
    if p.returncode != 0:
        pytest.fail(f"cannot build filrec's support module for {py}:\n{p.stderr}")
    return p.stdout.strip()


@pytest.fixture(scope="session")
def python(request, build):
    """An interpreter from FILREC_TEST_PYTHONS (a Python), with filrec's support module
    built for it. A missing interpreter skips the test."""
    py = probe_python(request.param)
    if not isinstance(py, Python):
        pytest.skip(py)
    ensure_support_module(py, build)
    return py


@pytest.fixture(scope="session")
def sample_python(request, build):
    """One of SAMPLE_PYTHONS (Debian's python3, .venv's), with filrec's support module.
    A missing interpreter skips the test."""
    py = probe_python(request.param)
    if not isinstance(py, Python):
        pytest.skip(py)
    ensure_support_module(py, build)
    return py


@pytest.fixture(scope="session")
def summary(filrec, asan_filrec):
    """summary(trace) -> parsed `filrec summary --json --top 0 TRACE` (every location).
    With an ASan build at hand, it must print exactly the same."""
    def run_summary(trace):
        cmd = ["summary", "--json", "--top", "0", str(trace)]
        p = subprocess.run([filrec, *cmd], capture_output=True, text=True, timeout=TIMEOUT)
        assert p.returncode == 0, f"filrec summary exited {p.returncode}:\n{p.stderr}"
        if asan_filrec:
            a = subprocess.run([asan_filrec, *cmd], capture_output=True, text=True,
                               timeout=TIMEOUT)
            assert (a.returncode, a.stdout, a.stderr) == (p.returncode, p.stdout, p.stderr), \
                f"the ASan build disagrees:\n{a.stderr}"
        return json.loads(p.stdout)
    return run_summary


@dataclass
class PyRecording:
    trace: Path
    run: subprocess.CompletedProcess    # `filrec run`, text mode
    summary: dict                       # `filrec summary --json --top 0`, parsed

    def sized(self, known, slack=0):
        """The one location whose bytes at the peak are known to known + slack."""
        found = [l for l in self.summary["locations"] if known <= l["bytes"] <= known + slack]
        assert len(found) == 1, \
            f"{len(found)} locations of {known:,} bytes (+{slack:,}):\n{self.where()}"
        return found[0]

    def where(self):
        return "\n".join("%12d  %s:%s %s" % (l["bytes"], l["file"], l["line"], l["function"])
                         for l in self.summary["locations"][:15])


def frames(location):
    """A location's stack as (file, function, line) tuples, outermost first."""
    return [(f["file"], f["function"], f["line"]) for f in location["stack"]]


def filrec_lines(stderr):
    """(filrec run's own lines, the rest of stderr): the program's stderr is the rest."""
    ours = [l for l in stderr.splitlines(keepends=True) if l.startswith(FILREC_SAYS)]
    rest = [l for l in stderr.splitlines(keepends=True) if not l.startswith(FILREC_SAYS)]
    return ours, "".join(rest)


def assert_filrec_said(ours, trace, then=0):
    """filrec run's own stderr lines (from filrec_lines) say where the trace is, maybe
    where its report is and the peak's answer, and what to run next; then come `then`
    more lines."""
    said = ours[:len(ours) - then]
    assert said and re.fullmatch(rf"filrec: trace written to {re.escape(str(trace))}"
                                 rf"( \(and \d+ more process(es)? in {re.escape(str(trace))}\.d/\))?\n",
                                 said[0]), ours
    assert said[-1] == f"filrec: next: filrec summary {trace}\n", ours
    assert all(l.startswith(("filrec: report written to ", "filrec: peak ",
                             "filrec: not recorded: "))
               for l in said[1:-1]), ours


def record_python(filrec, summary, py, args, trace, cwd, expect_rc=0):
    """`filrec run -o TRACE --python PY ARGS...` (ARGS: SCRIPT.py ..., -m MODULE ...,
    -c CODE ...) in cwd; checks that it exited expect_rc, that filrec said only where
    the trace is, and that the trace ended cleanly. Returns a PyRecording."""
    r = subprocess.run([filrec, "run", "-o", str(trace), "--python", py.exe, *args],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)
    assert r.returncode == expect_rc, \
        f"filrec run exited {r.returncode}, not {expect_rc}:\n{r.stderr}"
    assert_filrec_said(filrec_lines(r.stderr)[0], trace)
    s = summary(trace)
    assert s["ended_cleanly"] is True
    return PyRecording(trace, r, s)


@pytest.fixture
def pyrecord(filrec, summary, tmp_path):
    """pyrecord(python, *args, cwd=TMP, expect_rc=0): record_python into a new trace
    in the test's temporary directory."""
    count = [0]

    def run(py, *args, cwd=None, expect_rc=0):
        count[0] += 1
        trace = tmp_path / f"py{count[0]}.bin"
        return record_python(filrec, summary, py, args, trace, cwd or tmp_path, expect_rc)
    return run


_baseline_cache = {}


@pytest.fixture(scope="session")
def baseline(filrec, summary, tmp_path_factory):
    """baseline(python, source="") -> peak_bytes of `filrec run` on a script holding
    only source (by default nothing: the interpreter's own start-up and exit)."""
    def measure(py, source=""):
        key = (py.exe, source)
        if key not in _baseline_cache:
            d = tmp_path_factory.mktemp("baseline")
            script, trace = d / "baseline.py", d / "baseline.bin"
            script.write_text(source)
            r = subprocess.run([filrec, "run", "-o", str(trace), "--python", py.exe,
                                str(script)], capture_output=True, text=True,
                               timeout=TIMEOUT, cwd=d)
            assert r.returncode == 0, f"baseline script failed:\n{source}\n{r.stderr}"
            _baseline_cache[key] = summary(trace)["peak_bytes"]
        return _baseline_cache[key]
    return measure
