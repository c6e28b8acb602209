"""Answers in the user's own code: NumPy's import is charged to line IMPORT; np.ones's
80,000,000 bytes to line ONES (through numpy's `ones`); json.dumps's string of
7,888,890 bytes (1,000,000 numbers and their separators) to line JSON, through the standard
library; 20,000,000 bytes made by code compiled from a string (as namedtuple and
dataclasses make theirs: file "<string>") to line GEN, the script's line that called
it. All four are live at the peak (line END)."""
import numpy as np  # IMPORT
import json

a = np.ones(10_000_000)  # ONES
ns = {}
exec(compile("def make(n):\n    return bytearray(n)\n", "<string>", "exec"), ns)
made = ns["make"](20_000_000)  # GEN
s = json.dumps(list(range(1_000_000)))  # JSON
print(len(s))  # END
