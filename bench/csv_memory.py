"""Peak memory and time of reading a large CSV: fastnn.io.read_csv against pandas.read_csv.

Generates a CSV of ``--rows`` rows of ``label,x1,...,x784`` (3-decimal values, ~500 MB by
default) in a temporary folder, then reads it in fresh child processes, each measured on its
own: peak resident memory (``ru_maxrss`` of the child) and wall time.  Prints one line per
reader and the ratio of the peak to the size of the float64 result.

    python bench/csv_memory.py            # ~500 MB file
    python bench/csv_memory.py --rows 20000
    python bench/csv_memory.py --keep /tmp/big.csv   # keep the file, e.g. for /usr/bin/time -v

pandas is optional (it is in the test extras); without it only fastnn is measured.
``fastnn.io.read_csv`` itself uses pandas' C parser for files over 32 MiB when pandas is
installed, numpy's ``loadtxt`` otherwise; either way it parses 8 MiB pieces of whole lines
straight into the result.

Measured (2 shared cores, 23 GB, Python 3.11, numpy 2.4.6, pandas 3.1.1, AMD EPYC; 130,000 x 785 rows
of 3-decimal values, 612 MB; float64 result 815 MB), each with ``/usr/bin/time -v python -c
"..."`` (whole process, imports included):

    reader                                   wall    peak RSS
    fastnn.io.read_csv (pandas installed)     7.8 s    0.97 GB  (1.18x the result)
    fastnn.io.read_csv (no pandas: loadtxt)  20.7 s    0.95 GB
    pandas.read_csv(header=None).to_numpy()   8.7 s    2.31 GB
    fastnn.io.read_csv before the streaming  30.3 s    3.99 GB
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

# (imports, the read that is measured)
READERS = {
    "fastnn.io.read_csv": ("import fastnn.io as f", "X, y = f.read_csv(PATH)"),
    "pandas.read_csv(header=None)": ("import pandas as pd", "d = pd.read_csv(PATH, header=None).to_numpy()"),
    "numpy.loadtxt": ("import numpy as np", "d = np.loadtxt(PATH, delimiter=',')"),
}


def generate(path, rows, cols, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for start in range(0, rows, 5000):
            n = min(5000, rows - start)
            block = np.round(rng.random((n, cols)), 3)
            labels = rng.integers(0, 10, size=n)
            f.write("\n".join(f"{label}," + ",".join(f"{v:.3f}" for v in row)
                              for label, row in zip(labels, block)) + "\n")


def measure(code, path):
    """(seconds, peak RSS in bytes) of the read ``code[1]`` in a fresh interpreter (after ``code[0]``)."""
    imports, read = code
    script = ("import resource, time, sys\nPATH = sys.argv[1]\n" + imports + "\n"
              "t = time.perf_counter()\n" + read + "\n"
              "print(time.perf_counter() - t)\n"
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)\n")
    out = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True, check=True)
    seconds, peak = out.stdout.split()
    return float(seconds), int(peak)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=130_000)
    parser.add_argument("--cols", type=int, default=784)
    parser.add_argument("--skip", nargs="*", default=["numpy.loadtxt"], help="readers not to run")
    parser.add_argument("--keep", metavar="PATH", help="write the CSV here (and reuse it if it exists)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or os.path.join(folder, "big.csv")
        started = time.perf_counter()
        if not os.path.exists(path):
            generate(path, args.rows, args.cols)
        args.rows = sum(1 for _ in open(path, "rb"))
        size = os.path.getsize(path)
        result = args.rows * args.cols * 8
        print(f"file: {args.rows} x {args.cols + 1}, {size / 1e6:.0f} MB (ready in "
              f"{time.perf_counter() - started:.0f} s); float64 result {result / 1e6:.0f} MB")
        for name, code in READERS.items():
            if name in args.skip:
                continue
            try:
                seconds, peak = measure(code, path)
            except subprocess.CalledProcessError as exc:
                print(f"{name:32s} failed: {exc.stderr.strip().splitlines()[-1]}")
                continue
            print(f"{name:32s} {seconds:7.1f} s  peak RSS {peak / 1e6:7.0f} MB  "
                  f"({peak / result:.2f}x the result, {peak / size:.2f}x the file)")


if __name__ == "__main__":
    main()
