"""GUI event-loop latency while a CPU training job runs (goal: 99th percentile < 50 ms).

Builds the real main window offscreen, starts the engine check training (spiral
MLP, on the CPU through the shared pool, as the Train button does), and meanwhile
a QTimer probe fires every 10 ms and records how late each tick is handled.  Also
measures an idle baseline in the same run.  Usage:
``python bench/bench_event_latency.py [--seconds 10]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))
os.environ.setdefault("STUDIO_NO_CLOSE_PROMPT", "1")


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def probe(app, seconds: float, interval_ms: int = 10) -> list[float]:
    from PySide6 import QtCore

    lateness: list[float] = []
    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.setInterval(interval_ms)
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1000 - interval_ms))
        last[0] = now

    timer.timeout.connect(tick)
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    timer.start()
    loop.exec()
    timer.stop()
    return lateness


def report(name: str, lateness: list[float]) -> None:
    print(f"{name:<28} ticks {len(lateness):5d}  median {statistics.median(lateness):6.2f} ms  "
          f"p99 {percentile(lateness, 99):6.2f} ms  max {max(lateness):7.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()

    from PySide6 import QtWidgets

    from studio.engine import RunSpec
    from studio.engine.selfcheck import SelfCheckConfig, train_selfcheck
    from studio.engine.training import FitConfig
    from studio.gui.app import build_services
    from studio.gui.main_window import MainWindow

    import torch  # noqa: F401  (loaded before the measurement, as in a running app)

    app = QtWidgets.QApplication(sys.argv[:1])
    services = build_services()
    window = MainWindow(services)
    window.show()
    services.mark_torch_ready()
    app.processEvents()

    report("idle", probe(app, min(3.0, args.seconds)))
    cfg = SelfCheckConfig(n_points=20000, hidden=256, layers=4,
                          fit=FitConfig(optimizer="adam", lr=1e-3, epochs=1000, batch_size=256))
    job = services.submit(train_selfcheck, cfg, name="latency bench", workbench="engine", device="cpu",
                          run=RunSpec("engine", "selfcheck-mlp", cfg.to_dict()))
    while job.status == "queued":
        app.processEvents()
    busy = probe(app, args.seconds)
    steps = job.done
    job.cancel()
    job.wait(5)
    report("during CPU training", busy)
    print(f"training made {steps} steps in {args.seconds:.0f} s on {job.device} with "
          f"{torch.get_num_threads()} torch thread(s) of {os.cpu_count()} cores; goal p99 < 50 ms")
    window.close()


if __name__ == "__main__":
    main()
