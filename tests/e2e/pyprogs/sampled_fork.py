"""--sample across fork: the parent's countdown has moved when it forks, and the child
counts down on its own (a countdown of its own, drawn anew). Line CHILD keeps 300,000
bytearray(100)s in the child: objects and buffers of pymalloc's (with
--python-allocators), sampled by the wrapper, about 47 MB with the list; line PARENT
keeps 100,000 in the parent, before the fork. The child prints its pid."""
import os

warm = [bytearray(100) for _ in range(100_000)]  # PARENT
pid = os.fork()
if pid == 0:
    keep = [bytearray(100) for _ in range(300_000)]  # CHILD
    print(os.getpid(), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
