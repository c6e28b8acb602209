"""threads: 8 threads x 1,000,000 mallocs, half of the frees made by another thread."""
import os
import subprocess
import threading
import time

import pytest

from conftest import TIMEOUT, program_answer

WORKERS = 8


def check_threads(a, s):
    """The trace of tests/progs/threads holds exactly what the program did."""
    assert a["threads"] == WORKERS
    assert s["ended_cleanly"] is True
    assert s["threads"] == WORKERS + 1          # the main thread and the workers
    assert s["counts"]["thread_start"] == WORKERS

    # Besides the program's own mallocs, each pthread_create makes one allocation: the
    # new thread's DTV, calloc'ed by ld.so (_dl_allocate_tls -> allocate_dtv). Thread
    # stacks are mmap'ed inside glibc, which no hook sees, and the recorder's own
    # per-thread record is made with the real malloc. The DTVs stay live to the end:
    # the program's 256 KiB stacks all fit glibc's 40 MiB stack cache, so pthread_join
    # frees none (with default 8 MiB stacks it would free the DTVs of 4 of them).
    assert s["counts"]["alloc"] == a["allocs"] + WORKERS
    assert s["counts"]["free"] == a["frees"]
    assert s["unmatched_frees"] == 0
    assert s["counts"]["mmap"] == 0

    # The DTVs' bytes, as the trace itself measures them: the workers are held at a
    # barrier between the markers, so only pthread_create allocates there. A DTV is an
    # array of 16-byte entries; the same size for every thread.
    marks = {m["label"]: m["live_bytes"] for m in s["markers"]}
    dtvs = marks["created"] - marks["creating"]
    assert marks["creating"] == 0
    assert dtvs % WORKERS == 0 and (dtvs // WORKERS) % 16 == 0
    assert 0 < dtvs // WORKERS <= 4096
    assert s["live_at_exit_bytes"] == a["leaked"] + dtvs
    # The barriers order every thread's mallocs of a round before any thread's frees:
    # merged by time, the peak is one whole round, exactly.
    assert s["peak_bytes"] == a["peak"] + dtvs


@pytest.mark.parametrize("lanes", ["never", "always", "auto"])
def test_stats_threads_cross_thread_frees(record, monkeypatch, lanes):
    """One shared log, a log per thread from the first turn, and a log per thread once
    threads take turns fast (these do): the same exact trace."""
    if lanes:
        monkeypatch.setenv("FILREC_LANES", lanes)
    r = record("threads")
    check_threads(r.answer, r.stats)


def copy_with_stalls(src, dst, every=4 << 20, stall_s=0.2):
    """Copy a FIFO to a file, stalling stall_s at the start and after every `every`
    bytes: a disk that keeps falling behind."""
    with open(src, "rb", buffering=0) as i, open(dst, "wb") as o:
        since = every
        while True:
            if since >= every:
                time.sleep(stall_s)
                since = 0
            b = i.read(65536)
            if not b:
                return
            o.write(b)
            since += len(b)


def run_behind_a_slow_sink(filrec, argv, tmp_path, name):
    """`filrec run -o FIFO -- argv` while the FIFO's reader stalls; returns the run and
    the trace copied out of it."""
    fifo, trace = tmp_path / f"{name}.fifo", tmp_path / f"{name}.bin"
    os.mkfifo(fifo)
    copier = threading.Thread(target=copy_with_stalls, args=(fifo, trace))
    copier.start()
    try:
        r = subprocess.run([filrec, "run", "-o", str(fifo), "--", *argv],
                           capture_output=True, text=True, timeout=TIMEOUT)
    finally:
        if copier.is_alive() and not trace.exists():
            open(fifo, "wb").close()            # filrec never opened it: unblock
        copier.join()
    return r, trace


def test_stats_threads_slow_trace_sink(filrec, prog, stats, tmp_path):
    """The same program while the trace's reader keeps stalling, so every record buffer
    fills and the threads wait for the writer (backpressure): nothing may be lost,
    doubled or corrupted while they wait."""
    r, trace = run_behind_a_slow_sink(filrec, [prog("threads")], tmp_path, "threads")
    assert r.returncode == 0, r.stderr
    assert "recording stopped" not in r.stderr, r.stderr
    p, s = stats(trace, asan=False)
    assert p.returncode == 0, p.stderr
    check_threads(program_answer(r.stdout), s)


@pytest.mark.parametrize("lanes", ["never", "auto"])
def test_stats_threads_start_while_the_log_is_full(filrec, prog, stats, tmp_path,
                                                   monkeypatch, lanes):
    """Threads that make their first record while the others keep the log full behind
    a stalling trace reader: a writer waiting for room drops the lock, and a thread let
    in meanwhile took the same thread index (the trace then read "thread start out of
    order", or two threads' events as one's). Each thread gets its own, in order, and
    every event is there."""
    monkeypatch.setenv("FILREC_LANES", lanes)
    for attempt in range(5):
        r, trace = run_behind_a_slow_sink(filrec, [prog("staggered")], tmp_path, f"s{attempt}")
        assert r.returncode == 0, r.stderr
        assert "recording stopped" not in r.stderr, r.stderr
        p, s = stats(trace, asan=attempt == 0)
        assert p.returncode == 0, p.stderr
        a = program_answer(r.stdout)
        assert s["ended_cleanly"] is True
        assert s["threads"] == a["threads"] + 1
        assert s["counts"]["thread_start"] == a["threads"]
        # Each pthread_create also makes one DTV (see check_threads), live to the end.
        assert s["counts"]["alloc"] == a["allocs"] + a["threads"]
        assert s["counts"]["free"] == a["frees"]
        assert s["unmatched_frees"] == 0
        dtvs = s["total_allocated_bytes"] - a["bytes"]
        assert 0 < dtvs <= 4096 * a["threads"]
        assert s["live_at_exit_bytes"] == dtvs


@pytest.mark.parametrize("lanes", ["never", "always", "auto"])
def test_stats_threads_handoff_both_ways(record, monkeypatch, lanes):
    """Blocks made in one thread and freed in another at full speed, their addresses
    coming back through glibc's per-thread arenas: every free is after its block's
    malloc and before the next malloc at its address, or the counts below break."""
    if lanes:
        monkeypatch.setenv("FILREC_LANES", lanes)
    r = record("handoff")
    a, s = r.answer, r.stats
    assert s["ended_cleanly"] is True
    assert s["threads"] == 2 * a["pairs"] + 1
    assert s["unmatched_frees"] == 0
    assert s["counts"]["free"] == a["frees"]
    # Besides the blocks, only ld.so's DTVs and stdout's buffer: few, and all live at the
    # end. So every block the program made was freed in the trace, after it was made.
    extra = s["total_allocated_bytes"] - a["bytes"]
    assert 0 < s["counts"]["alloc"] - a["allocs"] <= 2 * a["pairs"] + 2
    assert s["live_at_exit_bytes"] == extra
    assert 0 < s["peak_bytes"] <= a["max_live"] + extra


@pytest.mark.parametrize("name", ["threads", "handoff", "mmaps", "resident", "known_peak"])
def test_one_pass_reports_equal_the_replay_to_the_peak(record, filrec, tmp_path, name):
    """summary, flamegraph, export and report keep what was live at the peak as they read
    the trace once; FILREC_TWO_PASS=1 makes them replay to the peak instead, as they
    did before. Both must write the same bytes, whatever the trace holds (threads,
    frees across threads, mappings counted by their resident pages)."""
    t = record(name).trace
    two = dict(os.environ, FILREC_TWO_PASS="1")
    for argv in (["summary", "--json"], ["summary", "--by", "stack", "--json"],
                 ["flamegraph", "-o", "{out}.svg"], ["export", "--format", "folded", "-o", "{out}"],
                 ["export", "--format", "json", "-o", "{out}"], ["report", "-o", "{out}.d"]):
        got = []
        for which, env in (("one", os.environ), ("two", two)):
            out = str(tmp_path / f"{name}-{which}")
            p = subprocess.run([filrec, *[a.format(out=out) for a in argv], str(t)],
                               capture_output=True, text=True, env=env, timeout=TIMEOUT)
            assert p.returncode == 0, (argv, p.stderr)
            files = sorted(tmp_path.glob(f"{name}-{which}*"))
            data = [p.stdout]
            for f in files:
                for g in sorted(f.rglob("*")) if f.is_dir() else [f]:
                    data.append(g.read_bytes().replace(f"{name}-{which}".encode(), b"X"))
                    g.unlink() if g.is_file() else None
            got.append(data)
        assert got[0] == got[1], argv


def test_stats_threads_more_owners_than_flags(record):
    """160 threads, 80 at a time, each taking the log's bias in turn (slow turns): the
    first 64 get a flag of their own, the rest stay on the lock until a dead thread's
    flag is taken over. Every event is there, once."""
    r = record("turns")
    a, s = r.answer, r.stats
    assert s["ended_cleanly"] is True
    assert s["threads"] == a["threads"] + 1
    assert s["counts"]["thread_start"] == a["threads"]
    assert s["unmatched_frees"] == 0
    assert s["counts"]["free"] == a["frees"]
    # One DTV per pthread_create that did not get a cached stack's back: at most one per
    # thread, all live at the end (check_threads).
    dtvs = s["counts"]["alloc"] - a["allocs"]
    assert 0 < dtvs <= a["threads"]
    assert s["live_at_exit_bytes"] == s["total_allocated_bytes"] - a["bytes"]
    assert 0 < s["live_at_exit_bytes"] <= 4096 * dtvs


@pytest.mark.parametrize("lanes", ["never", "auto"])
def test_stats_threads_exit_while_others_allocate(filrec, prog, stats, tmp_path,
                                                  monkeypatch, lanes):
    """exit() while 4 threads allocate without pause, behind a stalling trace reader:
    the trailer's wait for room drops the lock, and the others used to write after it
    (the sink then said "its log is damaged" and the trace ended early, 5 runs of 5)."""
    monkeypatch.setenv("FILREC_LANES", lanes)
    for attempt in range(3):
        r, trace = run_behind_a_slow_sink(filrec, [prog("exit_busy")], tmp_path, f"e{attempt}")
        assert r.returncode == 0, r.stderr
        assert "damaged" not in r.stderr and "recording stopped" not in r.stderr, r.stderr
        p, s = stats(trace, asan=attempt == 0)
        assert p.returncode == 0, p.stderr
        assert s["ended_cleanly"] is True
        assert s["threads"] == program_answer(r.stdout)["threads"] + 1
        assert s["unmatched_frees"] == 0
        assert s["counts"]["alloc"] > 10000       # they were recorded up to the end
