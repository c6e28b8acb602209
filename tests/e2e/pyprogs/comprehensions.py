"""Allocations inside a list comprehension (a frame of its own before 3.12, inlined
from 3.12 on) and a generator expression (always a frame)."""


def rows(n, width):
    return [bytearray(width) for _ in range(n)]  # @listcomp


def columns(n, width):
    return tuple(bytearray(width) for _ in range(n))  # @genexpr


kept = [rows(2, 12_000_000), columns(2, 17_000_000)]  # @call
