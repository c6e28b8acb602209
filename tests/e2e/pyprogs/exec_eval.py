"""Code run from strings (file "<string>"): a block run by exec, a function defined
and called inside exec'd code, and an expression run by eval."""
BLOCK = "size = 21_000_000\nbig = bytearray(size)\n"
FUNC = "def make(n):\n    pad = n + 1\n    return bytearray(n)\n\nmade = make(27_000_000)\n"
EXPR = "bytearray(33_000_000)"


def run_block():
    ns = {}
    exec(BLOCK, ns)  # @exec-block
    return ns


def run_func():
    ns = {}
    exec(FUNC, ns)  # @exec-func
    return ns


def run_eval():
    return eval(EXPR)  # @eval


kept = [run_block(), run_func(), run_eval()]  # @call
