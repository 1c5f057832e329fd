"""Image view with a translucent overlay, an opacity slider and an optional cell grid.

DESIGN.md's shared "Image view": a greyscale (or RGB) image shown with its aspect
ratio locked in a pyqtgraph ``ViewBox``, and over it

* an RGBA overlay (:meth:`ImageOverlayView.set_overlay`), e.g. a segmentation mask,
  or a per-cell heat map built from values in [0, 1]
  (:meth:`ImageOverlayView.set_cell_values`: red with alpha proportional to the
  value; cells at or above a threshold also get a red outline);
* the grid of fixed-size cells (the 128x128 patches of paper 004), drawn with a
  cosmetic pen so it stays one pixel wide at any zoom.

The overlay's opacity slider and show/hide check box, and the grid check box, are
part of the widget (:attr:`controls`), so every workbench gets the same ones.

:meth:`ImageOverlayView.render_image` composes image, overlay (at the current
opacity, when shown), grid and an optional caption strip at the image's own
resolution with ``QPainter`` (nearest-neighbour scaling of the cells), which is
what ``export_png`` writes: a file that does not depend on the window size.

Mouse: wheel zooms, drag pans, right-click gives pyqtgraph's view menu ("View
All"); hovering reports the cell under the cursor through :attr:`cell_hovered`.
"""
from __future__ import annotations

import os

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["ImageOverlayView", "heat_rgba", "to_uint8"]

HEAT_RGB = (230, 25, 25)
GRID_RGBA = (255, 255, 255, 90)
HIT_RGBA = (255, 214, 0, 230)
MARK_RGBA = (0, 200, 255, 255)  # set_marked_cell: e.g. the patch an evaluation counted


def to_uint8(image: np.ndarray, levels: tuple[float, float] | None = None) -> np.ndarray:
    """A 2-D image scaled to uint8 with ``levels`` (default: its min and max)."""
    a = np.asarray(image)
    if a.dtype == np.uint8 and levels is None:
        return np.ascontiguousarray(a)
    a = a.astype(np.float32, copy=False)
    lo, hi = levels if levels is not None else (float(np.nanmin(a)), float(np.nanmax(a))) if a.size else (0.0, 1.0)
    if not hi > lo:
        hi = lo + 1.0
    out = (a - np.float32(lo)) * np.float32(255.0 / (hi - lo))
    return np.ascontiguousarray(np.clip(np.nan_to_num(out), 0, 255).astype(np.uint8))


def heat_rgba(values: np.ndarray, rgb: tuple[int, int, int] = HEAT_RGB) -> np.ndarray:
    """(rows, cols) values in [0, 1] -> (rows, cols, 4) uint8, colour ``rgb``, alpha ∝ value."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    out = np.zeros(v.shape + (4,), np.uint8)
    out[..., 0], out[..., 1], out[..., 2] = rgb
    out[..., 3] = np.round(v * 255).astype(np.uint8)
    return out


def _qimage_gray(u8: np.ndarray) -> QtGui.QImage:
    h, w = u8.shape
    return QtGui.QImage(u8.data, w, h, w, QtGui.QImage.Format.Format_Grayscale8).copy()


def _qimage_rgba(rgba: np.ndarray) -> QtGui.QImage:
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    h, w = rgba.shape[:2]
    return QtGui.QImage(rgba.data, w, h, 4 * w, QtGui.QImage.Format.Format_RGBA8888).copy()


class ImageOverlayView(QtWidgets.QWidget):
    """An image with an RGBA overlay (opacity slider, show/hide) and a cell grid."""

    cell_hovered = QtCore.Signal(int, int)  # row, col of the cell under the cursor; -1, -1 outside
    opacity_changed = QtCore.Signal(float)

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, cell_size: int | None = None,
                 opacity: float = 0.55):
        super().__init__(parent)
        self._image: np.ndarray | None = None
        self._levels: tuple[float, float] | None = None
        self._cell = cell_size
        self._values: np.ndarray | None = None
        self._threshold: float | None = None
        self._overlay: np.ndarray | None = None
        self._overlay_rect: QtCore.QRectF | None = None
        self._hover = (-1, -1)

        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.view: pg.ViewBox = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=True)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setZValue(10)
        self.overlay_item.setOpacity(opacity)
        self.grid_item = QtWidgets.QGraphicsPathItem()
        pen = QtGui.QPen(QtGui.QColor(*GRID_RGBA))
        pen.setCosmetic(True)
        pen.setWidthF(1.0)
        self.grid_item.setPen(pen)
        self.grid_item.setZValue(20)
        self.hit_item = QtWidgets.QGraphicsPathItem()
        hit_pen = QtGui.QPen(QtGui.QColor(*HIT_RGBA))
        hit_pen.setCosmetic(True)
        hit_pen.setWidthF(2.0)
        self.hit_item.setPen(hit_pen)
        self.hit_item.setZValue(30)
        self.mark_item = QtWidgets.QGraphicsPathItem()
        mark_pen = QtGui.QPen(QtGui.QColor(*MARK_RGBA))
        mark_pen.setCosmetic(True)
        mark_pen.setWidthF(2.5)
        mark_pen.setStyle(QtCore.Qt.PenStyle.DashLine)
        self.mark_item.setPen(mark_pen)
        self.mark_item.setZValue(40)
        self._marked: tuple[int, int] | None = None
        for item in (self.image_item, self.overlay_item, self.grid_item, self.hit_item, self.mark_item):
            self.view.addItem(item)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

        # ---- controls ----------------------------------------------------
        self.overlay_check = QtWidgets.QCheckBox("Overlay")
        self.overlay_check.setChecked(True)
        self.overlay_check.setToolTip("Show or hide the overlay (the per-patch defect probability)")
        self.overlay_check.toggled.connect(self._apply_visibility)
        self.opacity_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(opacity * 100))
        self.opacity_slider.setToolTip("Overlay opacity (0 = transparent)")
        self.opacity_slider.setMinimumWidth(60)
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.grid_check = QtWidgets.QCheckBox("Grid")
        self.grid_check.setChecked(True)
        self.grid_check.setToolTip("Show the patch grid")
        self.grid_check.toggled.connect(self._apply_visibility)
        self.fit_button = QtWidgets.QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show the whole image (zoom with the mouse wheel, pan by dragging)")
        self.fit_button.clicked.connect(self.fit)

        self.controls = QtWidgets.QHBoxLayout()
        self.controls.setContentsMargins(0, 0, 0, 0)
        self.controls.addWidget(self.overlay_check)
        self.controls.addWidget(self.opacity_slider, 1)
        self.controls.addWidget(self.grid_check)
        self.controls.addWidget(self.fit_button)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(self.controls)
        self._apply_visibility()

    # ------------------------------------------------------------------ image
    def set_image(self, image: np.ndarray | None, levels: tuple[float, float] | None = None) -> None:
        """Show a 2-D image (any numeric type) or an (h, w, 3|4) uint8 colour image; None clears."""
        self._image = None if image is None else np.asarray(image)
        self._levels = levels
        self.set_overlay(None)
        self.set_marked_cell(None)
        if self._image is None:
            self.image_item.clear()
            self._draw_grid()
            return
        img = self._image
        if img.ndim == 2:
            if levels is None:
                lo, hi = (float(np.nanmin(img)), float(np.nanmax(img))) if img.size else (0.0, 1.0)
                levels = (lo, hi if hi > lo else lo + 1.0)
            self._levels = levels
            self.image_item.setImage(img, autoLevels=False, levels=levels)
        else:
            self.image_item.setImage(img, autoLevels=False)
        self._draw_grid()
        self.fit()

    def image(self) -> np.ndarray | None:
        return self._image

    def image_shape(self) -> tuple[int, int]:
        return (0, 0) if self._image is None else tuple(self._image.shape[:2])

    def fit(self) -> None:
        if self._image is not None:
            h, w = self._image.shape[:2]
            self.view.setRange(QtCore.QRectF(0, 0, w, h), padding=0.01)

    # ------------------------------------------------------------------- grid
    @property
    def cell_size(self) -> int | None:
        return self._cell

    def set_cell_size(self, size: int | None) -> None:
        self._cell = size
        self._draw_grid()

    def grid_shape(self) -> tuple[int, int]:
        """(rows, cols) of the full cells that fit in the image."""
        if self._image is None or not self._cell:
            return (0, 0)
        h, w = self._image.shape[:2]
        return h // self._cell, w // self._cell

    def _draw_grid(self) -> None:
        path = QtGui.QPainterPath()
        rows, cols = self.grid_shape()
        if rows and cols:
            s = self._cell
            for r in range(rows + 1):
                path.moveTo(0, r * s)
                path.lineTo(cols * s, r * s)
            for c in range(cols + 1):
                path.moveTo(c * s, 0)
                path.lineTo(c * s, rows * s)
        self.grid_item.setPath(path)

    def set_marked_cell(self, cell: tuple[int, int] | None) -> None:
        """Outline one grid cell ``(row, col)`` with a dashed line (cleared by :meth:`set_image`); None clears."""
        path = QtGui.QPainterPath()
        rows, cols = self.grid_shape()
        self._marked = None
        if cell is not None and 0 <= cell[0] < rows and 0 <= cell[1] < cols:
            self._marked = (int(cell[0]), int(cell[1]))
            s = self._cell
            path.addRect(QtCore.QRectF(self._marked[1] * s, self._marked[0] * s, s, s))
        self.mark_item.setPath(path)

    def marked_cell(self) -> tuple[int, int] | None:
        return self._marked

    # ---------------------------------------------------------------- overlay
    def set_overlay(self, rgba: np.ndarray | None, rect: QtCore.QRectF | None = None) -> None:
        """An (n, m, 4) uint8 overlay stretched over ``rect`` (default: the whole image); None clears."""
        self._overlay = None if rgba is None else np.ascontiguousarray(rgba, dtype=np.uint8)
        if self._overlay is None:
            self._values = None
            self.overlay_item.clear()
            self.hit_item.setPath(QtGui.QPainterPath())
            self._overlay_rect = None
            return
        if rect is None:
            h, w = self.image_shape()
            rect = QtCore.QRectF(0, 0, w or self._overlay.shape[1], h or self._overlay.shape[0])
        self._overlay_rect = QtCore.QRectF(rect)
        self.overlay_item.setImage(self._overlay, autoLevels=False)
        self.overlay_item.setRect(self._overlay_rect)
        self._apply_visibility()

    def set_cell_values(self, values: np.ndarray | None, threshold: float | None = 0.5) -> None:
        """Heat map of per-cell values in [0, 1], shape (rows, cols) of the grid; None clears.

        Cells with a value >= ``threshold`` are outlined (None: no outlines).
        """
        if values is None:
            self.set_overlay(None)
            return
        v = np.asarray(values, dtype=np.float32)
        if v.ndim != 2 or not self._cell:
            raise ValueError(f"expected a (rows, cols) array of cell values and a cell size, got {v.shape}")
        rows, cols = v.shape
        s = self._cell
        self.set_overlay(heat_rgba(v), QtCore.QRectF(0, 0, cols * s, rows * s))
        self._values = v
        self._threshold = threshold
        path = QtGui.QPainterPath()
        if threshold is not None:
            for r, c in zip(*np.nonzero(v >= threshold)):
                path.addRect(QtCore.QRectF(c * s + 1, r * s + 1, s - 2, s - 2))
        self.hit_item.setPath(path)

    def cell_values(self) -> np.ndarray | None:
        return None if self._values is None else self._values.copy()

    def overlay_rgba(self) -> np.ndarray | None:
        return None if self._overlay is None else self._overlay.copy()

    # --------------------------------------------------------------- controls
    @property
    def overlay_opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def set_overlay_opacity(self, value: float) -> None:
        self.opacity_slider.setValue(int(round(min(max(float(value), 0.0), 1.0) * 100)))

    @property
    def overlay_visible(self) -> bool:
        return self.overlay_check.isChecked()

    def set_overlay_visible(self, on: bool) -> None:
        self.overlay_check.setChecked(bool(on))

    def _on_opacity(self, value: int) -> None:
        self.overlay_item.setOpacity(value / 100.0)
        self.opacity_changed.emit(value / 100.0)

    def _apply_visibility(self, *_args) -> None:
        show = self.overlay_check.isChecked()
        self.overlay_item.setVisible(show)
        self.hit_item.setVisible(show)
        self.opacity_slider.setEnabled(show)
        self.grid_item.setVisible(self.grid_check.isChecked())

    # ------------------------------------------------------------------ hover
    def _on_mouse_moved(self, pos) -> None:
        cell = (-1, -1)
        if self._image is not None and self._cell and self.view.sceneBoundingRect().contains(pos):
            p = self.view.mapSceneToView(pos)
            rows, cols = self.grid_shape()
            r, c = int(np.floor(p.y() / self._cell)), int(np.floor(p.x() / self._cell))
            if 0 <= r < rows and 0 <= c < cols:
                cell = (r, c)
        if cell != self._hover:
            self._hover = cell
            self.cell_hovered.emit(*cell)

    # ----------------------------------------------------------------- export
    def render_image(self, caption: str = "", caption_rgb: tuple[int, int, int] = (40, 40, 40)) -> QtGui.QImage:
        """Image + overlay (as shown) + grid at the image's resolution, with a caption strip below."""
        if self._image is None:
            raise ValueError("no image to render")
        img = self._image
        if img.ndim == 2:
            base = _qimage_gray(to_uint8(img, self._levels))
        else:
            base = _qimage_rgba(img if img.shape[2] == 4 else np.dstack([img, np.full(img.shape[:2], 255, np.uint8)]))
        h, w = img.shape[:2]
        strip = max(24, h // 22) if caption else 0
        out = QtGui.QImage(w, h + strip, QtGui.QImage.Format.Format_ARGB32)
        out.fill(QtGui.QColor(*caption_rgb))
        painter = QtGui.QPainter(out)
        try:
            painter.drawImage(0, 0, base)
            painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
            if self._overlay is not None and self.overlay_visible and self._overlay_rect is not None:
                painter.setOpacity(self.overlay_opacity)
                painter.drawImage(self._overlay_rect, _qimage_rgba(self._overlay))
                painter.setOpacity(1.0)
                if self.hit_item.isVisible() and not self.hit_item.path().isEmpty():
                    pen = QtGui.QPen(QtGui.QColor(*HIT_RGBA))
                    pen.setWidthF(max(1.0, w / 400))
                    painter.setPen(pen)
                    painter.drawPath(self.hit_item.path())
            if self.grid_check.isChecked() and not self.grid_item.path().isEmpty():
                pen = QtGui.QPen(QtGui.QColor(*GRID_RGBA))
                pen.setWidthF(max(1.0, w / 700))
                painter.setPen(pen)
                painter.drawPath(self.grid_item.path())
            if caption:
                font = painter.font()
                size = max(8, int(strip * 0.55))
                font.setPixelSize(size)
                while size > 8 and QtGui.QFontMetrics(font).horizontalAdvance(caption) > w - 12:
                    size -= 1
                    font.setPixelSize(size)
                painter.setFont(font)
                caption = QtGui.QFontMetrics(font).elidedText(caption, QtCore.Qt.TextElideMode.ElideMiddle, w - 12)
                painter.setPen(QtGui.QColor(255, 255, 255))
                painter.drawText(QtCore.QRectF(6, h, w - 12, strip),
                                 int(QtCore.Qt.AlignmentFlag.AlignVCenter | QtCore.Qt.AlignmentFlag.AlignLeft),
                                 caption)
        finally:
            painter.end()
        return out

    def export_png(self, path: str | os.PathLike[str], caption: str = "",
                   caption_rgb: tuple[int, int, int] = (40, 40, 40)) -> None:
        """Write :meth:`render_image` as PNG; raises OSError naming the file when it cannot."""
        path = os.fspath(path)
        image = self.render_image(caption, caption_rgb)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(2, "the folder does not exist", folder)
        if not image.save(path, "PNG"):
            raise OSError(f"could not write image {path}")
