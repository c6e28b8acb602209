"""bench/peers_tm.py OUT SCRIPT [ARGS...]: run SCRIPT as `python SCRIPT ARGS` would
(same sys.argv, sys.path[0] and __name__ == "__main__"), then write tracemalloc's peak
and current traced bytes to OUT as "PEAK CURRENT". For bench/peers.py, which runs it as
`PYTHON -X tracemalloc bench/peers_tm.py OUT W.py`: the tracemalloc row and the
workloads' known peak. With -X tracemalloc, tracing starts before this file runs, so
the peak counts the whole run, this runner (a few KB) included."""
import os
import runpy
import sys
import tracemalloc


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: python -X tracemalloc bench/peers_tm.py OUT SCRIPT [ARGS...]")
    if not tracemalloc.is_tracing():
        sys.exit("peers_tm: run it with -X tracemalloc")
    out, script = sys.argv[1], sys.argv[2]
    sys.argv = sys.argv[2:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        current, peak = tracemalloc.get_traced_memory()
        with open(out, "w") as f:
            f.write(f"{peak} {current}\n")


main()
