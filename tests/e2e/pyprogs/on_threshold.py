"""filrec.recording(on_threshold=("100 MB", fn)): fn runs once, in the main thread,
between two bytecodes of the frame that passed the threshold: right after line BIG
(80,000,000 + 40,000,000 bytes live) and never for line SMALL (10,000,000). A second
recording passes it in a worker thread (line WORKER): fn still runs in the main thread.
Prints one JSON line with what fn saw."""
import json
import sys
import threading
import time

import filrec

seen = []


def fn(live):
    f = sys._getframe(1)
    seen.append({"live": live, "line": f.f_lineno, "main": threading.current_thread() is
                 threading.main_thread()})


with filrec.recording(sys.argv[1] + ".1.bin", force=True, on_threshold=("100 MB", fn)) as r:
    a = bytearray(10_000_000)  # SMALL
    b = bytearray(80_000_000)
    c = bytearray(40_000_000)  # BIG
    d = 0
first = list(seen)
del a, b, c


def work():
    global held
    held = bytearray(150_000_000)  # WORKER


with filrec.recording(sys.argv[1] + ".2.bin", force=True, on_threshold=(100 * 10**6, fn)):
    t = threading.Thread(target=work)
    t.start()
    t.join()
    for _ in range(100):  # the main thread runs bytecodes: the pending call's chance
        time.sleep(0.001)
print(json.dumps({"first": first, "all": seen, "peak": r.peak}))
