"""@filrec.profile on a function that holds 64 MiB (line HOLD) and returns a value;
then start() and a plain exit with status 3 while recording (line EXIT_HOLD holds
10 MB): the trace must end with the exit. argv[1]: the folder for the traces."""
import json
import sys

import filrec


@filrec.profile(path=sys.argv[1] + "/profile.bin")
def build(n):
    block = bytearray(n)  # HOLD
    return len(block) * 2


value = build(64 << 20)
rec = build.filrec
print(json.dumps({"value": value, "path": rec.path, "peak": rec.peak,
                  "top": [list(t) for t in rec.top(1)]}), flush=True)
filrec.start(sys.argv[1] + "/exit.bin")
keep = bytearray(10_000_000)  # EXIT_HOLD
sys.exit(3)
