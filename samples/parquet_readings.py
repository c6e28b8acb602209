# Known answer: what `filrec summary` reports for this program, run with PyPI's NumPy 2,
# pandas 2 and pyarrow 26 (.venv's CPython 3.11) in default mode. Bytes are counted
# above the baseline: the peak of an interpreter that runs only this file's imports.
#
# expect: peak_bytes = 350_000_000
# expect: top_line = 89
# expect: top_function = anomalies
# expect: top_bytes = 200_000_000
# expect: second_line = 76
# expect: second_function = load_columns
# expect: second_bytes = 100_000_000
# expect: not_at_peak = 66
#
# Why: N = 12,500,000 readings, a station id (int32, 4 bytes) and a temperature
# (float64, 8 bytes) each. The readings are written with pq.write_table and read back
# with pq.read_table, which returns each column as 96 chunks: the file has 12 row groups
# of up to 1,048,576 rows (the writer's default), and the reader slices them into
# batches of 131,072 rows. to_numpy() of a column of several chunks concatenates them
# into a new buffer, allocated by Arrow: 4N = 50,000,000 bytes at line 75 and
# 8N = 100,000,000 at line 76 (both multiples of 64, so Arrow's padding adds nothing).
# The table (4N + 8N, and for each column, nullable though no value is null, a bitmap
# of N/8 = 1,562,500 bytes padded to 1,562,560: 153,125,120) is freed on return.
# Line 89 gathers each reading's station mean, means[station], a float64 temporary of
# 8N, and subtracts it from temp into a new array of 8N (NumPy writes a result into a
# temporary operand only when that is the left one, or the operation commutes):
# 200,000,000 bytes at line 89, with the two columns (150,000,000) live. That is the
# peak: 350,000,000 bytes. The rest is lower: the write holds its ids (line 66, gone
# at the peak), the gathered usual temperatures and the noise (line 68): 20N; the
# load holds the table and both copies: 303,125,120; np.bincount's int64 copy of the
# ids (8N) comes with 12N live, before line 89 and after `del temp`: 20N. The modules
# read_table imports on first use (pyarrow.dataset and kin, about 1.5 MB), which the
# baseline does not import, are within the 1%.
#
# Arrow's memory pool: pyarrow's wheels allocate from a bundled mimalloc, which takes
# its memory from the system by reserving a 1 GiB arena with one anonymous mmap at its
# first use and serving Arrow's buffers from inside it. filrec records that mmap and
# never sees the buffers: it would show 1 GiB held by the write_table line and nothing
# at lines 75 and 76. So this program selects Arrow's system pool (malloc, through
# posix_memalign) with ARROW_DEFAULT_MEMORY_POOL, set before pyarrow is first imported
# (pandas imports it too); pa.set_memory_pool() is not enough, as the Parquet writer
# allocates from the process-wide default pool. pre_buffer=False: by default
# read_table reads the whole file (119 MB here) ahead into memory and a background
# thread frees it some time after read_table returns, which would make the load's
# high-water mark depend on thread timing.
"""Temperature anomalies of weather stations: a day of readings is written to a Parquet
file, read back as NumPy columns, each reading is compared with its station's mean, and
the station whose readings spread the most is reported."""
import os
import sys
import tempfile

os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"  # before pyarrow: see the header

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

N_READINGS = 12_500_000
N_STATIONS = 1_000


def write_readings(path, n, n_stations, seed=11):
    """n readings from n_stations stations, each around its own usual temperature."""
    rng = np.random.default_rng(seed)
    station = rng.integers(0, n_stations, n, dtype=np.int32)
    usual = rng.uniform(-5.0, 25.0, n_stations)
    temp = usual[station] + rng.standard_normal(n)
    pq.write_table(pa.table({"station": station, "temp": temp}), path)


def load_columns(path):
    """The file's two columns as NumPy arrays."""
    table = pq.read_table(path, columns=["station", "temp"], pre_buffer=False)
    station = table.column("station").to_numpy()
    temp = table.column("temp").to_numpy()
    return station, temp


def station_means(station, values, n_stations):
    """The mean of values over each station's readings."""
    counts = np.bincount(station, minlength=n_stations)
    return np.bincount(station, weights=values, minlength=n_stations) / counts


def anomalies(station, temp, n_stations):
    """Each reading less its station's mean; and the means."""
    means = station_means(station, temp, n_stations)
    return temp - means[station], means


def main():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "readings.parquet")
        write_readings(path, N_READINGS, N_STATIONS)
        station, temp = load_columns(path)
    anomaly, means = anomalies(station, temp, N_STATIONS)
    del temp
    np.square(anomaly, out=anomaly)
    spread = np.sqrt(station_means(station, anomaly, N_STATIONS))
    stats = pd.DataFrame({"mean": means, "spread": spread})
    worst = int(stats["spread"].idxmax())
    print("%d readings from %d stations; widest spread %.4f at station %d (mean %.2f)"
          % (len(station), len(stats), stats["spread"][worst], worst, stats["mean"][worst]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
