# Known answer: what `filrec summary` reports for this program in default mode, with
# any NumPy (1.24 or 2.x, Debian's or PyPI's) on OpenBLAS. Bytes are counted above the
# baseline: the peak of an interpreter that runs only this file's imports.
# `blas_gram_top` is what OpenBLAS's buffer for the calling thread, mapped at its first
# matrix product, holds once that product has written it: the pages written, not the
# mapping's length (128 MiB in Debian's libopenblas0-pthread, 32 MiB plus a page in the
# copy PyPI's NumPy bundles); `blas_gram_peak` adds the pages the pool's worker wrote in
# its own. Both depend on the build's blocking, so the test measures them with a probe
# of the same shapes (tests/e2e/test_python_samples.py, BLAS_PROBES).
#
# expect: peak_bytes = 160_000_000 + blas_gram_peak
# expect: top_line = 45
# expect: top_function = gram
# expect: top_bytes = 128_000_000 + blas_gram_top
#
# Why: np.dot of a 4,000 x 500 by a 500 x 4,000 float64 matrix makes a 4,000 x 4,000
# result: 128,000,000 bytes. OpenBLAS runs it in its thread pool (one worker per extra
# core), started when numpy was imported. Each thread taking part has a buffer: the
# worker's was mapped by the worker at import, and is charged to the import (the stack
# that created the thread); the calling thread's is mapped at its first BLAS call, which
# is this one. So the line of np.dot holds 128,000,000 + blas_gram_top, the pages of
# that buffer the product wrote; the worker's written pages are charged to the import.
# In NumPy 1.24, np.dot is wrapped by a Python function compiled from a string,
# `<__array_function__ internals>`: the innermost frame there, with gram's line the
# sample's own frame under it; NumPy 2 calls it from C. The peak adds the two
# 16,000,000-byte inputs: 160,000,000 + blas_gram_peak.
"""The Gram matrix of a set of feature vectors (every pairwise dot product), with
NumPy's matrix product on OpenBLAS's thread pool."""
import sys
import numpy.random  # noqa: F401  NumPy 2 would import it at first use, in features
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
