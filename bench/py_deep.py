"""bench/py_deep.py: allocation at recursion depth 200, for bench/peers.sh.

A recursive descent 200 frames deep, then, at the bottom, the small-object loop of
bench/py_alloc.py: every recorded allocation has a 200-frame Python stack, most of it
unchanged since the last one. Deterministic; prints one line, `py_deep: checksum N`.
SCALE=k multiplies the work (default 1).
"""
import os
import sys

DEPTH = 200


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def leaf(n):
    acc = 0
    for i in range(n):
        p = Point(i, i + 1)
        t = (p.x, p.y, i & 7)
        xs = [t, p]
        acc += t[2] + p.y - p.x + len(xs)
    return acc


def down(d, n):
    return leaf(n) if d == 0 else down(d - 1, n) + 1


def main():
    sys.setrecursionlimit(10_000)
    scale = int(os.environ.get("SCALE", "1"))
    total = 0
    for _ in range(scale):
        for _ in range(4):
            total += down(DEPTH, 800_000)
    print(f"py_deep: checksum {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
