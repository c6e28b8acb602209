"""Holds argv[1] million bytes at line HOLD, then prints a JSON line with its pid."""
import json
import os
import sys


def hold(mb):
    x = bytearray(mb * 1_000_000)  # HOLD
    return len(x)


if __name__ == "__main__":
    print(json.dumps({"child": os.getpid(), "held": hold(int(sys.argv[1]))}))
