"""Allocations inside lambdas: one at module level, one defined in a function."""
top = lambda: bytearray(31_000_000)  # @top-lambda


def build(n):
    make = lambda k: bytearray(k)  # @inner-lambda
    return make(n)  # @call-inner


kept = [build(25_000_000), top()]  # @call
