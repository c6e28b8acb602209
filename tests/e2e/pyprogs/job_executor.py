"""concurrent.futures.ProcessPoolExecutor(2): each task holds 30,000,000 bytes at line
HOLD and returns its pid. Prints one JSON line: the parent's pid and the workers'."""
import concurrent.futures
import json
import os


def task(i):
    x = bytearray(30_000_000)  # HOLD
    return os.getpid(), len(x)


if __name__ == "__main__":
    with concurrent.futures.ProcessPoolExecutor(2) as ex:
        got = list(ex.map(task, range(4)))
    print(json.dumps({"pid": os.getpid(), "workers": sorted({p for p, _ in got}),
                      "held": sum(n for _, n in got)}))
