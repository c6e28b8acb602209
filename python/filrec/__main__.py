"""`python3 -m filrec VERB ...` and the `filrec` command of a pip install: the filrec
binary with these arguments. `run` records a script with this interpreter unless
--python names another."""
import os
import sys

from . import _native


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    parts = _native.find()
    if parts is None:
        sys.stderr.write("filrec: cannot find the filrec binary (reinstall filrec, or set "
                         "FILREC_BIN)\n")
        return 1
    if args[:1] == ["run"] and not any(a == "--python" or a.startswith("--python=")
                                       for a in args[1:]):
        args[1:1] = ["--python", sys.executable]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(parts.binary, [parts.binary] + args)


if __name__ == "__main__":
    sys.exit(main())
