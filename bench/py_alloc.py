"""bench/py_alloc.py: an allocation-heavy pure-Python workload for bench/python.sh.

About 2 s with Debian's /usr/bin/python3 (3.11) on the benchmark machine. It builds and
drops lists, dicts, strings, tuples and small class instances in a few functions, so the
recorder sees both small objects (pymalloc, seen only with --python-allocators) and larger
buffers (list and dict tables, long strings, which go to malloc in every mode).
Deterministic: no randomness from the OS, no hashing of str (PYTHONHASHSEED does not
change the result), no time. Prints one line, `py_alloc: checksum N`, identical in
every mode. SCALE=k in the environment multiplies the work (default 1).
"""
import os
import sys


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


class Record:
    def __init__(self, key, value, tags):
        self.key = key
        self.value = value
        self.tags = tags


def lcg(seed):
    """A small deterministic pseudo-random stream (no `random`, no hashing)."""
    while True:
        seed = (seed * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        yield seed >> 33


def small_objects(n):
    """Tuples and small instances built and dropped at once."""
    acc = 0
    for i in range(n):
        p = Point(i, i + 1)
        t = (p.x, p.y, i & 7)
        r = Record(i, t, None)
        acc += r.value[2] + p.y - p.x
    return acc


def lists(rounds, size):
    """Lists grown by append (realloc), copied, sliced, sorted, dropped."""
    acc = 0
    for r in range(rounds):
        xs = []
        for i in range(size):
            xs.append((i * 7 + r) % 1009)
        ys = sorted(xs)
        zs = ys[size // 4: size // 2]
        comp = [x * 2 for x in zs if x & 1]
        acc += len(comp) + ys[-1] + (comp[0] if comp else 0)
        del xs, ys, zs, comp
    return acc


def dicts(rounds, size):
    """Dicts grown key by key (table resizes), with tuple keys and list values."""
    acc = 0
    rng = lcg(12345)
    for r in range(rounds):
        d = {}
        for i in range(size):
            k = (i % 97, next(rng) % 1000)
            v = d.get(k)
            if v is None:
                d[k] = [i]
            else:
                v.append(i)
        inv = {len(v): k for k, v in d.items()}
        acc += len(d) + len(inv) + sum(k[1] for k in inv.values())
    return acc


def strings(rounds, size):
    """Strings formatted, joined, split and encoded: small and large str/bytes."""
    acc = 0
    for r in range(rounds):
        parts = ["item-%d-%d" % (i, r) for i in range(size)]
        big = ",".join(parts)
        back = big.split(",")
        up = big.upper().encode("ascii")
        acc += len(back) + len(up) + len(parts[-1]) + up.count(b"9")
    return acc


def records(n):
    """Instances with a __dict__ and a list attribute, kept in a list, then dropped."""
    keep = []
    acc = 0
    for i in range(n):
        rec = Record("k%d" % i, i * 3, [i, i + 1, i + 2])
        keep.append(rec)
        if len(keep) == 5000:
            acc += sum(x.value for x in keep) + len(keep[-1].tags)
            keep = []
    return acc + len(keep)


def main():
    scale = int(os.environ.get("SCALE", "1"))
    total = 0
    for _ in range(scale):
        total += small_objects(800_000)
        total += lists(150, 10_000)
        total += dicts(50, 10_000)
        total += strings(70, 10_000)
        total += records(400_000)
    print(f"py_alloc: checksum {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
