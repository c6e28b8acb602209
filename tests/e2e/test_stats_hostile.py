"""`filrec stats` on damaged traces: a real trace cut at many offsets and with single
bytes flipped. Whatever the damage, stats either refuses the trace (exit 1, exactly one
stderr line `filrec: 'TRACE': offset N: ...`, nothing on stdout) or reports numbers it can
stand behind: a cut trace ends early and never counts more than the whole one; a flipped
byte the format cannot notice must leave every number unchanged. Never a crash, never a
sanitizer report. Uses the ASan+UBSan build ($FILREC_ASAN_BUILD) when there is one.
"""
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ERROR_LINE = re.compile(r"^filrec: '.*': offset \d+: ")
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")
NUMBERS = ("counts", "peak_bytes", "live_at_exit_bytes", "total_allocated_bytes", "events",
           "unmatched_frees", "threads")
# A program with several frames (it sleeps past the 250 ms seal), Python stacks
# (strings, functions, stack nodes), mmaps and munmaps.
PROGRAM = ("import time; a = [bytearray(200000) for _ in range(3)]; time.sleep(0.6); "
           "b = [bytearray(300000) for _ in range(5)]; del a")


@pytest.fixture(scope="module")
def stats_exe(build):
    asan = os.environ.get("FILREC_ASAN_BUILD")
    if asan and (Path(asan) / "filrec").is_file():
        return str(Path(asan) / "filrec")
    return str(build / "filrec")


@pytest.fixture(scope="module", params=["default", "native"])
def trace(build, tmp_path_factory, request):
    """A real trace, its bytes, and where its header ends (the body's first byte): of
    the default mode, and of --native (MODULE and NATIVE_FRAME records)."""
    d = tmp_path_factory.mktemp("hostile")
    path = d / "t.bin"
    mode = ["--native"] if request.param == "native" else []
    for cmd in (["-c", PROGRAM], ["--", "/bin/ls", "-l", "/"]):
        path.unlink(missing_ok=True)
        r = subprocess.run([str(build / "filrec"), "run", *mode, "-o", str(path), *cmd],
                           capture_output=True, text=True, timeout=60, cwd=d)
        if r.returncode == 0 and path.is_file():
            break
    assert path.is_file(), f"filrec run failed:\n{r.stderr}"
    data = path.read_bytes()
    hlen = int.from_bytes(data[12:16], "little")
    return d, data, 16 + hlen + 4


def run_stats(exe, path):
    p = subprocess.run([exe, "stats", "--json", str(path)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode >= 0, f"{path.name}: killed by signal {-p.returncode}:\n{p.stderr}"
    assert not SANITIZER.search(p.stderr), f"{path.name}: sanitizer report:\n{p.stderr}"
    assert p.returncode in (0, 1), f"{path.name}: exit {p.returncode}:\n{p.stderr}"
    return p


def numbers(stats):
    return {k: stats[k] for k in NUMBERS}


def assert_refused(p, path):
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and ERROR_LINE.match(lines[0]), \
        f"{path.name}: exit 1 but stderr is not one 'offset N' line:\n{p.stderr}"
    assert lines[0].startswith(f"filrec: '{path}': "), lines[0]
    assert p.stdout == "", f"{path.name}: exit 1 but stdout has {p.stdout[:200]!r}"


def spread(lo, hi, n):
    """About n offsets spread evenly over [lo, hi)."""
    step = max(1, (hi - lo) // n)
    return list(range(lo, hi, step))


def frame_starts(data, body):
    """Offsets of the zstd frames (their magic) in the body; good places to damage."""
    out, i = [], data.find(b"\x28\xb5\x2f\xfd", body)
    while i >= 0:
        out.append(i)
        i = data.find(b"\x28\xb5\x2f\xfd", i + 4)
    return out


def check_all(exe, d, damaged, check):
    """Write each (name, bytes) of damaged, run stats on it, check(result) in parallel."""
    def one(item):
        name, blob = item
        path = d / name
        path.write_bytes(blob)
        p = run_stats(exe, path)
        check(p, path)
        path.unlink()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        list(pool.map(one, damaged))  # list(): re-raise the first failure


def test_stats_truncated_trace_never_misreports(stats_exe, trace):
    d, data, body = trace
    full_path = d / "full.bin"
    full_path.write_bytes(data)
    full = run_stats(stats_exe, full_path)
    assert full.returncode == 0 and full.stderr == "", full.stderr
    whole = json.loads(full.stdout)
    assert whole["ended_cleanly"] is True

    cuts = list(range(0, body + 1))                       # every offset in the header
    cuts += spread(body + 1, len(data), 200)              # and across the body
    for f in frame_starts(data, body):                   # every frame's first bytes
        cuts += range(f, min(f + 12, len(data)))
    cuts += range(len(data) - 8, len(data))               # the trailer frame's checksum
    cuts = sorted(set(c for c in cuts if c < len(data)))
    warning = re.compile(r"filrec: warning: '(?P<path>.*)' ends early(, inside the frame at "
                         r"offset (?P<frame>\d+) \(the process was killed while writing it, or "
                         r"the file is damaged\)| \(the process was killed or the trace is "
                         r"cut\)); analyzing the part before\n"
                         r"|filrec: warning: '(?P<dpath>.*)' is damaged: offset (?P<dframe>\d+): "
                         r"[^\n]*; analyzing the part before it\n")
    def check(p, path):
        if p.returncode == 1:
            assert_refused(p, path)
            return
        m = warning.fullmatch(p.stderr)
        assert m and str(path) in (m.group("path"), m.group("dpath")), \
            f"{path.name}: exit 0 without the ends-early warning:\n{p.stderr}"
        # the frame cut inside is the one the file ends in: the last frame that starts
        # before the cut; an earlier one runs into the next one: damaged, read up to it
        size = path.stat().st_size
        starts = [f for f in frame_starts(data, body) if f < size]
        cut_frame = max(starts, default=None)
        assert m.group("frame") is None or int(m.group("frame")) == cut_frame, m.group(0)
        assert m.group("dframe") is None or int(m.group("dframe")) in starts, m.group(0)
        got = json.loads(p.stdout)
        assert got["ended_cleanly"] is False, path.name
        for kind, n in got["counts"].items():
            assert n <= whole["counts"][kind], \
                f"{path.name}: {kind} count {n} > {whole['counts'][kind]} in the whole trace"
        assert got["events"] <= whole["events"], path.name

    check_all(stats_exe, d, [(f"cut-{c}.bin", data[:c]) for c in cuts], check)


def test_stats_flipped_byte_never_misreports(stats_exe, trace):
    d, data, body = trace
    full_path = d / "full.bin"
    full_path.write_bytes(data)
    whole = json.loads(run_stats(stats_exe, full_path).stdout)

    spots = list(range(0, body))                          # all of the header
    spots += spread(body, len(data), 200)                 # spread over the body
    spots += range(len(data) - 4, len(data))              # the last frame's checksum
    masks = (0xFF, 0x01, 0x80, 0x04, 0x10, 0x40, 0x02, 0x20, 0x08)
    flips = {(at, masks[i % len(masks)]) for i, at in enumerate(sorted(set(spots)))}
    for f in frame_starts(data, body):  # frame and first block headers: every bit
        flips |= {(at, 1 << b) for at in range(f, min(f + 12, len(data))) for b in range(8)}
    damaged = []
    for at, mask in sorted(flips):
        blob = bytearray(data)
        blob[at] ^= mask
        damaged.append((f"flip-{at}-{mask:02x}.bin", bytes(blob)))

    last_frame = frame_starts(data, body)[-1]

    def check(p, path):
        if p.returncode == 1:
            assert_refused(p, path)
            return
        got = json.loads(p.stdout)
        if p.stderr:
            # A flip in the last frame's header may make it look longer than the file:
            # it reads as a cut there, and the frame is dropped (FORMAT.md, rule 4). A
            # flip that zstd catches elsewhere ends the readable part at the frame it
            # is in (rule 6), with its offset.
            cut = f"ends early, inside the frame at offset {last_frame} "
            m = re.fullmatch(r"filrec: warning: '.*' is damaged: offset (\d+): [^\n]*; "
                             r"analyzing the part before it\n", p.stderr)
            assert path.name.startswith("flip-") and (
                cut in p.stderr or (m and int(m.group(1)) in frame_starts(data, body))), \
                f"{path.name}: exit 0 with stderr:\n{p.stderr}"
            assert got["ended_cleanly"] is False and got["events"] <= whole["events"]
            for kind, n in got["counts"].items():
                assert n <= whole["counts"][kind], f"{path.name}: {kind} count {n}"
            return
        assert numbers(got) == numbers(whole), \
            f"{path.name}: a flipped byte changed the numbers: {numbers(got)} != {numbers(whole)}"
        assert got["ended_cleanly"] is True, path.name

    check_all(stats_exe, d, damaged, check)
