"""Allocations in class bodies (one nested in another class) and in a method."""


class Palette:  # @class-palette
    TABLE = bytearray(21_000_000)  # @class-body

    def expand(self, n):
        return bytearray(n)  # @method


class Outer:  # @class-outer
    class Inner:  # @class-inner
        GRID = bytearray(27_000_000)  # @nested-body


kept = Palette().expand(33_000_000)  # @call-method
