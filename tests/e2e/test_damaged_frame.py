"""A damaged frame in the middle of a trace ends its readable part (FORMAT.md, Body rule
6): every verb analyzes the frames before it, as it does for a file cut there, and
warns with the frame's offset and what is wrong. Known answers: tests/progs/phases.c
writes a frame per block, so a prefix holds its first k blocks, 10, 20, 30, 40 MB."""
import json
import re
import subprocess

from test_stats_hostile import frame_starts

PARTIAL = {0, 10_000_000, 30_000_000, 60_000_000, 100_000_000}


def test_damaged_middle_frame_reads_as_the_part_before(filrec, prog, tmp_path):
    trace = tmp_path / "p.bin"
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--", prog("phases")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    data = trace.read_bytes()
    body = 16 + int.from_bytes(data[12:16], "little") + 4
    starts = frame_starts(data, body)
    assert len(starts) >= 4, starts  # a frame a block, and the trailer's

    def run(path, *verb):
        p = subprocess.run([filrec, *verb, str(path)], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        return p

    seen = set()
    for f, nxt in zip(starts[1:], starts[2:]):  # frames with one before and one after
        cut = tmp_path / f"cut-{f}.bin"
        cut.write_bytes(data[:f])
        blob = bytearray(data)
        blob[(f + nxt) // 2] ^= 0x10  # inside its compressed blocks: fails its checksum
        bad = tmp_path / f"bad-{f}.bin"
        bad.write_bytes(bytes(blob))
        for verb in (["summary", "--json", "--top", "0"], ["stats", "--json"]):
            want, got = run(cut, *verb), run(bad, *verb)
            assert re.fullmatch(rf"filrec: warning: '{re.escape(str(bad))}' is damaged: "
                                rf"offset {f}: corrupt compressed frame: [^\n]*; analyzing "
                                rf"the part before it\n", got.stderr), got.stderr
            w, g = json.loads(want.stdout), json.loads(got.stdout)
            for k in ("trace", "trace_bytes", "bytes_per_event"):  # the files differ
                w.pop(k, None), g.pop(k, None)
            assert g == w, f"damaged at {f} differs from cut at {f}"
        rep = tmp_path / f"bad-{f}-report"
        run(bad, "report", "-o", str(rep))
        page = (rep / "index.html").read_text()
        assert "(the trace is damaged: only the part before the damage is shown)" in page
        assert re.search(rf'<dd id="damage">offset {f}: corrupt compressed frame: ', page)
        peak = json.loads(run(bad, "stats", "--json").stdout)["peak_bytes"]
        (p,) = [k for k in PARTIAL if k <= peak <= k + 1_000_000]  # and libc's little
        seen.add(p)
    assert len(seen) >= 2, seen  # the damage was in different places of the run
