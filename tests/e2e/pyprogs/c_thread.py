"""A thread started from C, with no Python on it, allocates 17,000,000 bytes: libc's
malloc is the thread's start routine (both take one word and return a pointer), so
pthread_create(malloc, 17000000) runs malloc(17000000) in a thread Python never sees.
filrec charges it to the Python stack that created the thread."""
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.pthread_create.argtypes = [ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p,
                                ctypes.c_void_p, ctypes.c_void_p]
libc.pthread_join.argtypes = [ctypes.c_ulong, ctypes.POINTER(ctypes.c_void_p)]
start = ctypes.cast(libc.malloc, ctypes.c_void_p)


def spawn(size):
    tid = ctypes.c_ulong()
    rc = libc.pthread_create(ctypes.byref(tid), None, start, size)  # @create
    assert rc == 0, rc
    return tid


def main():
    tid = spawn(17_000_000)  # @spawn
    result = ctypes.c_void_p()
    assert libc.pthread_join(tid, ctypes.byref(result)) == 0
    assert result.value  # the block stays allocated: live at the peak and at exit


main()  # @main
