#!/usr/bin/env bash
# bench/analyze.sh: analyzer speed. Records a ~50 M event trace (25 M malloc/free pairs of
# bench/churn.c), then times each analysis verb on it, reporting events per second per
# replay pass and the analyzer's peak RSS. Writes the <!-- analyze:begin/end --> section of
# BENCHMARKS.md. Not a test: numbers depend on the machine; run on a quiet one.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
PAIRS=${PAIRS:-25000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$B/bench"
cc -O2 -o "$B/bench/churn" bench/churn.c
"$B/filrec" run -f --no-report -o "$tmp/t.bin" -- "$B/bench/churn" "$PAIRS" >/dev/null 2>&1
read -r events peak_event < <("$B/filrec" stats --json "$tmp/t.bin" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["events"], d["peak_event"])')
size=$(stat -c %s "$tmp/t.bin")
row() { # name passes command...  (passes 2: the whole trace, then up to the peak)
    local name=$1 passes=$2; shift 2
    local best=999 rss=0
    for _ in 1 2 3 4 5; do
        /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >/dev/null 2>&1
        read -r t m < "$tmp/time"
        best=$(python3 -c "print(min($best, $t))"); rss=$m
    done
    python3 -c "
t=$best; e=$events + ($peak_event if $passes == 2 else 0)
print(f'| {\"$name\"} | {$passes} | {t:.2f} | {e/t/1e6:.1f} | {$rss/1024:.0f} |')"
}
{
echo "<!-- analyze:begin -->"
echo "## Analyzer speed"
echo
echo "$(date -u +%Y-%m-%d), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), commit $(git rev-parse --short HEAD 2>/dev/null)."
echo "Trace: \`bench/churn $PAIRS\` recorded by filrec: $(python3 -c "print(f'{$events:,}')") events, $(python3 -c "print(f'{$size/1e6:.0f}')") MB ($(python3 -c "print(f'{$size/$events:.2f}')") bytes/event)."
echo "Best of 5 wall times (this host varies by 10-30% from minute to minute). Events/s counts the events each verb replays: summary and"
echo "flamegraph read the trace once, keeping what was live at the peak (event $(python3 -c "print(f'{$peak_event:,}')"))"
echo "as they go; with FILREC_TWO_PASS=1 they read it to find the peak, then again up to it, as before."
echo "Command: \`bench/analyze.sh\`."
echo
echo "| verb | passes | seconds | M events/s | peak RSS (MB) |"
echo "|---|---:|---:|---:|---:|"
row "stats" 1 "$B/filrec" stats "$tmp/t.bin"
row "summary" 1 "$B/filrec" summary "$tmp/t.bin"
row "flamegraph" 1 "$B/filrec" flamegraph -o "$tmp/f.svg" "$tmp/t.bin"
export FILREC_TWO_PASS=1
row "summary, two passes" 2 "$B/filrec" summary "$tmp/t.bin"
row "flamegraph, two passes" 2 "$B/filrec" flamegraph -o "$tmp/f.svg" "$tmp/t.bin"
unset FILREC_TWO_PASS
row "summary --temporary" 1 "$B/filrec" summary --temporary "$tmp/t.bin"
echo
echo "Budgets: at least 20 M events/s and under 1 GB RSS (round 1); at least 50 M events/s for"
echo "summary and flamegraph on one core (issue 16)."
echo "<!-- analyze:end -->"
} > "$tmp/section"
cat "$tmp/section"
bench/md_section.py analyze "${BENCHMARKS:-BENCHMARKS.md}" < "$tmp/section"
