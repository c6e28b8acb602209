"""Large mappings are counted by their resident pages (FORMAT.md, "Resident pages"):
NumPy with OpenBLAS's untouched thread buffers, a copy-on-write np.memmap written
through. Known answers in pyprogs/resident_np.py."""
import json
import subprocess

import pytest

from conftest import PYPROGS, TIMEOUT, VENV_PYTHON
from test_run_job import line_of
from test_your_code import summ

PROG = PYPROGS / "resident_np.py"
N = 200_000_000


@pytest.fixture(scope="module")
def run(tmp_path_factory, filrec):
    d = tmp_path_factory.mktemp("resident")
    t = d / "t.bin"
    p = subprocess.run([filrec, "run", "-o", str(t), "--python", VENV_PYTHON, str(PROG), str(d)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode and "No module named 'numpy'" in p.stderr:
        pytest.skip("no NumPy in .venv")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["sum"] == 7 * (N // 4096 + (N % 4096 > 0)) and out["array"] == N // 8
    return t, out, p.stderr


def at(s, tag):
    line = line_of(PROG, tag)
    found = [l for l in s["locations"] if l["file"] == str(PROG) and l["line"] == line]
    return found[0]["bytes"] if found else 0


def test_memmap_written_pages_count_at_its_line(filrec, run):
    trace, _, _ = run
    s = summ(filrec, trace)
    assert s["mappings_measured"] is True
    # Every written page (copied on write) is counted, no more (the file's own pages
    # are not), with the few small objects np.memmap makes on that line.
    assert N <= at(s, "MEMMAP") <= N + 65536
    assert N <= at(s, "ONES") <= N + 4096


def test_peak_is_arrays_plus_baseline_not_reservations(filrec, run, tmp_path):
    """The peak is the two known 200 MB buffers plus what the interpreter and NumPy's
    import hold (measured by a script that only imports NumPy), within 2%; OpenBLAS's
    untouched buffers are shown apart, not in the peak."""
    trace, out, stderr = run
    base = tmp_path / "base.py"
    base.write_text("import numpy\n")
    bt = tmp_path / "base.bin"
    subprocess.run([filrec, "run", "--no-report", "-o", str(bt), "--python", VENV_PYTHON,
                    str(base)], check=True, capture_output=True, timeout=TIMEOUT)
    b = summ(filrec, bt)
    s = summ(filrec, trace)
    want = 2 * N + b["peak_bytes"]
    assert abs(s["peak_bytes"] - want) <= 0.02 * want, (s["peak_bytes"], want)
    if out["openblas"]:
        # 32 MiB a thread, barely touched: apart, and not charged to the import line.
        assert s["untouched_bytes"] >= 16 << 20, s["untouched_bytes"]
        assert b["untouched_bytes"] >= 16 << 20
        assert at(s, "IMPORT") < 30_000_000
        assert "mapped but never touched)" in stderr
