"""Deep stacks in bounded time: with the evaluation hook's proof (FILREC_DEEP_STACKS=
always), a capture walks only the frames above the innermost call still running since
the thread's last capture. Every block of pyprogs/deep_stacks.py must get the stack a
full walk (never) gives it, and FILREC_DEEP_CHECK=1 compares each proven capture with a
full walk in the recorded process itself."""
import os
import re
import subprocess

import pytest

from conftest import PYPROGS, TIMEOUT
from test_python_stacks import at

PROG = PYPROGS / "deep_stacks.py"
LEAF, GEN, CAUGHT = 100_000, 30_000, 200_000
PER_BLOCK = 200  # the bytearray object beside its buffer (--python-allocators), rounding


def record(filrec, python, tmp_path, deep, *opts):
    """Record the program with FILREC_DEEP_STACKS=deep and the check on; returns
    ({stack: bytes live at the peak}, proven captures, deep captures)."""
    trace = tmp_path / f"deep-{deep}{''.join(opts)}.bin"
    env = dict(os.environ, FILREC_DEEP_STACKS=deep, FILREC_DEEP_CHECK="1")
    r = subprocess.run([filrec, "run", "--no-report", "-o", str(trace), "--python", python.exe,
                        *opts, str(PROG)], capture_output=True, text=True, timeout=TIMEOUT,
                       env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "105\n"
    assert "proof failed" not in r.stderr, r.stderr
    said = re.search(r"filrec: deep stacks: (\d+) of (\d+) captures", r.stderr)
    assert said, r.stderr
    e = subprocess.run([filrec, "export", "--format", "folded", str(trace)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert e.returncode == 0, e.stderr
    stacks = {}
    for line in e.stdout.splitlines():
        stack, n = line.rsplit(" ", 1)
        if str(PROG) in stack:
            stacks[stack] = int(n)
    return stacks, int(said[1]), int(said[2])


def folded(frames):
    return ";".join(f"{fn} ({file}:{line})" for file, fn, line in frames)


def known(phase, depth):
    """The stacks of the known blocks of one phase, by kind."""
    base = [at(PROG, "<module>", "main"), at(PROG, "main", phase)]
    base += [at(PROG, "down", "down")] * depth + [at(PROG, "down", "bottom")]
    return {"leaf": folded(base + [at(PROG, "leaf", "leaf")]),
            "caught": folded(base + [at(PROG, "leaf", "caught")]),
            "gen": folded(base + [at(PROG, "leaf", "loop"), at(PROG, "items", "gen")])}


def check_known(found):
    for phase, depth in (("first", 150), ("second", 300)):
        for kind, (size, n) in {"leaf": (LEAF, 20), "caught": (CAUGHT, 2),
                                "gen": (GEN, 20)}.items():
            got = found.get(known(phase, depth)[kind])
            assert got is not None, (phase, kind, sorted(found.values()))
            assert n * size <= got <= n * (size + PER_BLOCK), (phase, kind, got)
    # The thread's stack: threading's frames, then down() 100 deep, then leaf.
    tail = ";" + folded([at(PROG, "down", "down")] * 100 + [at(PROG, "down", "bottom"),
                                                           at(PROG, "leaf", "leaf")])
    got = [b for st, b in found.items() if st.endswith(tail)
           and not st[:-len(tail)].endswith(folded([at(PROG, "down", "down")]))]
    assert len(got) == 1 and 10 * LEAF <= got[0] <= 10 * (LEAF + PER_BLOCK), got


@pytest.mark.parametrize("mode", [(), ("--python-allocators",)], ids=["default", "objects"])
def test_deep_stack_proof_gives_full_walk_stacks(filrec, python, tmp_path, mode):
    walked, p0, c0 = record(filrec, python, tmp_path, "never", *mode)
    assert p0 == 0 and c0 > 100, (p0, c0)
    check_known(walked)
    if python.version < (3, 9):
        pytest.skip("3.8: no evaluation hook setter; every capture walks")
    proven, proofs, captures = record(filrec, python, tmp_path, "always", *mode)
    check_known(proven)
    # The main thread's known stacks hold the same bytes either way (elsewhere, a
    # pymalloc arena goes to whichever allocation needed it: not the same every run).
    for phase, depth in (("first", 150), ("second", 300)):
        for st in known(phase, depth).values():
            assert walked[st] == proven[st], (st[-200:], walked[st], proven[st])
    # Depth 300 is under the 512 nested calls the hook follows, so nearly every deep
    # capture stands on a proof.
    assert captures > 100 and proofs >= 0.9 * captures, (proofs, captures)
