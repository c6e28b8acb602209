"""`filrec attach` and `filrec detach`, inside the target. gdb queues a pending call in
the running interpreter (Py_AddPendingCall); the interpreter runs it in its main
thread between two bytecodes, with the GIL held and no lock of malloc's taken, and it
imports this module and calls start() or stop(). Each says how it went in the result
file: "ok PATH" or "error MESSAGE"."""
import os


def _say(result, text):
    tmp = result + ".tmp"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, result)


def start(result, binary, path, force, python_allocators, native=False, sample=0):
    try:
        import filrec
        from filrec import _native

        parts = _native._parts_of(binary)
        if parts is None:
            raise RuntimeError("filrec: no libfilrec.so beside %s" % binary)
        filrec._use(parts)
        rec = filrec.start(path, python_allocators=python_allocators, force=force,
                           native=native, sample=int(sample) or None)
        _say(result, "ok " + rec.path)
    except BaseException as e:  # the target must not see it
        _say(result, "error " + (str(e) or type(e).__name__))


def stop(result):
    try:
        import filrec

        rec = filrec._stop(analyze=False)
        if rec is None:
            _say(result, "error this process is not recording itself (nothing to detach)")
        else:
            _say(result, "ok " + rec.path)
    except BaseException as e:
        _say(result, "error " + (str(e) or type(e).__name__))
