# Known answer: what `filrec summary` reports for this program, run with Debian's
# CPython 3.11 and NumPy 1.24 in default mode. Bytes are counted above the baseline:
# the peak of an interpreter that runs only this file's imports (`import numpy` alone
# costs about 145 MB, most of it OpenBLAS's buffer for its worker thread).
#
# expect: peak_bytes = 800_000_000
# expect: top_line = 31
# expect: top_function = load_readings
# expect: top_bytes = 800_000_000
# expect: not_at_peak = 39
#
# Why: phase 1 holds a 10,000 x 10,000 float64 grid, 800,000,000 bytes from one calloc
# at line 31 (np.zeros is implemented in C, so this file's line is the innermost
# Python frame). The grid is freed when load_readings returns its column means (80 KB).
# Phase 2 builds a 5,000 x 10,000 float64 table, 400,000,000 bytes at line 39, after
# the grid is gone: a second, lower hill. The peak is phase 1's.
"""Calibrate a bank of sensors: load a day of readings into one big grid, reduce it
to per-sensor means, then build a table of scaled readings for half the sensors."""
import sys

import numpy as np

N_SAMPLES = 10_000
N_SENSORS = 10_000


def load_readings(n_samples, n_sensors):
    """Per-sensor mean of a synthetic day of readings."""
    # The readings: a ramp per sensor, added in place (no temporary grid).
    drift = np.arange(n_sensors, dtype=np.float64) / n_sensors
    grid = np.zeros((n_samples, n_sensors))
    grid += drift
    return grid.mean(axis=0)


def scale_table(means, n_rows):
    """Every sensor's mean, scaled by each of n_rows gains."""
    gains = np.arange(1, n_rows + 1, dtype=np.float64) / n_rows
    return np.multiply.outer(gains, means)


def main():
    means = load_readings(N_SAMPLES, N_SENSORS)
    table = scale_table(means, N_SENSORS // 2)
    print("mean of means %.4f, table %s, last %.4f" % (means.mean(), table.shape, table[-1, -1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
