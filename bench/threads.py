"""bench/threads.py: the batch of bench/threads.sh (see there); run through it."""
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

B, tmp = os.environ["B"], os.environ["tmp"]
REPS, PAIRS = int(os.environ["REPS"]), int(os.environ["PAIRS"])
FILREC, PROG = f"{B}/filrec", f"{B}/bench/threads"
trace = f"{tmp}/t.bin"
THREADS = [1, 2, 8]


def modes(t):
    prog = [PROG, str(t), str(PAIRS)]
    run = [FILREC, "run", "-f", "--no-report", "-o", trace, "--", *prog]
    out = [("bare", prog, None), ("filrec run", run, None),
           ("filrec run, a log per thread", run, "always")]
    if shutil.which("heaptrack"):
        out.append(("heaptrack", ["heaptrack", "-o", f"{tmp}/h", *prog], None))
    return out


def check_trace(t):
    """A timed run counts only if its trace holds every event: it reads whole, ended
    cleanly, and has each thread's pairs (plus one DTV per thread and stdout's buffer)
    with no free unmatched. Returns its stats."""
    p = subprocess.run([FILREC, "stats", "--json", trace], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"bench: {t} threads: the trace does not read: {p.stderr.strip()}")
    s = json.loads(p.stdout)
    c = s["counts"]
    if not (s["ended_cleanly"] and s["unmatched_frees"] == 0 and
            c["alloc"] == t * PAIRS + t + 1 and c["free"] >= t * PAIRS):
        sys.exit(f"bench: {t} threads: the trace is not the program's: {c}")
    return s


def run(argv, lanes):
    for f in os.listdir(tmp):
        if f.startswith(("t.bin", "h.")):
            os.unlink(os.path.join(tmp, f))
    env = dict(os.environ)
    env.pop("FILREC_LANES", None)
    if lanes:
        env["FILREC_LANES"] = lanes
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"bench: {argv} failed (exit {p.returncode}):\n{p.stderr}")
    if argv[0] == FILREC:
        check_trace(int(argv[-2]))
    ours = [l for l in p.stdout.splitlines() if l.startswith("threads:")]
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), \
        ours[-1] if ours else ""


def batch(t):
    ms = modes(t)
    outputs = {run(argv, lanes)[2] for _, argv, lanes in ms}  # warm-up
    walls = {m: [] for m, _, _ in ms}
    cpus = {m: [] for m, _, _ in ms}
    for rep in range(REPS):
        k = rep % len(ms)
        for m, argv, lanes in ms[k:] + ms[:k]:
            w, c, line = run(argv, lanes)
            walls[m].append(w)
            cpus[m].append(c)
            outputs.add(line)
    if len(outputs) != 1:
        sys.exit(f"bench: {t} threads: the runs disagree: {sorted(outputs)}")
    ratio = {m: statistics.median(w / b for w, b in zip(walls[m], walls["bare"])) for m in walls}
    bpe = {}
    for m, argv, lanes in ms:
        if m.startswith("filrec"):
            run(argv, lanes)
            bpe[m] = check_trace(t)["bytes_per_event"]
    return ms, walls, cpus, ratio, bpe, outputs.pop()


def main():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    load0 = os.getloadavg()[0]
    results = {t: batch(t) for t in THREADS}
    load1 = os.getloadavg()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    L = ["<!-- threads:begin -->",
         f"## threads: T threads x {PAIRS:,} malloc/free pairs each (native)", "",
         f"- Machine: nproc {os.cpu_count()}, {cpu}; Linux {platform.release()}",
         f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; filrec commit "
         f"{commit}{' with uncommitted changes' if dirty else ''}",
         f"- Command: `REPS={REPS} bench/threads.sh`; {REPS} interleaved rounds per T after "
         "one warm-up run of each; median wall time; CPU = user + sys of the whole process "
         "tree (filrec's sink included); ratio = median over rounds of the run's wall time "
         "over that round's bare run",
         f"- 1-minute load average {load0:.1f} before, {load1:.1f} after, on "
         f"{os.cpu_count()} CPUs", "",
         "| threads | run | wall (s) | CPU (s) | ratio to bare | bytes/event |",
         "|---:|---|---:|---:|---:|---:|"]
    for t, (ms, walls, cpus, ratio, bpe, line) in results.items():
        for m, _, _ in ms:
            b = f"{bpe[m]:.2f}" if m in bpe else ""
            L.append(f"| {t} | {m} | {statistics.median(walls[m]):.3f} | "
                     f"{statistics.median(cpus[m]):.3f} | **{ratio[m]:.2f}x** | {b} |")
    r1, r8 = results[1][3]["filrec run"], results[8][3]["filrec run"]
    s1, s8 = results[1][3]["filrec run, a log per thread"], results[8][3]["filrec run, a log per thread"]
    # The budget in CPU time: what it leaves an event on this host's CPUs, next to what
    # filrec adds to one (the sink's share included). With one thread the sink runs on
    # a CPU the program leaves idle; with 8 no CPU is idle.
    def events(t):
        return 2 * t * PAIRS

    def added_ns(t, m):
        cpus = results[t][2]
        return (statistics.median(cpus[m]) - statistics.median(cpus["bare"])) / events(t) * 1e9
    w8 = statistics.median(results[8][1]["bare"])
    c8 = statistics.median(results[8][2]["bare"])
    allowed = (os.cpu_count() * 1.5 * r1 * w8 - c8) / events(8) * 1e9
    L += ["", "Budgets:", "",
          f"- {'PASS' if r8 <= 1.5 * r1 else 'FAIL'}: 8 threads at most 1.5 times the 1-thread "
          f"ratio: {r8:.2f}x against {r1:.2f}x ({r8 / r1:.2f} times; a log per thread: "
          f"{s8:.2f}x against {s1:.2f}x, {s8 / s1:.2f} times)",
          f"- In CPU time: at 8 threads the budget leaves {allowed:.1f} ns of CPU an event "
          f"on these {os.cpu_count()} CPUs, for the recorder and the sink together "
          f"(({os.cpu_count()} x 1.5 x {r1:.2f} x {w8:.3f} s - {c8:.3f} CPU-s) / {events(8):,} events). "
          f"filrec adds {added_ns(1, 'filrec run'):.1f} ns with 1 thread and "
          f"{added_ns(8, 'filrec run'):.1f} with 8 (a log per thread: "
          f"{added_ns(1, 'filrec run, a log per thread'):.1f} and "
          f"{added_ns(8, 'filrec run, a log per thread'):.1f})",
          "<!-- threads:end -->"]
    text = "\n".join(L) + "\n"
    print(text)
    subprocess.run([sys.executable, "bench/md_section.py", "threads", os.environ["BENCHMARKS"]],
                   input=text, text=True, check=True)


main()
