"""Memory churn: 10,000 buffers of 100,000 bytes, each freed before the next is made.
A bytearray of 100,000 bytes asks malloc for 100,001 (its trailing NUL): too big for
pymalloc, so every buffer is one malloc and one free that filrec sees, and nothing
else is malloc'd between the two (the loop's ints and the bytearray object itself
come from pymalloc's arenas)."""
COUNT = 10_000
SIZE = 100_000


def churn(count):
    for _ in range(count):
        buf = bytearray(SIZE)  # @churn
        del buf


churn(COUNT)  # @call
