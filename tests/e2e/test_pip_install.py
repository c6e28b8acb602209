"""filrec installs like a Python tool: `pip install --no-build-isolation --target DIR .`
(offline, with Debian's setuptools) builds the native parts with make and installs the
package, its filrec/_native/ folder and the `filrec` command; `pip wheel .` makes a
wheel that installs into a fresh virtual environment. From a clean folder, with only
the installed copy on the path, `python3 -m filrec run` records samples/three_phases.py
with its known answer (400,000,040 bytes at grow:55, 100,000,010 at load:47), and
in-process recording works from the installed package."""
import json
import os
import shutil
import subprocess
import pytest

from conftest import REPO, SAMPLE_PYTHON, VENV_PYTHON

SAMPLE = REPO / "samples" / "three_phases.py"
PIP_TIMEOUT = 600


def have_build_tools(py):
    p = subprocess.run([py, "-c", "import setuptools, wheel, pip"], capture_output=True)
    return p.returncode == 0


pytestmark = pytest.mark.skipif(not have_build_tools(SAMPLE_PYTHON),
                                reason="Debian's python3 lacks pip, setuptools or wheel")


def clean_env(path_first=None):
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LC_ALL": "C.UTF-8"}
    if path_first:
        env["PYTHONPATH"] = str(path_first)
    return env


def check_sample(py_cmd, env, cwd):
    shutil.copy(SAMPLE, cwd / SAMPLE.name)
    trace = cwd / "t.bin"
    p = subprocess.run([*py_cmd, "-m", "filrec", "run", "--no-report", "-o", str(trace),
                        SAMPLE.name], capture_output=True, text=True, cwd=cwd, env=env,
                       timeout=PIP_TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "50 buffers, 500 MB"
    s = subprocess.run([*py_cmd, "-m", "filrec", "summary", "--json", "--top", "3", str(trace)],
                       capture_output=True, text=True, cwd=cwd, env=env, timeout=PIP_TIMEOUT)
    assert s.returncode == 0, s.stderr
    locs = {(l["file"], l["line"], l["function"]): l["bytes"] for l in json.loads(s.stdout)["locations"]}
    here = str(cwd / SAMPLE.name)
    assert locs[(here, 55, "grow")] == 400_000_040
    assert locs[(here, 47, "load")] == 100_000_010


def test_pip_install_target_then_python_m_filrec(tmp_path):
    target = tmp_path / "site"
    p = subprocess.run([SAMPLE_PYTHON, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                        "--disable-pip-version-check", "-q", "--target", str(target), str(REPO)],
                       capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert p.returncode == 0, p.stderr
    for f in ("filrec/_native/filrec", "filrec/_native/libfilrec.so", "filrec/_site/sitecustomize.py",
              "bin/filrec"):
        assert (target / f).exists(), f
    work = tmp_path / "clean"
    work.mkdir()
    env = clean_env(target)
    check_sample([SAMPLE_PYTHON], env, work)
    # The console script, and recording from the inside with the installed copy.
    v = subprocess.run([str(target / "bin" / "filrec"), "--version"], capture_output=True,
                       text=True, env=env, cwd=work)
    assert v.returncode == 0 and v.stdout.startswith("filrec "), v.stderr
    code = ("import filrec\nwith filrec.recording('in.bin') as r:\n    x = bytearray(10**8)\n"
            "print(r.peak, r.top(1)[0].line)")
    i = subprocess.run([SAMPLE_PYTHON, "-c", code], capture_output=True, text=True, env=env,
                       cwd=work, timeout=PIP_TIMEOUT)
    assert i.returncode == 0, i.stderr
    peak, line = map(int, i.stdout.split())
    assert 10**8 <= peak <= 10**8 + 10**6 and line == 3
    # The pytest plugin comes in by its entry point: no -p needed.
    (work / "test_m.py").write_text("import pytest\n\n@pytest.mark.limit_memory('10 MB')\n"
                                    "def test_m():\n    x = bytearray(20_000_000)\n")
    t = subprocess.run([VENV_PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_m.py"],
                       capture_output=True, text=True, env=env, cwd=work, timeout=PIP_TIMEOUT)
    assert t.returncode == 1, t.stdout + t.stderr
    assert "filrec: test_m used 20.0 MB at its peak, over its limit of 10.0 MB" in t.stdout


def test_pip_wheel_installs_into_a_fresh_venv(tmp_path):
    wheels = tmp_path / "wheels"
    p = subprocess.run([SAMPLE_PYTHON, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                        "--disable-pip-version-check", "-q", "-w", str(wheels), str(REPO)],
                       capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert p.returncode == 0, p.stderr
    (whl,) = wheels.glob("filrec-*.whl")
    assert whl.name.startswith("filrec-0.1.0-cp3") and "linux" in whl.name, whl.name
    venv = tmp_path / "venv"
    subprocess.run([SAMPLE_PYTHON, "-m", "venv", str(venv)], check=True, timeout=PIP_TIMEOUT)
    inst = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-deps", "--no-index", "-q",
                           "--disable-pip-version-check", str(whl)],
                          capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert inst.returncode == 0, inst.stderr
    work = tmp_path / "clean"
    work.mkdir()
    check_sample([str(venv / "bin" / "python")], clean_env(), work)
