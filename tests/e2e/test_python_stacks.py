"""Python stacks: for each way Python code runs (generators, coroutines, exception
unwinding, deep recursion, exec/eval, lambdas, class bodies, imports, comprehensions,
`-m`, `-c`), the stack `filrec summary --json` reports for a known large allocation,
every frame from the outermost down to the allocating one, against the known answer;
and that a program under `filrec run` sees and does what it does under plain python.

Every test runs on each interpreter of FILREC_TEST_PYTHONS (the `python` fixture).
The programs are in pyprogs/; a line is named by a `# @tag` comment at its end.
Where the library's frames between the program's differ by version (asyncio,
importlib, runpy), the program prints the stack as the interpreter itself sees it
(pyprogs/oracle.py), and filrec must report exactly that, with the program's own
frames as written here.
"""
import json
import re
import shutil
import signal
import subprocess

import pytest

from conftest import PYPROGS, TIMEOUT, assert_filrec_said, filrec_lines, frames

# A known allocation's location may hold, besides the buffer, one pymalloc arena (256
# KiB before 3.10, 1 MiB after) pulled in by the small objects made on the same line.
ARENA = 1 << 20


@pytest.fixture
def progs(tmp_path):
    """A copy of pyprogs/ to run from: its paths are the files' paths in the stacks,
    and Python's __pycache__ stays out of the source tree."""
    d = tmp_path / "progs"
    shutil.copytree(PYPROGS, d)
    return d


def tag_line(path, tag):
    """The number of the one line of path that ends with `# @tag`."""
    lines = [n for n, text in enumerate(path.read_text().splitlines(), 1)
             if re.search(rf"# @{re.escape(tag)}$", text)]
    assert len(lines) == 1, f"{path}: {len(lines)} lines tagged @{tag}"
    return lines[0]


def at(path, function, tag):
    """One frame of the known answer: (file, function, line of `# @tag`)."""
    return (str(path), function, tag_line(path, tag))


def printed(rec):
    """The program's one JSON line on stdout."""
    return json.loads(rec.run.stdout.strip().splitlines()[-1])


def with_oracle(oracle, head, tail):
    """The known answer head + (the interpreter's own frames between) + tail, after
    checking that the interpreter agrees with head and tail, and that what it puts
    between them is library code, not the program's."""
    oracle = [tuple(f) for f in oracle]
    assert oracle[:len(head)] == head, "the interpreter disagrees with the known head"
    assert oracle[len(oracle) - len(tail):] == tail, "the interpreter disagrees with the tail"
    middle = oracle[len(head):len(oracle) - len(tail)]
    assert middle and all(f[0] not in {h[0] for h in head + tail} for f in middle), middle
    return head + middle + tail


def test_stack_generator_body_under_consuming_loop(python, pyrecord, progs):
    prog = progs / "gen_consume.py"
    rec = pyrecord(python, str(prog))
    loc = rec.sized(2 * 30_000_001, ARENA)       # both blocks, one line
    assert loc["blocks"] in (2, 3)               # (3: with a pymalloc arena)
    assert frames(loc) == [at(prog, "<module>", "call"),
                           at(prog, "consume", "for-loop"),
                           at(prog, "blocks", "gen-alloc")]


def test_stack_coroutine_awaited_under_asyncio_run(python, pyrecord, progs):
    """In a coroutine awaited by the task's coroutine: before its first await, and
    after the await resumes (the event loop re-enters the task)."""
    prog = progs / "async_tasks.py"
    rec = pyrecord(python, str(prog))
    said = printed(rec)
    head = [at(prog, "<module>", "run")]
    for size, tag, key in [(20_000_001, "before-await", "before"),
                           (30_000_001, "after-await", "after")]:
        tail = [at(prog, "main", "await-fetch"), at(prog, "fetch", tag)]
        loc = rec.sized(size, ARENA)
        assert frames(loc) == with_oracle(said[key], head, tail), key
        assert any(f[0].endswith("base_events.py") for f in frames(loc))


def test_stack_python_thread_starts_in_threading(python, pyrecord, progs):
    """A thread's stack starts at threading's Thread._bootstrap, not under the code
    that started the thread."""
    prog = progs / "thread_alloc.py"
    rec = pyrecord(python, str(prog))
    loc = rec.sized(23_000_001, ARENA)
    expected = with_oracle(printed(rec), [], [at(prog, "worker", "alloc")])
    assert frames(loc) == expected
    threading = subprocess.run([python.exe, "-c", "import threading as t; print(t.__file__)"],
                               capture_output=True, text=True, timeout=TIMEOUT).stdout.strip()
    assert expected[0][:2] == (threading, python.qualname("Thread._bootstrap"))


def test_stack_exception_unwinding_finally_and_except(python, pyrecord, progs):
    """An exception raised 4 calls down: a finally block 2 calls down allocates while
    the frames below it are gone; the except block allocates after the unwind."""
    prog = progs / "unwind.py"
    rec = pyrecord(python, str(prog))
    during = rec.sized(25_000_001, ARENA)
    assert frames(during) == [at(prog, "<module>", "call"), at(prog, "load", "try-call"),
                              at(prog, "parse", "recurse"), at(prog, "parse", "recurse"),
                              at(prog, "parse", "finally-alloc")]
    after = rec.sized(35_000_001, ARENA)
    assert frames(after) == [at(prog, "<module>", "call"), at(prog, "load", "except-alloc")]


def test_stack_recursion_1000_deep(python, pyrecord, progs):
    prog = progs / "deep_recursion.py"
    rec = pyrecord(python, str(prog))
    loc = rec.sized(40_000_001, ARENA)
    got = frames(loc)
    assert len(got) == 1 + 1000 + 1
    assert got == ([at(prog, "<module>", "call")] + [at(prog, "descend", "recurse")] * 1000
                   + [at(prog, "descend", "bottom")])


def test_stack_exec_and_eval_of_code_strings(python, pyrecord, progs):
    """Code compiled from strings has the file "<string>" and its own line numbers."""
    prog = progs / "exec_eval.py"
    rec = pyrecord(python, str(prog))
    call = at(prog, "<module>", "call")
    block = rec.sized(21_000_001, ARENA)     # line 2 of BLOCK
    assert frames(block) == [call, at(prog, "run_block", "exec-block"),
                             ("<string>", "<module>", 2)]
    func = rec.sized(27_000_001, ARENA)      # make() at line 3 of FUNC, called at line 5
    assert frames(func) == [call, at(prog, "run_func", "exec-func"),
                            ("<string>", "<module>", 5), ("<string>", "make", 3)]
    expr = rec.sized(33_000_001, ARENA)      # EXPR, by eval
    assert frames(expr) == [call, at(prog, "run_eval", "eval"), ("<string>", "<module>", 1)]


def test_stack_lambda(python, pyrecord, progs):
    prog = progs / "lambdas.py"
    rec = pyrecord(python, str(prog))
    call = at(prog, "<module>", "call")
    inner = rec.sized(25_000_001, ARENA)
    assert frames(inner) == [call, at(prog, "build", "call-inner"),
                             at(prog, python.qualname("build.<locals>.<lambda>"),
                                "inner-lambda")]
    top = rec.sized(31_000_001, ARENA)
    assert frames(top) == [call, at(prog, "<lambda>", "top-lambda")]


def test_stack_class_body_and_method(python, pyrecord, progs):
    """A class body runs as a frame named after the class, called from the `class`
    line; a nested class's body is called from its outer class's."""
    prog = progs / "class_body.py"
    rec = pyrecord(python, str(prog))
    body = rec.sized(21_000_001, ARENA)
    assert frames(body) == [at(prog, "<module>", "class-palette"),
                            at(prog, "Palette", "class-body")]
    nested = rec.sized(27_000_001, ARENA)
    assert frames(nested) == [at(prog, "<module>", "class-outer"),
                              at(prog, "Outer", "class-inner"),
                              at(prog, python.qualname("Outer.Inner"), "nested-body")]
    method = rec.sized(33_000_001, ARENA)
    assert frames(method) == [at(prog, "<module>", "call-method"),
                              at(prog, python.qualname("Palette.expand"), "method")]


def test_stack_import_includes_module_frame(python, pyrecord, progs):
    """An import's top-level code: the imported module's <module> frame, under
    importlib's frames, under the importing line."""
    prog, module = progs / "import_alloc.py", progs / "alloc_at_import.py"
    rec = pyrecord(python, str(prog))
    loc = rec.sized(28_000_001, ARENA)
    expected = with_oracle(printed(rec), [at(prog, "<module>", "import")],
                           [at(module, "<module>", "module-alloc")])
    assert frames(loc) == expected
    assert any("importlib" in f[0] for f in expected)


def test_stack_comprehensions_by_version(python, pyrecord, progs):
    """A list comprehension is a frame of its own (<listcomp>) before 3.12 and inlined
    into its function from 3.12 on; a generator expression is always a frame."""
    prog = progs / "comprehensions.py"
    rec = pyrecord(python, str(prog))
    call = at(prog, "<module>", "call")
    listcomp = rec.sized(2 * 12_000_001, ARENA)
    expected = [call, at(prog, "rows", "listcomp")]
    if python.version < (3, 12):
        expected.append(at(prog, python.qualname("rows.<locals>.<listcomp>"), "listcomp"))
    assert frames(listcomp) == expected
    genexpr = rec.sized(2 * 17_000_001, ARENA)
    assert frames(genexpr) == [call, at(prog, "columns", "genexpr"),
                               at(prog, python.qualname("columns.<locals>.<genexpr>"),
                                  "genexpr")]


def test_stack_run_module_with_m(python, pyrecord, progs):
    """`filrec run -m MODULE`: runpy's frames, then the module's, which is __main__."""
    prog = progs / "run_as_module.py"
    rec = pyrecord(python, "-m", "run_as_module", "x", "y z", cwd=progs)
    said = printed(rec)
    assert said["name"] == "__main__" and said["argv"] == [str(prog), "x", "y z"]
    loc = rec.sized(29_000_001, ARENA)
    expected = with_oracle(said["where"], [], [at(prog, "<module>", "main-call"),
                                               at(prog, "main", "alloc")])
    assert frames(loc) == expected
    assert "runpy" in expected[0][0] and expected[0][1] == "_run_module_as_main"


def test_stack_run_code_with_c(python, pyrecord):
    """`filrec run -c CODE`: the code's file is "<string>", its lines are its own."""
    code = ("import sys\n"
            "size = 33_000_000\n"
            "kept = bytearray(size)\n"
            "def grow(n):\n"
            "    return bytearray(n)\n"
            "more = grow(39_000_000)\n"
            "print(sys.argv)\n")
    rec = pyrecord(python, "-c", code, "a", "b c")
    assert rec.run.stdout == "['-c', 'a', 'b c']\n"
    assert frames(rec.sized(33_000_001, ARENA)) == [("<string>", "<module>", 3)]
    assert frames(rec.sized(39_000_001, ARENA)) == [("<string>", "<module>", 6),
                                                    ("<string>", "grow", 5)]


def test_summary_empty_script_is_a_few_mb(python, pyrecord, tmp_path):
    """An empty script: the interpreter's own start-up, with no large allocation."""
    script = tmp_path / "empty.py"
    script.write_text("")
    rec = pyrecord(python, str(script))
    assert 1 << 20 < rec.summary["peak_bytes"] < 16 << 20
    assert all(l["bytes"] < 8 << 20 for l in rec.summary["locations"])


# ---- a program sees and does under filrec run what it does under plain python ----

def run_both(filrec, python, args, cwd, trace):
    """(plain python ARGS, filrec run -o TRACE --python PY ARGS), as CompletedProcess."""
    plain = subprocess.run([python.exe, *args], capture_output=True, text=True,
                           timeout=TIMEOUT, cwd=cwd)
    traced = subprocess.run([filrec, "run", "-o", str(trace), "--python", python.exe, *args],
                            capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)
    return plain, traced


def assert_same_behaviour(plain, traced, trace, rc, package):
    """Same exit status (rc), same stdout but for sys.path, same stderr once filrec's
    own lines are taken out; filrec's lines say where the trace is (and, for a
    signal, which)."""
    assert (plain.returncode, traced.returncode) == (rc, rc), traced.stderr
    ours, theirs = filrec_lines(traced.stderr)
    assert theirs == plain.stderr
    assert_filrec_said(ours, trace, then=1 if rc < 0 else 0)
    if rc < 0:
        assert ours[-1].startswith(f"filrec: program killed by signal {-rc} ")
    p, t = json.loads(plain.stdout), json.loads(traced.stdout)
    # The designed differences: the bootstrap appends filrec's Python package to
    # sys.path (for `import filrec`), after every entry of the program's own; and the
    # environment keeps what the processes the program starts need to be recorded too:
    # filrec's variables, its library first in LD_PRELOAD, its bootstrap first on
    # PYTHONPATH (nothing else changes).
    assert t.pop("path") == p.pop("path") + [package]
    env, plain_env = t.pop("environ"), p.pop("environ")
    assert env.pop("FILREC_FOLLOW") == "1" and env.pop("FILREC_SOCK").startswith("@filrec-")
    assert env.pop("FILREC_PYPKG") == package
    assert env.pop("FILREC_PYTHONPATH") == plain_env.get("PYTHONPATH", "")
    env.pop("FILREC_PYDIR")
    for name, ours in (("LD_PRELOAD", "libfilrec.so"), ("PYTHONPATH", "_site")):
        first, _, rest = env.pop(name).partition(":")
        assert first.endswith(ours), (name, first)
        if rest or name in plain_env:
            env[name] = rest
    assert env == plain_env
    assert t == p
    return p


@pytest.fixture(scope="session")
def package(build):
    """filrec's Python package folder in the build tree, as the bootstrap names it."""
    return str((build.parent / "python").resolve())


BEHAVIOURS = [
    pytest.param(["a", "b c"], 0, None, id="args"),
    pytest.param(["exit", "3"], 3, None, id="exit-3"),
    pytest.param(["message", "bye", "now"], 1, "bye now\n", id="exit-message"),
    pytest.param(["raise", "oops"], 1, "RuntimeError: asked to fail: oops\n", id="raise"),
    pytest.param(["interrupt"], -signal.SIGINT, "KeyboardInterrupt\n", id="interrupt"),
]


@pytest.mark.parametrize("args, rc, last_err", BEHAVIOURS)
def test_run_script_behaves_as_plain_python(python, filrec, package, progs, tmp_path, args,
                                            rc, last_err):
    prog, trace = progs / "behave.py", tmp_path / "behave.bin"
    plain, traced = run_both(filrec, python, [str(prog), *args], progs, trace)
    seen = assert_same_behaviour(plain, traced, trace, rc, package)
    assert seen["argv"] == [str(prog), *args]
    assert seen["name"] == seen["main_name"] == "__main__"
    assert seen["main_file"] == str(prog)
    theirs = filrec_lines(traced.stderr)[1]
    assert theirs.endswith(last_err) if last_err else theirs == ""
    if args[0] == "raise":
        assert f'File "{prog}", line {tag_line(prog, "raise")}, in fail\n' in traced.stderr


def test_run_m_and_c_behave_as_plain_python(python, filrec, package, progs, tmp_path):
    prog, trace = progs / "behave.py", tmp_path / "m.bin"
    plain, traced = run_both(filrec, python, ["-m", "behave", "exit", "4"], progs, trace)
    seen = assert_same_behaviour(plain, traced, trace, 4, package)
    assert seen["argv"] == [str(prog), "exit", "4"] and seen["main_name"] == "__main__"
    code, trace = "import sys, behave\nbehave.main(sys.argv[1:])\n", tmp_path / "c.bin"
    plain, traced = run_both(filrec, python, ["-c", code, "raise", "in c"], progs, trace)
    seen = assert_same_behaviour(plain, traced, trace, 1, package)
    assert seen["argv"] == ["-c", "raise", "in c"] and seen["main_name"] == "__main__"
    assert seen["name"] == "behave"
    assert 'File "<string>", line 2, in <module>\n' in traced.stderr
    assert filrec_lines(traced.stderr)[1].endswith("RuntimeError: asked to fail: in c\n")
