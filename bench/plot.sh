#!/bin/sh
# bench/plot.sh: how long `filrec plot` takes on a 30 s trace sampled every 10 ms, and
# how big its outputs are.
#
# Records a Python program that allocates and frees for SECONDS seconds (a sawtooth of
# bytearrays, a marker every 5 s, a region around the second half), then times
# `filrec plot` to PNG and to SVG (best of REPS wall times each) and reports the trace,
# the data file and the pictures' sizes. The report replaces the section between
# <!-- plot:begin --> and <!-- plot:end --> in BENCHMARKS.md (appended when missing)
# and is printed.
#
# Environment: SECONDS_RUN (default 30), REPS (default 3), B (build directory, default
# build), PYTHON (default /usr/bin/python3), BENCHMARKS (file to update, default
# BENCHMARKS.md; "-" = print only).
set -eu

cd "$(dirname "$0")/.."
B=${B:-build}
SECONDS_RUN=${SECONDS_RUN:-30}
REPS=${REPS:-3}
PYTHON=${PYTHON:-/usr/bin/python3}
BENCHMARKS=${BENCHMARKS:-BENCHMARKS.md}

if [ ! -x "$B/filrec" ]; then
    echo "bench: $B/filrec is missing; run make first" >&2
    exit 1
fi
command -v gnuplot >/dev/null || { echo "bench: gnuplot is not installed" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/filrec-plot-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

cat > "$tmp/sawtooth.py" <<EOF
import time
import filrec

start = time.monotonic()
held = []


def sawtooth(until, step=0):
    """Allocate and free until time.monotonic() - start reaches until; a mark each 5 s."""
    next_mark = (time.monotonic() - start) // 5 * 5 + 5
    while time.monotonic() - start < until:
        if time.monotonic() - start >= next_mark:
            filrec.mark("t=%d s" % next_mark)
            next_mark += 5
        held.append(bytearray(1_000_000 + (step % 7) * 100_000))
        if len(held) > 40 + (step // 50) % 60:
            del held[: len(held) // 2]
        step += 1
        time.sleep(0.002)
    return step


steps = sawtooth($SECONDS_RUN / 2)
with filrec.region("second half"):
    steps = sawtooth($SECONDS_RUN, steps)
print("steps", steps)
EOF

"$B/filrec" run --no-report -o "$tmp/t.bin" --python "$PYTHON" "$tmp/sawtooth.py" >/dev/null
samples=$("$B/filrec" stats --json "$tmp/t.bin" | "$PYTHON" -c \
    'import json,sys; print(json.load(sys.stdin)["counts"]["sample"])' 2>/dev/null || echo "?")

# best wall time in seconds of REPS runs of: filrec plot ARGS
best() {
    b=""
    i=0
    while [ "$i" -lt "$REPS" ]; do
        s=$(date +%s.%N)
        "$B/filrec" plot "$@" 2>/dev/null
        e=$(date +%s.%N)
        b=$(echo "$s $e ${b:-999}" | awk '{ t = $2 - $1; print (t < $3 ? t : $3) }')
        i=$((i + 1))
    done
    printf '%.3f' "$b"
}
png=$(best --data "$tmp/t.dat" -o "$tmp/t.png" "$tmp/t.bin")
svg=$(best -o "$tmp/t.svg" "$tmp/t.bin")
size() { wc -c < "$1" | tr -d ' '; }
points=$(grep -c '^[0-9]' "$tmp/t.dat")

report=$(cat <<EOF
<!-- plot:begin -->
## Plot

$(date -u +%Y-%m-%d), $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?');
the machine was shared with other jobs. Command: \`bench/plot.sh\`.
Trace: a ${SECONDS_RUN} s Python sawtooth (bytearrays of 1-1.6 MB, a marker every 5 s)
recorded with the default 10 ms samples: $(size "$tmp/t.bin") bytes, ${samples} samples.
Best of ${REPS} wall times; the data file holds ${points} points (each series at most
2000 buckets, a low and a high each).

| command | seconds | output bytes |
|---|---:|---:|
| \`filrec plot --data t.dat -o t.png t.bin\` | ${png} | $(size "$tmp/t.png") (data file $(size "$tmp/t.dat")) |
| \`filrec plot -o t.svg t.bin\` | ${svg} | $(size "$tmp/t.svg") |
<!-- plot:end -->
EOF
)
echo "$report"
printf '%s\n' "$report" | bench/md_section.py plot "$BENCHMARKS"
