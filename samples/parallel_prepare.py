# Known answer: what `filrec summary` reports for this program, run with Debian's
# CPython 3.11 in default mode. Bytes are counted above the baseline: the peak of an
# interpreter that runs only this file's imports.
#
# expect: peak_bytes = 200_000_034
# expect: top_line = 28
# expect: top_function = decode_frame
# expect: top_bytes = 120_000_001
# expect: second_line = 35
# expect: second_function = build_lookup
# expect: second_bytes = 80_000_033
#
# Why: two threads prepare their buffers at the same time. decode_frame allocates a
# bytearray of 120,000,000 bytes (120,000,001 with its trailing NUL) and build_lookup
# a bytes object of 80,000,000 bytes (80,000,033 with CPython's bytes header). Both
# hold their buffer until the other has one too (a barrier), so the peak is the sum:
# 200,000,034 bytes. Thread stacks are mapped inside glibc, where no hook sees them.
"""Prepare a video frame and a colour lookup table in two threads, then combine."""
import sys
import threading
import zlib

FRAME_BYTES = 120_000_000
TABLE_BYTES = 80_000_000


def decode_frame(both_ready, results):
    frame = bytearray(FRAME_BYTES)
    frame[::4096] = b"\x7f" * len(range(0, FRAME_BYTES, 4096))
    both_ready.wait()
    results["frame"] = zlib.crc32(frame)


def build_lookup(both_ready, results):
    table = bytes(TABLE_BYTES)
    both_ready.wait()
    results["table"] = zlib.crc32(table)


def main():
    both_ready = threading.Barrier(2)
    results = {}
    workers = [threading.Thread(target=fn, args=(both_ready, results), name=fn.__name__)
               for fn in (decode_frame, build_lookup)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print("frame crc %08x, table crc %08x" % (results["frame"], results["table"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
