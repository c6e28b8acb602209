"""filrec in IPython and Jupyter: `%load_ext filrec`, then

    %%filrec [-o TRACE] [--python-allocators] [--native] [--sample SIZE] [--threshold SIZE]
    ...cell...                   # recorded in this kernel: its variables stay

    %filrec_memit STATEMENT      # the statement's exact peak, and what it left allocated
    %filrec_lines -f FUNC STMT   # FUNC's line table while STMT runs (like %mprun)

No special kernel: the cell runs in the kernel's own interpreter, recorded from the
inside (filrec.recording). The flamegraph of the cell's peak is shown inline, with one
line: the peak, when, and the cell's line that held most."""
import linecache
import os
import subprocess
import tempfile

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import HTML, display

import filrec

last = None  # the Recording of the last %%filrec or %filrec_memit
_folder = None


def _trace_path(given):
    global _folder
    if given:
        return os.path.abspath(os.path.expanduser(given))
    if _folder is None:
        _folder = tempfile.mkdtemp(prefix="filrec-jupyter-%d." % os.getpid())
    n = len(os.listdir(_folder)) + 1
    return os.path.join(_folder, "cell-%d.bin" % n)


def _commas(n):
    return "{:,}".format(n)


def _cell_line(rec, cell):
    """The cell's own line holding most at the peak: (line, bytes, text), or None. The
    cell's code is the file whose source (linecache) is the cell."""
    want = cell.splitlines()
    best = None
    for loc in rec.top(50):
        lines = [l.rstrip("\n") for l in linecache.getlines(loc.file)]
        if lines and lines == want and (best is None or loc.bytes > best[1]):
            text = lines[loc.line - 1].strip() if 0 < loc.line <= len(lines) else ""
            best = (loc.line, loc.bytes, text, loc.file)
    return best


def _flamegraph(rec):
    svg = rec.path[:-4] + "-peak.svg" if rec.path.endswith(".bin") else rec.path + "-peak.svg"
    p = subprocess.run([filrec._parts.binary, "flamegraph", "-o", svg, rec.path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if p.returncode:
        return None, p.stderr.decode(errors="replace").strip()
    with open(svg, encoding="utf-8") as f:
        text = f.read()
    if text.startswith("<?xml"):  # inline in HTML: no XML declaration
        text = text[text.index("?>") + 2:].lstrip()
    return text, svg


@magics_class
class FilrecMagics(Magics):
    @magic_arguments()
    @argument("-o", "--output", default=None, help="the trace (default: a new file in a "
              "folder of this kernel's, under the system's temporary folder)")
    @argument("--python-allocators", action="store_true",
              help="record every Python object allocation too")
    @argument("--native", action="store_true",
              help="record native stacks too (C, C++ and Fortran frames under each line)")
    @argument("--sample", default=None, metavar="SIZE",
              help="record a sample of the allocations, one per SIZE bytes on average "
                   "(such as 512KiB): numbers are estimates, with 95%% bounds")
    @argument("--threshold", default=None, metavar="SIZE",
              help="say when the cell's live memory first passes SIZE (such as 500MB)")
    @argument("--no-flamegraph", action="store_true", help="only the one-line answer")
    @cell_magic
    def filrec(self, line, cell):
        """Record this cell in the running kernel and show its peak: the flamegraph of
        what was live then, and the cell's line that held most."""
        global last
        args = parse_argstring(self.filrec, line)
        said = []

        def passed(live):
            said.append(live)
            print("filrec: the cell's live memory passed %s (%s bytes)"
                  % (args.threshold, _commas(live)))

        on = (args.threshold, passed) if args.threshold else None
        if args.sample and on:
            print("filrec: --threshold counts every allocation: not with --sample")
            return
        with filrec.recording(_trace_path(args.output), python_allocators=args.python_allocators,
                              force=True, on_threshold=on, native=args.native,
                              sample=args.sample) as rec:
            result = self.shell.run_cell(cell, store_history=False)
        last = rec
        if rec.nested:
            print("filrec: this kernel is recorded by `filrec run` already; the cell is a "
                  "region of its trace")
            return
        where = _cell_line(rec, self.shell.transform_cell(cell))
        text = "filrec: peak %s bytes (%s) at %.3f s" % (_commas(rec.peak), filrec._human(rec.peak),
                                                          rec.peak_time)
        if where:
            text += "; the cell's line %d held %s bytes: %s" % (where[0], _commas(where[1]), where[2])
        text += "; trace: %s" % rec.path
        if not args.no_flamegraph:
            svg, info = _flamegraph(rec)
            if svg is None:
                text += " (no flamegraph: %s)" % info
            else:
                display(HTML('<div class="filrec-flamegraph" style="overflow:auto">%s</div>' % svg))
        print(text)
        if result is not None and not result.success:
            return  # the cell's own error was shown by run_cell

    @line_magic
    def filrec_memit(self, line):
        """%filrec_memit STATEMENT: run it, recorded; print its exact peak and what it
        left allocated (like memory_profiler's %memit, with tracked bytes, not RSS)."""
        global last
        if not line.strip():
            print("usage: %filrec_memit STATEMENT")
            return
        with filrec.recording(_trace_path(None), force=True) as rec:
            self.shell.run_cell(line, store_history=False, silent=True)
        last = rec
        if rec.nested:
            print("filrec: recorded by `filrec run` already; see its trace")
            return
        left = int((rec._summary or {}).get("live_at_end_bytes", 0))
        print("peak memory: %s bytes (%s), left allocated: %s bytes (%s); trace: %s"
              % (_commas(rec.peak), filrec._human(rec.peak), _commas(left), filrec._human(left),
                 rec.path))


    @line_magic
    def filrec_lines(self, line):
        """%filrec_lines -f FUNC [-f FUNC...] STATEMENT: run the statement, recorded, and
        print each function's line table (like memory_profiler's %mprun, with exact
        tracked bytes): live after each line, increment, runs, allocated, at the peak."""
        global last
        from . import _lines
        opts, stmt = self.parse_options(line, "f:", list_all=True, posix=False)
        names = opts.get("f", [])
        if not names or not stmt.strip():
            print("usage: %filrec_lines -f FUNC [-f FUNC...] STATEMENT")
            return
        try:
            fns = [eval(n, self.shell.user_ns) for n in names]
        except Exception as e:
            print("filrec: %s" % e)
            return
        codes = {getattr(f, "__code__", None) for f in fns} - {None}
        with filrec.recording(_trace_path(None), force=True) as rec:
            _lines.traced(codes, lambda: self.shell.ex(stmt))
        last = rec
        if rec.nested:
            print("filrec: recorded by `filrec run` already; see its trace")
            return
        for f in fns:
            if hasattr(f, "__code__"):
                print(_lines.table(rec, f))


def load(ipython):
    ipython.register_magics(FilrecMagics)
