"""An interpreter whose support module is not built: `filrec run` says so on stderr, the
trace notes it, and summary (text and JSON) and the report repeat it next to the
`[no Python stack]` row, with the command that builds it. The known answer: the
script's 50,000,000-byte bytearray, charged to [no Python stack]."""
import json
import shutil
import subprocess

import pytest

from conftest import REPO, TIMEOUT


@pytest.fixture(scope="module")
def bare(tmp_path_factory, build):
    """A copy of filrec (binary, library, Python package) with no support modules."""
    d = tmp_path_factory.mktemp("bare")
    (d / "bin").mkdir()
    for f in ("filrec", "libfilrec.so"):
        shutil.copy2(build / f, d / "bin" / f)
    shutil.copytree(REPO / "python" / "filrec", d / "python" / "filrec",
                    ignore=shutil.ignore_patterns("__pycache__", "_native"))
    return d / "bin" / "filrec"


def test_no_support_module_is_said_everywhere(bare, tmp_path):
    py = "/usr/bin/python3"
    script = tmp_path / "big.py"
    script.write_text("x = bytearray(50_000_000)\nprint(len(x))\n")
    trace = tmp_path / "t.bin"
    r = subprocess.run([str(bare), "run", "-o", str(trace), "--python", py, str(script)],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "50000000\n"
    real = subprocess.run([py, "-c", "import sys; print(sys.executable)"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ver = subprocess.run([py, "-c", "import sys; print('cpython-%d.%d.%d' % sys.version_info[:3])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    note = f"no Python support built for {ver}, so no Python stacks; build it: make PYTHON={real}"
    assert f"filrec: {note}\n" in r.stderr, r.stderr

    t = subprocess.run([str(bare), "summary", str(trace)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert t.returncode == 0, t.stderr
    rows = [l for l in t.stdout.splitlines() if "[no Python stack]" in l]
    assert len(rows) == 1 and rows[0].endswith(f"[no Python stack]  ({note})"), t.stdout
    j = json.loads(subprocess.run([str(bare), "summary", "--json", str(trace)],
                                  capture_output=True, text=True, check=True).stdout)
    assert j["no_python_stacks"] == note
    (top,) = [l for l in j["locations"] if l["function"] == "[no Python stack]"]
    assert top is j["locations"][0] and top["bytes"] >= 50_000_000

    rep = tmp_path / "rep"
    subprocess.run([str(bare), "report", "-o", str(rep), str(trace)], check=True,
                   capture_output=True, timeout=TIMEOUT)
    page = (rep / "index.html").read_text()
    assert f'[no Python stack] <span class="note">({note})</span>' in page
