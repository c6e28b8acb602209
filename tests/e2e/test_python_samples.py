"""The samples (samples/*.py): realistic programs, each with its known answer in its
header as `# expect: KEY = VALUE` lines. `filrec summary --json` must report:
  peak_bytes    the peak, above the baseline, within 1%
  top_*         the top location's bytes within 1%, and the line and function of the
                sample's own innermost frame in its stack (the innermost frame itself
                may be a library's: NumPy 1.24 wraps np.dot in Python, NumPy 2 not)
  second_*      the second location and its bytes, within 1%
  not_at_peak   a line of the sample whose big allocations are gone at the peak (under
                0.1% of the peak is left there: a library's small bookkeeping, which
                the default grouping charges to the user's line that caused it)
A VALUE may be `N + TERM`, TERM a quantity of the interpreter's libraries that the test
measures (TERMS below), not one Debian's or PyPI's build fixes.
The baseline is the peak of the same interpreter running a script made of the
sample's imports alone: with nothing imported it is the empty script's (a few MB);
with numpy it includes what `import numpy` costs (OpenBLAS's buffers).
The samples run with every SAMPLE_PYTHONS interpreter (conftest.py): Debian's python3
with Debian's numpy and pandas, and .venv's with PyPI's NumPy 2, pandas 2, pyarrow and
scikit-learn. A sample whose imports an interpreter lacks is skipped for it."""
import ast
import re
import subprocess
from pathlib import Path

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
            n = re.fullmatch(r"([\d_]+)(?: \+ (\w+))?", v)
            out[m.group(1)] = (int(n.group(1).replace("_", "")), n.group(2)) if n else v
    assert {"peak_bytes", "top_line", "top_function", "top_bytes"} <= set(out), path
    return out


# TERMS[name](python, record) -> bytes: the quantities a VALUE may add.
#
# OpenBLAS's buffers (one a thread, mapped at its first matrix product, 32 MiB in
# PyPI's build, 128 MiB in Debian's) count the pages its products wrote (FORMAT.md,
# "Resident pages"): how many depends on the shapes and the build's blocking, so a probe
# runs the sample's products, on matrices of the same shapes, in a fresh interpreter.
# "_top": what the calling thread's buffer and OpenBLAS's table of thread jobs add to the
# lines of the products; "_peak": that plus the pages the pool's workers wrote in
# theirs (mapped at import, charged to it), above the probe's baseline (its import).
BLAS_PROBES = {
    # gram_matrix.py: x (4,000 x 500) times its transpose: 128,000,000 bytes of result.
    "gram": ("x = np.ones((4000, 500))\nxt = np.ones((500, 4000))\ng = np.dot(x, xt)\n",
             (3,), 16_000_000 * 2 + 128_000_000, 128_000_000),
    # model_fit.py: PCA's X.T @ X (freed), then X @ components_.T, 32,000,000 bytes.
    "pca": ("X = np.ones((40000, 784))\nc = X.T @ X\ndel c\nk = np.ones((100, 784))\n"
            "y = X @ k.T\n", (2, 5), 250_880_000 + 627_200 + 32_000_000, 32_000_000),
}
_probes = {}


def blas_probe(py, record, name):
    if (py.exe, name) not in _probes:
        body, lines, arrays, results = BLAS_PROBES[name]
        script, rec = record(f"blas_{name}.py", "import numpy as np\n" + body + "print(1)\n")
        _, base = record(f"blas_{name}_base.py", "import numpy as np\n")
        held = sum(l["bytes"] for l in rec.summary["locations"]
                   if (own_frame(l, script) or (0, 0, 0))[1:] in [("<module>", n + 1)
                                                                  for n in lines])
        assert held >= results, rec.where()
        peak = rec.summary["peak_bytes"] - base.summary["peak_bytes"] - arrays
        assert peak >= held - results, rec.where()
        _probes[py.exe, name] = (peak, held - results)
    return _probes[py.exe, name]


TERMS = {"blas_gram_peak": lambda py, rec: blas_probe(py, rec, "gram")[0],
         "blas_gram_top": lambda py, rec: blas_probe(py, rec, "gram")[1],
         "blas_pca_peak": lambda py, rec: blas_probe(py, rec, "pca")[0],
         "blas_pca_top": lambda py, rec: blas_probe(py, rec, "pca")[1]}


def imports_only(path):
    """The sample's module-level import statements, as a script."""
    tree = ast.parse(path.read_text())
    return "".join(ast.get_source_segment(path.read_text(), node) + "\n"
                   for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


def close(got, known):
    return abs(got - known) <= TOLERANCE * known


def own_frame(location, path):
    """The innermost frame of location's stack in the file path, or None."""
    mine = [f for f in frames(location) if f[0] == str(path)]
    return mine[-1] if mine else None


_recorded, _terms = {}, {}


@pytest.fixture
def recorded(sample_python, filrec, summary, baseline, tmp_path_factory):
    """recorded(sample) -> (expectations with every TERM added in, PyRecording, baseline
    bytes), recorded once per interpreter and sample; skips a sample whose imports this
    interpreter lacks."""
    def record(name, source):
        d = tmp_path_factory.mktemp(Path(name).stem)
        (d / name).write_text(source)
        return d / name, record_python(filrec, summary, sample_python, [str(d / name)],
                                       d / "trace.bin", d)

    def value(v):
        if not isinstance(v, tuple):
            return v
        n, term = v
        if term and (sample_python.exe, term) not in _terms:
            _terms[sample_python.exe, term] = TERMS[term](sample_python, record)
        return n + (_terms[sample_python.exe, term] if term else 0)

    def get(path):
        key = (sample_python.exe, path)
        if key not in _recorded:
            imports = imports_only(path)
            check = subprocess.run([sample_python.exe, "-c", imports], capture_output=True,
                                   text=True, timeout=TIMEOUT)
            if check.returncode != 0:
                _recorded[key] = f"{sample_python} cannot run {path.name}'s imports: " \
                    + check.stderr.strip().splitlines()[-1]
            else:
                want = {k: value(v) for k, v in expectations(path).items()}
                d = tmp_path_factory.mktemp(path.stem)
                rec = record_python(filrec, summary, sample_python, [str(path)],
                                    d / f"{path.stem}.bin", d)
                _recorded[key] = (want, rec, baseline(sample_python, imports))
        if isinstance(_recorded[key], str):
            pytest.skip(_recorded[key])
        return _recorded[key]
    return get


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
    assert own_frame(top, sample) == (str(sample), want["top_function"], want["top_line"]), \
        rec.where()
    assert close(top["bytes"], want["top_bytes"]), rec.where()
    if "second_line" in want:
        second = locs[1]
        assert (second["file"], second["line"], second["function"]) == \
            (str(sample), want["second_line"], want["second_function"]), rec.where()
        assert close(second["bytes"], want["second_bytes"]), rec.where()
    if "not_at_peak" in want:
        left = sum(l["bytes"] for l in locs if l["file"] == str(sample)
                   and l["line"] == want["not_at_peak"])
        assert left < rec.summary["peak_bytes"] / 1000, rec.where()


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_run_sample_output_unchanged(recorded, sample_python, sample):
    """The sample prints under filrec what it prints under plain python."""
    _, rec, _ = recorded(sample)
    plain = subprocess.run([sample_python.exe, str(sample)], capture_output=True, text=True,
                           timeout=TIMEOUT, cwd=sample.parent)
    assert plain.returncode == 0, plain.stderr
    assert rec.run.stdout == plain.stdout != ""
