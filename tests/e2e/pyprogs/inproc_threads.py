"""In-process recording of C work that runs in four Python threads at once (ctypes
lets go of the GIL; argv[1]: libspin.so): three recordings in a row, each with the four
threads holding 8,000,000 bytes apiece (line KEEP) across 200,000 malloc/free pairs
of their own, so the recorder gives them a log each and merges them back. Prints one
JSON line: each recording's path, peak and top, and what the C calls allocated."""
import ctypes
import json
import sys
import threading

import filrec

THREADS, PAIRS, KEEP = 4, 200_000, 8_000_000
lib = ctypes.CDLL(sys.argv[1])
lib.spin_run.argtypes = (ctypes.c_long, ctypes.c_size_t)
lib.spin_bytes.restype = ctypes.c_ulonglong
lib.spin_bytes.argtypes = (ctypes.c_long,)


def work():
    lib.spin_run(PAIRS, KEEP)  # KEEP


rounds = []
for i in range(3):
    assert lib.spin_init(THREADS) == 0
    with filrec.recording(f"{sys.argv[2]}.{i}.bin", force=True) as r:
        ts = [threading.Thread(target=work) for _ in range(THREADS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    rounds.append({"path": r.path, "peak": r.peak, "top": [list(t) for t in r.top(3)]})
print(json.dumps({"rounds": rounds, "threads": THREADS, "pairs": PAIRS, "keep": KEEP,
                  "bytes": THREADS * (lib.spin_bytes(PAIRS) + KEEP)}))
