"""MaskView responsiveness on large aerial tiles (goal: zoom/pan repaint and a brush stroke well under 50 ms).

Shows a random RGB image of each size in :class:`studio.gui.mask_view.MaskView`
(offscreen, 900 × 800 widget) with a predicted mask and a ground truth in the
comparison mode, then times, as medians over repeats:

- ``set``: showing the image and both masks (once per image, not interactive);
- ``zoom``: one wheel-like zoom step followed by a full repaint of the widget;
- ``pan``: one pan step followed by a full repaint;
- ``stroke``: one brush stroke of 100 px at 20 px diameter on the full-resolution
  mask, with the overlay refreshed and repainted.

Usage: ``python bench/bench_mask_view.py [--sizes 1500,5000,10000] [--repeats 15]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1500,5000,10000")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()

    import numpy as np
    from PySide6 import QtWidgets

    from studio.gui.mask_view import MaskView

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    view = MaskView()
    view.resize(900, 800)
    view.show()
    rng = np.random.default_rng(0)
    print(f"{'size':>7} {'stride':>6} {'set s':>7} {'zoom ms':>8} {'pan ms':>7} {'stroke ms':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        truth = np.zeros((size, size), bool)
        truth[size // 4:size // 2, size // 4:size // 2] = True
        pred = np.roll(truth, size // 20, axis=1)
        t = time.perf_counter()
        view.set_image(image)
        view.set_truth(truth)
        view.set_mask(pred)
        view.set_mode("compare")
        view.grab()
        t_set = time.perf_counter() - t
        zoom, pan, stroke = [], [], []
        for k in range(args.repeats):
            t = time.perf_counter()
            view.view.scaleBy((0.85, 0.85))
            view.grab()
            zoom.append(time.perf_counter() - t)
            t = time.perf_counter()
            view.view.translateBy(x=size / 200, y=size / 300)
            view.grab()
            pan.append(time.perf_counter() - t)
            t = time.perf_counter()
            x, y = size * 0.3 + 7 * k, size * 0.6
            view.paint_stroke([(x, y), (x + 100, y + 10)], erase=False)
            view.labels()  # flush the throttled overlay refresh
            view.grab()
            stroke.append(time.perf_counter() - t)
        ms = lambda v: 1000 * statistics.median(v)  # noqa: E731
        print(f"{size:>7} {view.stride:>6} {t_set:>7.2f} {ms(zoom):>8.1f} {ms(pan):>7.1f} {ms(stroke):>9.1f}")
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
