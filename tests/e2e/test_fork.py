"""fork: the parent's trace holds the parent's events only, and names the child."""


def test_stats_fork_child_absent(record):
    r = record("fork")
    a, s = r.answer, r.stats
    assert s["ended_cleanly"] is True   # the child's exit() wrote no trailer of its own
    assert s["forks"] == [a["child"]]
    assert s["counts"]["fork"] == 1
    # The child allocated 64 MiB and mapped 8 MiB; none of it may show here.
    assert s["peak_bytes"] == a["peak"]
    assert s["live_at_exit_bytes"] == a["live"]
    assert s["counts"]["alloc"] == a["allocs"]
    assert s["counts"]["free"] == a["frees"]
    assert s["counts"]["mmap"] == 0
    assert s["pid"] == a["pid"]
