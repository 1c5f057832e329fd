"""Mel-spectrogram images side by side, on one colour scale (paper 003, Fig. 3).

:class:`MelImageGrid` shows named 2-D arrays of shape (mel bands, frames) -- the
clean and the noisy features, a mask, the enhanced features of each model -- as
images in a grid of titled panels, low frequencies at the bottom and time to the
right, all on the same levels (the features are min-max normalised per clip and
the masks are sigmoids, so (0, 1) by default) with one colour bar.  Panels whose
titles do not change are updated in place, so dragging an SNR slider does not
rebuild the scene.  The x and y views of all panels are linked: zooming one zooms
them all.  :meth:`MelImageGrid.export_png` writes the whole grid through
pyqtgraph's ``ImageExporter``.

Run ``python -m studio.gui.mel_view`` for a preview with random arrays.
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters.*)
from PySide6 import QtCore, QtWidgets

__all__ = ["MelImageGrid"]

DEFAULT_COLOURMAP = "inferno"


class MelImageGrid(pg.GraphicsLayoutWidget):
    """Titled (bands × frames) images in ``columns`` columns, one colour scale, linked views."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, columns: int = 2,
                 levels: tuple[float, float] = (0.0, 1.0), colormap: str = DEFAULT_COLOURMAP,
                 placeholder: str = "No clip yet.") -> None:
        super().__init__(parent)
        self.columns = max(1, int(columns))
        self.levels = levels
        self.cmap = pg.colormap.get(colormap)
        self._titles: list[str] = []
        self._arrays: dict[str, np.ndarray] = {}
        self._plots: dict[str, pg.PlotItem] = {}
        self._items: dict[str, pg.ImageItem] = {}
        self._bar: pg.ColorBarItem | None = None
        self._shape: tuple[int, int] | None = None
        self.ci.setContentsMargins(2, 2, 2, 2)
        # The empty grid's hint is a child QLabel, not a layout item: a long label would leave its width
        # in the layout's columns after it is removed.
        self.placeholder = placeholder
        self._hint = QtWidgets.QLabel(placeholder, self)
        self._hint.setWordWrap(True)
        self._hint.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._hint.setStyleSheet("color: #9e9e9e; background: transparent;")

    # ------------------------------------------------------------------- data
    def set_panels(self, panels: Sequence[tuple[str, np.ndarray]]) -> None:
        """Show ``(title, array (bands, frames))`` panels in order; an empty list clears the grid."""
        arrays = []
        for title, a in panels:
            a = np.asarray(a, dtype=np.float32)
            if a.ndim != 2:
                raise ValueError(f"{title}: a mel image must be 2-D (bands × frames), got shape {a.shape}")
            arrays.append((str(title), np.nan_to_num(a)))
        titles = [t for t, _ in arrays]
        if titles != self._titles:
            self._rebuild(titles)
        self._arrays = dict(arrays)
        for title, a in arrays:
            # ImageItem's x is the first axis: transpose so x = frame, y = mel band (low at the bottom).
            self._items[title].setImage(a.T, levels=self.levels, autoLevels=False)
        shape = max((a.shape for _, a in arrays), default=None)
        if shape is not None and shape != self._shape:
            self._shape = shape
            for plot in self._plots.values():  # whole images; the views stay linked for zooming
                plot.getViewBox().setRange(xRange=(0, shape[1]), yRange=(0, shape[0]), padding=0)

    def clear_panels(self, message: str | None = None) -> None:
        self._rebuild([], message)
        self._arrays = {}

    def titles(self) -> list[str]:
        return list(self._titles)

    def array(self, title: str) -> np.ndarray:
        """The array shown under ``title`` (KeyError when there is none)."""
        return self._arrays[title]

    def image_item(self, title: str) -> pg.ImageItem:
        return self._items[title]

    def _rebuild(self, titles: list[str], message: str | None = None) -> None:
        self.clear()
        self._plots, self._items, self._bar, self._shape = {}, {}, None, None
        self._titles = list(titles)
        self._hint.setText(message or self.placeholder)
        self._hint.setVisible(not titles)
        if not titles:
            return
        first: pg.PlotItem | None = None
        for k, title in enumerate(titles):
            plot = self.addPlot(row=k // self.columns, col=k % self.columns, title=title)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.getAxis("left").setWidth(24)
            plot.getAxis("bottom").setHeight(18)
            plot.getViewBox().setMouseEnabled(x=True, y=False)
            plot.getViewBox().disableAutoRange()
            item = pg.ImageItem(axisOrder="col-major")
            item.setColorMap(self.cmap)
            plot.addItem(item)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
                plot.setYLink(first)
            self._plots[title] = plot
            self._items[title] = item
        last_row = (len(titles) - 1) // self.columns
        self._bar = pg.ColorBarItem(values=self.levels, colorMap=self.cmap, interactive=False, width=10)
        self._bar.setImageItem(list(self._items.values()))
        self.addItem(self._bar, row=0, col=self.columns, rowspan=last_row + 1)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        hint = getattr(self, "_hint", None)  # pyqtgraph resizes once inside its own __init__
        if hint is not None:
            hint.setGeometry(self.rect().adjusted(20, 20, -20, -20))

    # ----------------------------------------------------------------- export
    def export_png(self, path: str | os.PathLike[str]) -> None:
        """The whole grid as a PNG (pyqtgraph's ImageExporter). Raises OSError when it cannot."""
        path = os.fspath(path)
        if not self.isVisible() and (self.width() < 200 or self.height() < 150):
            self.resize(900, 200 * max(1, (len(self._titles) + self.columns - 1) // self.columns))
        exporter = pg.exporters.ImageExporter(self.scene())
        if not exporter.export(path):
            raise OSError(f"could not write image {path}")


def main() -> int:  # pragma: no cover - manual preview
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    grid = MelImageGrid()
    rng = np.random.default_rng(0)
    clean = rng.random((40, 250)) ** 3
    noisy = np.clip(clean + 0.3 * rng.random((40, 250)), 0, 1)
    mask = rng.random((40, 250))
    grid.set_panels([("clean", clean), ("noisy", noisy), ("mask", mask), ("enhanced", mask * noisy)])
    timer = QtCore.QTimer(grid)
    timer.timeout.connect(lambda: grid.set_panels([("clean", clean), ("noisy", np.clip(
        clean + rng.random() * rng.random((40, 250)), 0, 1)), ("mask", mask), ("enhanced", mask * noisy)]))
    timer.start(300)
    grid.resize(900, 500)
    grid.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
