"""In-process recording, twice in one process: each round holds 300 million bytes
outside the block (line OUTSIDE) and 100 million inside it (line INSIDE), then frees
both. A block allocated before the recording and freed in it (line BEFORE) must not
count. Prints one JSON line: each round's handle (path, peak, peak_time, top)."""
import json
import sys

import filrec

MB = 1_000_000
rounds = []
for i in range(2):
    before = bytearray(20 * MB)  # BEFORE
    outside = bytearray(300 * MB)  # OUTSIDE
    with filrec.recording(sys.argv[1] + ".%d.bin" % i, force=True) as r:
        del before
        filrec.mark("round %d" % i)
        inside = bytearray(100 * MB)  # INSIDE
        del inside
    del outside
    rounds.append({"path": r.path, "peak": r.peak, "peak_time": r.peak_time,
                   "top": [list(t) for t in r.top(3)], "nested": r.nested})
print(json.dumps({"rounds": rounds, "active_after": filrec.active()}))
