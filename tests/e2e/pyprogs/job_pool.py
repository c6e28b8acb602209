"""A multiprocessing.Pool(3) whose workers each hold M million bytes (a bytearray, line
HOLD) at the same moment, meeting at a barrier, while the parent holds M / 2 million
(line PARENT). argv[1] is the start method (fork, spawn or forkserver), argv[2] M
(default 100; 0 gives the job's baseline). Prints one JSON line: the parent's pid, the
workers' pids and the bytes held."""
import json
import multiprocessing as mp
import os
import sys

MB = 1_000_000


def init(b, m):
    global barrier, size
    barrier, size = b, m


def work(i):
    x = bytearray(size * MB)  # HOLD
    barrier.wait()           # all three hold theirs, and the parent its own
    barrier.wait()
    return os.getpid(), len(x)


def main():
    ctx = mp.get_context(sys.argv[1])
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    b = ctx.Barrier(4)
    parent = bytearray(m // 2 * MB)  # PARENT
    with ctx.Pool(3, initializer=init, initargs=(b, m)) as pool:
        r = pool.map_async(work, range(3), chunksize=1)
        b.wait()
        b.wait()
        got = r.get(timeout=60)
    print(json.dumps({"pid": os.getpid(), "workers": sorted(p for p, _ in got),
                      "held": sum(n for _, n in got) + len(parent)}))


if __name__ == "__main__":
    main()
