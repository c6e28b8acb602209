"""filrec's bootstrap: Python imports this at start-up when `filrec run` put its folder
first on PYTHONPATH. It turns on Python stacks in the recorder, removes every trace of
itself (sys.path, PYTHONPATH, this module), and then runs the sitecustomize that would
have run without filrec, so the program sees the interpreter exactly as usual."""


def _filrec_start():
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    modules = os.environ.pop("FILREC_PYDIR", "")
    package = os.environ.pop("FILREC_PYPKG", "")
    objects = os.environ.pop("FILREC_PYOBJECTS", "") == "1"  # --python-allocators
    ours = os.environ.pop("FILREC_PYTHONPATH", None)
    if ours is not None:  # PYTHONPATH as it was before filrec prepended this folder
        if ours:
            os.environ["PYTHONPATH"] = ours
        else:
            os.environ.pop("PYTHONPATH", None)
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
        except ImportError as e:
            sys.stderr.write("filrec: cannot load Python support: %s\n" % e)
        finally:
            sys.path.remove(folder)
    elif modules:
        sys.stderr.write(
            "filrec: no Python support built for %s; recording without Python stacks "
            "(build it: make PYTHON=%s)\n" % (version, sys.executable)
        )
    if package and package not in sys.path:
        sys.path.append(package)  # `import filrec` for marks and regions
    me = sys.modules.pop("sitecustomize")
    try:
        import sitecustomize  # noqa: F401  the one that would have run
    except ImportError:
        sys.modules["sitecustomize"] = me  # none: importlib expects to find us


_filrec_start()
del _filrec_start
