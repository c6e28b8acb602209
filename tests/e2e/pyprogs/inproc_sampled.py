"""filrec.start(sample=...) in a running process, against the same block recorded
exactly: argv[1] "sampled" or "exact", argv[2] the trace. Line SMALL keeps 200,000
blocks of 1,001 bytes, line BIG ten of 4 MiB (over the interval: exact). Prints the
Recording's peak."""
import sys

import filrec

kw = {"sample": "64KiB"} if sys.argv[1] == "sampled" else {}
filrec.start(sys.argv[2], force=True, **kw)
keep = [bytearray(1000) for _ in range(200_000)]  # SMALL
big = [bytearray(4 << 20) for _ in range(10)]  # BIG
del keep, big
print(filrec.stop().peak)
