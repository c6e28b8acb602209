"""In-process recording sees NumPy's buffers, and a C library loaded with ctypes after
recording started (argv[1]: libgrow.so) calling malloc itself: NumPy holds 40,000,000
bytes (line NUMPY), the C library 30,000,000 (line CLIB), both live at the peak. The
Python allocator test: with python_allocators, 200,000 small objects (line SMALL).
Prints one JSON line with both recordings' handles."""
import ctypes
import json
import sys

import numpy as np

import filrec

with filrec.recording(sys.argv[2] + ".native.bin", force=True) as r:
    a = np.ones(5_000_000)  # NUMPY
    lib = ctypes.CDLL(sys.argv[1])
    lib.grow_keep.argtypes = (ctypes.c_int, ctypes.c_size_t)
    assert lib.grow_keep(0, 30_000_000) == 0  # CLIB
    lib.grow_drop(0)
    del a
with filrec.recording(sys.argv[2] + ".objects.bin", force=True, python_allocators=True) as o:
    small = [str(i) for i in range(200_000)]  # SMALL
    del small
print(json.dumps({"native": {"path": r.path, "peak": r.peak, "top": [list(t) for t in r.top(5)]},
                  "objects": {"path": o.path, "peak": o.peak, "top": [list(t) for t in o.top(3)]}}))
