"""A generator's body allocates; a for loop in another function consumes it."""
import sys

BLOCK = 30_000_000


def blocks(count):
    for _ in range(count):
        yield bytearray(BLOCK)  # @gen-alloc


def consume(count):
    kept = []
    for block in blocks(count):  # @for-loop
        kept.append(block)
    return kept


kept = consume(2)  # @call
sys.stdout.write("%d blocks\n" % len(kept))
