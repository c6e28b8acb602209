#!/usr/bin/env python3
"""bench/inprocess.py: what recording from the inside costs, next to `filrec run`
(bench/inprocess.sh runs it). For each workload, interleaved in one batch (a warm-up
run of each mode, then REPEAT rounds, each starting with a different mode): bare
(PYTHON W.py), filrec run --no-report, the wrapper unrecorded (bench/inproc_run.py -:
runpy and filrec's import, nothing recorded) and in-process (bench/inproc_run.py:
filrec.start before the workload, the trace completed after it). Ratio = median over rounds of the
run's wall time over that round's bare run; CPU = user + sys of the process and, for
filrec run, its sink; for in-process, the sink's CPU read before the stop is added.
Then start()/stop() latency over CYCLES cycles of an empty recording. Output lines must
match bare's. The Markdown replaces <!-- inprocess:begin --> .. <!-- inprocess:end -->
in BENCHMARKS.md (BENCHMARKS=- prints only). Environment: REPEAT (5), CYCLES (20),
PYTHON (/usr/bin/python3), FILREC (build/filrec), BENCHMARKS (BENCHMARKS.md)."""
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPEAT = int(os.environ.get("REPEAT", "5"))
CYCLES = int(os.environ.get("CYCLES", "20"))
PY = os.environ.get("PYTHON", "/usr/bin/python3")
FILREC = os.path.abspath(os.environ.get("FILREC", "build/filrec"))
OUT = os.environ.get("BENCHMARKS", "BENCHMARKS.md")
PKG = os.path.join(os.path.dirname(os.path.dirname(FILREC)), "python")
WORKLOADS = [("py_alloc", "allocation-heavy pure Python"), ("py_numpy", "NumPy arrays")]


def modes(tmp, script):
    trace = os.path.join(tmp, "t.bin")
    return [("bare", [PY, script]),
            ("filrec run", [FILREC, "run", "-f", "--no-report", "-o", trace, "--python", PY, script]),
            ("runpy, unrecorded", [PY, "bench/inproc_run.py", "-", script]),
            ("in-process", [PY, "bench/inproc_run.py", trace, script])]


def measure(argv):
    env = dict(os.environ, FILREC_BIN=FILREC, PYTHONPATH=PKG)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode:
        sys.exit(f"inprocess: {' '.join(argv)} exited {p.returncode}:\n{p.stderr[-2000:]}")
    m = re.search(r"inproc: start ([\d.]+) stop ([\d.]+) sink_cpu ([\d.]+)", p.stderr)
    if m:
        cpu += float(m.group(3))
    return wall, cpu, p.stdout.strip().splitlines()[-1]


def latency():
    code = ("import filrec, time, sys\nts = []\n"
            "for i in range(%d):\n"
            "    a = time.perf_counter(); r = filrec.start(sys.argv[1], force=True)\n"
            "    b = time.perf_counter(); filrec._stop(False); c = time.perf_counter()\n"
            "    ts.append((b - a, c - b))\n"
            "ts.sort(); s = sorted(x for x, _ in ts); e = sorted(y for _, y in ts)\n"
            "print(s[len(s) // 2], e[len(e) // 2], max(s), max(e))\n" % CYCLES)
    tmp = tempfile.mkdtemp(prefix="filrec-lat.")
    try:
        out = subprocess.run([PY, "-c", code, os.path.join(tmp, "l.bin")], capture_output=True,
                             text=True, env=dict(os.environ, FILREC_BIN=FILREC, PYTHONPATH=PKG),
                             check=True).stdout.split()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [float(x) for x in out]


def main():
    tmp = tempfile.mkdtemp(prefix="filrec-inproc.")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = ["<!-- inprocess:begin -->", "## Recording from the inside (`bench/inprocess.sh`)", "",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {commit}; "
             f"{PY}; {REPEAT} interleaved rounds after a warm-up; load average "
             f"{os.getloadavg()[0]:.1f} before",
             "- in-process = `filrec.start()` before the workload, the trace completed after it "
             "(`bench/inproc_run.py`); ratio = median over rounds of wall time over that round's "
             "bare run; CPU includes the sink (for in-process, read from /proc before the stop)",
             "- Budget: in-process within 5% of `filrec run` on each workload", ""]
    try:
        lines.append("| workload | run | wall (s) | ratio to bare | CPU (s) |")
        lines.append("|---|---|---:|---:|---:|")
        for name, what in WORKLOADS:
            ms = modes(tmp, f"bench/{name}.py")
            got = {m[0]: [] for m in ms}
            outs = {}
            for m in ms:
                measure(m[1])
            for r in range(REPEAT):
                for m in ms[r % len(ms):] + ms[:r % len(ms)]:
                    w, c, out = measure(m[1])
                    got[m[0]].append((w, c))
                    outs.setdefault(m[0], out)
            if len(set(outs.values())) != 1:
                sys.exit(f"inprocess: outputs differ for {name}: {outs}")
            bare = [w for w, _ in got["bare"]]
            ratios = {}
            for m in ms:
                runs = got[m[0]]
                ratios[m[0]] = statistics.median(w / b for (w, _), b in zip(runs, bare))
                lines.append(f"| {name} ({what}) | {m[0]} | {statistics.median(w for w, _ in runs):.3f} "
                             f"| **{ratios[m[0]]:.3f}x** | {statistics.median(c for _, c in runs):.2f} |")
            rel = ratios["in-process"] / ratios["filrec run"]
            own = ratios["in-process"] / ratios["runpy, unrecorded"]
            lines.append(f"| {name} | in-process / filrec run | | **{rel:.3f}** "
                         f"({'within' if rel <= 1.05 else 'over'} the 5% budget) | |")
            lines.append(f"| {name} | in-process / the wrapper unrecorded | | **{own:.3f}** | |")
            print(f"inprocess: {name} done", file=sys.stderr)
        s_med, e_med, s_max, e_max = latency()
        lines += ["", f"start()/stop() over {CYCLES} cycles of an empty recording: start median "
                  f"{s_med * 1000:.1f} ms (max {s_max * 1000:.1f}), stop median {e_med * 1000:.1f} ms "
                  f"(max {e_max * 1000:.1f}); stop includes waiting for the sink to complete the trace."]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines.append("<!-- inprocess:end -->")
    section = "\n".join(lines) + "\n"
    print(section)
    subprocess.run([sys.executable, "bench/md_section.py", "inprocess", OUT], input=section,
                   text=True, check=True)


if __name__ == "__main__":
    main()
