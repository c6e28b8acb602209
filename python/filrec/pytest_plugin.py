"""filrec's pytest plugin: exact memory per test, and limits that fail a test.

    pytest --filrec                      # each test's peak and top lines, in the summary
    pytest --filrec-limit 200MB          # a default limit for every test
    @pytest.mark.limit_memory("100 MB")  # fail a test whose peak exceeds it
    @pytest.mark.limit_leaks("1 MB")     # fail a test that leaves more than that live

Registered by its entry point when filrec is installed; `-p filrec` when it is not
(with filrec's python/ folder on sys.path). Each measured test's call (not its setup or
teardown) is recorded from the inside (filrec.start/stop) into its own trace; a failing
test's trace is kept in --filrec-dir (default .filrec/), the others are removed."""
import gc
import os
import re
import shutil
import tempfile

import pytest

import filrec

MB = 1_000_000
_STATE = pytest.StashKey()


def pytest_addoption(parser):
    g = parser.getgroup("filrec", "exact memory per test (filrec)")
    g.addoption("--filrec", action="store_true", default=False,
                help="record every test; the summary shows the tests with the highest peaks "
                     "and their top lines")
    g.addoption("--filrec-top", type=int, default=10, metavar="N",
                help="how many tests the --filrec summary shows (default 10; 0 for all)")
    g.addoption("--filrec-limit", default=None, metavar="SIZE",
                help="fail any test whose peak exceeds SIZE (such as 200MB); "
                     "limit_memory marks override it")
    g.addoption("--filrec-dir", default=None, metavar="DIR",
                help="where the traces of failing tests are kept (default: .filrec)")
    g.addoption("--filrec-sample", default=None, metavar="SIZE",
                help="record a sample of the allocations, one per SIZE bytes on average "
                     "(such as 512KiB): peaks and limits are then estimates")
    g.addoption("--filrec-native", action="store_true", default=False,
                help="record native stacks too: the C, C++ and Fortran frames under each "
                     "line, in the kept traces")


def pytest_configure(config):
    config.addinivalue_line("markers", "limit_memory(size): fail the test if its peak of "
                            "tracked memory exceeds size (such as '100 MB')")
    config.addinivalue_line("markers", "limit_leaks(size): fail the test if it leaves more "
                            "than size allocated when it returns")
    limit = config.getoption("--filrec-limit")
    try:
        default = filrec.parse_size(limit) if limit else None
        sample = config.getoption("--filrec-sample")
        if sample:
            filrec._sample_bytes(sample)  # said now, not at the first test
    except ValueError as e:
        raise pytest.UsageError(str(e))
    config.stash[_STATE] = _State(config, default)


def _human(n):
    return "%.1f MB" % (n / MB) if n >= 100_000 else "%.1f KB" % (n / 1000)


class _State:
    def __init__(self, config, default):
        self.config = config
        self.default = default
        self.all = config.getoption("--filrec")
        self.native = config.getoption("--filrec-native")
        self.sample = config.getoption("--filrec-sample")
        self.results = {}  # nodeid -> _Result
        self.tmp = None
        self.warned = False
        keep = config.getoption("--filrec-dir")
        self.keep = keep or os.path.join(str(config.rootpath), ".filrec")

    def trace_path(self, nodeid):
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix="filrec-pytest.")
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150] or "test"
        return os.path.join(self.tmp, name + ".bin")


class _Result:
    def __init__(self, rec, limit, leaks):
        self.rec, self.limit, self.leaks = rec, limit, leaks
        self.peak = rec.peak
        summ = rec._summary or {}
        self.live = int(summ.get("live_at_end_bytes", 0))
        self.top = _main(rec.top(5), self.peak)
        self.left = None  # where the leaks are, read when they are over the limit
        self.kept = None

    def failures(self):
        out = []
        if self.limit is not None and self.peak > self.limit:
            out.append("used %s at its peak, over its limit of %s (limit_memory)"
                       % (_human(self.peak), _human(self.limit)))
        if self.leaks is not None and self.live > self.leaks:
            out.append("left %s allocated, over its limit of %s (limit_leaks)"
                       % (_human(self.live), _human(self.leaks)))
            self.left = _main(self.rec.leaks(5), self.live)
        return out


def _main(locations, whole):
    """The locations that hold at least 1% of whole (the first one always)."""
    return [l for i, l in enumerate(locations) if i == 0 or l.bytes * 100 >= whole]


def _lines(title, locations):
    out = [title]
    for loc in locations:
        out.append("    %10s  %s:%d %s" % (_human(loc.bytes), loc.file, loc.line, loc.function))
    return out


def _limits(item, state):
    """(peak limit, leak limit) for the test, None for none."""
    limit, leaks = state.default, None
    m = item.get_closest_marker("limit_memory")
    if m is not None:
        limit = filrec.parse_size(m.args[0] if m.args else m.kwargs["size"])
    m = item.get_closest_marker("limit_leaks")
    if m is not None:
        leaks = filrec.parse_size(m.args[0] if m.args else m.kwargs["size"])
    return limit, leaks


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    state = item.config.stash[_STATE]
    limit, leaks = _limits(item, state)
    if not (state.all or limit is not None or leaks is not None):
        yield
        return
    gc.collect()  # garbage of earlier tests is not this test's
    try:
        rec = filrec.start(state.trace_path(item.nodeid), force=True, native=state.native,
                           sample=state.sample)
    except RuntimeError as e:
        if not state.warned:
            state.warned = True
            item.config.issue_config_time_warning(pytest.PytestWarning(
                "filrec cannot record the tests (%s): no memory limits are checked" % e), 2)
        yield
        return
    try:
        yield
    finally:
        if leaks is not None:
            gc.collect()  # what the test left as garbage is not a leak
        filrec.stop()
    if rec.peak is not None:
        state.results[item.nodeid] = _Result(rec, limit, leaks)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    state = item.config.stash[_STATE]
    res = state.results.get(item.nodeid)
    if call.when != "call" or res is None:
        return
    problems = res.failures()
    if problems and report.passed:
        lines = ["filrec: %s %s." % (item.name, " and ".join(problems))]
        if res.limit is not None and res.peak > res.limit:
            lines += _lines("At the peak:", res.top)
        if res.left is not None:
            lines += _lines("Still allocated when it returned:", res.left)
        report.outcome = "failed"
        report.longrepr = "\n".join(lines)
    if report.failed:
        os.makedirs(state.keep, exist_ok=True)
        dest = os.path.join(state.keep, os.path.basename(res.rec.path))
        shutil.move(res.rec.path, dest)
        res.kept = dest
        if problems:
            report.longrepr = str(report.longrepr) + "\ntrace: %s" % dest
    elif os.path.exists(res.rec.path):
        os.unlink(res.rec.path)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = config.stash.get(_STATE, None)
    if state is None or not state.all:
        return
    n = config.getoption("--filrec-top")
    rows = sorted(state.results.items(), key=lambda kv: -kv[1].peak)
    shown = rows if n <= 0 else rows[:n]
    terminalreporter.write_sep("=", "filrec: peak memory of the %s"
                               % ("%d tests" % len(shown) if n <= 0 or len(rows) <= n
                                  else "%d highest of %d tests" % (len(shown), len(rows))))
    for nodeid, res in shown:
        terminalreporter.write_line("%10s  %s" % (_human(res.peak), nodeid))
        for loc in res.top[:3]:
            terminalreporter.write_line("            %10s  %s:%d %s" % (
                _human(loc.bytes), loc.file, loc.line, loc.function))


def pytest_unconfigure(config):
    state = config.stash.get(_STATE, None)
    if state is not None and state.tmp:
        shutil.rmtree(state.tmp, ignore_errors=True)

