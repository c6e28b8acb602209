"""Every verb is documented: for each verb `filrec --help` lists, `filrec VERB --help`
exits 0 with its usage on stdout, man/filrec-VERB.1 exists and renders without a
single groff warning (with `man -l`, else groff; skipped without either), names
every option the verb's --help prints, and filrec.1 lists the verb and points to
its page. Known answer: the verb table of cli/filrec.c, as `filrec --help` prints it.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO, TIMEOUT

MAN = REPO / "man"


def verbs(filrec):
    p = subprocess.run([filrec, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    listed = p.stdout.split("\nverbs:\n", 1)[1]
    found = [m.group(1) for m in re.finditer(r"^  ([a-z]+) +\S", listed, re.M)]
    assert "run" in found and "summary" in found, p.stdout
    return found


def pytest_generate_tests(metafunc):
    if "verb" in metafunc.fixturenames:
        from conftest import _build_dir
        filrec = _build_dir() / "filrec"
        names = verbs(str(filrec)) if filrec.is_file() else ["run"]
        metafunc.parametrize("verb", names)


def render(page):
    """(text, warnings) of a man page, rendered 80 columns wide with every groff
    warning on."""
    env = {**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8"}
    if shutil.which("man"):
        cmd = ["man", "--warnings=w", "-E", "UTF-8", "-l", str(page)]
    elif shutil.which("groff"):
        cmd = ["groff", "-man", "-ww", "-Tutf8", "-rLL=80n", "-P-c", str(page)]
    else:
        pytest.skip("neither man nor groff is installed: cannot render the man pages")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert p.returncode == 0, p.stderr
    return re.sub(r".\x08", "", p.stdout), p.stderr


def help_options(text):
    """The options a --help text describes: those that begin an indented line."""
    return {m.group(1) for m in re.finditer(r"^ {2,}(--?[a-zA-Z][-a-zA-Z]*)", text, re.M)} | \
           {m.group(1) for m in re.finditer(r"^ {2,}-[a-zA-Z], (--[-a-z]+)", text, re.M)}


def test_help_verb_exits_zero(filrec, verb):
    p = subprocess.run([filrec, verb, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, f"filrec {verb} --help exited {p.returncode}:\n{p.stderr}"
    assert p.stdout.startswith(f"usage: filrec {verb}"), p.stdout
    assert p.stderr == ""
    assert help_options(p.stdout) >= {"-h", "--help"}, p.stdout


def test_man_page_renders_cleanly(filrec, verb):
    page = MAN / f"filrec-{verb}.1"
    assert page.is_file(), f"{page} is missing"
    text, warnings = render(page)
    assert warnings == "", warnings
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SEE ALSO"):
        assert re.search(rf"^{section}$", text, re.M), f"{page.name} has no {section}"
    assert re.search(rf"^ +filrec-{verb} +- ", text, re.M), f"{page.name}: NAME is not filrec-{verb}"
    helped = subprocess.run([filrec, verb, "--help"], capture_output=True, text=True,
                            timeout=TIMEOUT).stdout
    options = text.split("\nOPTIONS\n", 1)[1]
    options = options[:re.search(r"^\S", options, re.M).start()]     # up to the next section
    missing = sorted(o for o in help_options(helped) if not re.search(rf"(^|\W){re.escape(o)}\b", options))
    assert not missing, f"{page.name} does not describe {missing}, which --help prints"


def test_man_filrec_lists_every_verb(filrec):
    text, warnings = render(MAN / "filrec.1")
    assert warnings == "", warnings
    listed = text.split("\n   Verbs\n", 1)[1].split("\nOPTIONS\n", 1)[0]
    see_also = text.split("\nSEE ALSO\n", 1)[1]
    for verb in verbs(filrec):
        assert re.search(rf"^ {{7}}{verb}( |$)", listed, re.M), f"filrec.1 does not list {verb}"
        assert f"filrec-{verb}(1)" in see_also, f"filrec.1's SEE ALSO lacks filrec-{verb}(1)"
