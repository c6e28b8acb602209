"""bench/job_pool.py: a multiprocessing.Pool(3) job for bench/jobs.py (argv[1]: the
start method, default fork). 60 tasks, each building a few lists and a 20,000,000-byte
bytearray; prints one checksum line, the same in every mode."""
import multiprocessing as mp
import sys


def task(i):
    rows = [list(range(i, i + 2000)) for _ in range(50)]
    buf = bytearray(20_000_000)
    return sum(r[-1] for r in rows) + len(buf)


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else "fork"
    with mp.get_context(method).Pool(3) as pool:
        total = sum(pool.map(task, range(60), chunksize=2))
    print("job_pool(%s): checksum %d" % (method, total))
