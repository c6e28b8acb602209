"""Run with `-m run_as_module`: runpy's frames sit above the module's own. Prints
where Python itself says the allocation was."""
import json
import sys

from oracle import here


def main():
    buf, where = bytearray(29_000_000), here()  # @alloc
    print(json.dumps({"where": where, "name": __name__, "argv": sys.argv}))
    return buf


if __name__ == "__main__":
    kept = main()  # @main-call
