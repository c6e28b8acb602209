#!/bin/sh
# bench/threads.sh: the recorder's cost as threads are added (issue "fast at every
# scale"): bench/threads.c, T threads each making 1,000,000 malloc/free pairs through a
# window of 16 blocks, for T = 1, 2 and 8, each run bare, under `filrec run` (one
# shared log behind a biased lock), under `filrec run` with FILREC_LANES=always (a log
# per thread, merged by time: record/rec_lane.c) and under heaptrack (Debian's),
# interleaved round by
# round. Reported: median wall, the median of per-round ratios to bare, median CPU
# seconds of the process tree (filrec's sink included) and the trace's bytes per event.
# Budget: the 8-thread ratio at most 1.5 times the 1-thread one; also said in CPU time:
# the CPU an event may take at 8 threads within it, next to what filrec adds to one.
# The report replaces the section between <!-- threads:begin --> and <!-- threads:end -->
# in BENCHMARKS.md and is printed.
#
# Environment: REPS (default 7), PAIRS (default 1000000), B (default build), CC,
# BENCHMARKS (default BENCHMARKS.md; "-" = print only).
set -eu

cd "$(dirname "$0")/.."
B=${B:-build}
CC=${CC:-cc}
REPS=${REPS:-7}
PAIRS=${PAIRS:-1000000}
BENCHMARKS=${BENCHMARKS:-BENCHMARKS.md}

if [ ! -x "$B/filrec" ] || [ ! -f "$B/libfilrec.so" ]; then
    echo "bench: $B/filrec or $B/libfilrec.so is missing; run make first" >&2
    exit 1
fi
mkdir -p "$B/bench"
$CC -std=gnu11 -O2 -pthread -o "$B/bench/threads" bench/threads.c

tmp=$(mktemp -d "${TMPDIR:-/tmp}/filrec-threads.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export B REPS PAIRS BENCHMARKS tmp
exec python3 bench/threads.py
