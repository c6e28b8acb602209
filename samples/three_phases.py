# Known answer: what `filrec summary` reports for this program, run with Debian's
# CPython 3.11 in default mode. Bytes are counted above the baseline: the peak of an
# interpreter that runs only this file's imports.
#
# expect: peak_bytes = 500_000_050
# expect: top_line = 55
# expect: top_function = grow
# expect: top_bytes = 400_000_040
# expect: second_line = 47
# expect: second_function = load
# expect: second_bytes = 100_000_010
#
# Why: three phases with a pause after each, so that `filrec plot` shows three
# plateaus: load keeps 30 buffers of 10,000,001 bytes (a bytearray's buffer holds one
# byte more than asked) at line 47: 300 MB; trim drops 20 of them: 100 MB; grow adds
# 40 more at line 55: 500 MB, the peak, 400,000,040 bytes of it grow's. Each phase
# begins with a marker (filrec.mark) and grow runs in a region (filrec.region); under
# plain python, without filrec, they are skipped and the output is the same.
"""A batch job in three phases: load a day of records, keep the recent part, then
load the next day's as well and merge them."""
import contextlib
import sys
import time

try:
    import filrec  # under `filrec run`: markers and regions go into the trace
except ImportError:
    filrec = None

CHUNK = 10_000_000
PAUSE = 0.3  # seconds: a plateau of about 30 samples at the default 10 ms interval


def mark(label):
    if filrec is not None:
        filrec.mark(label)


def region(label):
    return filrec.region(label) if filrec is not None else contextlib.nullcontext()


def load(count):
    """count buffers of records, as if read from disk."""
    blocks = []
    for i in range(count):
        blocks.append(bytearray(CHUNK))
        blocks[-1][:8] = i.to_bytes(8, "little")
    return blocks


def grow(blocks, count):
    """Append count more buffers: the next day's records."""
    for i in range(count):
        blocks.append(bytearray(CHUNK))
        blocks[-1][:8] = (len(blocks) + i).to_bytes(8, "little")


def main():
    mark("phase 1: load 300 MB")
    blocks = load(30)
    time.sleep(PAUSE)
    mark("phase 2: trim to 100 MB")
    del blocks[10:]
    time.sleep(PAUSE)
    mark("phase 3: grow to 500 MB")
    with region("merge"):
        grow(blocks, 40)
        time.sleep(PAUSE)
    mark("done")
    total = sum(len(b) for b in blocks)
    print("%d buffers, %d MB" % (len(blocks), total // 1_000_000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
