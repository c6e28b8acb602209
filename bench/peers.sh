#!/bin/sh
# bench/peers.sh: filrec next to other memory profilers on the Python workloads.
#
# Installs the peers pinned in bench/peers-requirements.txt (memray, Scalene, Fil,
# memory_profiler, and NumPy for the workloads) from PyPI into .venv-bench, a virtual
# environment of Debian's /usr/bin/python3 at the root of the repository; none of them
# is a dependency of filrec. The venv is made again when the requirements file (or the
# base interpreter) changes: a copy of both lives in .venv-bench/requirements.txt. A
# peer that does not install for the interpreter is reported and its rows skipped.
# Then bench/peers.py runs, interleaved in one batch per workload (one warm-up run of
# each mode, then REPEAT rounds, each starting with a different mode):
#   bare                 VENV_PY W.py
#   filrec               build/filrec run -f -o TMP --no-report --python VENV_PY W.py
#   filrec -A            the same with --python-allocators
#   filrec -N            the same with --native
#   filrec -S            the same with --sample 512KiB
#   filrec -SA           the same with --sample 512KiB --python-allocators
#   memray               memray run -q -f -o TMP.bin W.py
#   memray --native      the same with --native
#   memray -A            the same with --trace-python-allocators
#   Scalene              scalene run --memory --no-stacks --no-async -o TMP.json W.py
#   Fil                  fil-profile -o DIR --no-browser run W.py
#   mprof                mprof run -o TMP.dat W.py   (memory_profiler)
#   tracemalloc          VENV_PY -X tracemalloc bench/peers_tm.py OUT W.py
#   heaptrack            heaptrack -o TMP VENV_PY W.py   (Debian's; skipped if absent)
# on bench/py_alloc.py, bench/py_numpy.py, bench/py_threads.py (4 threads) and
# bench/py_deep.py (depth 200), every mode with the venv's interpreter, and reports wall
# time, ratio to bare, CPU seconds of the process tree, max RSS, the peak each tool
# reports against the workload's known peak, and, for the tools that write a trace and
# analyze it apart (filrec, memray, heaptrack), the trace's bytes per allocation and
# the seconds their analyzer takes on it (`filrec summary`, `memray summary`,
# `heaptrack_print`), and draws the ratios as a chart (bench/peers.svg, gnuplot).
# See bench/peers.py.
#
# The report (Markdown) replaces the section between <!-- peers:begin --> and
# <!-- peers:end --> in BENCHMARKS.md (the rest of the file is kept) and is printed.
#
# Environment: REPEAT (default 5), WORKLOADS (default "py_alloc py_numpy py_threads
# py_deep"), MODES
# (default: all; names as in the list above with "-" for " -", e.g. "bare filrec
# memray"), PYTHON (the venv's base interpreter, default /usr/bin/python3), B (build
# directory, default build), BENCHMARKS (file to update, default BENCHMARKS.md; "-" =
# print only), SCALE (passed to the workloads, default 1), CC (builds bench/spawn.c,
# the launcher that measures each run; default cc).
# Exit status: 0 when bare and filrec worked (a peer that fails is shown as failed in
# the table, with its error printed), 1 otherwise or when setup failed.
set -eu

cd "$(dirname "$0")/.."
B=${B:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
BENCHMARKS=${BENCHMARKS:-BENCHMARKS.md}
venv=.venv-bench
req=bench/peers-requirements.txt

if [ ! -x "$B/filrec" ] || [ ! -f "$B/libfilrec.so" ]; then
    echo "peers: $B/filrec or $B/libfilrec.so is missing; run make first" >&2
    exit 1
fi

# The venv's stamp: the requirements and the base interpreter they were installed for.
base=$("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')
stamp=$(mktemp "${TMPDIR:-/tmp}/filrec-peers-stamp.XXXXXX")
{ cat "$req"; echo "# base interpreter: $base"; } >"$stamp"
if ! cmp -s "$stamp" "$venv/requirements.txt" 2>/dev/null; then
    echo "peers: installing $req into $venv (PyPI; base $base)" >&2
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv" || { rm -f "$stamp"; echo "peers: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
    : >"$venv/skipped.txt"
    # One requirement at a time, so that a peer without a build for this interpreter
    # leaves the others installed; NumPy (the workloads need it) is not optional.
    grep -v '^[[:space:]]*\(#\|$\)' "$req" | while read -r spec; do
        log="$venv/pip-$(echo "$spec" | tr -c 'A-Za-z0-9._-' _).log"
        if "$venv/bin/python" -m pip install --disable-pip-version-check -q "$spec" >"$log" 2>&1; then
            echo "peers: installed $spec" >&2
        else
            why=$(grep -E 'ERROR|error:' "$log" | head -n 3 | tr '\n' ' ')
            echo "peers: $spec does not install for $base: ${why:-see $log}" >&2
            echo "$spec	${why:-pip install failed, see $log}" >>"$venv/skipped.txt"
        fi
    done
    if ! "$venv/bin/python" -c 'import numpy' 2>/dev/null; then
        rm -f "$stamp"
        echo "peers: numpy did not install into $venv; the workloads need it" >&2
        exit 1
    fi
    cp "$stamp" "$venv/requirements.txt"
fi
rm -f "$stamp"
if [ -s "$venv/skipped.txt" ]; then
    echo "peers: not installed for this interpreter (their rows are skipped):" >&2
    sed 's/^/peers:   /' "$venv/skipped.txt" >&2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/filrec-peers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# A private copy of filrec: a rebuild in $B during the batch cannot change it.
. bench/snapshot.sh
snapshot "$B" "$tmp"
# The launcher every measured command runs under (why: see bench/spawn.c).
${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -o "$tmp/spawn" bench/spawn.c

SPAWN="$tmp/spawn" VENV="$venv" BENCHMARKS="$BENCHMARKS" FILREC="$FILREC" tmp="$tmp" \
    "$venv/bin/python" bench/peers.py
