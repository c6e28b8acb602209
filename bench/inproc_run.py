"""bench/inproc_run.py TRACE WORKLOAD.py [ARGS]: run a workload recorded from the inside
(filrec.start before it, filrec stop after: the trace complete, no analysis), as
bench/inprocess.py measures it; TRACE "-": the same run, filrec imported, nothing
recorded (what the wrapper itself costs). Prints the workload's output, then on stderr one line:
`inproc: start S stop S sink_cpu S` (seconds: start(), stop(), and the sink process's
CPU until the stop, read from /proc: it is not our child)."""
import os
import runpy
import sys
import time

import filrec

trace, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
if trace == "-":
    runpy.run_path(script, run_name="__main__")
    sys.exit(0)
t0 = time.perf_counter()
rec = filrec.start(trace, force=True)
t1 = time.perf_counter()
runpy.run_path(script, run_name="__main__")
sys.stdout.flush()
with open("/proc/%d/stat" % rec._sink_pid) as f:
    fields = f.read().rsplit(")", 1)[1].split()
sink_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
t2 = time.perf_counter()
filrec._stop(False)
t3 = time.perf_counter()
sys.stderr.write("inproc: start %.4f stop %.4f sink_cpu %.3f\n" % (t1 - t0, t3 - t2, sink_cpu))
