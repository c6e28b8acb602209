"""An exception unwinds several frames. A finally block allocates while the frames
below it are already gone; an except block allocates after the whole unwind."""
DURING = 25_000_000
AFTER = 35_000_000
kept = []


def parse(depth):
    if depth == 0:
        raise ValueError("bad record")
    try:
        parse(depth - 1)  # @recurse
    finally:
        if depth == 2:
            kept.append(bytearray(DURING))  # @finally-alloc


def load():
    try:
        parse(4)  # @try-call
    except ValueError:
        kept.append(bytearray(AFTER))  # @except-alloc


load()  # @call
