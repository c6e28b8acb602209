"""filrec's bootstrap: Python imports this at start-up when `filrec run` put its folder
first on PYTHONPATH. It turns on Python stacks in the recorder, removes itself from
sys.path and sys.modules, and then runs the sitecustomize that would have run without
filrec, so the program sees the interpreter as usual. The environment is left as
`filrec run` set it, so that the programs this one starts (multiprocessing's spawned
workers, subprocesses) are recorded too; under --no-follow (FILREC_FOLLOW=0) filrec's
variables leave it, and PYTHONPATH is put back."""


def _filrec_tell_started(fd):
    """Tell `filrec run` on fd that the bootstrap runs ("b"), then, from a profile hook
    that lasts until then, that the program's own code starts ("s": the first frame of
    a module run as __main__, which a syntax error or a missing -m module never
    reaches). The descriptor is not inherited."""
    import os
    import sys

    try:
        os.set_inheritable(fd, False)
        os.write(fd, b"b")
    except OSError:
        return

    def first_call(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "<module>" and \
                frame.f_globals.get("__name__") == "__main__":
            sys.setprofile(None)
            try:
                os.write(fd, b"s")
                os.close(fd)
            except OSError:
                pass

    sys.setprofile(first_call)


def _filrec_start():
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    env = os.environ
    modules = env.get("FILREC_PYDIR", "")
    package = env.get("FILREC_PYPKG", "")
    objects = env.get("FILREC_PYOBJECTS", "") == "1"  # --python-allocators
    break_at = int(env.pop("FILREC_BREAK_AT", "0") or 0)  # --break-at: this process only
    started = env.pop("FILREC_STARTED_FD", None)  # this process only
    if started:
        _filrec_tell_started(int(started))
    if env.get("FILREC_FOLLOW") == "0":
        for name in ("FILREC_PYDIR", "FILREC_PYPKG", "FILREC_PYOBJECTS", "FILREC_FOLLOW",
                     "FILREC_NATIVE"):
            env.pop(name, None)
        ours = env.pop("FILREC_PYTHONPATH", None)
        if ours is not None:  # PYTHONPATH as it was before filrec prepended this folder
            if ours:
                env["PYTHONPATH"] = ours
            else:
                env.pop("PYTHONPATH", None)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    version = "%s-%d.%d.%d" % ((sys.implementation.name,) + tuple(sys.version_info[:3]))
    folder = os.path.join(modules, version)
    if modules and os.path.isdir(folder):
        sys.path.insert(0, folder)
        try:
            import _filrec

            if _filrec.start(objects):
                import atexit

                atexit.register(_filrec.stop)  # before finalization tears threads down
                if break_at:
                    _filrec.watch(break_at, _filrec_break_into_pdb(break_at))
        except ImportError as e:
            sys.stderr.write("filrec: cannot load Python support: %s\n" % e)
        finally:
            sys.path.remove(folder)
    elif modules:
        # Said on stderr and noted in the trace (a point marker the reports look for),
        # so that "[no Python stack]" says why wherever the trace is read.
        note = "filrec: no Python support built for %s, so no Python stacks; build it: " \
            "make PYTHON=%s" % (version, sys.executable)
        sys.stderr.write(note + "\n")
        try:
            import ctypes

            ctypes.CDLL(None).filrec_mark(note.encode("utf-8", "replace"))
        except (ImportError, OSError, AttributeError):
            pass
    if package and package not in sys.path:
        sys.path.append(package)  # `import filrec` for marks and regions
    me = sys.modules.pop("sitecustomize")
    try:
        import sitecustomize  # noqa: F401  the one that would have run
    except ImportError:
        sys.modules["sitecustomize"] = me  # none: importlib expects to find us


def _filrec_break_into_pdb(limit):
    def mb(n):
        return "%.1f MB" % (n / 1e6)

    def stop_here(live):
        # A pending call of the main thread: the frame below is the one it was running.
        import pdb
        import sys

        frame = sys._getframe(1)
        sys.stderr.write(
            "filrec: tracked memory passed %s (%s live) at %s:%d; pdb follows ('c' goes on)\n"
            % (mb(limit), mb(live), frame.f_code.co_filename, frame.f_lineno)
        )
        sys.stderr.flush()
        pdb.Pdb(skip=["sitecustomize"]).set_trace(frame)

    return stop_here


_filrec_start()
del _filrec_start
