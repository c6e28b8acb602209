"""The stack as the interpreter itself sees it, to compare with filrec's."""
import sys


def here():
    """The caller's stack: [file, function, line] lists, outermost first. The function
    is co_qualname where the interpreter has it (3.11+), else co_name, as filrec does."""
    out = []
    f = sys._getframe(1)
    while f is not None:
        code = f.f_code
        out.append([code.co_filename, getattr(code, "co_qualname", code.co_name), f.f_lineno])
        f = f.f_back
    return out[::-1]
