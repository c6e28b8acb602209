#!/bin/sh
# bench/native.sh: the cost of --native, next to the bare run and the peers that take
# native stacks, in one interleaved batch per workload:
#   native_churn  bench/churn.c's 5,000,000 malloc/free pairs (mixed sizes) in a C
#                 library called once from Python through ctypes (bench/native_churn.py)
#   py_alloc      allocation-heavy pure Python (bench/py_alloc.py)
# each run bare, under `filrec run`, `filrec run --native`, `memray run --native` (when
# a venv with memray is at hand: MEMRAY, default .venv-bench/bin/memray, which
# bench/peers.sh makes) and heaptrack (Debian's; it unwinds every allocation too).
# Reported: median wall, the median of per-round ratios to bare, median CPU seconds of
# the process tree (filrec's sink included), trace bytes per event of --native on
# native_churn, the analyzer's events per second on that trace (`filrec summary`), and
# how long naming 10,000 distinct native addresses takes (a generated program with
# 10,000 allocating functions: `filrec summary` on its trace, which names them all).
# The report replaces the section between <!-- native:begin --> and <!-- native:end -->
# in BENCHMARKS.md and is printed.
#
# Environment: REPS (default 7), PYTHON (default /usr/bin/python3), B (default build),
# CC (default cc), MEMRAY, BENCHMARKS (default BENCHMARKS.md; "-" = print only).
set -eu

cd "$(dirname "$0")/.."
B=${B:-build}
CC=${CC:-cc}
REPS=${REPS:-7}
PYTHON=${PYTHON:-/usr/bin/python3}
MEMRAY=${MEMRAY:-.venv-bench/bin/memray}
BENCHMARKS=${BENCHMARKS:-BENCHMARKS.md}

if [ ! -x "$B/filrec" ] || [ ! -f "$B/libfilrec.so" ]; then
    echo "bench: $B/filrec or $B/libfilrec.so is missing; run make first" >&2
    exit 1
fi
mkdir -p "$B/bench"
$CC -std=gnu11 -O2 -DCHURN_LIB -fPIC -shared -o "$B/bench/libchurn.so" bench/churn.c

tmp=$(mktemp -d "${TMPDIR:-/tmp}/filrec-native.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export B REPS PYTHON MEMRAY BENCHMARKS CC tmp
exec python3 bench/native.py
