# Known answer: what `filrec summary` reports for this program, run with Debian's
# CPython 3.11 in default mode. Bytes are counted above the baseline: the peak of an
# interpreter that runs only this file's imports.
#
# expect: peak_bytes = 100_000_035
# expect: top_line = 32
# expect: top_function = read_blocks
# expect: top_bytes = 80_000_002
# expect: second_line = 40
# expect: second_function = first_halves
# expect: second_bytes = 20_000_033
#
# Why: two generators and a consuming loop over blocks of 40,000,000 bytes. Each stage
# holds its current item in a local variable until the next item replaces it, so
# when read_blocks makes block k+1 (a bytearray: 40,000,001 bytes), block k is still
# held by first_halves' loop variable and record k (bytes of 20,000,000 + 33) by
# checksum's. The peak is 2 x 40,000,001 + 20,000,033 = 100,000,035 bytes, with two
# blocks (80,000,002 bytes) charged to the bytearray line of read_blocks. When
# first_halves makes record k+1, block k is gone: 40,000,001 + 2 x 20,000,033 is less.
"""Checksum the first half of every block of a (synthetic) log, streamed through a
pipeline of generators."""
import sys
import zlib

BLOCK = 40_000_000
BLOCKS = 6


def read_blocks(count, size):
    """Blocks of a log file, as if read from disk: one fresh buffer per block."""
    for i in range(count):
        block = bytearray(size)
        block[:8] = i.to_bytes(8, "little")
        yield block


def first_halves(blocks):
    """The first half of each block, as an immutable record."""
    for block in blocks:
        yield bytes(memoryview(block)[: len(block) // 2])


def checksum(records):
    crc = 0
    for record in records:
        crc = zlib.crc32(record, crc)
    return crc


def main():
    crc = checksum(first_halves(read_blocks(BLOCKS, BLOCK)))
    print("crc of %d half-blocks: %08x" % (BLOCKS, crc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
