"""Allocations at recursion depth 150 and more, for test_deep_stacks.py: each known
block is kept, so all are live at the peak. The outer frames change between phases
(main calls down() from two lines), a generator is resumed and suspended between
allocations, exceptions unwind frames, and a thread allocates at depth 100; the deep
stack proof must give every block the stack a full walk gives it."""
import sys
import threading

sys.setrecursionlimit(10_000)
keep = []
LEAF, GEN, CAUGHT, THREAD = 100_000, 30_000, 200_000, 300_000


def items(n):
    for _ in range(n):
        yield bytearray(GEN)                       # @gen


def leaf(n):
    for i in range(n):
        keep.append(bytearray(LEAF))               # @leaf
        if i % 10 == 0:
            try:
                raise ValueError(i)
            except ValueError:
                keep.append(bytearray(CAUGHT))     # @caught
    for b in items(n):                             # @loop
        keep.append(b)


def down(d, n):
    if d == 0:
        return leaf(n)                             # @bottom
    return down(d - 1, n)                          # @down


def main():
    down(150, 20)                                  # @first
    down(300, 20)                                  # @second
    t = threading.Thread(target=down, args=(100, 10))
    t.start()                                      # @start
    t.join()
    print(len(keep))


main()                                             # @main
