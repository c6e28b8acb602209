"""Starts four children that filrec cannot record and one it can: a shell with an
empty environment, a Python whose environment drops LD_PRELOAD, the static program
argv[1] exec'd by a fork child (its environment intact: the program itself cannot be
entered) and started by subprocess, an empty environment whose program does not
exist (the exec fails: nothing ran), and a plain Python subprocess. Prints one JSON
line with their pids."""
import json
import os
import subprocess
import sys

out = {"pid": os.getpid()}
p = subprocess.Popen(["/bin/sh", "-c", "echo scrubbed"], env={}, stdout=subprocess.PIPE)
p.communicate()
out["scrubbed"] = p.pid
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
p = subprocess.Popen([sys.executable, "-c", "pass"], env=env)
p.wait()
out["no_preload"] = p.pid
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1]])
os.waitpid(pid, 0)
out["static"] = pid
p = subprocess.Popen([sys.argv[1]], stdout=subprocess.PIPE)   # vfork or posix_spawn
p.communicate()
out["static_spawned"] = p.pid
try:  # an exec that fails is not a process that ran unrecorded
    subprocess.run(["/no/such/program"], env={})
except FileNotFoundError:
    pass
p = subprocess.Popen([sys.executable, "-c", "pass"])
p.wait()
out["followed"] = p.pid
print(json.dumps(out))
