"""Children of every kind, one after another; argv[1] says which:
  subprocess   subprocess.run of job_child.py (200,000,000 bytes at its line HOLD)
  forkexec     os.fork, then the child execs argv[2] (a native program)
  execv        os.execv into job_child.py (this process becomes it)
  exit         os.fork, the child allocates 30,000,000 bytes and calls os._exit(7)
  kill         os.fork, the child allocates 40,000,000 bytes and is killed (SIGKILL)
  kill_late    the same, the parent reaping the child only a second later (a zombie
               meanwhile, whose status filrec can read)
  many N       N short Python subprocesses, one after another
Prints one JSON line (except execv: the child prints it): what the test needs to know."""
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "job_child.py")


def main():
    what = sys.argv[1]
    out = {"pid": os.getpid()}
    if what == "subprocess":
        p = subprocess.run([sys.executable, CHILD, "200"], capture_output=True, text=True)
        out.update(json.loads(p.stdout), rc=p.returncode)
    elif what == "forkexec":
        pid = os.fork()
        if pid == 0:
            os.execv(sys.argv[2], [sys.argv[2]])
        _, status = os.waitpid(pid, 0)
        out.update(child=pid, status=status)
    elif what == "execv":
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, CHILD, "20"])
    elif what == "exit":
        pid = os.fork()
        if pid == 0:
            x = bytearray(30_000_000)  # EXIT_HOLD
            os._exit(7)
        _, status = os.waitpid(pid, 0)
        out.update(child=pid, code=os.WEXITSTATUS(status))
    elif what in ("kill", "kill_late"):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            x = bytearray(40_000_000)  # KILL_HOLD
            os.write(w, b"x")
            time.sleep(60)
            os._exit(0)
        os.read(r, 1)
        time.sleep(0.3)  # its allocation is in its log
        os.kill(pid, signal.SIGKILL)
        if what == "kill_late":
            time.sleep(1)
        os.waitpid(pid, 0)
        out.update(child=pid)
    elif what == "many":
        n = int(sys.argv[2])
        for i in range(n):
            subprocess.run([sys.executable, "-c", "x = bytearray(1_000_000)"], check=True)
        out.update(n=n)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
