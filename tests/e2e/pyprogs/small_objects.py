"""200,000 small objects made at one line: with Python's allocator (pymalloc) they
live in a few arenas; with --python-allocators (at the PyObject_ allocator) each is its own
16-byte block, charged exactly."""


def build(n):
    return [object() for _ in range(n)]  # @objects


keep = build(200_000)  # @call
print(len(keep))
