"""Start-up costs of fastnn, each measured in fresh interpreters (median of --repeats runs).

    python bench/startup.py [--repeats 7]

Rows:
- ``import fastnn``: wall time of ``python -c "import fastnn"`` minus that of ``python -c pass``.
- first ``Network.fit`` beyond the second: in one process, a 100x10 fit timed twice; the first
  pays what is loaded on first use (the budget is 0.1 s).
- ``fastnn --help``: wall time of the command.
- ``fastnn train --epochs 1``: wall time on the bundled digits, and the fit's own share as the
  command reports it (its samples/s excludes imports).

The machine, Python and the libraries' versions are printed with the figures.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

FIT_TWICE = r"""
import json, time
t0 = time.perf_counter()
import numpy as np, fastnn
t1 = time.perf_counter()
X, y = np.random.default_rng(0).random((100, 10)), np.arange(100) % 2
def fit():
    start = time.perf_counter()
    fastnn.Network(hidden=(5,), epochs=1).fit(X, y)
    return time.perf_counter() - start
first, second = fit(), fit()
print(json.dumps({"import": t1 - t0, "first": first, "second": second}))
"""


def wall(command, cwd=None):
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_of(repeats, measure):
    return statistics.median(measure() for _ in range(repeats))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs per figure (default: %(default)s)")
    args = parser.parse_args(argv)
    python, fastnn = sys.executable, [sys.executable, "-m", "fastnn"]
    bare = median_of(args.repeats, lambda: wall([python, "-c", "pass"]))
    imported = median_of(args.repeats, lambda: wall([python, "-c", "import fastnn"]))
    fits = [json.loads(subprocess.run([python, "-c", FIT_TWICE], check=True, capture_output=True,
                                      text=True).stdout) for _ in range(args.repeats)]
    first_extra = statistics.median(f["first"] - f["second"] for f in fits)
    help_time = median_of(args.repeats, lambda: wall([*fastnn, "--help"]))
    with tempfile.TemporaryDirectory() as folder:
        train = median_of(max(1, args.repeats // 2), lambda: wall([*fastnn, "train", "--epochs", "1", "--quiet",
                                                                   "--output", os.path.join(folder, "run")], folder))
    import numpy

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"python {platform.python_version()}, numpy {numpy.__version__}; median of {args.repeats} runs")
    print("| what | seconds |\n|---|---:|")
    print(f"| interpreter start (`python -c pass`) | {bare:.3f} |")
    print(f"| `import fastnn` (beyond the interpreter) | {imported - bare:.3f} |")
    print(f"| first `Network.fit` on 100x10 beyond the second | {first_extra:.4f} |")
    print(f"| `fastnn --help` | {help_time:.3f} |")
    print(f"| `fastnn train --epochs 1 --quiet` (digits, whole command) | {train:.3f} |")


if __name__ == "__main__":
    main()
