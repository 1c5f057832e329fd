"""Picking an abundance vector on the probability simplex.

- :class:`TernaryView` (P = 3): a triangle with one material per corner; the
  dataset's abundance vectors are dots (training and test coloured apart); a click
  picks the point under the cursor in barycentric coordinates and snaps to a dot
  within a few pixels.
- :class:`LinkedSliders` (any P): one slider per material; moving one rescales the
  others proportionally so the sum stays 1.
- :class:`AbundancePicker`: both, plus a table of the dataset's vectors (click a row
  to pick it).  The triangle is shown only for P = 3.

``changed`` carries the picked vector as a float numpy array summing to 1.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

KIND_COLOURS = {"train": QtGui.QColor("#43a047"), "test": QtGui.QColor("#fb8c00"),
                "generated": QtGui.QColor("#8e24aa")}
SNAP_PX = 9.0
SLIDER_STEPS = 1000


def format_vector(a: np.ndarray, digits: int = 3) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}".rstrip("0").rstrip(".") if v else "0" for v in a) + ")"


class TernaryView(QtWidgets.QWidget):
    """Barycentric triangle for three materials."""

    picked = QtCore.Signal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.materials = ["A", "B", "C"]
        self.points = np.zeros((0, 3))
        self.kinds: list[str] = []
        self.value: np.ndarray | None = None
        self.setMinimumSize(150, 140)
        self.setMouseTracking(True)
        self.setToolTip("Click to pick an abundance vector; dots are the dataset's mixtures "
                        "(green: training, orange: test).")

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(260, 230)

    def _corners(self) -> np.ndarray:
        w, h = self.width(), self.height()
        m = 22.0
        side = min(w - 2 * m, (h - 2 * m) * 2 / math.sqrt(3))
        height = side * math.sqrt(3) / 2
        x0 = (w - side) / 2
        y0 = (h + height) / 2
        # corner p is where material p is 100 %: bottom-left, bottom-right, top.
        return np.array([[x0, y0], [x0 + side, y0], [x0 + side / 2, y0 - height]])

    def to_xy(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=float) @ self._corners()

    def to_abundance(self, x: float, y: float) -> np.ndarray:
        c = self._corners()
        t = np.array([[c[0, 0] - c[2, 0], c[1, 0] - c[2, 0]], [c[0, 1] - c[2, 1], c[1, 1] - c[2, 1]]])
        l1, l2 = np.linalg.solve(t, np.array([x - c[2, 0], y - c[2, 1]]))
        a = np.clip(np.array([l1, l2, 1 - l1 - l2]), 0, None)
        return a / a.sum() if a.sum() > 0 else np.full(3, 1 / 3)

    def paintEvent(self, _event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        c = self._corners()
        fg = self.palette().color(QtGui.QPalette.ColorRole.WindowText)
        p.setPen(QtGui.QPen(fg, 1.2))
        p.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(*xy) for xy in c]))
        for k, (x, y) in enumerate(c):
            name = self.materials[k] if k < len(self.materials) else "?"
            fm = p.fontMetrics()
            tw = fm.horizontalAdvance(name)
            dx = -tw / 2
            dy = 14 if k < 2 else -6
            p.drawText(QtCore.QPointF(x + dx, y + dy), name)
        for a, kind in zip(self.points, self.kinds):
            x, y = self.to_xy(a)
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(KIND_COLOURS.get(kind, fg))
            p.drawEllipse(QtCore.QPointF(x, y), 3.5, 3.5)
        if self.value is not None:
            x, y = self.to_xy(self.value)
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.setPen(QtGui.QPen(QtGui.QColor("#1e88e5"), 2.2))
            p.drawEllipse(QtCore.QPointF(x, y), 7, 7)
        p.end()

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        pos = event.position()
        self.pick_at(pos.x(), pos.y())

    def pick_at(self, x: float, y: float) -> np.ndarray:
        a = self.to_abundance(x, y)
        if len(self.points):
            d = np.hypot(*(self.to_xy(self.points) - np.array([x, y])).T)
            i = int(np.argmin(d))
            if d[i] <= SNAP_PX:
                a = self.points[i].astype(float)
        self.value = a
        self.update()
        self.picked.emit(a)
        return a


class LinkedSliders(QtWidgets.QWidget):
    """One slider per material; the others follow so that the abundances sum to 1."""

    changed = QtCore.Signal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._layout = QtWidgets.QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.sliders: list[QtWidgets.QSlider] = []
        self.labels: list[QtWidgets.QLabel] = []
        self._a = np.zeros(0)

    def set_materials(self, names: list[str]) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.sliders, self.labels = [], []
        for i, name in enumerate(names):
            s = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
            s.setRange(0, SLIDER_STEPS)
            s.valueChanged.connect(lambda v, i=i: self._moved(i, v))
            val = QtWidgets.QLabel()
            val.setMinimumWidth(val.fontMetrics().horizontalAdvance("0.000") + 6)
            self._layout.addWidget(QtWidgets.QLabel(name), i, 0)
            self._layout.addWidget(s, i, 1)
            self._layout.addWidget(val, i, 2)
            self.sliders.append(s)
            self.labels.append(val)
        self.set_value(np.full(len(names), 1 / len(names)) if names else np.zeros(0))

    def value(self) -> np.ndarray:
        return self._a.copy()

    def set_value(self, a: np.ndarray) -> None:
        self._a = np.asarray(a, dtype=float).copy()
        for s, lab, v in zip(self.sliders, self.labels, self._a):
            s.blockSignals(True)
            s.setValue(int(round(v * SLIDER_STEPS)))
            s.blockSignals(False)
            lab.setText(f"{v:.3f}")

    def _moved(self, i: int, raw: int) -> None:
        a = self._a.copy()
        v = raw / SLIDER_STEPS
        rest = a.sum() - a[i]
        others = np.arange(len(a)) != i
        if rest > 1e-12:
            a[others] *= (1 - v) / rest
        else:
            a[others] = (1 - v) / max(1, len(a) - 1)
        a[i] = v
        self.set_value(a)
        self.changed.emit(self.value())


class AbundancePicker(QtWidgets.QWidget):
    """Triangle (P = 3), linked sliders and a table of the dataset's abundance vectors."""

    changed = QtCore.Signal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.materials: list[str] = []
        self.points = np.zeros((0, 0))
        self.kinds: list[str] = []
        self.triangle = TernaryView()
        self.sliders = LinkedSliders()
        self.table = QtWidgets.QTableWidget(0, 0)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setToolTip("The dataset's mixtures: click one to compare its measured spectra with generated ones")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.triangle, 2)
        layout.addWidget(self.sliders)
        layout.addWidget(self.table, 3)
        self.triangle.picked.connect(self._from_triangle)
        self.sliders.changed.connect(self._from_sliders)
        self.table.itemSelectionChanged.connect(self._from_table)

    def set_points(self, materials: list[str], points: np.ndarray, kinds: list[str]) -> None:
        """The dataset's vectors (K × P) and each one's kind ("train" or "test")."""
        self.materials = list(materials)
        self.points = np.asarray(points, dtype=float)
        self.kinds = list(kinds)
        P = len(self.materials)
        self.triangle.setVisible(P == 3)
        self.triangle.materials = self.materials
        self.triangle.points = self.points if P == 3 else np.zeros((0, 3))
        self.triangle.kinds = self.kinds
        self.sliders.set_materials(self.materials)
        self.table.blockSignals(True)
        self.table.clear()
        self.table.setColumnCount(P + 1)
        self.table.setHorizontalHeaderLabels(["set", *self.materials])
        self.table.setRowCount(len(self.points))
        for r, (a, kind) in enumerate(zip(self.points, self.kinds)):
            item = QtWidgets.QTableWidgetItem(kind)
            item.setForeground(KIND_COLOURS.get(kind, QtGui.QColor("gray")))
            self.table.setItem(r, 0, item)
            for c, v in enumerate(a):
                self.table.setItem(r, c + 1, QtWidgets.QTableWidgetItem(f"{v:.3f}"))
        self.table.resizeColumnsToContents()
        self.table.blockSignals(False)
        self.triangle.update()

    def value(self) -> np.ndarray:
        return self.sliders.value()

    def set_value(self, a: np.ndarray, emit: bool = True) -> None:
        a = np.asarray(a, dtype=float)
        self.sliders.set_value(a)
        self.triangle.value = a if len(a) == 3 else None
        self.triangle.update()
        row = self.row_of(a)
        self.table.blockSignals(True)
        if row is None:
            self.table.clearSelection()
        else:
            self.table.selectRow(row)
        self.table.blockSignals(False)
        if emit:
            self.changed.emit(a.copy())

    def row_of(self, a: np.ndarray) -> int | None:
        """The table row of a dataset vector equal to ``a`` (to 1e-6), else None."""
        if not len(self.points):
            return None
        hit = np.flatnonzero(np.all(np.abs(self.points - a) < 1e-6, axis=1))
        return int(hit[0]) if len(hit) else None

    def _from_triangle(self, a: np.ndarray) -> None:
        self.set_value(a)

    def _from_sliders(self, a: np.ndarray) -> None:
        self.set_value(a)

    def _from_table(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.set_value(self.points[rows[0].row()])
