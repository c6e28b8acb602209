"""Every analyzer verb on damaged traces (stats has its own, finer test): a real trace
cut and flipped at frame starts and across the body. Each verb either refuses it
(exit 1, exactly one stderr line `filrec: 'TRACE': offset N: ...`) or works on the part
it can read (exit 0). Never a crash, a hang or a sanitizer report. Uses the ASan+UBSan
build ($FILREC_ASAN_BUILD) when there is one; `report` and `plot` need gnuplot, which
the ASan build runs like the normal one."""
import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from test_stats_hostile import (SANITIZER, assert_refused, frame_starts, spread,  # noqa: F401
                                stats_exe, trace)

VERBS = {
    "summary": ["summary", "--json"],
    "temporary": ["summary", "--temporary", "--json"],
    "leaks": ["leaks"],
    "flamegraph": ["flamegraph", "-o", "{out}.svg"],
    "reverse": ["flamegraph", "--reverse", "--at", "end", "-o", "{out}.svg"],
    "folded": ["export", "--format", "folded"],
    "speedscope": ["export", "--format", "speedscope"],
    "json": ["export", "--format", "json", "--at", "end"],
    "lines": ["lines"],
    "report": ["report", "-o", "{out}-report"],
    "plot": ["plot", "-o", "{out}.svg"],
}


def damaged_traces(data, body):
    """About 60 damaged copies: cuts and flips at frame starts, and spread over the
    body; a fixed seed, so a failure reproduces."""
    rnd = random.Random(1234)
    out = []
    for f in frame_starts(data, body):
        out.append((f"cut-{f + 5}", data[:f + 5]))
    for c in spread(body, len(data), 20):
        out.append((f"cut-{c}", data[:c]))
    for at in spread(body, len(data), 30):
        blob = bytearray(data)
        blob[at] ^= 1 << rnd.randrange(8)
        out.append((f"flip-{at}", bytes(blob)))
    return out


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_verb_damaged_trace_refused_or_read(stats_exe, trace, verb):
    import subprocess
    d, data, body = trace
    work = d / verb
    work.mkdir(exist_ok=True)

    def one(item):
        name, blob = item
        path = work / f"{name}.bin"
        path.write_bytes(blob)
        args = [a.format(out=work / name) for a in VERBS[verb]]
        p = subprocess.run([stats_exe, *args, str(path)], capture_output=True, text=True,
                           errors="replace", timeout=60)
        assert p.returncode >= 0, f"{verb} {name}: killed by signal {-p.returncode}"
        assert not SANITIZER.search(p.stderr), f"{verb} {name}: sanitizer:\n{p.stderr}"
        assert p.returncode in (0, 1), f"{verb} {name}: exit {p.returncode}:\n{p.stderr}"
        if p.returncode == 1:
            assert_refused(p, path)
        else:
            assert all(l.startswith("filrec: ") for l in p.stderr.splitlines()), p.stderr
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        list(pool.map(one, damaged_traces(data, body)))


JOB_VERBS = ["summary", "stats", "flamegraph", "plot", "report"]


@pytest.mark.parametrize("verb", JOB_VERBS)
def test_job_damaged_child_refused_or_read(stats_exe, trace, tmp_path, verb):
    """A job (TRACE and TRACE.d/) whose second trace is damaged: each job verb refuses it
    with one line naming that trace and an offset, or reads the part it can; a
    hand-made unrecorded.tsv with junk lines is skipped line by line."""
    import subprocess
    d, data, body = trace
    for name, blob in damaged_traces(data, body)[::6]:
        root = tmp_path / name / "job.bin"
        (tmp_path / name / "job.bin.d").mkdir(parents=True)
        root.write_bytes(data)
        child = tmp_path / name / "job.bin.d" / "4242.bin"
        child.write_bytes(blob)
        (tmp_path / name / "job.bin.d" / "unrecorded.tsv").write_bytes(
            b"junk\n1\t2\n\xff\xfe\t\t\t\n7\t1\twhy\tcmd\n")
        args = {"flamegraph": ["-o", str(root) + ".svg"], "plot": ["-o", str(root) + ".svg"],
                "report": ["-o", str(root) + "-report"]}.get(verb, [])
        p = subprocess.run([stats_exe, verb, *args, str(root)], capture_output=True, text=True,
                           errors="replace", timeout=60)
        assert p.returncode >= 0 and not SANITIZER.search(p.stderr), f"{verb} {name}:\n{p.stderr}"
        assert p.returncode in (0, 1), f"{verb} {name}: exit {p.returncode}:\n{p.stderr}"
        if p.returncode == 1:
            lines = p.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"filrec: '{child}': offset "), \
                f"{verb} {name}: {p.stderr}"
        else:
            assert all(l.startswith("filrec: ") for l in p.stderr.splitlines()), p.stderr
