"""The samples (samples/*.py): realistic programs, each with its known answer in its
header as `# expect: KEY = VALUE` lines. `filrec summary --json` must report:
  peak_bytes    the peak, above the baseline, within 1%
  top_*         the top location (file, line, function) and its bytes, within 1%;
                top_file defaults to the sample itself
  caller_*      the frame just above the top location's innermost one
  second_*      the second location and its bytes, within 1%
  not_at_peak   a line of the sample with nothing live at the peak
  blas          the libblas.so.3 the answer assumes (else the test is skipped)
The baseline is the peak of the same interpreter running a script made of the
sample's imports alone: with nothing imported it is the empty script's (a few MB);
with numpy it includes the 145 MB `import numpy` costs (OpenBLAS's buffers).
The samples run with Debian's python3, which has numpy and pandas."""
import ast
import re
import subprocess

import pytest

from conftest import REPO, TIMEOUT, frames, record_python

SAMPLES = sorted((REPO / "samples").glob("*.py"))
TOLERANCE = 0.01


def expectations(path):
    """The `# expect: KEY = VALUE` lines of the sample's header (its first comments),
    VALUE as an int where it is one."""
    out = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        m = re.fullmatch(r"# expect: (\w+) = (.+)", line)
        if m:
            v = m.group(2).strip()
            out[m.group(1)] = int(v.replace("_", "")) if re.fullmatch(r"[\d_]+", v) else v
    assert {"peak_bytes", "top_line", "top_function", "top_bytes"} <= set(out), path
    return out


def imports_only(path):
    """The sample's module-level import statements, as a script."""
    tree = ast.parse(path.read_text())
    return "".join(ast.get_source_segment(path.read_text(), node) + "\n"
                   for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


def close(got, known):
    return abs(got - known) <= TOLERANCE * known


_recorded = {}


@pytest.fixture
def recorded(sample_python, filrec, summary, baseline, tmp_path_factory):
    """recorded(sample) -> (expectations, PyRecording, baseline bytes), recorded once
    per sample; skips a sample whose imports or BLAS this machine lacks."""
    def get(path):
        if path not in _recorded:
            want = expectations(path)
            imports = imports_only(path)
            check = subprocess.run([sample_python.exe, "-c", imports], capture_output=True,
                                   text=True, timeout=TIMEOUT)
            if check.returncode != 0:
                _recorded[path] = f"{sample_python} cannot run {path.name}'s imports: " \
                    + check.stderr.strip().splitlines()[-1]
            elif "blas" in want and not uses_blas(sample_python, want["blas"]):
                _recorded[path] = f"{path.name}'s answer assumes {want['blas']} as BLAS"
            else:
                d = tmp_path_factory.mktemp(path.stem)
                rec = record_python(filrec, summary, sample_python, [str(path)],
                                    d / f"{path.stem}.bin", d)
                _recorded[path] = (want, rec, baseline(sample_python, imports))
        if isinstance(_recorded[path], str):
            pytest.skip(_recorded[path])
        return _recorded[path]
    return get


def uses_blas(py, name):
    """Whether numpy, imported by py, maps a BLAS library whose path holds name."""
    p = subprocess.run([py.exe, "-c", "import numpy; print(open('/proc/self/maps').read())"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    return p.returncode == 0 and any(name in l and "blas" in l for l in p.stdout.splitlines())


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_summary_sample_peak_above_baseline(recorded, sample):
    want, rec, base = recorded(sample)
    got = rec.summary["peak_bytes"] - base
    assert close(got, want["peak_bytes"]), \
        f"peak {rec.summary['peak_bytes']:,} - baseline {base:,} = {got:,}, " \
        f"not {want['peak_bytes']:,} within 1%:\n{rec.where()}"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_summary_sample_top_location(recorded, sample):
    want, rec, _ = recorded(sample)
    locs = rec.summary["locations"]
    top = locs[0]
    place = (top["file"], top["line"], top["function"])
    assert place == (want.get("top_file", str(sample)), want["top_line"],
                     want["top_function"]), rec.where()
    assert close(top["bytes"], want["top_bytes"]), rec.where()
    innermost = frames(top)[-1]
    assert innermost == (top["file"], top["function"], top["line"])
    assert str(sample) in {f[0] for f in frames(top)}    # a thread's starts in threading
    if "caller_line" in want:
        assert frames(top)[-2] == (str(sample), want["caller_function"], want["caller_line"])
    if "second_line" in want:
        second = locs[1]
        assert (second["file"], second["line"], second["function"]) == \
            (str(sample), want["second_line"], want["second_function"]), rec.where()
        assert close(second["bytes"], want["second_bytes"]), rec.where()
    if "not_at_peak" in want:
        assert not [l for l in locs if l["file"] == str(sample)
                    and l["line"] == want["not_at_peak"]], rec.where()


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_run_sample_output_unchanged(recorded, sample_python, sample):
    """The sample prints under filrec what it prints under plain python."""
    _, rec, _ = recorded(sample)
    plain = subprocess.run([sample_python.exe, str(sample)], capture_output=True, text=True,
                           timeout=TIMEOUT, cwd=sample.parent)
    assert plain.returncode == 0, plain.stderr
    assert rec.run.stdout == plain.stdout != ""
