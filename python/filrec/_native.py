"""Where filrec's native parts are, and the support module for this interpreter.

Layouts, first found wins:
  FILREC_BIN=/path/to/filrec (the environment), with libfilrec.so beside it;
  a pip install: filrec/_native/{filrec, libfilrec.so, python/TAG/};
  the source tree: python/filrec/ beside build/;
  `make install`: PREFIX/lib/filrec/pkg/filrec/ with PREFIX/bin/filrec;
  `filrec` on PATH.
libfilrec.so sits beside the binary, or in ../lib/filrec/ (an install); the support
module for each interpreter in python/TAG/ beside the library."""

import importlib.machinery
import importlib.util
import os
import shutil
import sys

_here = os.path.dirname(os.path.abspath(__file__))


def tag():
    """The folder name of this interpreter's support module, e.g. cpython-3.11.2."""
    return "%s-%d.%d.%d" % ((sys.implementation.name,) + tuple(sys.version_info[:3]))


class Parts:
    def __init__(self, binary, lib, modules):
        self.binary, self.lib, self.modules = binary, lib, modules


def _parts_of(binary):
    if not binary or not os.access(binary, os.X_OK):
        return None
    d = os.path.dirname(os.path.realpath(binary))
    for lib in (os.path.join(d, "libfilrec.so"), os.path.join(d, "..", "lib", "filrec", "libfilrec.so")):
        if os.path.exists(lib):
            lib = os.path.realpath(lib)
            return Parts(os.path.realpath(binary), lib, os.path.join(os.path.dirname(lib), "python"))
    return None


def find():
    """The Parts of the filrec this package belongs to, or None."""
    env = os.environ.get("FILREC_BIN")
    if env:
        return _parts_of(env)
    for b in (
        os.path.join(_here, "_native", "filrec"),
        os.path.join(_here, "..", "..", "build", "filrec"),
        os.path.join(_here, "..", "..", "..", "..", "bin", "filrec"),
        shutil.which("filrec"),
    ):
        p = _parts_of(b)
        if p:
            return p
    return None


def support(parts):
    """This interpreter's _filrec module: the one `filrec run` loaded, else the one
    built for it. Raises ImportError saying what is missing."""
    if "_filrec" in sys.modules:
        return sys.modules["_filrec"]
    if parts is None:
        raise ImportError(
            "filrec: cannot find the filrec binary and libfilrec.so "
            "(install filrec, or set FILREC_BIN to the filrec binary)"
        )
    folder = os.path.join(parts.modules, tag())
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        f = os.path.join(folder, "_filrec" + suffix)
        if os.path.exists(f):
            loader = importlib.machinery.ExtensionFileLoader("_filrec", f)
            spec = importlib.util.spec_from_file_location("_filrec", f, loader=loader)
            mod = importlib.util.module_from_spec(spec)
            loader.exec_module(mod)
            sys.modules["_filrec"] = mod
            return mod
    raise ImportError(
        "filrec: no Python support built for %s in %s (build it: make PYTHON=%s)"
        % (tag(), parts.modules, sys.executable)
    )
