"""known_peak: one known peak built with every hooked allocator, freed down to a leak."""

# What libc may allocate by itself while recording (stdio buffers, locale data...). The
# recorder starts in its constructor, after libc and ld.so are set up, and known_peak
# uses no stdio, so in practice nothing of libc's is recorded; the margin is the bound
# the issue sets, and live-at-exit below stays exact.
LIBC_MARGIN = 64 * 1024


def test_stats_known_peak(record):
    r = record("known_peak")
    a, s = r.answer, r.stats
    assert s["ended_cleanly"] is True
    assert a["peak"] <= s["peak_bytes"] <= a["peak"] + LIBC_MARGIN
    # Nothing but the program's own leak is live at exit: no stdio buffers were made,
    # and the 1 MiB blocks glibc maps internally count once, as allocations.
    assert s["live_at_exit_bytes"] == a["leaked"]
    assert s["counts"]["mmap"] == 0
    assert s["threads"] == 1


def test_stats_known_peak_counts_each_call_once(record):
    """One ALLOC per allocation and one FREE per free, whichever allocator: a hook that
    calls another hooked function (glibc's reallocarray calls realloc through the PLT)
    must not record the event twice."""
    r = record("known_peak")
    a, s = r.answer, r.stats
    assert s["counts"]["alloc"] == a["allocs"]
    assert s["counts"]["free"] == a["frees"]
    assert s["unmatched_frees"] == 0
    assert s["total_allocated_bytes"] == a["total"]
