"""A Python thread allocates: its stack starts in threading's bootstrap, not under
the code that started it. Prints where Python itself says the allocation was."""
import json
import threading

from oracle import here

kept = {}


def worker(size):
    kept["buf"], kept["where"] = bytearray(size), here()  # @alloc


t = threading.Thread(target=worker, args=(23_000_000,))
t.start()
t.join()
print(json.dumps(kept["where"]))
