# Known answer: what `filrec summary` reports for this program in default mode, with
# any NumPy (1.24 or 2.x, Debian's or PyPI's) on OpenBLAS. Bytes are counted above the
# baseline: the peak of an interpreter that runs only this file's imports.
# `blas_buffer` is the buffer OpenBLAS maps for the calling thread at its first matrix
# product; its size is a build setting (128 MiB in Debian's libopenblas0-pthread, 32 MiB
# plus a page in the copy PyPI's NumPy bundles), so the test measures it (see below).
#
# expect: peak_bytes = 160_000_000 + blas_buffer
# expect: top_line = 43
# expect: top_function = gram
# expect: top_bytes = 128_000_000 + blas_buffer
#
# Why: np.dot of a 4,000 x 500 by a 500 x 4,000 float64 matrix makes a 4,000 x 4,000
# result: 128,000,000 bytes. OpenBLAS runs it in its thread pool (one worker per extra
# core), started when numpy was imported. Each thread taking part has a buffer: the
# worker's was mapped by the worker at import, and is charged to the import (the stack
# that created the thread); the calling thread's is mapped at its first BLAS call, which
# is this one. So the line of np.dot (line 43 in gram) holds 128,000,000 + blas_buffer.
# The test measures blas_buffer with a first np.dot of a 500 x 500 matrix in a fresh
# interpreter: what that line holds, less its 2,000,000-byte result (0 with a BLAS that
# maps no buffer). In NumPy 1.24, np.dot is wrapped by a Python function compiled from
# a string, `<__array_function__ internals>`: the innermost frame there, with gram:43
# the sample's own frame under it; NumPy 2 calls it from C. The peak adds the two
# 16,000,000-byte inputs: 160,000,000 + blas_buffer.
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
