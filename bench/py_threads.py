"""bench/py_threads.py: pure-Python allocation in 4 threads at once, for bench/peers.sh.

Each thread builds and drops tuples, small instances and lists (as bench/py_alloc.py's
small_objects and lists do); the GIL runs one at a time and hands over every 5 ms, so a
recorder sees four threads taking turns. Deterministic; prints one line,
`py_threads: checksum N`. SCALE=k multiplies the work (default 1).
"""
import os
import sys
import threading


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def work(n, out, k):
    acc = 0
    for i in range(n):
        p = Point(i, i + k)
        t = (p.x, p.y, i & 7)
        xs = [t, p, i]
        acc += t[2] + p.y - p.x + len(xs)
    out[k] = acc


def main():
    scale = int(os.environ.get("SCALE", "1"))
    out = [0] * 4
    total = 0
    for _ in range(scale):
        ts = [threading.Thread(target=work, args=(1_000_000, out, k)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        total += sum(out)
    print(f"py_threads: checksum {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
