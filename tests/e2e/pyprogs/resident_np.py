"""Large mappings count their resident pages. NumPy's import maps OpenBLAS's per-thread
buffers (32 MiB each in NumPy 2's wheels), which this script never makes OpenBLAS use;
line ONES makes a 200,000,000-byte array (malloc); line MEMMAP maps a 200,000,000-byte
file copy-on-write (np.memmap mode "c"), and line WRITE writes all of it: 200,000,000
bytes copied on write, charged to MEMMAP's line, where the mapping was made. The peak
is both, right before line DEL unmaps the file. Prints JSON: whether OpenBLAS is loaded
and a checksum of what was written."""
import json
import os
import sys
import tempfile

import numpy as np  # IMPORT

N = 200_000_000
fd, path = tempfile.mkstemp(dir=sys.argv[1] if len(sys.argv) > 1 else None)
os.ftruncate(fd, N)
os.close(fd)
a = np.ones(N // 8)  # ONES
m = np.memmap(path, mode="c", dtype=np.uint8, shape=(N,))  # MEMMAP
m[:] = 7  # WRITE
total = int(m[::4096].sum())
del m  # DEL
os.unlink(path)
with open("/proc/self/maps") as f:
    blas = "openblas" in f.read().lower()
print(json.dumps({"openblas": blas, "sum": total, "array": int(a.sum())}))
