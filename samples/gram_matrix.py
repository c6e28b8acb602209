# Known answer: what `filrec summary` reports for this program, run with Debian's
# CPython 3.11, NumPy 1.24 and OpenBLAS 0.3 (libopenblas0-pthread, the default
# libblas.so.3 of Debian 12) in default mode. Bytes are counted above the baseline: the
# peak of an interpreter that runs only this file's imports.
#
# expect: peak_bytes = 294_217_728
# expect: top_file = <__array_function__ internals>
# expect: top_line = 200
# expect: top_function = array_function_dispatch.<locals>.decorator.<locals>.public_api
# expect: top_bytes = 262_217_728
# expect: caller_line = 43
# expect: caller_function = gram
# expect: blas = openblas-pthread
#
# Why: np.dot of a 4,000 x 500 by a 500 x 4,000 float64 matrix makes a 4,000 x 4,000
# result: 128,000,000 bytes. OpenBLAS runs it in its thread pool (one worker per extra
# core), started when numpy was imported. Each thread taking part has a 128 MiB
# buffer: the worker's was mapped by the worker at import, and is charged to the
# import (the stack that created the thread); the calling thread's is mapped at its
# first BLAS call, which is this one: 134,217,728 bytes. So the line of np.dot holds
# 128,000,000 + 134,217,728 = 262,217,728 bytes. In NumPy 1.24, np.dot is wrapped by a
# Python function compiled from a string, `<__array_function__ internals>`, line 200,
# so that is the innermost frame; the call in gram() is the frame above it. The peak
# adds the two 16,000,000-byte inputs: 294,217,728 bytes.
"""The Gram matrix of a set of feature vectors (every pairwise dot product), with
NumPy's matrix product on OpenBLAS's thread pool."""
import sys

import numpy as np

N_VECTORS = 4_000
N_FEATURES = 500


def features(n, k, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, k))


def gram(x):
    """x @ x.T, with the transpose made contiguous like a second data set would be."""
    xt = np.ascontiguousarray(x.T)
    return np.dot(x, xt)


def main():
    x = features(N_VECTORS, N_FEATURES, seed=3)
    g = gram(x)
    print("gram %s, trace %.1f" % (g.shape, np.trace(g)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
