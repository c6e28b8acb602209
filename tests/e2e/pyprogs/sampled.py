"""--sample's known answers, against an exact recording of the same script: line SMALL
keeps 200,000 blocks of 1,001 bytes (bytearray(1000)'s buffers: sampled at 64 KiB);
line BIG keeps ten of 4 MiB, over the interval: recorded exactly; line FREE drops every
other small block, whose frees must match their samples: at the marker "freed", half
the small blocks' estimate is left."""
keep = [bytearray(1000) for _ in range(200_000)]  # SMALL
big = [bytearray(4 << 20) for _ in range(10)]  # BIG
del keep[::2]  # FREE
try:
    import filrec  # under filrec run: mark the moment, for the live bytes then
    filrec.mark("freed")
except ImportError:
    pass
print(len(keep), len(big))
