"""Prints what the program sees of its start as one JSON line, then ends as told by
its arguments: nothing (exit 0), `exit N`, `message TEXT...` (sys.exit with a
message), `raise TEXT...` (an uncaught exception two frames down), `interrupt` (an
uncaught KeyboardInterrupt)."""
import json
import os
import sys


def fail(what):
    raise RuntimeError("asked to fail: %s" % what)  # @raise


def report():
    main = sys.modules["__main__"]
    print(json.dumps({
        "argv": sys.argv, "name": __name__, "main_name": main.__name__,
        "main_file": getattr(main, "__file__", None),
        "path": sys.path, "executable": sys.executable, "flags": list(sys.flags),
        "cwd": os.getcwd(), "environ": dict(os.environ), "warnoptions": sys.warnoptions,
    }, sort_keys=True))
    sys.stdout.flush()


def main(args):
    report()
    if args[:1] == ["exit"]:
        sys.exit(int(args[1]))
    if args[:1] == ["message"]:
        sys.exit(" ".join(args[1:]))
    if args[:1] == ["raise"]:
        fail(" ".join(args[1:]))
    if args[:1] == ["interrupt"]:
        raise KeyboardInterrupt
    return 0


if __name__ == "__main__":
    main(sys.argv[1:])
