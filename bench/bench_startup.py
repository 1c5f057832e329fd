"""Time from process start to the main window's first paint (goal: under 1.5 s).

Runs ``python -m studio`` N times (default 5) with STUDIO_STARTUP_PROBE set; the
app prints the wall-clock time of its first Paint event and exits.  The figure is
(first paint − the moment just before the process was spawned); the median and
the spread are printed.  Usage: ``python bench/bench_startup.py [--runs 5]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def one_run(home: str) -> float:
    env = {**os.environ, "STUDIO_STARTUP_PROBE": "1", "STUDIO_EXIT_AFTER_PAINT": "1", "STUDIO_HOME": home,
           "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    t0 = time.time()
    out = subprocess.run([sys.executable, "-m", "studio"], env=env, capture_output=True, text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("FIRST_PAINT "):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"no first paint reported (exit {out.returncode}):\n{out.stderr[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="studio-bench-")
    one_run(home)  # warm the OS file cache and create the registry once
    times = [one_run(home) for _ in range(args.runs)]
    print(f"first paint after process start: median {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, max {max(times):.3f}, {args.runs} runs; goal < 1.5 s)")
    print("runs:", " ".join(f"{t:.3f}" for t in times))


if __name__ == "__main__":
    main()
