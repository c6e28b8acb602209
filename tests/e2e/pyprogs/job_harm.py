"""Children that make a recorder's life hard; argv[1] says which:
  closefds   a fork child closes every descriptor but 0-2, then holds 50,000,000
             bytes at line HOLD_CLOSED and exits 0
  daemon     a grandchild made by double fork and setsid outlives this process by
             0.5 s, holding 30,000,000 bytes at line HOLD_DAEMON
  threads    four threads allocate in a loop while the main thread forks a child
             that holds 10,000,000 bytes at line HOLD_FORKED
  late       a child forks a grandchild and exits at once; this process exits as
             soon as the child has; the grandchild then holds 20,000,000 bytes at line
             HOLD_LATE (it joins as the rest of the job ends)
  killfast   forks 50 children and kills each with SIGKILL at once (some die before
             they have joined)
Prints one JSON line with the pids to look at, and exits 0."""
import json
import os
import sys
import threading
import time

what = sys.argv[1]
out = {"pid": os.getpid()}
if what == "closefds":
    pid = os.fork()
    if pid == 0:
        os.closerange(3, 65536)
        x = bytearray(50_000_000)  # HOLD_CLOSED
        os._exit(0 if len(x) else 1)
    _, status = os.waitpid(pid, 0)
    out.update(child=pid, status=status)
elif what == "daemon":
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            os.close(w)
            time.sleep(0.5)            # the first process has exited by now
            x = bytearray(30_000_000)  # HOLD_DAEMON
            time.sleep(0.2)
            os._exit(0 if len(x) else 1)
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    out.update(daemon=int(os.read(r, 32)))
elif what == "threads":
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            [bytearray(1000) for _ in range(100)]

    ts = [threading.Thread(target=churn) for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.05)
    pid = os.fork()
    if pid == 0:
        x = bytearray(10_000_000)  # HOLD_FORKED
        os._exit(0 if len(x) else 1)
    _, status = os.waitpid(pid, 0)
    stop.set()
    for t in ts:
        t.join()
    out.update(child=pid, status=status)
elif what == "late":
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            os.close(w)
            time.sleep(0.3)
            x = bytearray(20_000_000)  # HOLD_LATE
            time.sleep(0.1)
            os._exit(0 if len(x) else 1)
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    out.update(late=int(os.read(r, 32)))
elif what == "killfast":
    import signal
    for i in range(50):
        pid = os.fork()
        if pid == 0:
            time.sleep(5)
            os._exit(0)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    out.update(killed=50)
print(json.dumps(out))
