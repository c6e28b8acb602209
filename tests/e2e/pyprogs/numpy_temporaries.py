"""The classic NumPy temporary: `t = x * 2.0` in a loop (line TEMP) makes a new
8,000,000-byte array each time and frees the one before once the new one exists, so
one allocation (the new array) comes between each array and its free. 100 rounds."""
import numpy as np

x = np.ones(1_000_000)
total = 0.0
for i in range(100):
    t = x * 2.0  # TEMP
    total += float(t.sum())
print(total)
