#!/bin/sh
# bench/jobs.sh: what following a whole job costs: bench/jobs.py on a private copy of
# filrec (bench/snapshot.sh). Environment: see bench/jobs.py (REPEAT, PYTHON,
# BENCHMARKS), B (build directory, default build).
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/filrec-jobsbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
. bench/snapshot.sh
snapshot "$B" "$tmp"
FILREC="$FILREC" /usr/bin/python3 bench/jobs.py
