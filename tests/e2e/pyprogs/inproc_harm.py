"""Recording from the inside never harms the program: a forked child that calls stop()
gets None at once (the recording is its parent's), and when the sink is killed in the
middle, recording stops with one line on stderr, stop() returns, and the program
finishes with its own result. Prints one JSON line."""
import json
import os
import signal
import sys
import time

import filrec

rec = filrec.start(sys.argv[1] + ".fork.bin", force=True)
pid = os.fork()
if pid == 0:
    x = bytearray(1_000_000)
    os._exit(0 if filrec.stop() is None else 5)
_, status = os.waitpid(pid, 0)
done = filrec.stop()
fork = {"child_status": status, "peak": done.peak}

rec = filrec.start(sys.argv[1] + ".killed.bin", force=True)
os.kill(rec._sink_pid, signal.SIGKILL)
time.sleep(0.2)
total = 0
for i in range(300_000):  # enough events to fill the log's buffers
    b = bytearray(600)
    total += len(b)
t = time.time()
after = filrec.stop()
print(json.dumps({"fork": fork, "total": total, "stop_s": time.time() - t,
                  "peak": after.peak}))
