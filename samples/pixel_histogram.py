# Known answer: what `filrec summary` reports for this program, run with Debian's
# CPython 3.11 in default mode. Bytes are counted above the baseline: the peak of an
# interpreter that runs only this file's imports.
#
# expect: peak_bytes = 216_000_033
# expect: top_line = 39
# expect: top_function = load_pixels
# expect: top_bytes = 192_000_000
#
# Why: the image is 24,000,000 pixels. `row * HEIGHT` makes one bytes object of
# 24,000,000 + 33 bytes (CPython's bytes header). `list(raw)` then turns it into a list
# of ints: the ints 0..255 are cached singletons, so the list costs only its array of
# pointers, 8 bytes a pixel, allocated exactly (the length is known): 192,000,000 bytes
# at line 39, while `raw` is still alive. That is the peak. Later, build_labels makes a
# dict of 300,000 strings (about 45 MB of small objects and a hash table), less than
# the list, after the list is gone.
"""Brightness statistics of a synthetic greyscale image, the slow way: the image is
decoded into a Python list of ints (8 bytes a pixel instead of 1), and the first
300,000 pixels get labels in a dict of strings."""
import sys

WIDTH = 6_000
HEIGHT = 4_000


def make_image(width, height):
    """A horizontal gradient, width x height bytes, one byte a pixel."""
    row = bytes(x * 256 // width for x in range(width))
    return row * height


def build_labels(count):
    """A label for every pixel id, as a dict of strings."""
    return {"pixel-%d" % i: "row %d col %d" % divmod(i, WIDTH) for i in range(count)}


def load_pixels(width, height):
    raw = make_image(width, height)
    pixels = list(raw)
    return pixels


def main():
    pixels = load_pixels(WIDTH, HEIGHT)
    mean = sum(pixels) / len(pixels)
    brightest = max(pixels)
    del pixels
    labels = build_labels(300_000)
    print("mean %.2f, max %d, %d labels" % (mean, brightest, len(labels)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
