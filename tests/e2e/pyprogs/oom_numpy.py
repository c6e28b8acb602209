"""Runs out of memory: limits its own address space (RLIMIT_AS, as `ulimit -v` does) to
what it has mapped plus LIMIT_MB, then keeps 50,000,000-byte NumPy arrays (line GROW)
until one fails with MemoryError. Prints one JSON line: how many it kept."""
import json
import resource
import sys

import numpy as np

LIMIT_MB = int(sys.argv[1]) if len(sys.argv) > 1 else 400


def mapped_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def main():
    limit = mapped_bytes() + LIMIT_MB * 1_000_000
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    kept = []
    try:
        while True:
            kept.append(np.ones(50_000_000 // 8))  # GROW
    except MemoryError:
        pass
    print(json.dumps({"kept": len(kept), "array_bytes": 50_000_000}))


if __name__ == "__main__":
    main()
