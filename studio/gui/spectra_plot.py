"""Spectra plot (DESIGN.md's shared widget): named groups of spectra drawn as a mean
line inside a ± std band, with a few individual spectra as thin lines.

A *group* is any set of spectra over the same wavelengths ("measured", "generated",
"reconstruction"…).  Each keeps its colour and legend entry; replacing a group's data
redraws only that group.  PNG and CSV export go through pyqtgraph's exporters, as in
:class:`studio.gui.live_curve.LiveCurvePlot`.

Run ``python -m studio.gui.spectra_plot`` to preview it with random data.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers the exporters)
from PySide6 import QtGui, QtWidgets

GROUP_COLOURS = ("#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b")


@dataclass
class _Group:
    colour: QtGui.QColor
    mean: pg.PlotDataItem
    upper: pg.PlotDataItem
    lower: pg.PlotDataItem
    band: pg.FillBetweenItem
    samples: list[pg.PlotDataItem] = field(default_factory=list)
    data: dict[str, np.ndarray] = field(default_factory=dict)


class SpectraPlot(QtWidgets.QWidget):
    """Mean ± std bands of named spectrum groups, over wavelength."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, title: str = "",
                 x_label: str = "Wavelength (nm)", y_label: str = "Reflectance") -> None:
        super().__init__(parent)
        self._groups: dict[str, _Group] = {}
        self._plot_widget = pg.PlotWidget(self)
        self.plot_item: pg.PlotItem = self._plot_widget.getPlotItem()
        if title:
            self.plot_item.setTitle(title)
        self.plot_item.showGrid(x=True, y=True, alpha=0.25)
        self.plot_item.setLabel("bottom", x_label)
        self.plot_item.setLabel("left", y_label)
        self.plot_item.getAxis("left").enableAutoSIPrefix(False)  # reflectance 0.3, not "300 (x0.001)"
        self.plot_item.addLegend(offset=(-10, 10))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._plot_widget)

    # ------------------------------------------------------------------ data
    def set_group(self, name: str, wavelengths: np.ndarray, spectra: np.ndarray, *,
                  n_samples: int = 5, seed: int = 0, colour: str | None = None) -> None:
        """Draw ``spectra`` (n × L) as mean ± std with ``n_samples`` random individual spectra.

        One spectrum (or a 1-D array) draws a line without a band.
        """
        x = np.asarray(wavelengths, dtype=float)
        y = np.atleast_2d(np.asarray(spectra, dtype=float))
        if y.shape[1] != x.shape[0]:
            raise ValueError(f"{name}: {y.shape[1]} bands but {x.shape[0]} wavelengths")
        mean = y.mean(axis=0)
        std = y.std(axis=0, ddof=1) if y.shape[0] > 1 else np.zeros_like(mean)
        g = self._groups.get(name) or self._new_group(name, colour)
        g.mean.setData(x, mean)
        g.upper.setData(x, mean + std)
        g.lower.setData(x, mean - std)
        for item in g.samples:
            self.plot_item.removeItem(item)
        g.samples = []
        if y.shape[0] > 1 and n_samples > 0:
            rng = np.random.default_rng(seed)
            pick = rng.choice(y.shape[0], size=min(n_samples, y.shape[0]), replace=False)
            pen = pg.mkPen(QtGui.QColor(g.colour.red(), g.colour.green(), g.colour.blue(), 110), width=1)
            for i in pick:
                item = self.plot_item.plot(x, y[i], pen=pen)
                item.setZValue(-5)
                g.samples.append(item)
        g.data = {"wavelength": x, "mean": mean, "std": std, "n": np.array(y.shape[0])}

    def remove_group(self, name: str) -> None:
        g = self._groups.pop(name, None)
        if g is None:
            return
        for item in (g.mean, g.upper, g.lower, g.band, *g.samples):
            self.plot_item.removeItem(item)
        legend = self.plot_item.legend
        if legend is not None:
            legend.removeItem(name)

    def clear(self) -> None:
        for name in list(self._groups):
            self.remove_group(name)

    def group_names(self) -> list[str]:
        return list(self._groups)

    def group_data(self, name: str) -> dict[str, np.ndarray]:
        """``wavelength``, ``mean``, ``std`` and ``n`` of a drawn group."""
        return dict(self._groups[name].data)

    def sample_count(self, name: str) -> int:
        return len(self._groups[name].samples)

    def _new_group(self, name: str, colour: str | None) -> _Group:
        c = QtGui.QColor(colour or GROUP_COLOURS[len(self._groups) % len(GROUP_COLOURS)])
        mean = self.plot_item.plot(pen=pg.mkPen(c, width=2.5), name=name)
        edge = pg.mkPen(QtGui.QColor(c.red(), c.green(), c.blue(), 90), width=1)
        upper = self.plot_item.plot(pen=edge)
        lower = self.plot_item.plot(pen=edge)
        band = pg.FillBetweenItem(upper, lower, brush=pg.mkBrush(c.red(), c.green(), c.blue(), 55))
        band.setZValue(-10)
        self.plot_item.addItem(band)
        g = _Group(c, mean, upper, lower, band)
        self._groups[name] = g
        return g

    # ---------------------------------------------------------------- export
    def export_png(self, path: str | os.PathLike[str]) -> None:
        if not self._plot_widget.isVisible():
            self._plot_widget.resize(max(self._plot_widget.width(), 800), max(self._plot_widget.height(), 500))
        if not pg.exporters.ImageExporter(self.plot_item).export(os.fspath(path)):
            raise OSError(f"could not write image {path}")

    def export_csv(self, path: str | os.PathLike[str]) -> None:
        """One row per wavelength: ``wavelength, <group> mean, <group> std, …``."""
        names = list(self._groups)
        if not names:
            raise OSError("nothing to export: no spectra are drawn")
        x = self._groups[names[0]].data["wavelength"]
        cols = [x]
        header = ["wavelength_nm"]
        for n in names:
            d = self._groups[n].data
            cols += [d["mean"], d["std"]]
            header += [f"{n} mean", f"{n} std"]
        np.savetxt(os.fspath(path), np.column_stack(cols), delimiter=",", header=",".join(header), comments="",
                   fmt="%.6g")


def _preview() -> int:
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    w = SpectraPlot(title="Preview")
    x = np.linspace(450, 810, 91)
    rng = np.random.default_rng(0)
    base = 0.4 + 0.2 * np.sin(x / 60)
    w.set_group("measured", x, base + 0.03 * rng.standard_normal((100, 91)))
    w.set_group("generated", x, base + 0.01 + 0.025 * rng.standard_normal((100, 91)))
    w.resize(900, 500)
    w.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(_preview())
