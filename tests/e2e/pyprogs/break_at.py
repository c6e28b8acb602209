"""For --break-at: holds 50,000,000 bytes, then 300,000,000 more (line BIG), then runs
line AFTER and prints "finished". With --break-at 200MB, pdb stops at AFTER in the
module's frame, right after the allocation that passed the threshold."""
print("start", flush=True)
small = bytearray(50_000_000)
big = bytearray(300_000_000)  # BIG
after = 1  # AFTER
print("finished", after, flush=True)
