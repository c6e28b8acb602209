"""bench/native.py: the batch of bench/native.sh (see there); run through it."""
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

B, tmp, PY = os.environ["B"], os.environ["tmp"], os.environ["PYTHON"]
REPS = int(os.environ["REPS"])
MEMRAY = os.environ["MEMRAY"]
FILREC = f"{B}/filrec"
trace = f"{tmp}/t.bin"

WORKLOADS = {
    "native_churn": ["bench/native_churn.py", f"{B}/bench/libchurn.so"],
    "py_alloc": ["bench/py_alloc.py"],
}


def modes(script):
    out = [("bare", [PY, *script]),
           ("filrec run", [FILREC, "run", "-f", "--no-report", "-o", trace, "--python", PY,
                           *script]),
           ("filrec run --native", [FILREC, "run", "--native", "-f", "--no-report", "-o",
                                    trace, "--python", PY, *script])]
    if os.access(MEMRAY, os.X_OK):
        py = os.path.join(os.path.dirname(MEMRAY), "python")
        out.append(("memray run --native", [py, "-m", "memray", "run", "--native", "-q", "-f",
                                            "-o", f"{tmp}/m.bin", *script]))
    if shutil.which("heaptrack"):
        out.append(("heaptrack", ["heaptrack", "-o", f"{tmp}/h", PY, *script]))
    return out


def run(argv):
    for f in os.listdir(tmp):
        if f.startswith(("t.bin", "m.bin", "h.")):
            p = os.path.join(tmp, f)
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"bench: {argv} failed (exit {p.returncode}):\n{p.stderr}")
    ours = [l for l in p.stdout.splitlines() if l.startswith(("native_churn:", "py_alloc:"))]
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), \
        ours[-1] if ours else ""


def batch(name, script):
    ms = modes(script)
    outputs = {run(argv)[2] for _, argv in ms}  # warm-up
    walls = {m: [] for m, _ in ms}
    cpus = {m: [] for m, _ in ms}
    for rep in range(REPS):
        k = rep % len(ms)
        for m, argv in ms[k:] + ms[:k]:
            w, c, line = run(argv)
            walls[m].append(w)
            cpus[m].append(c)
            outputs.add(line)
    if len(outputs) != 1:
        sys.exit(f"bench: {name}: the runs disagree: {sorted(outputs)}")
    ratio = {m: statistics.median(w / b for w, b in zip(walls[m], walls["bare"])) for m in walls}
    return ms, walls, cpus, ratio, outputs.pop()


def stats(path):
    p = subprocess.run([FILREC, "stats", "--json", path], stdout=subprocess.PIPE, text=True)
    return json.loads(p.stdout)


def timed(argv, n=5):
    best = None
    for _ in range(n):
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit(f"bench: {argv} failed:\n{p.stderr}")
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    return best


def distinct_sites(n=10000):
    """A C program with n functions, each allocating once from its own call site, and
    the seconds `filrec summary` and `filrec stats` take on its --native trace."""
    src = os.path.join(tmp, "sites.c")
    with open(src, "w") as f:
        f.write("#include <stdlib.h>\nvoid *keep[%d];\n" % n)
        for i in range(n):
            f.write("__attribute__((noinline)) void f%d(void) { keep[%d] = malloc(%d); }\n"
                    % (i, i, 16 + i % 64))
        f.write("int main(void) {\n")
        for i in range(n):
            f.write("  f%d();\n" % i)
        f.write("  return 0;\n}\n")
    exe = os.path.join(tmp, "sites")
    subprocess.run([os.environ["CC"], "-O1", "-g", "-o", exe, src], check=True)
    t = os.path.join(tmp, "sites.bin")
    subprocess.run([FILREC, "run", "--native", "-f", "--no-report", "-o", t, exe], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    summary = timed([FILREC, "summary", "--top", "5", t])
    replay = timed([FILREC, "stats", t])
    return summary, replay, stats(t)


def main():
    when = time.strftime("%Y-%m-%d")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    pyver = subprocess.run([PY, "-c", "import platform; print(platform.python_version())"],
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    lines = [f"Measured {when} on {cpu}, {os.cpu_count()} cores, {PY} "
             f"({pyver}); {REPS} interleaved rounds per workload after "
             "one warm-up of each mode. Ratio: the median of each round's time over the "
             "same round's bare run. CPU: user + system seconds of the whole process tree "
             "(filrec's sink, memray's and heaptrack's helpers included).", ""]
    verdicts = []
    for name, script in WORKLOADS.items():
        ms, walls, cpus, ratio, out = batch(name, script)
        lines += [f"### {name} (`{' '.join(script)}`)", "", f"Output, identical in every run: `{out}`", "",
                  "| mode | median wall s | ratio to bare | median CPU s |", "|---|---|---|---|"]
        for m, _ in ms:
            lines.append(f"| {m} | {statistics.median(walls[m]):.3f} | **{ratio[m]:.2f}x** | "
                         f"{statistics.median(cpus[m]):.3f} |")
        lines.append("")
        budget = 2.5 if name == "native_churn" else 1.4
        r = ratio["filrec run --native"]
        verdicts.append(f"- {'PASS' if r <= budget else 'FAIL'}: {name}, `--native` at most "
                        f"{budget}x bare: {r:.2f}x")
        if name == "native_churn":
            # The trace of the last --native run: run it once more to keep it.
            argv = dict(ms)["filrec run --native"]
            run(argv)
            st = stats(trace)
            events = st["counts"]["alloc"] + st["counts"]["free"]
            bpe = os.path.getsize(trace) / events
            verdicts.append(f"- {'PASS' if bpe <= 3 else 'FAIL'}: native_churn, `--native` "
                            f"trace at most 3 bytes per event: {bpe:.2f}")
            ta = timed([FILREC, "summary", trace])
            eps = events / ta
            verdicts.append(f"- {'PASS' if eps >= 20e6 else 'FAIL'}: analyzer at least 20 M "
                            f"events/s on a `--native` trace (`filrec summary`, "
                            f"{events:,} events, {ta:.2f} s): {eps / 1e6:.1f} M/s")
    s, r, st = distinct_sites()
    verdicts.append(f"- {'PASS' if s < 1 else 'FAIL'}: naming 10,000 distinct native "
                    f"addresses in under a second: the whole of `filrec summary` (two replays, "
                    f"each naming them; the second from the cache) takes {s:.2f} s, "
                    f"`filrec stats` (one) {r:.2f} s ({st['counts']['alloc']:,} allocations, "
                    f"each from its own function)")
    lines += ["### Budgets (issue: native stacks)", ""] + verdicts
    md = "<!-- native:begin -->\n## Native stacks (`--native`, bench/native.sh)\n\n" + \
        "\n".join(lines) + "\n<!-- native:end -->\n"
    print(md)
    subprocess.run([sys.executable, "bench/md_section.py", "native", os.environ["BENCHMARKS"]],
                   input=md, text=True, check=True)


main()
