"""Box plot of a metric over repeated runs, one box per group (paper 002, Figs. 4, 6 and 9).

The paper trains every model variant ten times and shows the spread of mIoU as box
plots.  :class:`BoxPlot` draws, per group, the box from the first to the third
quartile, the median line, whiskers to the extreme values that are not outliers,
and the outliers as circles; every run's value is also shown as a small dot so a
box of three runs does not look like more evidence than it is.  The five numbers
come from ``studio.segmentation.metrics.box_plot_stats`` (imported lazily: this
module stays free of the domain's imports until a box is drawn).
"""
from __future__ import annotations

import math
import os
from typing import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

__all__ = ["BoxPlot"]

BOX_WIDTH = 0.5
DOT_JITTER = 0.12
COLOURS = ("#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#d81b60")


class BoxPlot(QtWidgets.QWidget):
    """Box plots of ``values`` per group name, in insertion order."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, title: str = "",
                 y_label: str = "mIoU"):
        super().__init__(parent)
        self._groups: dict[str, list[float]] = {}
        self._stats: dict[str, dict] = {}
        self.plot_widget = pg.PlotWidget()
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot_item.showGrid(x=False, y=True, alpha=0.25)
        self.plot_item.setLabel("left", y_label)
        self.plot_item.getAxis("left").enableAutoSIPrefix(False)
        self.plot_item.setMenuEnabled(False)
        self.plot_item.setMouseEnabled(x=False, y=True)
        if title:
            self.plot_item.setTitle(title)
        self.empty_text = pg.TextItem("No repeated runs yet", anchor=(0.5, 0.5), color="#888")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self._redraw()

    # ----------------------------------------------------------------- data
    def set_group(self, name: str, values: Iterable[float]) -> None:
        """Replace (or add) one group's values; non-finite values are dropped."""
        vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if vals:
            self._groups[name] = vals
        else:
            self._groups.pop(name, None)
        self._redraw()

    def add_value(self, name: str, value: float) -> None:
        """One more run of ``name``."""
        self.set_group(name, self._groups.get(name, []) + [value])

    def remove_group(self, name: str) -> None:
        self._groups.pop(name, None)
        self._redraw()

    def clear(self) -> None:
        self._groups.clear()
        self._redraw()

    def group_names(self) -> list[str]:
        return list(self._groups)

    def values(self, name: str) -> list[float]:
        return list(self._groups[name])

    def stats(self, name: str) -> dict:
        """The drawn five numbers and outliers of ``name`` (from ``box_plot_stats``)."""
        return dict(self._stats[name])

    # --------------------------------------------------------------- drawing
    def _redraw(self) -> None:
        self.plot_item.clear()
        self._stats = {}
        names = list(self._groups)
        axis = self.plot_item.getAxis("bottom")
        axis.setTicks([[(i, n) for i, n in enumerate(names)]])
        if not names:
            self.plot_item.addItem(self.empty_text)
            self.empty_text.setPos(0, 0.5)
            self.plot_item.setXRange(-1, 1)
            self.plot_item.setYRange(0, 1)
            return
        from studio.segmentation.metrics import box_plot_stats

        rng = np.random.default_rng(0)  # fixed jitter: the dots do not jump on every redraw
        lines_x, lines_y = [], []
        all_values: list[float] = []
        for i, name in enumerate(names):
            vals = self._groups[name]
            st = box_plot_stats(vals)
            self._stats[name] = st
            colour = COLOURS[i % len(COLOURS)]
            q1, q3 = float(st["q1"]), float(st["q3"])
            box = pg.BarGraphItem(x=[i], height=[max(q3 - q1, 1e-9)], y0=[q1], width=BOX_WIDTH,
                                  brush=pg.mkBrush(colour + "55"), pen=pg.mkPen(colour, width=1.5))
            self.plot_item.addItem(box)
            half, cap = BOX_WIDTH / 2, BOX_WIDTH / 4
            lo, hi, med = float(st["min"]), float(st["max"]), float(st["median"])
            segments = [((i - half, med), (i + half, med)),  # median
                        ((i, q1), (i, lo)), ((i, q3), (i, hi)),  # whiskers
                        ((i - cap, lo), (i + cap, lo)), ((i - cap, hi), (i + cap, hi))]  # caps
            for (ax, ay), (bx, by) in segments:
                lines_x += [ax, bx]
                lines_y += [ay, by]
            dots = pg.ScatterPlotItem(x=i + rng.uniform(-DOT_JITTER, DOT_JITTER, len(vals)), y=vals, size=4,
                                      pen=None, brush=pg.mkBrush(colour))
            self.plot_item.addItem(dots)
            outliers = [float(v) for v in st.get("outliers", [])]
            if outliers:
                self.plot_item.addItem(pg.ScatterPlotItem(x=[i] * len(outliers), y=outliers, size=9, symbol="o",
                                                          pen=pg.mkPen(colour, width=1.5), brush=None))
            all_values += vals
        pen = pg.mkPen(pg.getConfigOption("foreground"), width=1.5)
        self.plot_item.addItem(pg.PlotDataItem(lines_x, lines_y, connect="pairs", pen=pen))
        lo, hi = min(all_values), max(all_values)
        pad = max((hi - lo) * 0.15, 0.01)
        self.plot_item.setYRange(lo - pad, hi + pad)
        self.plot_item.setXRange(-0.7, len(names) - 0.3)

    # ---------------------------------------------------------------- export
    def export_png(self, path: str | os.PathLike[str]) -> None:
        """Write the plot as PNG; raises OSError when it cannot."""
        import pyqtgraph.exporters  # noqa: F401 - registers the exporters

        exporter = pg.exporters.ImageExporter(self.plot_item)
        if not exporter.export(os.fspath(path)):
            raise OSError(f"could not write image {path}")

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(320, 220)
