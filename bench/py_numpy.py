"""bench/py_numpy.py: a NumPy workload for bench/python.sh.

About 2 s with Debian's /usr/bin/python3 and python3-numpy on the benchmark machine: few,
large allocations (arrays of 8-64 MB through malloc/mmap), arithmetic that makes
temporaries, reductions and one matmul, so the time goes to numeric work and the recorder
should cost almost nothing. Deterministic: fixed seeds; the matmul runs on one BLAS thread
unless the environment says otherwise (OPENBLAS_NUM_THREADS etc. are set to 1 before
numpy is imported, so BLAS thread scheduling cannot change timing or rounding). Prints
one line, `py_numpy: checksum N`, identical in every mode. SCALE=k multiplies the work.

Known peak of NumPy array data (bench/peers.sh compares the profilers' peaks with it):
exactly 112,000,000 bytes, in `arithmetic` from its second round on. Each array there
is 2,000,000 float64 = 16,000,000 bytes. While line `c = ...` makes the quotient of
`a / (b + 1.0)`, seven are live: a and b, the previous round's c and d (still bound),
`a * b + np.sqrt(b)` (one array whether or not NumPy reuses the temporary of `a * b` in
place), `b + 1.0` and the quotient. No moment has more: without that reuse the sum and
the difference are made with seven live too; line `d = ...` peaks at six plus a 2 MB
mask. The reductions (arrays of 8 MB, 16 MB for `big`, under 60 MB at once) and the
matmul (3 x 11.52 MB) stay below. SCALE does not change it. The process's peak adds
what the interpreter and modules hold (about 10.6 MB traced by tracemalloc on Python
3.11) and native buffers outside Python's view (OpenBLAS's).
"""
import os
import sys

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402


def arithmetic(rng, n, rounds):
    """Element-wise expressions: every operator returns a new large temporary."""
    acc = 0.0
    for _ in range(rounds):
        a = rng.standard_normal(n)
        b = rng.random(n)
        c = a * b + np.sqrt(b) - a / (b + 1.0)
        d = np.where(c > 0, c, -c * 0.5)
        acc += float(d.sum()) + float(np.abs(c).max())
    return acc


def reductions(rng, rows, cols, rounds):
    """2-D arrays, axis reductions, sort, cumulative sums, boolean masks, concatenation."""
    acc = 0.0
    for _ in range(rounds):
        m = rng.random((rows, cols))
        acc += float(m.mean(axis=0).sum()) + float(m.std(axis=1).sum())
        s = np.sort(m, axis=1)
        acc += float(s[:, cols // 2].sum())
        cs = np.cumsum(m, axis=0)
        acc += float(cs[-1].sum())
        mask = m > 0.5
        acc += float(m[mask].sum())
        big = np.concatenate([m, m[::-1]])
        acc += float(big[rows - 1: rows + 1].sum())
    return acc


def matmul(rng, n):
    """One dense matmul and a solve-free check."""
    x = rng.random((n, n))
    y = rng.random((n, n))
    z = x @ y
    return float(z.trace()) + float(z[0].sum())


def main():
    scale = int(os.environ.get("SCALE", "1"))
    rng = np.random.default_rng(20261124)
    total = 0.0
    for _ in range(scale):
        total += arithmetic(rng, 2_000_000, 8)
        total += reductions(rng, 1000, 1000, 10)
        total += matmul(rng, 1200)
    # Rounded so that the last bits of summation order cannot differ between runs.
    print(f"py_numpy: checksum {total:.6e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
