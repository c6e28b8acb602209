#!/usr/bin/env python3
"""bench/jobs.py: what following a whole job costs (bench/jobs.sh runs it). For each job
workload, interleaved in one batch (one warm-up run of each mode, then REPEAT rounds,
each starting with a different mode): bare (PYTHON W.py ARGS), filrec (filrec run
--no-report, which follows every process) and filrec --no-follow. Reports the median
wall time, the median over rounds of each run's ratio to the same round's bare run,
the CPU seconds of the whole process tree (filrec run's sink included) and the number
of traces written. Output lines must match bare's. The Markdown section replaces the
<!-- jobs:begin --> .. <!-- jobs:end --> part of BENCHMARKS.md (BENCHMARKS=- prints
only). Environment: REPEAT (5), PYTHON (/usr/bin/python3), FILREC (build/filrec),
BENCHMARKS (BENCHMARKS.md)."""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPEAT = int(os.environ.get("REPEAT", "5"))
PY = os.environ.get("PYTHON", "/usr/bin/python3")
FILREC = os.environ.get("FILREC", "build/filrec")
OUT = os.environ.get("BENCHMARKS", "BENCHMARKS.md")
WORKLOADS = [
    ("job_many", ["bench/job_many.py", "100"], "100 short Python subprocesses, one after another"),
    ("job_pool fork", ["bench/job_pool.py", "fork"], "multiprocessing.Pool(3), fork, 60 tasks"),
    ("job_pool spawn", ["bench/job_pool.py", "spawn"], "multiprocessing.Pool(3), spawn, 60 tasks"),
]


def modes(tmp, args):
    trace = os.path.join(tmp, "t.bin")
    run = [FILREC, "run", "-f", "--no-report", "-o", trace, "--python", PY] + args
    return [("bare", [PY] + args, None),
            ("filrec", run, trace),
            ("filrec --no-follow", run[:2] + ["--no-follow"] + run[2:], trace)]


def measure(argv, trace):
    if trace:
        shutil.rmtree(trace + ".d", ignore_errors=True)
        if os.path.exists(trace):
            os.unlink(trace)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode:
        sys.exit(f"jobs: {' '.join(argv)} exited {p.returncode}:\n{p.stderr[-2000:]}")
    traces = 0
    if trace:
        d = trace + ".d"
        traces = 1 + (len([f for f in os.listdir(d) if f.endswith(".bin")]) if os.path.isdir(d) else 0)
    return wall, cpu, p.stdout.strip().splitlines()[-1], traces


def main():
    tmp = tempfile.mkdtemp(prefix="filrec-jobs.")
    lines = ["<!-- jobs:begin -->", "## Jobs of many processes (`bench/jobs.sh`)", ""]
    load = os.getloadavg()[0]
    lines.append(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit "
                 f"{subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()}; "
                 f"{PY} ({sys.version.split()[0]} driver); {REPEAT} interleaved rounds after a warm-up; "
                 f"load average {load:.1f} before")
    lines.append("- ratio = median over rounds of the run's wall time over that round's bare run; "
                 "CPU = user + sys of the whole process tree, filrec run's sink included")
    lines.append("")
    try:
        for name, args, what in WORKLOADS:
            ms = modes(tmp, args)
            got = {m[0]: [] for m in ms}
            outputs = {}
            for m in ms:                     # warm-up
                measure(m[1], m[2])
            for r in range(REPEAT):
                order = ms[r % len(ms):] + ms[:r % len(ms)]
                for m in order:
                    w, c, out, n = measure(m[1], m[2])
                    got[m[0]].append((w, c, n))
                    outputs.setdefault(m[0], out)
            if len(set(outputs.values())) != 1:
                sys.exit(f"jobs: outputs differ for {name}: {outputs}")
            bare = [w for w, _, _ in got["bare"]]
            lines.append(f"### {name}: {what}")
            lines.append("")
            lines.append("| run | wall (s) | ratio to bare | CPU (s) | traces |")
            lines.append("|---|---:|---:|---:|---:|")
            for m in ms:
                runs = got[m[0]]
                ratio = statistics.median(w / b for (w, _, _), b in zip(runs, bare))
                lines.append(f"| {m[0]} | {statistics.median(w for w, _, _ in runs):.3f} | "
                             f"**{ratio:.2f}x** | {statistics.median(c for _, c, _ in runs):.2f} | "
                             f"{runs[-1][2] if m[2] else ''} |")
            lines.append("")
            print(f"jobs: {name} done", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines.append("<!-- jobs:end -->")
    section = "\n".join(lines) + "\n"
    print(section)
    subprocess.run([sys.executable, "bench/md_section.py", "jobs", OUT], input=section,
                   text=True, check=True)


if __name__ == "__main__":
    main()
