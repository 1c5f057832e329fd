"""Predicted class probabilities of several inputs as grouped horizontal bars.

One group of bars per class (class names on the y axis, so long names stay
readable), one colour per series -- e.g. "noisy" and the enhanced input of each
model (paper 003).  The legend sits under the x axis (a row of the plot's own
layout, so it is part of exported images and never covers a bar); a known true
class is marked with ▶ on its axis label.  :meth:`ProbabilityBars.set_series` replaces
everything; :meth:`ProbabilityBars.series` returns what is shown;
:meth:`ProbabilityBars.export_png` writes it through pyqtgraph's exporter.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters.*)
from PySide6 import QtGui, QtWidgets

__all__ = ["ProbabilityBars", "SERIES_COLOURS"]

SERIES_COLOURS = ("#9e9e9e", "#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b")


class ProbabilityBars(pg.PlotWidget):
    """Horizontal bars: y = class, x = probability in [0, 1], one colour per series."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, title: str = "") -> None:
        super().__init__(parent)
        self._series: dict[str, np.ndarray] = {}
        self._classes: list[str] = []
        self._bars: list[pg.BarGraphItem] = []
        self._title = title
        plot = self.getPlotItem()
        if title:
            plot.setTitle(title, size="9pt")
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.setLabel("bottom", "probability")
        plot.showGrid(x=True, y=False, alpha=0.25)
        plot.invertY(True)  # first class at the top
        self.setXRange(0, 1, padding=0.02)
        self._legend = pg.LegendItem(colCount=2, labelTextSize="8pt", verSpacing=-6, horSpacing=6)
        plot.layout.addItem(self._legend, 4, 0, 1, 3)  # under the axis, as wide as the whole plot
        plot.getAxis("left").setTicks([[]])  # no classes yet: no numbers on the class axis
        plot.layout.removeItem(plot.titleLabel)  # the title spans the class-name axis too (narrow plots)
        plot.layout.addItem(plot.titleLabel, 0, 0, 1, 3)

    def set_series(self, classes: Sequence[str], series: Sequence[tuple[str, np.ndarray]],
                   true_class: str | None = None) -> None:
        """``series``: (name, probabilities of len(classes)) pairs, drawn in order; ``true_class`` is marked."""
        classes = [str(c) for c in classes]
        checked = []
        for name, p in series:
            p = np.asarray(p, dtype=float).ravel()
            if p.shape != (len(classes),):
                raise ValueError(f"{name}: {p.size} probabilities for {len(classes)} classes")
            checked.append((str(name), p))
        plot = self.getPlotItem()
        for bar in self._bars:
            plot.removeItem(bar)
        self._legend.clear()
        self._bars = []
        self._classes = classes
        self._series = dict(checked)
        n = max(1, len(checked))
        height = 0.8 / n
        y = np.arange(len(classes), dtype=float)
        for k, (name, p) in enumerate(checked):
            colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
            bar = pg.BarGraphItem(x0=np.zeros_like(p), width=p, y=y - 0.4 + height * (k + 0.5), height=height,
                                  brush=colour, pen=None)
            plot.addItem(bar)
            self._legend.addItem(bar, name)
            self._bars.append(bar)
        names = [f"▶ {c}" if c == true_class else c for c in classes]
        axis = plot.getAxis("left")
        axis.setTicks([list(enumerate(names))])
        metrics = QtGui.QFontMetrics(axis.style.get("tickFont") or self.font())
        axis.setWidth(max((metrics.horizontalAdvance(n) for n in names), default=20) + 12)
        self.setYRange(-0.5, max(0.5, len(classes) - 0.5), padding=0.02)
        self.setXRange(0, 1, padding=0.02)

    def clear_series(self) -> None:
        self.set_series(self._classes, [])

    def series(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._series.items()}

    def classes(self) -> list[str]:
        return list(self._classes)

    def export_png(self, path: str | os.PathLike[str]) -> None:
        path = os.fspath(path)
        if not self.isVisible() and (self.width() < 200 or self.height() < 150):
            self.resize(600, 400)
        exporter = pg.exporters.ImageExporter(self.getPlotItem())
        if not exporter.export(path):
            raise OSError(f"could not write image {path}")
