"""bench/native_churn.py LIBCHURN [PAIRS]: bench/churn.c's 5,000,000 malloc/free pairs,
called from Python through ctypes: the native loop of the --native benchmark
(bench/native.sh). Prints `native_churn: PAIRS pairs, checksum X`, as churn does."""
import ctypes
import sys

lib = ctypes.CDLL(sys.argv[1])
lib.churn_run.restype = ctypes.c_uint64
lib.churn_run.argtypes = [ctypes.c_long]
pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000_000
print("native_churn: %d pairs, checksum %d" % (pairs, lib.churn_run(pairs)))
