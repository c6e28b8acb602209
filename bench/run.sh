#!/bin/sh
# bench/run.sh: the churn benchmark (`make bench` runs it after building filrec).
#
# Builds bench/churn.c with -O2, then in one batch runs, interleaved so that all three
# share the machine's noise:
#   bare        build/bench/churn
#   filrec      build/filrec run -f --no-report -o TMP/t.bin -- build/bench/churn
#               (recording only: the report folder is analysis, timed by analyze.sh)
#   heaptrack   heaptrack -o TMP/h build/bench/churn   (recording only: its usual
#               on-the-fly interpreter and compressor are included, `heaptrack
#               --analyze` is not)
# and reports median wall times, ratios to bare (paired by round), filrec's trace bytes per event
# (file size / (allocs + frees) from `filrec stats --json`) and heaptrack's output size.
# The report replaces the section between <!-- churn:begin --> and <!-- churn:end -->
# in BENCHMARKS.md (the rest of the file is kept) and is printed.
#
# Environment: REPS (default 11, at least 5 for the record), PAIRS (default 5000000;
# other values are for trying the script out), B (build directory, default build),
# CC (default cc), BENCHMARKS (file to update, default BENCHMARKS.md; "-" = print only).
# Exit status: 0 when every run worked (budget verdicts are reported, not enforced),
# 1 when a run failed or the outputs disagree.
set -eu

cd "$(dirname "$0")/.."
B=${B:-build}
CC=${CC:-cc}
REPS=${REPS:-11}
PAIRS=${PAIRS:-5000000}
BENCHMARKS=${BENCHMARKS:-BENCHMARKS.md}

if [ ! -x "$B/filrec" ] || [ ! -f "$B/libfilrec.so" ]; then
    echo "bench: $B/filrec or $B/libfilrec.so is missing; run make first" >&2
    exit 1
fi
mkdir -p "$B/bench"
$CC -std=gnu11 -O2 -Wall -Wextra -o "$B/bench/churn" bench/churn.c

tmp=$(mktemp -d "${TMPDIR:-/tmp}/filrec-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

export B REPS PAIRS BENCHMARKS tmp
python3 - <<'EOF'
import datetime, json, os, platform, re, resource, shutil, statistics, subprocess, sys, time

B, tmp = os.environ["B"], os.environ["tmp"]
REPS, PAIRS = int(os.environ["REPS"]), int(os.environ["PAIRS"])
out_md = os.environ["BENCHMARKS"]
churn = f"{B}/bench/churn"
trace, hprefix = f"{tmp}/t.bin", f"{tmp}/h"

variants = [
    ("bare", [churn, str(PAIRS)]),
    ("filrec run", [f"{B}/filrec", "run", "-f", "--no-report", "-o", trace, "--", churn,
                    str(PAIRS)]),
]
heaptrack = shutil.which("heaptrack")
if heaptrack:
    variants.append(("heaptrack", [heaptrack, "-o", hprefix, churn, str(PAIRS)]))

def die(msg):
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(1)

def clean_heaptrack():
    for f in os.listdir(tmp):
        if f.startswith("h."):
            os.unlink(os.path.join(tmp, f))

def run(name, argv):
    """One run: (wall seconds, CPU seconds of the process tree, churn's output line).
    Each recorder starts without its previous output: overwriting a 30 MB trace costs
    the file system a few ms (up to 20 seen) that are not recording."""
    if name == "heaptrack":
        clean_heaptrack()
    if name == "filrec run" and os.path.exists(trace):
        os.unlink(trace)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    line = [l for l in p.stdout.splitlines() if l.startswith("churn: ")]
    if p.returncode != 0 or len(line) != 1:
        die(f"{name} failed (exit {p.returncode}):\n{p.stdout}{p.stderr}")
    return wall, cpu, line[0]

def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return 0.0
load_before = loadavg()

# One warm-up run of each (page cache, CPU frequency), then REPS interleaved rounds;
# each round starts with a different variant so none always runs first.
outputs = set()
for name, argv in variants:
    outputs.add(run(name, argv)[2])
walls = {n: [] for n, _ in variants}
cpus = {n: [] for n, _ in variants}
for rep in range(REPS):
    k = rep % len(variants)
    for name, argv in variants[k:] + variants[:k]:
        w, c, line = run(name, argv)
        walls[name].append(w)
        cpus[name].append(c)
        outputs.add(line)
# Ratios are paired: each round's run over the same round's bare run, then the median.
# A round takes a few seconds, and this machine's speed changes on a scale of seconds
# (bare alone varies by 1.5x between batches): the pair sees the same machine.
paired = {n: statistics.median(w / b for w, b in zip(walls[n], walls["bare"]))
          for n in walls}
if len(outputs) != 1:
    die(f"the runs disagree: {sorted(outputs)}")

# The last filrec trace and heaptrack output are those of the last round.
st = subprocess.run([f"{B}/filrec", "stats", "--json", trace], stdout=subprocess.PIPE, text=True)
if st.returncode != 0:
    die("filrec stats failed on the trace")
stats = json.loads(st.stdout)
allocs, frees = stats["counts"]["alloc"], stats["counts"]["free"]
if not stats["ended_cleanly"] or allocs < PAIRS or frees < PAIRS:
    die(f"the trace is incomplete: {allocs} allocs, {frees} frees, "
        f"ended_cleanly={stats['ended_cleanly']}")
events = allocs + frees
tsize = os.path.getsize(trace)
hfiles = [f for f in os.listdir(tmp) if f.startswith("h.")] if heaptrack else []
hsize = os.path.getsize(os.path.join(tmp, hfiles[0])) if len(hfiles) == 1 else None
hversion = ""
if heaptrack:
    v = subprocess.run([heaptrack, "--version"], stdout=subprocess.PIPE, text=True).stdout
    hversion = v.strip().split()[-1] if v.strip() else ""

med = {n: statistics.median(walls[n]) for n in walls}
medcpu = {n: statistics.median(cpus[n]) for n in cpus}
ratio = paired
bpe = tsize / events

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    return l.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

def mib(n):
    return f"{n / 1048576:.1f} MiB"

libc = " ".join(platform.libc_ver())
def git(*args):
    r = subprocess.run(["git", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""
rev = git("rev-parse", "--short", "HEAD")
version = f"commit {rev}" + (" with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "") if rev else "unknown version"
rows = []
for name, argv in variants:
    label = {"bare": "bare", "filrec run": "`filrec run`",
             "heaptrack": f"heaptrack {hversion}".strip()}[name]
    if name == "filrec run":
        size, per = mib(tsize), f"{bpe:.2f}"
    elif name == "heaptrack" and hsize is not None:
        size, per = mib(hsize), f"{hsize / events:.2f}"
    else:
        size, per = "", ""
    ws = walls[name]
    rows.append(f"| {label} | {med[name]:.3f} | {min(ws):.3f} - {max(ws):.3f} | "
                f"{medcpu[name]:.3f} | **{ratio[name]:.2f}x** | {size} | {per} |")

def verdict(ok):
    return "PASS" if ok else "FAIL"

checks = [
    (f"filrec at most 1.3x bare: {ratio['filrec run']:.2f}x (ratio of the median wall "
     f"times: {med['filrec run'] / med['bare']:.2f}x)", ratio["filrec run"] <= 1.3),
    (f"trace at most 3 bytes per event: {bpe:.2f}", bpe <= 3.0),
]
if heaptrack:
    checks.append((f"filrec faster than heaptrack: {med['filrec run']:.3f} s vs "
                   f"{med['heaptrack']:.3f} s", med["filrec run"] < med["heaptrack"]))
else:
    checks.append(("filrec faster than heaptrack: not measured (heaptrack not installed)", None))

now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
cmd = f"REPS={REPS} " + (f"PAIRS={PAIRS} " if PAIRS != 5000000 else "") + "make bench"
lines = [
    "<!-- churn:begin -->",
    f"## churn: {PAIRS:,} malloc/free pairs (native)",
    "",
    f"- Machine: nproc {len(os.sched_getaffinity(0))}, {cpu_model()}; "
    f"Linux {platform.release()}, {libc}",
    f"- Date: {now}; filrec {version}",
    f"- Command: `{cmd}`; {REPS} interleaved rounds after one warm-up run of each; "
    f"median wall time (min - max); CPU = user + sys of the whole process tree; "
    f"ratio = median over rounds of the run's wall time over that round's bare run",
    f"- Events: {allocs:,} allocs + {frees:,} frees = {events:,} "
    f"(from `filrec stats --json`); program output: `{outputs.pop()}`",
    *([f"- **Warning: the machine was busy** (1-minute load average {load_before:.1f} before, "
        f"{loadavg():.1f} after the run, on {len(os.sched_getaffinity(0))} CPUs): "
        "the numbers are noisy; rerun on a quiet machine."]
      if max(load_before, loadavg()) > 0.5 * len(os.sched_getaffinity(0)) + 0.5 else []),
    "",
    "| run | wall (s) | range (s) | CPU (s) | ratio to bare | output | bytes/event |",
    "|---|---:|---:|---:|---:|---:|---:|",
    *rows,
    "",
    "Budgets:",
    "",
    *[f"- {verdict(ok) if ok is not None else 'n/a'}: {text}" for text, ok in checks],
    "<!-- churn:end -->",
]
section = "\n".join(lines) + "\n"
print(section, end="")

subprocess.run([sys.executable, "bench/md_section.py", "churn", out_md], input=section,
               text=True, check=True)
EOF
