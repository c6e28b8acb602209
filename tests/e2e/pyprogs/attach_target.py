"""A process to attach to: allocates 5,000,000 bytes every 0.1 s (line LOOP), keeping
the last 10 plus the newest (55,000,000 bytes at most, allocated in 1.1 s), until the
file argv[1] appears; then prints how many it made and exits 0."""
import os
import sys
import time

keep = []
n = 0
print("up", os.getpid(), flush=True)
while not os.path.exists(sys.argv[1]):
    keep.append(bytearray(5_000_000))  # LOOP
    n += 1
    if len(keep) > 10:
        keep.pop(0)
    time.sleep(0.1)
print("done", n, flush=True)
