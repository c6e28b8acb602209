"""filrec from Python: record this process from the inside, and mark its trace.

    import filrec

    with filrec.recording() as r:      # record a block (no LD_PRELOAD, no restart)
        load_and_transform()
    print(r.peak, r.peak_time, r.top(3), r.path)

    @filrec.profile                    # record each call of a function
    def build_model(): ...

    filrec.start("job.bin"); ...; rec = filrec.stop()   # or by hand

    filrec.mark("loaded")              # markers and regions, in any recording
    with filrec.region("transform"):
        ...

Recording from the inside loads libfilrec.so into this process, points every loaded
library's allocation calls at it (and those of every library loaded later), and starts
a sink process that writes the trace; stopping puts everything back. Under `filrec run`
the process is recorded already: recording() and profile() then mark a region of the
run's trace instead of starting another. See filrec-python(7)."""

import atexit
import contextlib
import functools
import json
import os
import select
import subprocess
import sys
import threading
from collections import namedtuple

from . import _native

__all__ = ["mark", "region", "active", "start", "stop", "recording", "profile", "Recording",
           "Location", "parse_size"]

Location = namedtuple("Location", "file line function bytes")
Location.__doc__ = "A place in the code and the bytes it held at the peak."

_lock = threading.RLock()
_current = None     # the in-process Recording under way
_parts = None
_mod = None
_warned = False
_count = 0          # recordings started, for default names
_atexit_set = False
STOP_TIMEOUT = 120  # seconds for the sink to complete a trace after stop()


def _support():
    """The _filrec module, or None (say why once)."""
    global _mod, _parts, _warned
    if _mod is None:
        try:
            if "_filrec" not in sys.modules and _parts is None:
                _parts = _native.find()
            _mod = _native.support(_parts)
        except ImportError as e:
            if not _warned:
                _warned = True
                sys.stderr.write("%s\n" % e)
            return None
    return _mod


def _run_recording():
    """Whether `filrec run` records this process (libfilrec.so preloaded)."""
    m = sys.modules.get("_filrec")
    return m is not None and m.active() and _current is None


def _call(fn, label):
    global _warned
    m = _support() if _current is not None or "_filrec" in sys.modules else None
    if m is not None and getattr(m, fn)(str(label)):
        return True
    if not _warned:
        _warned = True
        sys.stderr.write("filrec: not recording; markers are ignored\n")
    return False


def active():
    """True while this process is being recorded (by `filrec run` or from inside)."""
    m = sys.modules.get("_filrec")
    return m is not None and bool(m.active())


def mark(label):
    """Write a point marker with this label. True if it was recorded."""
    return _call("mark", label)


@contextlib.contextmanager
def region(label):
    """A labelled span of time in the trace: `with filrec.region("load"): ...`."""
    _call("region_begin", label)
    try:
        yield
    finally:
        _call("region_end", label)


class Recording:
    """One recording. While it runs, path names its trace; when it ends, peak (bytes of
    tracked memory at the high-water mark), peak_time (seconds from its start) and
    top(n) are filled in from the trace. A nested recording (under `filrec run`, or
    inside another) is a region of the enclosing trace: its peak is None."""

    def __init__(self, path, label, nested):
        self.path, self.label, self.nested = path, label, nested
        self.peak = self.peak_time = None
        self._summary = None
        self._ready = None      # the sink's descriptor: EOF once the trace is complete
        self._sink_pid = None
        self._pid = None        # the process that started it
        self._top_n = 0

    def __repr__(self):
        if self.peak is None:
            return "<filrec.Recording %s%s>" % (self.path or self.label,
                                                " (nested)" if self.nested else "")
        return "<filrec.Recording %s: peak %s at %.3f s>" % (self.path, _human(self.peak),
                                                              self.peak_time)

    def top(self, n=10):
        """The n locations (innermost frame's line) holding most at the peak, largest
        first, as Location(file, line, function, bytes). Empty for a nested recording
        or one still running."""
        if self.nested or self.peak is None:
            return []
        if n > self._top_n:
            self._analyze(n)
        return [Location(l["file"], l["line"], l["function"], l["bytes"])
                for l in self._summary.get("locations", [])[:n]]

    def leaks(self, n=10):
        """The n locations holding most of what was still allocated when the recording
        ended, as top() gives them. Empty for a nested recording or one still running."""
        if self.nested or self.peak is None:
            return []
        return [Location(l["file"], l["line"], l["function"], l["bytes"])
                for l in self._report("leaks", n).get("locations", [])[:n]]

    def _report(self, verb, n):
        out = subprocess.run([_parts.binary, verb, "--json", "--bytes", "--top", str(n),
                              self.path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        if out.returncode:
            raise RuntimeError("filrec: cannot read %s: %s" % (
                self.path, out.stderr.decode(errors="replace").strip()))
        return json.loads(out.stdout)

    def _analyze(self, n):
        self._summary = self._report("summary", n)
        self._top_n = n
        self.peak = int(self._summary["peak_bytes"])
        self.peak_time = float(self._summary["peak_time_s"])


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (n, unit)
        n /= 1024.0


def _default_path():
    global _count
    _count += 1
    prog = os.path.basename(sys.argv[0] if sys.argv and sys.argv[0] else "") or "python"
    if prog.endswith(".py"):
        prog = prog[:-3]
    if prog in ("-c", "-m", ""):
        prog = "python"
    return os.path.abspath("filrec-%s.%d.%d.bin" % (prog, os.getpid(), _count))


def _read_line(fd):
    buf = b""
    while not buf.endswith(b"\n"):
        b = os.read(fd, 4096)
        if not b:
            break
        buf += b
    return buf.decode(errors="replace").strip()


_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


def parse_size(size):
    """Bytes from an int or a string as people write sizes: "500MB", "1.5 GiB", "64k"
    (KB, MB, GB: powers of 1000; KiB, MiB, GiB: of 1024). ValueError if it is not one."""
    if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
        return size
    s = str(size).strip().lower()
    num = s.rstrip("abcdefghijklmnopqrstuvwxyz ")
    unit = s[len(num):].strip()
    try:
        value = float(num)
    except ValueError:
        value = -1
    if value < 0 or unit not in _UNITS:
        raise ValueError("filrec: %r is not a size (such as 500MB or 2GiB)" % (size,))
    return int(value * _UNITS[unit] + 0.5)


def _watch(m, on_threshold):
    """Set (on_threshold = (size, fn)) or clear (None) the threshold."""
    if on_threshold is None:
        m.watch(0, None)
        return
    size, fn = on_threshold
    if not callable(fn):
        raise TypeError("filrec: on_threshold wants (size, callable)")
    m.watch(parse_size(size), fn)


def _sample_bytes(sample):
    """sample= of start(): None, or a size as parse_size takes it, 1 byte to 1 TiB."""
    if sample is None:
        return 0
    n = parse_size(sample)
    if not 1 <= n <= 2**40:
        raise ValueError("filrec: bad sample %r: want 1 byte to 1 TiB" % (sample,))
    return n


def start(path=None, python_allocators=False, force=False, on_threshold=None, native=False,
          sample=None):
    """Start recording this process into the trace at path (default: a new
    filrec-PROG.PID.N.bin in the current folder) and return its Recording. Refuses
    (FileExistsError) to overwrite a file unless force. Raises RuntimeError when this
    process is recorded already (stop() that first) or filrec cannot be loaded.
    on_threshold=(size, fn): fn(live_bytes) is called once, in the main thread between
    two bytecodes (never inside an allocation), soon after the memory live in this
    recording first exceeds size; pdb.set_trace() there stops the program at that
    point. native=True records each allocation's native stack as well (the C, C++ and
    Fortran frames under each Python line), as `filrec run --native` does.
    sample="512KiB" (or bytes as an int) records a sample of the allocations, as
    `filrec run --sample` does: cheap enough to leave on, its numbers estimates with
    95% bounds; not with on_threshold."""
    global _current, _atexit_set
    sample = _sample_bytes(sample)
    if sample and on_threshold is not None:
        raise ValueError("filrec: on_threshold counts every allocation: not with sample")
    with _lock:
        if _current is not None or _run_recording():
            raise RuntimeError("filrec: this process is being recorded already")
        m = _support()
        if m is None or _parts is None:
            raise RuntimeError("filrec: cannot record: the native parts were not found "
                               "(see the message above)")
        if m.load(_parts.lib):
            raise RuntimeError("filrec: this process runs under `filrec run`, whose recording "
                               "has stopped; it cannot start another")
        path = os.path.abspath(os.fspath(path)) if path is not None else _default_path()
        if os.path.exists(path) and not force:
            raise FileExistsError("filrec: '%s' exists; pass force=True to overwrite it" % path)
        r_fd, w_fd = os.pipe()
        args = [_parts.binary, "_sink", "--ready-fd", str(w_fd), "-o", path, "-f",
                "--owner", str(os.getpid()),
                "--python-allocators" if python_allocators else "--python"]
        if native:
            args.append("--native")
        if sample:
            args += ["--sample", str(sample)]
        try:
            p = subprocess.Popen(args, pass_fds=(w_fd,), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL)
        except BaseException:
            os.close(r_fd)
            raise
        finally:
            os.close(w_fd)
        p.wait()
        said = _read_line(r_fd)
        if not said.startswith("ok "):
            os.close(r_fd)
            raise RuntimeError("filrec: cannot start the sink: %s" % (
                said[6:] if said.startswith("error ") else "it exited (status %d)" % p.returncode))
        _, sock, pid = said.split(" ")
        rec = Recording(path, None, False)
        rec._ready, rec._sink_pid, rec._pid = r_fd, int(pid), os.getpid()
        try:
            m.begin(sock, bool(python_allocators), bool(native), sample)
        except OSError as e:
            os.close(r_fd)
            try:
                os.kill(rec._sink_pid, 15)
            except OSError:
                pass
            raise RuntimeError("filrec: cannot start recording: %s" % e) from None
        _current = rec
        if on_threshold is not None:
            _watch(m, on_threshold)
        if not _atexit_set:
            _atexit_set = True
            atexit.register(_at_exit)
        return rec


def stop():
    """Stop the recording start() began, wait for its trace to be complete, and return
    its Recording with peak, peak_time and top() filled in. None if none was running."""
    return _stop(True)


def _use(parts):
    """Record with these native parts (attach names the filrec that attached)."""
    global _parts
    if _mod is None:
        _parts = parts


def _stop(analyze):
    global _current
    with _lock:
        rec = _current
        if rec is None:
            return None
        _current = None
        _mod.watch(0, None)
        _mod.end()
        if rec._pid != os.getpid():  # a forked child: the recording is its parent's
            os.close(rec._ready)
            return None
        try:
            while True:  # until the sink closes its end: the trace is complete
                ready, _, _ = select.select([rec._ready], [], [], STOP_TIMEOUT)
                if not ready:
                    raise RuntimeError("filrec: the sink did not complete %s within %d s"
                                       % (rec.path, STOP_TIMEOUT))
                if not os.read(rec._ready, 4096):
                    break
        finally:
            os.close(rec._ready)
            rec._ready = None
        if analyze:
            try:
                rec._analyze(20)
            except (RuntimeError, OSError, ValueError) as e:
                sys.stderr.write("%s\n" % e)  # the program goes on: peak stays None
        return rec


def _at_exit():
    # Still recording at exit: the trace ends with the process (its exit status and
    # all); only the Python stacks must go before the interpreter is torn down.
    if _current is not None and _mod is not None:
        _mod.stop()


@contextlib.contextmanager
def recording(path=None, python_allocators=False, force=False, on_threshold=None,
              native=False, sample=None):
    """Record the block: `with filrec.recording() as r: ...`, then r.peak, r.peak_time,
    r.top(n) and r.path. Nested in another recording (or under `filrec run`), the block
    becomes a region of that trace instead, and r.nested is True. on_threshold: as for
    start() (nested, it counts from the block's start); native: as for start()."""
    if _current is not None or _run_recording():
        rec = Recording(None, "filrec.recording", True)
        m = sys.modules.get("_filrec")
        if on_threshold is not None and m is not None:
            _watch(m, on_threshold)
        try:
            with region(rec.label):
                yield rec
        finally:
            if on_threshold is not None and m is not None:
                m.watch(0, None)
        return
    rec = start(path, python_allocators, force, on_threshold, native, sample)
    try:
        yield rec
    finally:
        stop()


def profile(fn=None, *, path=None, python_allocators=False, quiet=False, lines=False,
            stream=None):
    """Decorator: record each call of the function (its own trace; path is overwritten
    by each call) and return its result. One line on stderr says the call's peak, its
    top location and the trace; the last call's Recording is fn.filrec. lines=True
    prints memory_profiler's line table of the function instead (to stream, default
    stdout), with exact tracked bytes: live after each line, its increment, how often
    it ran, what it allocated and what it held at the call's peak."""
    if lines:
        from . import _lines  # now: importing it inside the recording would count

    def wrap(f):
        @functools.wraps(f)
        def call(*args, **kwargs):
            with recording(path, python_allocators, force=path is not None) as rec:
                if lines and not rec.nested:
                    result = _lines.traced({f.__code__}, lambda: f(*args, **kwargs))
                else:
                    result = f(*args, **kwargs)
            call.filrec = rec
            if lines and not rec.nested and rec.peak is not None:
                (stream or sys.stdout).write(_lines.table(rec, f))
            elif not quiet and not rec.nested:
                top = rec.top(1)
                where = (" at %s:%d %s" % top[0][:3]) if top else ""
                sys.stderr.write("filrec: %s(): peak %s at %.3f s%s; trace: %s\n" % (
                    getattr(f, "__qualname__", "?"), _human(rec.peak), rec.peak_time,
                    where, rec.path))
            return result
        call.filrec = None
        return call
    return wrap(fn) if fn is not None else wrap



def load_ipython_extension(ipython):
    """`%load_ext filrec` in IPython or Jupyter: the %%filrec and %filrec_memit magics."""
    from . import _jupyter
    _jupyter.load(ipython)


# `pytest -p filrec` (filrec not installed, so no entry point): pytest imports this
# module as the plugin; its hooks come from pytest_plugin, only when pytest is there.
if "pytest" in sys.modules and "_pytest.config" in sys.modules:
    from .pytest_plugin import (pytest_addoption, pytest_configure,  # noqa: F401
                                pytest_runtest_call, pytest_runtest_makereport,
                                pytest_terminal_summary, pytest_unconfigure)
