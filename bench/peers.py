"""bench/peers.py: the batch of bench/peers.sh (run it through that script, which sets up
.venv-bench and a private copy of filrec; this file runs under the venv's python).

For each workload (bench/py_alloc.py, bench/py_numpy.py) and each mode (bare, filrec,
the peers: see modes_for below), one warm-up run, then REPEAT interleaved rounds, each
starting with a different mode, so that every mode shares the machine's noise; in a
round every mode's run comes right after a bare run of its own, its pair. All
modes run the venv's interpreter. Each run goes through bench/spawn.c, a small
launcher that forks the command and waits for it (a child of this driver would inherit
the driver's own RSS high-water mark), and is measured there:
- wall: time from the fork to reaping the command (start-up, and the time a tool
  takes to write its output after the program exits, included);
- CPU: user + sys from wait4's rusage of the command, which is what
  getrusage(RUSAGE_CHILDREN) grows by: its whole process tree that was waited for
  (Scalene's and mprof's parent processes, heaptrack's interpreter and compressor);
- max RSS: that rusage's ru_maxrss, the largest resident set of any one process of
  the tree (the profiled program; under heaptrack, its heaptrack_interpret), not a sum;
- reported peak: parsed from the tool's own output after the run (not timed), "n/a"
  when it cannot be parsed.
Ratio to bare = median over rounds of (run wall / its pair's wall): a round of every
mode takes minutes, over which this host's speed drifts by 1.5x, so a ratio is taken
over the bare run seconds before, not the round's one bare run.
Known peak: tracemalloc's peak (bench/peers_tm.py) in a separate `-X tracemalloc` run
before the batch: bytes held through Python's allocators and NumPy's data buffers at
their high-water mark. A mode that exits non-zero or prints a different checksum is
shown as failed (its stderr tail is printed) and leaves the later rounds.
"""
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

VENV = os.path.abspath(os.environ.get("VENV", ".venv-bench"))
VPY = f"{VENV}/bin/python"          # the venv's interpreter (a symlink: keep it as is)
FILREC = os.environ["FILREC"]
SPAWN = os.environ["SPAWN"]        # bench/spawn.c, built by bench/peers.sh
TMP = os.environ["tmp"]
REPEAT = int(os.environ.get("REPEAT", "5"))
WORKLOADS = os.environ.get("WORKLOADS", "py_alloc py_numpy py_threads py_deep").split()
ONLY = os.environ.get("MODES", "").split()
OUT_MD = os.environ.get("BENCHMARKS", "BENCHMARKS.md")
MiB = 1 << 20


def log(msg):
    print(f"peers: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


# ---- reading each tool's peak (bytes, or None) ---------------------------------------

def peak_filrec(p):
    r = subprocess.run([FILREC, "stats", "--json", p["trace"]], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    if r.returncode != 0:
        return None
    s = json.loads(r.stdout)
    return s["peak_bytes"] if s.get("ended_cleanly") else None


def peak_memray(p):
    # The capture's metadata holds the peak memray computed (as `memray stats` shows).
    import memray
    reader = memray.FileReader(p["trace"], report_progress=False)
    try:
        return int(reader.metadata.peak_memory)
    finally:
        reader.close()


def peak_scalene(p):
    with open(p["json"]) as f:
        d = json.load(f)
    return round(float(d["max_footprint_mb"]) * MiB)   # Scalene's MB are MiB


def peak_fil(p):
    # Fil writes DIR/<timestamp>/peak-memory.prof: one "stack bytes" line per stack
    # live at the peak; their sum is its "Peak Tracked Memory Usage" (the SVG title,
    # which rounds to 0.1 MiB, is the fallback).
    subs = [os.path.join(p["dir"], d) for d in os.listdir(p["dir"])]
    subs = [d for d in subs if os.path.isdir(d)]
    if len(subs) != 1:
        return None
    prof = os.path.join(subs[0], "peak-memory.prof")
    if os.path.exists(prof):
        total = 0
        with open(prof) as f:
            for line in f:
                line = line.strip()
                if line:
                    total += int(line.rsplit(" ", 1)[1])
        return total
    with open(os.path.join(subs[0], "peak-memory.svg")) as f:
        m = re.search(r"Peak Tracked Memory Usage \(([\d.]+) MiB\)", f.read())
    return round(float(m.group(1)) * MiB) if m else None


def peak_mprof(p):
    best = None
    with open(p["dat"]) as f:
        for line in f:
            if line.startswith("MEM "):
                v = float(line.split()[1])             # MiB (RSS)
                best = v if best is None else max(best, v)
    return round(best * MiB) if best is not None else None


def peak_tracemalloc(p):
    with open(p["out"]) as f:
        return int(f.read().split()[0])


def peak_heaptrack(p):
    hp = shutil.which("heaptrack_print")
    data = [p[k] for k in ("zst", "gz") if os.path.exists(p[k])]
    if not hp or not data:
        return None
    r = subprocess.run([hp, "-p", "0", "-a", "0", "-T", "0", "-l", "0", data[0]],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = re.search(r"peak heap memory consumption: ([\d.]+)([BKMGT]?)", r.stdout)
    if not m:
        return None
    # heaptrack_print's units are powers of 1000 (100,000,000 bytes print as 100.00M).
    mult = {"": 1, "B": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]
    return round(float(m.group(1)) * mult)


# ---- each tool's analyzer, timed once on the last round's output ---------------------

def timed(argv):
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return time.perf_counter() - t0, r


def analysis(key, paths):
    """(seconds its analyzer takes on the trace, trace bytes per allocation), or Nones:
    `filrec summary`, `memray summary`, `heaptrack_print`."""
    if key.startswith("filrec") and os.path.exists(paths["trace"]):
        secs, r = timed([FILREC, "summary", paths["trace"]])
        st = json.loads(subprocess.run([FILREC, "stats", "--json", paths["trace"]],
                                       stdout=subprocess.PIPE, text=True).stdout)
        n = st["counts"]["alloc"] + st["counts"]["mmap"]
        return (secs if r.returncode == 0 else None), os.path.getsize(paths["trace"]) / max(n, 1)
    if key.startswith("memray") and os.path.exists(paths["trace"]):
        secs, r = timed([bin_("memray"), "summary", paths["trace"]])
        import memray
        reader = memray.FileReader(paths["trace"], report_progress=False)
        try:
            n = int(reader.metadata.total_allocations)
        finally:
            reader.close()
        return (secs if r.returncode == 0 else None), os.path.getsize(paths["trace"]) / max(n, 1)
    if key == "heaptrack":
        hp = shutil.which("heaptrack_print")
        data = [paths[k] for k in ("zst", "gz") if os.path.exists(paths[k])]
        if hp and data:
            secs, r = timed([hp, data[0]])
            m = re.search(r"calls to allocation functions: (\d+)", r.stdout)
            per = os.path.getsize(data[0]) / int(m.group(1)) if m and int(m.group(1)) else None
            return (secs if r.returncode == 0 else None), per
    return None, None


# ---- modes -----------------------------------------------------------------------------

def bin_(name):
    return f"{VENV}/bin/{name}"


def modes_for(w):
    """(key, label, package or None, argv, paths, peak reader, what the peak counts)."""
    t = TMP
    return [
        ("bare", "bare", None, [VPY, w], {}, None, ""),
        ("filrec", "`filrec run`", "filrec",
         [FILREC, "run", "-f", "-o", f"{t}/f.bin", "--no-report", "--python", VPY, w],
         {"trace": f"{t}/f.bin"}, peak_filrec,
         "malloc + mmap, whole run (pymalloc arenas, not single objects)"),
        ("filrec-A", "`filrec run --python-allocators`", "filrec",
         [FILREC, "run", "-f", "-o", f"{t}/fa.bin", "--no-report", "--python-allocators",
          "--python", VPY, w],
         {"trace": f"{t}/fa.bin"}, peak_filrec,
         "malloc + mmap + every Python object, whole run"),
        ("filrec-N", "`filrec run --native`", "filrec",
         [FILREC, "run", "-f", "-o", f"{t}/fn.bin", "--no-report", "--native",
          "--python", VPY, w],
         {"trace": f"{t}/fn.bin"}, peak_filrec,
         "as `filrec run`, with native stacks"),
        ("filrec-S", "`filrec run --sample 512KiB`", "filrec",
         [FILREC, "run", "-f", "-o", f"{t}/fs.bin", "--no-report", "--sample", "512KiB",
          "--python", VPY, w],
         {"trace": f"{t}/fs.bin"}, peak_filrec,
         "as `filrec run`, sampled: an estimate (blocks of 512 KiB or more exact)"),
        ("filrec-SA", "`filrec run --sample 512KiB --python-allocators`", "filrec",
         [FILREC, "run", "-f", "-o", f"{t}/fsa.bin", "--no-report", "--sample", "512KiB",
          "--python-allocators", "--python", VPY, w],
         {"trace": f"{t}/fsa.bin"}, peak_filrec,
         "as `filrec run --python-allocators`, sampled: an estimate"),
        ("memray", "`memray run`", "memray",
         [bin_("memray"), "run", "-q", "-f", "-o", f"{t}/m.bin", w],
         {"trace": f"{t}/m.bin"}, peak_memray,
         "malloc + mmap from when memray starts tracking (after start-up)"),
        ("memray-native", "`memray run --native`", "memray",
         [bin_("memray"), "run", "-q", "-f", "--native", "-o", f"{t}/mn.bin", w],
         {"trace": f"{t}/mn.bin"}, peak_memray,
         "as `memray run`, with native stacks"),
        ("memray-A", "`memray run --trace-python-allocators`", "memray",
         [bin_("memray"), "run", "-q", "-f", "--trace-python-allocators", "-o", f"{t}/ma.bin", w],
         {"trace": f"{t}/ma.bin"}, peak_memray,
         "as `memray run`, plus pymalloc's object allocations (PyMem_/PyObject_)"),
        ("scalene", "`scalene run --memory`", "scalene",
         [bin_("scalene"), "run", "--memory", "--no-stacks", "--no-async", "-o", f"{t}/sc.json", w],
         {"json": f"{t}/sc.json"}, peak_scalene,
         "sampled footprint (`max_footprint_mb`); CPU profiling cannot be turned off"),
        ("fil", "`fil-profile run`", "filprofiler",
         [bin_("fil-profile"), "-o", f"{t}/fil", "--no-browser", "run", w],
         {"dir": f"{t}/fil"}, peak_fil,
         "malloc + mmap from when Fil starts tracing; Fil runs Python with PYTHONMALLOC=malloc (every object through malloc)"),
        ("mprof", "`mprof run` (memory_profiler)", "memory_profiler",
         [bin_("mprof"), "run", "-o", f"{t}/mp.dat", w],
         {"dat": f"{t}/mp.dat"}, peak_mprof,
         "largest RSS sample (every 0.1 s) of the process running the script: mprof runs a .py inside its own `python -m memory_profiler`"),
        ("tracemalloc", "`-X tracemalloc` (bench/peers_tm.py)", "tracemalloc",
         [VPY, "-X", "tracemalloc", "bench/peers_tm.py", f"{t}/tm.txt", w],
         {"out": f"{t}/tm.txt"}, peak_tracemalloc,
         "Python heap + NumPy data (the known peak's own measure)"),
        ("heaptrack", "`heaptrack`", "heaptrack",
         [shutil.which("heaptrack") or "heaptrack", "-o", f"{t}/ht", VPY, w],
         {"zst": f"{t}/ht.zst", "gz": f"{t}/ht.gz"}, peak_heaptrack,
         "malloc family only (no mmap: pymalloc arenas and mmap'd buffers unseen)"),
    ]


def clean(paths):
    for p in paths.values():
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.unlink(p)


def run_measured(argv, paths):
    """Run argv under bench/spawn.c's launcher: wall s, CPU s and max RSS KiB (its
    process tree), exit code, stdout, stderr. Exit 127: could not be started."""
    clean(paths)
    if "dir" in paths:
        os.makedirs(paths["dir"])
    res = f"{TMP}/rusage"
    if os.path.exists(res):
        os.unlink(res)
    outf, errf = open(f"{TMP}/out", "w+"), open(f"{TMP}/err", "w+")
    pid = os.posix_spawn(SPAWN, [SPAWN, res, *argv], os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, outf.fileno(), 1),
                                       (os.POSIX_SPAWN_DUP2, errf.fileno(), 2)])
    _, status = os.waitpid(pid, 0)
    outf.seek(0)
    errf.seek(0)
    out, err = outf.read(), errf.read()
    outf.close()
    errf.close()
    if os.waitstatus_to_exitcode(status) != 0 or not os.path.exists(res):
        die(f"the launcher {SPAWN} failed on {' '.join(argv)}:\n{tail(err)}")
    wall, cpu, rss, code = read(res).split()
    return float(wall), float(cpu), int(rss), int(code), out, err


def tail(text, n=15):
    return "\n".join(text.rstrip().splitlines()[-n:])


# ---- machine, versions -----------------------------------------------------------------

def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def cpu_model():
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def git(*args):
    r = subprocess.run(["git", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def versions():
    v = {"python": platform.python_version()}
    for pkg in ("numpy", "memray", "scalene", "filprofiler", "memory_profiler"):
        try:
            v[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            v[pkg] = None
    ht = shutil.which("heaptrack")
    v["heaptrack"] = None
    if ht:
        r = subprocess.run([ht, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        m = re.search(r"(\d+\.\d+[\w.]*)", r.stdout)
        v["heaptrack"] = m.group(1) if m else "unknown version"
    v["tracemalloc"] = f"Python {v['python']}"
    rev = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    v["filrec"] = (f"commit {rev}" + (" with uncommitted changes" if dirty else "")) if rev else "unknown"
    return v


def skipped_installs():
    """{package: reason} from peers.sh's record of what did not install."""
    out = {}
    for line in read(f"{VENV}/skipped.txt").splitlines():
        spec, _, why = line.partition("\t")
        name = re.split(r"[=<>!~ ]", spec, 1)[0].strip().lower().replace("-", "_")
        out[name] = why.strip() or "did not install"
    return out


# ---- formatting ------------------------------------------------------------------------

def mb(b):
    """Bytes as decimal MB (10^6), digits by size."""
    if b is None:
        return "n/a"
    x = b / 1e6
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 1000 else f"{x:.0f}"


def peak_cell(peaks):
    got = [p for p in peaks if p is not None]
    if not got:
        return "n/a", None
    med = statistics.median(got)
    cell = mb(med)
    lo, hi = mb(min(got)), mb(max(got))
    if lo != hi:
        cell += f" ({lo} - {hi})"
    if len(got) < len(peaks):
        cell += f" ({len(peaks) - len(got)} n/a)"
    return cell, med


# ---- the batch -------------------------------------------------------------------------

def write_chart(chart):
    """bench/peers.svg: the ratios to bare as grouped bars (gnuplot); 1 if written."""
    gp = shutil.which("gnuplot")
    labels = [l for l in next(iter(chart.values()), {}) if l != "bare"]
    if not gp or not labels:
        return 0
    data = f"{TMP}/chart.dat"
    with open(data, "w") as f:
        f.write("workload " + " ".join(f'"{l.strip("`")}"' for l in labels) + "\n")
        for w, ratios in chart.items():
            f.write(w + " " + " ".join(f"{ratios.get(l, float('nan')):.3f}" for l in labels) + "\n")
    script = f"""set terminal svg size 1100,520 dynamic font "sans,11"
set output "bench/peers.svg"
set termoption noenhanced
set title "Wall time over the bare run (lower is better; log scale)"
set style data histograms
set style histogram clustered gap 2
set style fill solid 0.85 border -1
set logscale y 2
set yrange [0.8:*]
set ytics (1, 1.5, 2, 3, 5, 10, 20, 50)
set grid ytics
set key outside right top vertical font ",9"
set xtics nomirror
plot for [i=2:{len(labels) + 1}] "{data}" using i:xtic(1) title columnheader(i)
"""
    r = subprocess.run([gp], input=script, text=True, stderr=subprocess.PIPE)
    if r.returncode != 0:
        log(f"gnuplot could not draw the chart: {tail(r.stderr)}")
        return 0
    return 1


def main():
    vers = versions()
    not_installed = skipped_installs()
    t_start = time.time()
    load_before = [float(x) for x in read("/proc/loadavg", "0 0 0").split()[:3]]
    sections, skipped_notes, fatal = [], {}, []
    chart = {}                                # workload -> {label: ratio to bare}

    for script in WORKLOADS:
        w = f"bench/{script}.py"
        prefix = script + ":"
        modes = []
        for m in modes_for(w):
            key, label, pkg = m[0], m[1], m[2]
            if ONLY and key not in ONLY and key != "bare":
                continue
            if pkg in not_installed:
                skipped_notes[label] = f"`{pkg}` does not install for Python {vers['python']}: {not_installed[pkg]}"
                continue
            if pkg in ("memray", "scalene", "filprofiler", "memory_profiler") and vers.get(pkg) is None:
                skipped_notes[label] = f"`{pkg}` is not installed in {os.path.basename(VENV)}"
                continue
            if key == "heaptrack" and not shutil.which("heaptrack"):
                skipped_notes[label] = "heaptrack is not installed (Debian: apt-get install heaptrack)"
                continue
            modes.append(m)

        # The known peak: a separate tracemalloc run, before the batch.
        log(f"{script}: known peak (a -X tracemalloc run)")
        kpath = f"{TMP}/known.txt"
        k = run_measured([VPY, "-X", "tracemalloc", "bench/peers_tm.py", kpath, w], {"out": kpath})
        known = None
        if k[3] == 0:
            known = peak_tracemalloc({"out": kpath})
        else:
            log(f"{script}: the known-peak run failed (exit {k[3]}):\n{tail(k[5])}")

        res = {m[0]: [] for m in modes}      # key -> [(wall, cpu, rss, peak)]
        failed = {}                           # key -> reason
        expected = None

        def one(m, rnd):
            nonlocal expected
            key, label, _, argv, paths, reader, _ = m
            wall, cpu, rss, code, out, err = run_measured(argv, paths)
            lines = [l for l in out.splitlines() if l.startswith(prefix)]
            if code != 0:
                why = f"failed (exit {code})"
            elif len(lines) != 1:
                why = "failed (no checksum line)"
            elif expected is not None and lines[0] != expected:
                why = f"failed (printed `{lines[0]}`)"
            else:
                why = None
            if why:
                failed[key] = why
                log(f"{script}: {label} {why} in {rnd}: {' '.join(argv)}\n{tail(out + err)}")
                return None
            if expected is None:
                expected = lines[0]
            peak = None
            if reader:
                try:
                    peak = reader(paths)
                except Exception as e:  # a format we do not understand: n/a, not a guess
                    log(f"{script}: cannot read {label}'s peak: {e!r}")
            return wall, cpu, rss, peak

        (bare_mode,) = [m for m in modes if m[0] == "bare"]
        log(f"{script}: warm-up, {len(modes)} modes")
        for m in modes:
            r = one(m, "the warm-up")
            if m[0] == "bare" and r is None:
                die(f"{script}: the bare run failed")
        for rep in range(REPEAT):
            live = [m for m in modes if m[0] not in failed]
            k0 = rep % len(live)
            log(f"{script}: round {rep + 1}/{REPEAT}")
            for m in live[k0:] + live[:k0]:
                if m[0] == "bare":
                    continue
                pair = one(bare_mode, f"round {rep + 1}")
                if pair is None:
                    die(f"{script}: the bare run failed")
                res["bare"].append((rep, *pair, pair[0]))
                r = one(m, f"round {rep + 1}")
                if r is not None:
                    res[m[0]].append((rep, *r, pair[0]))

        log(f"{script}: the analyzers, once each")
        analyzed = {m[0]: analysis(m[0], m[4]) for m in modes if m[0] not in failed}
        ratios = {}
        rows = []
        for key, label, pkg, argv, paths, reader, counts in modes:
            if key in failed:
                rows.append(f"| {label} | {failed[key]} | | | | | | | | | | | {counts} |")
                if pkg == "filrec":
                    fatal.append(f"{script}: {label} {failed[key]}")
                continue
            rs = res[key]
            walls = [r[1] for r in rs]
            ratio = statistics.median(r[1] / r[5] for r in rs)
            cpu = statistics.median(r[2] for r in rs)
            cratio = cpu / statistics.median(r[2] for r in res["bare"])
            rss = max(r[3] for r in rs) * 1024
            cell, med = peak_cell([r[4] for r in rs]) if reader else ("", None)
            vs = f"{med / known:.2f}x" if med is not None and known else ""
            secs, per = analyzed.get(key, (None, None))
            ratios[label] = ratio
            rows.append(f"| {label} | {statistics.median(walls):.3f} | {min(walls):.3f} - {max(walls):.3f} "
                        f"| **{ratio:.2f}x** | {cpu:.3f} | {cratio:.2f}x | {mb(rss)} | {cell} | "
                        f"{mb(known) if reader else ''} | {vs} | "
                        f"{f'{per:.1f}' if per is not None else ''} | "
                        f"{f'{secs:.2f}' if secs is not None else ''} | {counts} |")
        sections.append((script, expected, known, rows))
        chart[script] = ratios

    load_after = [float(x) for x in read("/proc/loadavg", "0 0 0").split()[:3]]
    minutes = (time.time() - t_start) / 60
    ncpu = len(os.sched_getaffinity(0))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in ("REPEAT", "WORKLOADS", "MODES", "SCALE")
                   if os.environ.get(k) and not (k == "REPEAT" and os.environ[k] == "5"))
    cmd = (env + " " if env else "") + "bench/peers.sh"
    busy = max(load_before[0], load_after[0]) > 0.5 * ncpu + 0.5

    def ver(pkg, label):
        return f"{label} {vers[pkg]}" if vers.get(pkg) else f"{label} (not installed)"

    L = ["<!-- peers:begin -->", "## Peers: filrec next to other Python memory profilers", "",
         "The same workloads as above, run under filrec and under the other tools, "
         "interleaved in one batch per workload, all with the same interpreter (a venv of "
         "Debian's python3, `.venv-bench`, holding the peers from PyPI at the versions pinned in "
         "`bench/peers-requirements.txt`; none of them is a dependency of filrec). "
         "The peak each tool reports is set beside the workload's known peak.", "",
         f"- Machine: nproc {ncpu}, {cpu_model()}; Linux {platform.release()}, "
         f"{' '.join(platform.libc_ver())}; Debian {read('/etc/debian_version', '?')}; "
         f"Python {vers['python']} (`{VPY.replace(os.getcwd() + '/', '')}`, base `{os.path.realpath(VPY)}`)",
         f"- Date: {now}; filrec {vers['filrec']}; the batch took {minutes:.0f} min",
         "- Versions: " + ", ".join([ver("memray", "memray"), ver("scalene", "Scalene"),
                                     ver("filprofiler", "filprofiler (Fil)"),
                                     ver("memory_profiler", "memory_profiler"),
                                     ver("heaptrack", "heaptrack (Debian)"),
                                     f"tracemalloc (Python {vers['python']})",
                                     ver("numpy", "NumPy")]),
         f"- Command: `{cmd}`; one warm-up run of each mode, then {REPEAT} interleaved rounds "
         "(each starting with a different mode). Wall: median of the whole command "
         "(start-up and writing the tool's output included; min - max). Ratio to bare: median "
         "over rounds of the run's wall time over that of a bare run just before it (each run "
         "has a bare run of its own: the bare row counts them all). CPU: median user + "
         "sys of the whole process tree (wait4 of the command by `bench/spawn.c`, a small "
         "launcher: helper processes included); CPU ratio: over bare's median CPU. Max RSS: largest over the runs of ru_maxrss, "
         "the largest single process of the tree, not a sum: the profiled program (under "
         "mprof, its Python process holding memory_profiler and the script), except under "
         "heaptrack (its `heaptrack_interpret`). MB = 10^6 bytes.",
         "- Reported peak: what the tool itself says, read from its output after every round "
         "(median, min - max when the rounds differ): `filrec stats --json` peak_bytes; memray's "
         "capture metadata (`memray stats`' peak); Scalene's JSON `max_footprint_mb` (MiB); "
         "Fil's `peak-memory.prof` summed (its \"Peak Tracked Memory Usage\"); the largest "
         "sample of mprof's .dat (MiB of RSS); `tracemalloc.get_traced_memory()` at exit "
         "(`bench/peers_tm.py`: the tracemalloc row times that runner); `heaptrack_print`'s "
         "\"peak heap memory consumption\" (2 decimals). n/a: not parseable.",
         "- Known peak: `tracemalloc.get_traced_memory()` peak of a separate `-X tracemalloc` "
         "run before the batch: every byte held through Python's allocators and NumPy's data "
         "buffers at their high-water mark, exactly, the interpreter's start-up included. "
         "Native memory outside them (OpenBLAS's buffers, pymalloc arenas' free space, "
         "libraries' own malloc) is not in it, so whole-process tools may read higher; "
         "the tracemalloc row equals it by construction.",
         f"- Load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in load_before)} before, "
         f"{', '.join(f'{x:.2f}' for x in load_after)} after"
         + (f". **The machine was busy** (other jobs on its {ncpu} CPUs): wall times are noisy."
            if busy else ""),
         ]
    for label, why in skipped_notes.items():
        L.append(f"- Skipped: {label}: {why}")
    L.append("")
    what = {"py_alloc": "allocation-heavy pure Python (`bench/py_alloc.py`)",
            "py_numpy": "NumPy, few large allocations (`bench/py_numpy.py`)",
            "py_threads": "pure Python in 4 threads taking turns (`bench/py_threads.py`)",
            "py_deep": "allocation at recursion depth 200 (`bench/py_deep.py`)"}
    known_note = {"py_numpy": " Of it, 112.0 MB are NumPy arrays, exactly (7 arrays of 16 MB "
                              "live at once in `arithmetic`, derived in `bench/py_numpy.py`'s docstring)."}
    for script, output, known, rows in sections:
        L += [f"### {script}: {what.get(script, script)}", "",
              f"Output, identical in every run that worked: `{output}`. "
              f"Known peak: {mb(known)} MB.{known_note.get(script, '')}", "",
              "| tool | wall (s) | range (s) | ratio to bare | CPU (s) | CPU ratio | max RSS (MB) "
              "| reported peak (MB) | known peak (MB) | reported / known "
              "| trace bytes per allocation | analyzer (s) | what the peak counts |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|", *rows, ""]
    if write_chart(chart):
        L += ["![Ratio to bare of every tool on every workload](bench/peers.svg)", "",
              "The chart (`bench/peers.svg`, drawn by gnuplot from the tables above) shows "
              "each tool's ratio to bare, one group of bars per workload, on a log scale.", ""]
    L.append("<!-- peers:end -->")
    section = "\n".join(L) + "\n"
    print(section, end="")
    subprocess.run([sys.executable, "bench/md_section.py", "peers", OUT_MD], input=section,
                   text=True, check=True)
    if fatal:
        die("; ".join(fatal))


if __name__ == "__main__":
    main()
