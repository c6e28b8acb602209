#!/usr/bin/env python3
"""bench/md_section.py NAME FILE < SECTION: put SECTION (standard input, which holds
the markers <!-- NAME:begin --> and <!-- NAME:end -->) in place of the same section of
FILE, a Markdown file such as BENCHMARKS.md, or at its end when it has none; the rest
of FILE is kept. FILE "-": do nothing (the benchmark only prints). Each bench script
ends with it, so a rerun replaces its own numbers and nothing else."""
import os
import re
import sys

name, path = sys.argv[1], sys.argv[2]
section = sys.stdin.read().strip() + "\n"
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
if not (section.startswith(begin) and section.rstrip().endswith(end)):
    sys.exit(f"md_section: the section must run from {begin} to {end}")
if path != "-":
    try:
        with open(path) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = "# filrec benchmarks\n"
    m = re.search(re.escape(begin) + ".*?" + re.escape(end) + r"\n?", doc, re.S)
    doc = doc[:m.start()] + section + doc[m.end():] if m else \
        doc.rstrip("\n") + "\n\n" + section
    with open(path + ".tmp", "w") as f:
        f.write(doc)
    os.replace(path + ".tmp", path)
    print(f"bench: {path} updated", file=sys.stderr)
