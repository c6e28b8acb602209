"""mmaps: anonymous mappings cut, grown, shrunk and moved, checked at each marker."""


def test_stats_mmaps_markers(record):
    r = record("mmaps")
    a, s = r.answer, r.stats
    assert a["marked"] is True, "filrec_mark was not found with dlsym"
    expect = a["expect"]
    marks = s["markers"]
    assert [m["label"] for m in marks] == list(expect)
    assert all(m["type"] == "point" and m["thread"] == 0 for m in marks)
    # Whatever was live before the first mapping stays live throughout.
    base = marks[0]["live_bytes"]
    got = {m["label"]: m["live_bytes"] - base for m in marks}
    assert got == expect
    assert s["peak_bytes"] == base + max(expect.values())
    assert s["live_at_exit_bytes"] == base + expect["end"]
    # Three anonymous mmaps (the file mapping is not one) and three mremaps.
    assert s["counts"]["mmap"] == 3
    assert s["counts"]["mremap"] == 3
    assert s["ended_cleanly"] is True
