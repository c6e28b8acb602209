"""Answers in the user's own code: NumPy's import is charged to line IMPORT; np.ones's
80,000,000 bytes to line ONES (through numpy's `ones`); json.dumps's string of
7,888,890 bytes (1,000,000 numbers and their separators) to line JSON, through the standard
library. All three are live at the peak (line END)."""
import numpy as np  # IMPORT
import json

a = np.ones(10_000_000)  # ONES
s = json.dumps(list(range(1_000_000)))  # JSON
print(len(s))  # END
