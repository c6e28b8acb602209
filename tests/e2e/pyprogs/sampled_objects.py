"""--sample --python-allocators over objects that pymalloc itself serves (at most 512
bytes), against an exact recording of the same script. Line TUPLES keeps 300,000
tuples of 8 items (and an int each); line GROW grows 20,000 lists to 40 items, one
append at a time, so that their item arrays are reallocated through the small sizes;
line DROP frees every other tuple and every list. The frees of the sampled blocks must
match their samples: at the marker "dropped", the estimate is what is left."""
tuples = [(i, i, i, i, i, i, i, i) for i in range(1000, 301_000)]  # TUPLES
lists = []
for i in range(20_000):
    xs = []
    for j in range(40):
        xs.append(j)  # GROW
    lists.append(xs)
del tuples[::2], lists  # DROP
try:
    import filrec  # under filrec run: mark the moment, for the live bytes then
    filrec.mark("dropped")
except ImportError:
    pass
print(len(tuples))
