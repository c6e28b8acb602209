"""memory_profiler's line table, with exact tracked bytes: @filrec.profile(lines=True)
and %filrec_lines. While the call runs, a line tracer on the function's code alone
writes a marker into the trace at each line it starts and when it returns; the trace
gives the bytes live at every marker (`filrec stats`) and what each line allocated and
held at the peak (`filrec lines`). Mem usage is the bytes live (in the recording) after
the line's last run, Increment the sum over its runs of live after minus live before,
Occurrences how often it ran, Allocated the bytes its own allocations asked for, At
peak what it held (callees included) at the call's peak."""
import inspect
import json
import subprocess
import sys

import filrec

LINE, CALL, RETURN = "filrec:line ", "filrec:call", "filrec:return"


def traced(codes, run):
    """Run run() with a marker at each line of the code objects codes; its result."""
    m = sys.modules["_filrec"]

    def local(frame, event, arg):
        if event == "line":
            m.mark(LINE + str(frame.f_lineno))
        elif event == "return":
            m.mark(RETURN)
        return local

    def outer(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            m.mark(CALL)
            return local
        return None

    old = sys.gettrace()
    sys.settrace(outer)
    try:
        return run()
    finally:
        sys.settrace(old)


def _json(verb, *args):
    p = subprocess.run([filrec._parts.binary, verb, "--json", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if p.returncode:
        raise RuntimeError("filrec: %s: %s" % (verb, p.stderr.decode(errors="replace").strip()))
    return json.loads(p.stdout)


def table(rec, fn):
    """The line table of function fn from the recording rec, as text."""
    code = fn.__code__
    try:
        source, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        source, first = [], code.co_firstlineno
    after, inc, runs = {}, {}, {}
    cur, before = None, 0
    for mk in _json("stats", rec.path).get("markers", []):
        label, live = mk["label"], int(mk["live_bytes"])
        if not label.startswith("filrec:"):
            continue
        if cur is not None:
            after[cur] = live
            inc[cur] = inc.get(cur, 0) + live - before
        cur = int(label[len(LINE):]) if label.startswith(LINE) else None
        if cur is not None:
            runs[cur] = runs.get(cur, 0) + 1
        before = live
    lines = {}
    for f in _json("lines", rec.path, code.co_filename).get("files", []):
        for l in f.get("lines", []):
            lines[l["line"]] = l
    out = ["filrec: %s, %s:%d; peak %s bytes at %.3f s; trace: %s" % (
        fn.__qualname__, code.co_filename, first, "{:,}".format(rec.peak), rec.peak_time,
        rec.path), ""]
    head = "%6s %15s %15s %11s %15s %15s   %s" % ("Line #", "Mem usage", "Increment",
                                                "Occurrences", "Allocated", "At peak",
                                                "Line Contents")
    out += [head, "=" * len(head)]
    for i, text in enumerate(source or [""]):
        n = first + i
        l = lines.get(n, {})
        if n in runs:
            nums = ("{:,}".format(after.get(n, 0)), "{:+,}".format(inc.get(n, 0)), str(runs[n]))
        else:
            nums = ("", "", "")
        alloc, peak = l.get("allocated", 0), l.get("peak_total", 0)
        out.append("%6d %15s %15s %11s %15s %15s   %s" % (
            n, nums[0], nums[1], nums[2], "{:,}".format(alloc) if alloc or n in runs else "",
            "{:,}".format(peak) if peak or n in runs else "", text.rstrip("\n")))
    return "\n".join(out) + "\n"
