#!/bin/sh
# bench/inprocess.sh: what recording from the inside costs next to `filrec run`:
# bench/inprocess.py on a private copy of filrec (bench/snapshot.sh). Environment: see
# bench/inprocess.py (REPEAT, CYCLES, PYTHON, BENCHMARKS), B (build directory, default
# build).
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/filrec-inprocbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
. bench/snapshot.sh
snapshot "$B" "$tmp"
FILREC="$FILREC" /usr/bin/python3 bench/inprocess.py
