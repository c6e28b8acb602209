"""bench/job_many.py: a job of many short processes for bench/jobs.py. Starts N
Python subprocesses one after another (N from argv[1], default 100), each building a
1,000,000-byte bytearray and exiting; prints one checksum line, the same in every
mode."""
import subprocess
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
total = 0
for i in range(n):
    p = subprocess.run([sys.executable, "-c", "x = bytearray(1_000_000); print(len(x))"],
                       capture_output=True, text=True, check=True)
    total += int(p.stdout)
print("job_many: %d processes, checksum %d" % (n, total))
