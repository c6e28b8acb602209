# Known answer: what `filrec summary` reports for this program, run with Debian's
# CPython 3.11, NumPy 1.24 and pandas 1.5 in default mode. Bytes are counted above the
# baseline: the peak of an interpreter that runs only this file's imports.
#
# expect: peak_bytes = 224_000_000
# expect: top_line = 49
# expect: top_function = add_score
# expect: top_bytes = 192_000_000
#
# Why: the CSV has 8,000,000 rows of four one-digit counts, read as int8, so the frame
# holds 4 x 8,000,000 = 32,000,000 bytes (one int8 block, allocated inside pandas).
# Line 49 computes the new column on the columns' NumPy views (no copies). Each of the
# three divisions makes a float64 temporary of 64,000,000 bytes, and all three are
# alive when the third is made: 192,000,000 bytes at line 49. That is the peak, with
# the 32 MB of data. The sum and the difference make no fourth array: NumPy sees that
# their left operands are temporaries and writes into them (temporary elision). Then
# pandas copies the 64 MB result into the frame (32 + 64 + 64 MB, less than the
# peak). Reading the CSV costs about twice the data, writing it 12 bytes a row.
# The 192 MB are more than `import numpy, pandas` (about 140 MB), so line 49 is the
# top location.
"""Read a day of order counts from a CSV file and add a score column."""
import os
import sys
import tempfile

import numpy as np
import pandas as pd

COLUMNS = ["ordered", "shipped", "returned", "visits"]


def write_csv(path, n_rows, seed=1):
    """n_rows of four random digits 1..9, written as CSV text built with NumPy."""
    digits = np.random.default_rng(seed).integers(1, 10, size=(n_rows, 4), dtype=np.uint8)
    text = np.empty((n_rows, 8), dtype=np.uint8)
    text[:, 0::2] = digits + ord("0")
    text[:, 1:7:2] = ord(",")
    text[:, 7] = ord("\n")
    with open(path, "wb") as f:
        f.write((",".join(COLUMNS) + "\n").encode())
        text.tofile(f)


def add_score(df):
    ordered = df["ordered"].to_numpy()
    shipped = df["shipped"].to_numpy()
    returned = df["returned"].to_numpy()
    visits = df["visits"].to_numpy()
    score = shipped / ordered - (returned / shipped + returned / visits)
    df["score"] = score


def main():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "orders.csv")
        write_csv(path, 8_000_000)
        df = pd.read_csv(path, dtype="int8")
    add_score(df)
    print("%d rows, mean score %.4f" % (len(df), df["score"].mean()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
