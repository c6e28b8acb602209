"""An allocation at the bottom of a recursion 1000 calls deep."""
import sys

DEPTH = 1000
SIZE = 40_000_000
sys.setrecursionlimit(DEPTH + 500)


def descend(n):
    if n == 0:
        return bytearray(SIZE)  # @bottom
    return descend(n - 1)  # @recurse


kept = descend(DEPTH)  # @call
