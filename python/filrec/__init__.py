"""filrec from Python: put markers and regions into the trace.

    import filrec
    filrec.mark("loaded")
    with filrec.region("transform"):
        ...

Outside `filrec run` these do nothing (one warning the first time)."""

import contextlib
import sys

__all__ = ["mark", "region", "active"]

try:
    import _filrec
except ImportError:
    _filrec = None
_warned = False


def _call(fn, label):
    global _warned
    if _filrec is not None and getattr(_filrec, fn)(str(label)):
        return True
    if not _warned:
        _warned = True
        sys.stderr.write("filrec: not recording; markers are ignored\n")
    return False


def active():
    """True when this process is being recorded by `filrec run`."""
    return _filrec is not None and _filrec.active()


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
