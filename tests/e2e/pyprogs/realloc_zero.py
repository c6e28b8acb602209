"""PyMem_Realloc(p, 0) must return a block, as without filrec, also when p is a sampled block
(under --sample --python-allocators, one made by malloc: record/rec_stack.c). Prints how
many returned NULL: 0."""
import ctypes
api = ctypes.pythonapi
api.PyMem_Malloc.restype = ctypes.c_void_p
api.PyMem_Malloc.argtypes = [ctypes.c_size_t]
api.PyMem_Realloc.restype = ctypes.c_void_p
api.PyMem_Realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
api.PyMem_Free.argtypes = [ctypes.c_void_p]
bad = 0
for i in range(2000):
    p = api.PyMem_Malloc(100)
    q = api.PyMem_Realloc(p, 0)
    if not q:
        bad += 1
    else:
        api.PyMem_Free(q)
print("null reallocs:", bad)
