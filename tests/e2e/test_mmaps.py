"""mmaps: anonymous mappings cut, grown, shrunk and moved, checked at each marker;
resident: large mappings counted by their resident pages."""
import json
import subprocess


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


def test_stats_resident_markers(record):
    """Large mappings count the pages that became resident: written anonymous pages,
    pages of a PROT_NONE reservation once made writable and written, copied-on-write
    pages of a private file mapping; not untouched pages, read file pages or a shared
    file mapping. Pieces left by munmap and a mapping moved by mremap keep theirs."""
    r = record("resident")
    a, s = r.answer, r.stats
    assert a["marked"] is True, "filrec_mark was not found with dlsym"
    assert s["mappings_measured"] is True
    expect = a["expect"]
    marks = s["markers"]
    assert [m["label"] for m in marks] == list(expect)
    base = marks[0]["live_bytes"]
    got = {m["label"]: m["live_bytes"] - base for m in marks}
    assert got == expect
    assert s["peak_bytes"] == base + max(expect.values())
    # The 64 MiB mapping held 32 MiB at the peak: the rest is shown apart.
    assert s["peak_untouched_bytes"] == a["untouched_at_peak"]
    assert s["counts"]["resident"] >= 5
    # The shared file mapping is not one of them.
    assert s["counts"]["mmap"] == 3


def test_summary_resident_says_untouched(filrec, prog, tmp_path):
    """summary names the untouched bytes next to the peak, in text and JSON, and
    `filrec run`'s last line says the peak does not count them."""
    trace = tmp_path / "r.bin"
    r = subprocess.run([filrec, "run", "-o", str(trace), "--", prog("resident")],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "(not counting 33.6 MB mapped but never touched)" in r.stderr, r.stderr
    t = subprocess.run([filrec, "summary", str(trace)], capture_output=True, text=True)
    assert t.returncode == 0, t.stderr
    lines = t.stdout.splitlines()
    assert lines[0].startswith("peak:        33.6 MB at ")
    assert lines[1] == "reserved:    33.6 MB more mapped but never touched (not counted)"
    j = json.loads(subprocess.run([filrec, "summary", "--json", str(trace)],
                                  capture_output=True, text=True, check=True).stdout)
    assert j["untouched_bytes"] == 32 << 20
    assert j["mappings_measured"] is True
