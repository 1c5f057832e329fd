"""A table of numbers shown as a heat map, filled in cell by cell.

Used for grids of results that arrive while a job runs -- the Audio workbench's
noise type × SNR accuracy grid (Table 2 of paper 003) fills one cell per streamed
``grid/{noise}/{snr}`` metric -- and for confusion matrices.  It is a plain
``QTableWidget`` (selectable, copyable text, headers that name rows and columns)
whose cell backgrounds come from a pyqtgraph colour map over fixed levels, so two
tables on the same levels compare by colour.  Empty cells (no value yet) stay
uncoloured.

* :meth:`HeatmapTable.set_axes` names the rows and columns (cells become empty);
* :meth:`HeatmapTable.set_value` sets one cell by label or index; an unknown label
  adds a row or column, so a grid can grow as values stream in;
* :meth:`HeatmapTable.set_matrix` sets everything at once, optionally colouring by
  a second array (e.g. row-normalised counts of a confusion matrix);
* :meth:`HeatmapTable.values` returns the numbers (NaN where empty);
  :meth:`HeatmapTable.export_csv` writes them with their labels (full precision),
  :meth:`HeatmapTable.export_png` an image of the table as shown.

Run ``python -m studio.gui.heatmap_table`` for a preview that streams a fake grid.
"""
from __future__ import annotations

import csv
import math
import os
import sys
from typing import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["HeatmapTable", "percent", "signed_percent"]

VALUE_ROLE = QtCore.Qt.ItemDataRole.UserRole


def percent(value: float) -> str:
    """0.7385 -> '73.8' (accuracies shown as the paper's tables: percent, one decimal)."""
    return f"{100.0 * value:.1f}"


def signed_percent(value: float) -> str:
    """0.052 -> '+5.2', -0.1 -> '−10.0' (differences of accuracies, in percentage points)."""
    return f"{100.0 * value:+.1f}".replace("-", "−")


def _text_colour(background: QtGui.QColor) -> QtGui.QColor:
    """Black on light cells, white on dark ones (relative luminance)."""
    lum = 0.2126 * background.redF() + 0.7152 * background.greenF() + 0.0722 * background.blueF()
    return QtGui.QColor("black") if lum > 0.5 else QtGui.QColor("white")


class HeatmapTable(QtWidgets.QTableWidget):
    """Rows × columns of numbers, each cell coloured by its value on a colour map."""

    value_changed = QtCore.Signal(int, int, float)  # row, column, value

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, colormap: str = "viridis",
                 levels: tuple[float, float] | None = (0.0, 1.0),
                 formatter: Callable[[float], str] = "{:.3g}".format, corner: str = "") -> None:
        super().__init__(0, 0, parent)
        self._cmap = pg.colormap.get(colormap)
        self._levels = levels
        self._formatter = formatter
        self._values = np.zeros((0, 0))
        self._shades: np.ndarray | None = None
        self._rows: list[str] = []
        self._cols: list[str] = []
        self.corner = corner  # what the first CSV cell says (e.g. "noise \\ SNR dB")
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.horizontalHeader()
        header.setMinimumSectionSize(self.fontMetrics().horizontalAdvance("100.0") + 10)
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)  # cells fill the width
        self.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.setSizeAdjustPolicy(QtWidgets.QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)

    # ------------------------------------------------------------------ axes
    def set_axes(self, rows: Sequence[str], cols: Sequence[str]) -> None:
        """Name the rows and columns; every cell becomes empty."""
        self._rows = [str(r) for r in rows]
        self._cols = [str(c) for c in cols]
        self._values = np.full((len(self._rows), len(self._cols)), np.nan)
        self._shades = None
        self.clearContents()
        self.setRowCount(len(self._rows))
        self.setColumnCount(len(self._cols))
        self.setVerticalHeaderLabels(self._rows)
        self.setHorizontalHeaderLabels(self._cols)

    def row_labels(self) -> list[str]:
        return list(self._rows)

    def column_labels(self) -> list[str]:
        return list(self._cols)

    def _index(self, key: str | int, labels: list[str], axis: int) -> int:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not 0 <= int(key) < len(labels):
                raise IndexError(f"{'row' if axis == 0 else 'column'} {key} out of range 0..{len(labels) - 1}")
            return int(key)
        label = str(key)
        if label in labels:
            return labels.index(label)
        labels.append(label)  # grow: a value for a row/column not named yet
        pad = np.full((1, self._values.shape[1]) if axis == 0 else (self._values.shape[0], 1), np.nan)
        self._values = np.concatenate([self._values, pad], axis=axis)
        if axis == 0:
            self.setRowCount(len(labels))
            self.setVerticalHeaderItem(len(labels) - 1, QtWidgets.QTableWidgetItem(label))
        else:
            self.setColumnCount(len(labels))
            self.setHorizontalHeaderItem(len(labels) - 1, QtWidgets.QTableWidgetItem(label))
        return len(labels) - 1

    # ---------------------------------------------------------------- values
    @property
    def levels(self) -> tuple[float, float] | None:
        return self._levels

    def set_levels(self, levels: tuple[float, float] | None) -> None:
        """The values mapped to the colour map's ends; None: the table's own min and max."""
        self._levels = levels
        self._recolour()

    def set_style(self, colormap: str | None = None, levels: tuple[float, float] | None | str = "keep",
                  formatter: Callable[[float], str] | None = None) -> None:
        """Change the colour map, levels (None: auto) and/or the text format; the cells are repainted."""
        if colormap is not None:
            self._cmap = pg.colormap.get(colormap)
        if levels != "keep":
            self._levels = levels
        if formatter is not None:
            self._formatter = formatter
        self._recolour()

    def set_value(self, row: str | int, col: str | int, value: float | None) -> tuple[int, int]:
        """Set one cell (labels or indices); None or NaN empties it. Returns the cell's (row, column)."""
        r = self._index(row, self._rows, 0)
        c = self._index(col, self._cols, 1)
        v = math.nan if value is None else float(value)
        self._values[r, c] = v
        if self._shades is not None:
            self._shades = None  # a separate shading no longer matches; colour by value
            self._recolour()
        elif self._levels is None:
            self._recolour()  # auto levels: every cell may change colour
        else:
            self._paint(r, c)
        self.value_changed.emit(r, c, v)
        return r, c

    def set_matrix(self, values, rows: Sequence[str], cols: Sequence[str], shades=None) -> None:
        """All cells at once; ``shades`` (same shape, optional) colours the cells instead of the values."""
        values = np.asarray(values, dtype=float)
        if values.shape != (len(rows), len(cols)):
            raise ValueError(f"values of shape {values.shape} do not match {len(rows)} rows × {len(cols)} columns")
        self.set_axes(rows, cols)
        self._values = values.copy()
        if shades is not None:
            shades = np.asarray(shades, dtype=float)
            if shades.shape != values.shape:
                raise ValueError(f"shades of shape {shades.shape} do not match values of shape {values.shape}")
            self._shades = shades.copy()
        self._recolour()

    def value(self, row: str | int, col: str | int) -> float:
        """A cell's value (NaN when empty or when the label is unknown)."""
        try:
            r = int(row) if isinstance(row, (int, np.integer)) else self._rows.index(str(row))
            c = int(col) if isinstance(col, (int, np.integer)) else self._cols.index(str(col))
            return float(self._values[r, c])
        except (ValueError, IndexError):
            return math.nan

    def values(self) -> np.ndarray:
        return self._values.copy()

    def filled_count(self) -> int:
        return int(np.isfinite(self._values).sum())

    def clear_values(self) -> None:
        self.set_axes(self._rows, self._cols)

    def cell_colour(self, row: int, col: int) -> QtGui.QColor | None:
        item = self.item(row, col)
        if item is None or not np.isfinite(self._values[row, col]):
            return None
        return item.background().color()

    # --------------------------------------------------------------- drawing
    def _level_range(self) -> tuple[float, float]:
        if self._levels is not None:
            return self._levels
        source = self._shades if self._shades is not None else self._values
        finite = source[np.isfinite(source)]
        if not finite.size:
            return 0.0, 1.0
        lo, hi = float(finite.min()), float(finite.max())
        return (lo, hi) if hi > lo else (lo, lo + 1.0)

    def _recolour(self) -> None:
        for r in range(self._values.shape[0]):
            for c in range(self._values.shape[1]):
                self._paint(r, c)

    def _paint(self, r: int, c: int) -> None:
        v = self._values[r, c]
        item = self.item(r, c)
        if item is None:
            item = QtWidgets.QTableWidgetItem()
            item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            self.setItem(r, c, item)
        if not np.isfinite(v):
            item.setText("")
            item.setData(VALUE_ROLE, None)
            item.setData(QtCore.Qt.ItemDataRole.BackgroundRole, None)
            item.setData(QtCore.Qt.ItemDataRole.ForegroundRole, None)
            return
        shade = self._shades[r, c] if self._shades is not None else v
        lo, hi = self._level_range()
        t = float(np.clip((shade - lo) / (hi - lo), 0.0, 1.0)) if np.isfinite(shade) else 0.0
        colour = self._cmap.map(t, mode="qcolor")
        item.setText(self._formatter(float(v)))
        item.setData(VALUE_ROLE, float(v))
        item.setBackground(colour)
        item.setForeground(_text_colour(colour))
        item.setToolTip(f"{self._rows[r]} · {self._cols[c]}: {v!r}")

    # ---------------------------------------------------------------- export
    def export_csv(self, path: str | os.PathLike[str]) -> None:
        """Labels and full-precision values ('' where empty). Raises OSError when it cannot write."""
        with open(os.fspath(path), "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow([self.corner] + self._cols)
            for r, label in enumerate(self._rows):
                w.writerow([label] + ["" if not np.isfinite(v) else repr(float(v)) for v in self._values[r]])

    def export_png(self, path: str | os.PathLike[str]) -> None:
        """The table as shown (headers and colours). Raises OSError when it cannot write."""
        path = os.fspath(path)
        if not self.isVisible():
            self.resize(self.sizeHint().expandedTo(QtCore.QSize(200, 120)))
        if not self.grab().save(path, "PNG"):
            raise OSError(f"could not write image {path}")


def main() -> int:  # pragma: no cover - manual preview
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    table = HeatmapTable(formatter=percent, corner="noise \\ SNR dB")
    noises, snrs = ["white", "pink", "brown", "babble", "factory"], ["20", "15", "10", "5", "0"]
    table.set_axes(noises, snrs)
    cells = [(n, s) for n in noises for s in snrs]
    rng = np.random.default_rng(0)

    def feed() -> None:
        if cells:
            n, s = cells.pop(0)
            table.set_value(n, s, float(np.clip(0.3 + 0.02 * int(s) + 0.05 * rng.standard_normal(), 0, 1)))

    timer = QtCore.QTimer(table)
    timer.timeout.connect(feed)
    timer.start(150)
    table.resize(520, 240)
    table.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
