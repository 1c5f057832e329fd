"""Image view for binary segmentation masks: overlay, ground-truth comparison, brush correction.

:class:`MaskView` extends the shared :class:`~studio.gui.image_view.ImageOverlayView`
(same overlay check box, opacity slider, Fit button, wheel zoom and drag pan) with
what the Building Segmentation workbench (paper 002) needs:

* **Large images.**  View coordinates are always the full-resolution pixel grid,
  but the picture drawn is the image subsampled by an integer stride so its longer
  side is at most :data:`DISPLAY_MAX` pixels (a 10,000² tile is drawn from a
  3,334² copy).  Qt scales the already-converted image at paint time, so zoom and
  pan cost only the screen's pixels; nothing is re-rendered while navigating.
* **Overlay as labels.**  The overlay is a uint8 label image at display resolution
  drawn through a 256-entry RGBA lookup table (pyqtgraph shows it as an indexed
  QImage: no RGBA array is built).  Three modes: the predicted mask
  (``"prediction"``), the comparison with a ground truth (``"compare"``: true
  positives, false positives and false negatives in three colours, from
  ``studio.segmentation.metrics.outcome_map``), or the ground truth alone
  (``"truth"``).
* **Correction.**  Tools "pan", "brush" (adds building pixels) and "eraser"
  (removes them), with a size in image pixels.  A stroke paints every pixel whose
  centre lies within size/2 of the dragged path, on the full-resolution mask.
  Undo (Ctrl+Z) restores the mask as it was before the stroke: each stroke saves
  the 256² tiles it touches before touching them, so undo costs memory in
  proportion to the edited area, not the image.  After every stroke and undo
  :attr:`MaskView.mask_edited` carries the corrected mask (a read-only view:
  no 100 MB copy per stroke on a 10,000² tile).

Middle-button drag pans and the wheel zooms in every tool, so a brush never has to
be put down to navigate.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from studio.gui.image_view import ImageOverlayView

__all__ = ["MaskView", "DISPLAY_MAX", "LABEL_RGBA", "display_stride"]

#: Longest side of the array actually drawn (the view still addresses full-resolution pixels).
DISPLAY_MAX = 4096
UNDO_TILE = 256
UNDO_LIMIT = 100
REFRESH_MS = 30

# Label codes of the overlay image (0..3 are outcome_map's TN, TP, FP, FN).
TN, TP, FP, FN, PREDICTED, TRUTH = 0, 1, 2, 3, 4, 5
LABEL_RGBA = {
    TN: (0, 0, 0, 0),
    TP: (46, 204, 64, 255),     # green: building found
    FP: (255, 65, 54, 255),     # red: predicted building that is not one
    FN: (0, 116, 217, 255),     # blue: building missed
    PREDICTED: (255, 200, 0, 255),  # amber: predicted mask
    TRUTH: (57, 204, 204, 255),  # teal: ground truth
}
MODES = (("prediction", "Predicted mask"), ("compare", "Compare with ground truth"), ("truth", "Ground truth"))
TOOLS = ("pan", "brush", "eraser")


def _lookup_table() -> np.ndarray:
    lut = np.zeros((256, 4), np.uint8)
    for code, rgba in LABEL_RGBA.items():
        lut[code] = rgba
    return lut


def display_stride(shape: tuple[int, int], limit: int = DISPLAY_MAX) -> int:
    """The integer subsampling step that brings the longer side of ``shape`` to at most ``limit``."""
    return max(1, int(math.ceil(max(shape[0], shape[1], 1) / limit)))


def _swatch(rgba: tuple[int, int, int, int], text: str) -> str:
    r, g, b, _ = rgba
    return f"<span style='color: rgb({r},{g},{b})'>■</span> {text}"


class _PaintSurface(pg.GraphicsObject):
    """An invisible item over the image that turns left-button drags into brush strokes.

    In the "pan" tool it ignores every event, so the view underneath pans as usual.
    """

    def __init__(self, owner: "MaskView"):
        super().__init__()
        self.owner = owner
        self._rect = QtCore.QRectF()
        self.setAcceptHoverEvents(True)

    def set_rect(self, rect: QtCore.QRectF) -> None:
        self.prepareGeometryChange()
        self._rect = QtCore.QRectF(rect)

    def boundingRect(self) -> QtCore.QRectF:
        return self._rect

    def paint(self, painter, *args) -> None:  # nothing to draw
        pass

    def _painting(self, ev) -> bool:
        return self.owner.tool != "pan" and ev.button() == QtCore.Qt.MouseButton.LeftButton

    def mouseDragEvent(self, ev) -> None:
        if not self._painting(ev):
            ev.ignore()
            return
        ev.accept()
        p = self.owner.view.mapSceneToView(ev.scenePos())
        if ev.isStart():
            start = self.owner.view.mapSceneToView(ev.buttonDownScenePos())
            self.owner.begin_stroke()
            self.owner.stroke_to(start.x(), start.y())
        self.owner.stroke_to(p.x(), p.y())
        if ev.isFinish():
            self.owner.end_stroke()

    def mouseClickEvent(self, ev) -> None:
        if not self._painting(ev):
            ev.ignore()
            return
        ev.accept()
        p = self.owner.view.mapSceneToView(ev.scenePos())
        self.owner.paint_stroke([(p.x(), p.y())])


class MaskView(ImageOverlayView):
    """An image with its (editable) building mask, a ground-truth comparison, brush, eraser and undo."""

    #: The corrected mask after each stroke and each undo: a read-only view of the live mask (copy to keep it).
    mask_edited = QtCore.Signal(object)
    undo_available = QtCore.Signal(bool)
    mode_changed = QtCore.Signal(str)
    tool_changed = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, opacity: float = 0.5,
                 shortcut_parent: QtWidgets.QWidget | None = None, display_max: int = DISPLAY_MAX):
        super().__init__(parent, cell_size=None, opacity=opacity)
        self.display_max = int(display_max)
        self._stride = 1
        self._display: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._truth: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._lut = _lookup_table()
        self._undo: list[dict[tuple[int, int], np.ndarray]] = []
        self._stroke: dict[tuple[int, int], np.ndarray] | None = None
        self._last_point: tuple[float, float] | None = None
        self._tool = "pan"
        self._mode = "prediction"

        # The grid of the base view is not used here.
        self.grid_check.setChecked(False)
        self.grid_check.setVisible(False)
        self.overlay_check.setToolTip("Show or hide the mask overlay")

        self.surface = _PaintSurface(self)
        self.surface.setZValue(40)
        self.view.addItem(self.surface)
        self.cursor_item = QtWidgets.QGraphicsEllipseItem()
        pen = QtGui.QPen(QtGui.QColor(255, 255, 255, 220))
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        self.cursor_item.setPen(pen)
        self.cursor_item.setZValue(50)
        self.cursor_item.setVisible(False)
        self.view.addItem(self.cursor_item)
        self.graphics.scene().sigMouseMoved.connect(self._move_cursor)

        self._refresh_timer = QtCore.QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._push_overlay)

        # ---- second control row: what the overlay shows, tools, undo ------
        self.mode_combo = QtWidgets.QComboBox()
        for key, text in MODES:
            self.mode_combo.addItem(text, key)
        self.mode_combo.setToolTip("Overlay: the predicted (corrected) mask, its comparison with the ground truth "
                                   "(true positives, false positives, false negatives), or the ground truth")
        self.mode_combo.currentIndexChanged.connect(lambda _i: self.set_mode(self.mode_combo.currentData()))
        self.tool_buttons: dict[str, QtWidgets.QToolButton] = {}
        group = QtWidgets.QButtonGroup(self)
        group.setExclusive(True)
        tips = {"pan": "Pan and zoom (drag, wheel)",
                "brush": "Brush: drag to add building pixels to the mask (middle-drag pans, wheel zooms)",
                "eraser": "Eraser: drag to remove building pixels from the mask"}
        for tool in TOOLS:
            b = QtWidgets.QToolButton()
            b.setText(tool.capitalize())
            b.setCheckable(True)
            b.setToolTip(tips[tool])
            b.clicked.connect(lambda _c=False, t=tool: self.set_tool(t))
            group.addButton(b)
            self.tool_buttons[tool] = b
        self.tool_buttons["pan"].setChecked(True)
        self.size_spin = QtWidgets.QSpinBox()
        self.size_spin.setRange(1, 1000)
        self.size_spin.setValue(15)
        self.size_spin.setToolTip("Brush and eraser diameter in image pixels ([ and ] change it)")
        self.size_spin.valueChanged.connect(lambda _v: self._update_cursor_size())
        self.undo_button = QtWidgets.QToolButton()
        self.undo_button.setText("Undo")
        self.undo_button.setToolTip("Undo the last brush or eraser stroke (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo)
        self.undo_button.setEnabled(False)
        self.legend_label = QtWidgets.QLabel()
        self.legend_label.setTextFormat(QtCore.Qt.TextFormat.RichText)

        # Three short rows rather than one long one: the view must fit a narrow centre panel.
        self.mode_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode_combo.setMinimumContentsLength(10)
        mode_row = QtWidgets.QHBoxLayout()
        mode_row.setContentsMargins(0, 0, 0, 0)
        mode_row.addWidget(self.mode_combo, 1)
        mode_row.addWidget(self.legend_label)
        tool_row = QtWidgets.QHBoxLayout()
        tool_row.setContentsMargins(0, 0, 0, 0)
        tool_row.setSpacing(2)
        for tool in TOOLS:
            tool_row.addWidget(self.tool_buttons[tool])
        tool_row.addWidget(self.size_spin)
        tool_row.addWidget(self.undo_button)
        tool_row.addStretch(1)
        self.layout().addLayout(mode_row)
        self.layout().addLayout(tool_row)

        self.undo_shortcut = QtGui.QShortcut(QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Undo),
                                             shortcut_parent or self)
        self.undo_shortcut.setContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.undo_shortcut.activated.connect(self.undo)
        for key, grow in (("[", False), ("]", True)):
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), shortcut_parent or self)
            sc.setContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(lambda g=grow: self.step_brush_size(g))
        self._update_mode_items()
        self._update_legend()

    # ------------------------------------------------------------------ image
    def set_image(self, image: np.ndarray | None, levels: tuple[float, float] | None = None) -> None:
        """Show an (h, w, 3|4) uint8 image or a 2-D one (``levels`` as the base view); clears mask and truth."""
        self._image = None if image is None else np.asarray(image)
        self._levels = levels
        self._mask = self._truth = self._labels = None
        self._clear_undo()
        self.overlay_item.clear()
        if self._image is None:
            self._display = None
            self.image_item.clear()
            self.surface.set_rect(QtCore.QRectF())
            self._update_mode_items()
            return
        h, w = self._image.shape[:2]
        self._stride = display_stride((h, w), self.display_max)
        s = self._stride
        self._display = np.ascontiguousarray(self._image[::s, ::s])
        rect = QtCore.QRectF(0, 0, w, h)
        if self._display.ndim == 2:
            if levels is None:
                lo, hi = (float(np.nanmin(self._display)), float(np.nanmax(self._display))) if self._display.size \
                    else (0.0, 1.0)
                levels = (lo, hi if hi > lo else lo + 1.0)
            self._levels = levels
            self.image_item.setImage(self._display, autoLevels=False, levels=levels)
        else:
            self.image_item.setImage(self._display, autoLevels=False)
        self.image_item.setRect(rect)
        self.surface.set_rect(rect)
        self._update_mode_items()
        self.fit()

    def image_shape(self) -> tuple[int, int]:
        return (0, 0) if self._image is None else tuple(self._image.shape[:2])

    @property
    def stride(self) -> int:
        """Display subsampling step (1 for images up to :data:`DISPLAY_MAX` pixels a side)."""
        return self._stride

    def display_image(self) -> np.ndarray | None:
        """The array actually drawn (the image subsampled by :attr:`stride`)."""
        return self._display

    # ------------------------------------------------------------------ masks
    def set_mask(self, mask: np.ndarray | None) -> None:
        """The predicted mask to show and edit (bool H×W, the image's size); clears the undo stack."""
        self._mask = None if mask is None else self._checked(mask, "mask").copy()
        self._clear_undo()
        self._update_mode_items()
        if self._mask is not None and self._mode == "truth" and self._truth is None:
            self.set_mode("prediction")
        self._relabel()

    def set_truth(self, truth: np.ndarray | None) -> None:
        """The ground-truth mask (bool H×W) for the comparison; None hides the comparison modes."""
        self._truth = None if truth is None else self._checked(truth, "ground truth").copy()
        self._update_mode_items()
        self._relabel()

    def _checked(self, mask: np.ndarray, what: str) -> np.ndarray:
        m = np.asarray(mask).astype(bool, copy=False)
        if self._image is None:
            raise ValueError(f"no image for the {what}")
        if m.shape != self.image_shape():
            raise ValueError(f"the {what} is {m.shape[1]}×{m.shape[0]} px, the image "
                             f"{self.image_shape()[1]}×{self.image_shape()[0]} px")
        return m

    def mask(self) -> np.ndarray | None:
        """A copy of the current (possibly corrected) mask."""
        return None if self._mask is None else self._mask.copy()

    def has_mask(self) -> bool:
        return self._mask is not None

    def truth(self) -> np.ndarray | None:
        return None if self._truth is None else self._truth.copy()

    def labels(self) -> np.ndarray | None:
        """The overlay's label image at display resolution (codes TN/TP/FP/FN, PREDICTED, TRUTH)."""
        if self._refresh_timer.isActive():
            self._refresh_timer.stop()
            self._push_overlay()
        return None if self._labels is None else self._labels.copy()

    # ------------------------------------------------------------------- mode
    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        """``"prediction"``, ``"compare"`` (needs mask and truth) or ``"truth"`` (needs the truth)."""
        if mode not in dict(MODES):
            raise ValueError(f"mode must be one of {[m for m, _ in MODES]}, got {mode!r}")
        if mode != "prediction" and self._truth is None:
            mode = "prediction"
        changed = mode != self._mode
        self._mode = mode
        i = self.mode_combo.findData(mode)
        if i != self.mode_combo.currentIndex():
            self.mode_combo.blockSignals(True)
            self.mode_combo.setCurrentIndex(i)
            self.mode_combo.blockSignals(False)
        self._update_legend()
        self._relabel()
        if changed:
            self.mode_changed.emit(mode)

    def _update_mode_items(self) -> None:
        model = self.mode_combo.model()
        for row, (key, _text) in enumerate(MODES):
            ok = key == "prediction" or (self._truth is not None and (key == "truth" or self._mask is not None))
            model.item(row).setEnabled(ok)
        if self._mode != "prediction" and (self._truth is None or (self._mode == "compare" and self._mask is None)):
            self.set_mode("prediction" if self._truth is None else "truth")

    def _update_legend(self) -> None:
        if self._mode == "compare":
            text = " ".join((_swatch(LABEL_RGBA[TP], "TP"), _swatch(LABEL_RGBA[FP], "FP"),
                             _swatch(LABEL_RGBA[FN], "FN")))
        elif self._mode == "truth":
            text = _swatch(LABEL_RGBA[TRUTH], "truth")
        else:
            text = _swatch(LABEL_RGBA[PREDICTED], "mask")
        self.legend_label.setText(text)

    # --------------------------------------------------------------- labels
    def _label_block(self, rows: slice, cols: slice) -> np.ndarray | None:
        """Labels of the display pixels ``rows`` × ``cols`` (display coordinates)."""
        s = self._stride
        full_rows = slice(rows.start * s, rows.stop * s, s)
        full_cols = slice(cols.start * s, cols.stop * s, s)
        if self._mode == "compare" and self._mask is not None and self._truth is not None:
            from studio.segmentation.metrics import outcome_map

            return outcome_map(self._mask[full_rows, full_cols], self._truth[full_rows, full_cols])
        if self._mode == "truth" and self._truth is not None:
            return self._truth[full_rows, full_cols].astype(np.uint8) * np.uint8(TRUTH)
        if self._mask is not None:
            return self._mask[full_rows, full_cols].astype(np.uint8) * np.uint8(PREDICTED)
        return None

    def _relabel(self) -> None:
        """Recompute the whole label image (mode, mask or truth changed)."""
        if self._display is None:
            self._labels = None
            self.overlay_item.clear()
            return
        dh, dw = self._display.shape[:2]
        self._labels = self._label_block(slice(0, dh), slice(0, dw))
        if self._labels is None:
            self.overlay_item.clear()
            return
        self._labels = np.ascontiguousarray(self._labels, dtype=np.uint8)
        self._push_overlay()

    def _relabel_region(self, y0: int, y1: int, x0: int, x1: int) -> None:
        """Recompute the labels over the full-resolution box [y0, y1) × [x0, x1) (after a stroke or undo)."""
        if self._labels is None or self._labels.shape != self._display.shape[:2]:
            self._relabel()
            return
        s = self._stride
        r0, r1 = -(-y0 // s), min(-(-y1 // s), self._labels.shape[0])
        c0, c1 = -(-x0 // s), min(-(-x1 // s), self._labels.shape[1])
        if r1 <= r0 or c1 <= c0:
            return
        block = self._label_block(slice(r0, r1), slice(c0, c1))
        if block is not None:
            self._labels[r0:r1, c0:c1] = block
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _push_overlay(self) -> None:
        if self._labels is None or self._image is None:
            return
        h, w = self.image_shape()
        self.overlay_item.setImage(self._labels, autoLevels=False, levels=(0, 255), lut=self._lut)
        self.overlay_item.setRect(QtCore.QRectF(0, 0, w, h))
        self._overlay_rect = QtCore.QRectF(0, 0, w, h)
        self._apply_visibility()

    # ----------------------------------------------------------------- tools
    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str) -> None:
        """``"pan"``, ``"brush"`` or ``"eraser"``."""
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {TOOLS}, got {tool!r}")
        self._tool = tool
        self.tool_buttons[tool].setChecked(True)
        self.cursor_item.setVisible(False)
        self.view.setMouseEnabled(x=True, y=True)
        if tool != "pan" and self._mode == "truth":
            self.set_mode("prediction")  # the ground truth is never edited; show what is
        self.tool_changed.emit(tool)

    @property
    def brush_size(self) -> int:
        return self.size_spin.value()

    def set_brush_size(self, pixels: int) -> None:
        self.size_spin.setValue(int(pixels))

    def step_brush_size(self, grow: bool) -> None:
        """One step of ±25 % (at least one pixel), the ``]`` and ``[`` keys."""
        size = self.brush_size
        self.set_brush_size(max(size + 1, round(size * 1.25)) if grow else max(1, min(size - 1, round(size * 0.8))))

    def _update_cursor_size(self) -> None:
        if self.cursor_item.isVisible():
            c = self.cursor_item.rect().center()
            self._place_cursor(c.x(), c.y())

    def _place_cursor(self, x: float, y: float) -> None:
        r = self.brush_size / 2
        self.cursor_item.setRect(QtCore.QRectF(x - r, y - r, 2 * r, 2 * r))

    def _move_cursor(self, pos) -> None:
        if self._tool == "pan" or self._image is None or not self.view.sceneBoundingRect().contains(pos):
            self.cursor_item.setVisible(False)
            return
        p = self.view.mapSceneToView(pos)
        self._place_cursor(p.x(), p.y())
        self.cursor_item.setVisible(True)

    # --------------------------------------------------------------- strokes
    def begin_stroke(self) -> None:
        """Start one undoable stroke (the mouse button went down)."""
        if self._image is None:
            return
        if self._mask is None:  # painting on an image without a prediction starts an empty mask
            self._mask = np.zeros(self.image_shape(), dtype=bool)
            self._update_mode_items()
            self._relabel()
        self._stroke = {}
        self._last_point = None

    def stroke_to(self, x: float, y: float) -> None:
        """Paint (brush) or erase (eraser) from the previous point of the stroke to (x, y), image pixels."""
        if self._stroke is None or self._mask is None:
            return
        start = self._last_point or (x, y)
        self._last_point = (x, y)
        self._stamp_segment(start, (x, y), self._tool != "eraser")

    def end_stroke(self) -> bool:
        """Close the stroke: an undo step if it changed any pixel; emits :attr:`mask_edited`. True if it did."""
        stroke, self._stroke, self._last_point = self._stroke, None, None
        if not stroke or self._mask is None:
            return False
        T = UNDO_TILE
        changed = {k: v for k, v in stroke.items()
                   if not np.array_equal(v, self._mask[k[0] * T:k[0] * T + v.shape[0], k[1] * T:k[1] * T + v.shape[1]])}
        if not changed:
            return False
        self._undo.append(changed)
        del self._undo[:-UNDO_LIMIT]
        self._undo_changed()
        self._emit_edited()
        return True

    def paint_stroke(self, points: list[tuple[float, float]], erase: bool | None = None) -> bool:
        """One whole stroke through ``points`` (x, y in image pixels) with the current tool, or ``erase``.

        What a mouse drag does; True when it changed the mask.
        """
        tool = self._tool
        if erase is not None:
            self._tool = "eraser" if erase else "brush"
        try:
            if self._tool == "pan":
                return False
            self.begin_stroke()
            for x, y in points:
                self.stroke_to(x, y)
            return self.end_stroke()
        finally:
            self._tool = tool

    def _stamp_segment(self, p0: tuple[float, float], p1: tuple[float, float], value: bool) -> None:
        """Set every pixel whose centre is within size/2 of the segment p0–p1 to ``value``."""
        h, w = self._mask.shape
        r = max(self.brush_size / 2.0, 0.71)  # at least the pixel under the cursor
        (x0, y0), (x1, y1) = p0, p1
        bx0 = max(0, int(math.floor(min(x0, x1) - r)))
        bx1 = min(w, int(math.ceil(max(x0, x1) + r)) + 1)
        by0 = max(0, int(math.floor(min(y0, y1) - r)))
        by1 = min(h, int(math.ceil(max(y0, y1) + r)) + 1)
        if bx1 <= bx0 or by1 <= by0:
            return
        yy = np.arange(by0, by1, dtype=np.float32)[:, None] + 0.5
        xx = np.arange(bx0, bx1, dtype=np.float32)[None, :] + 0.5
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        if length2 > 0:
            t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / length2, 0.0, 1.0)
        else:
            t = np.float32(0.0)
        hit = (xx - (x0 + t * dx)) ** 2 + (yy - (y0 + t * dy)) ** 2 <= r * r
        if not hit.any():
            return
        self._save_tiles(by0, by1, bx0, bx1)
        self._mask[by0:by1, bx0:bx1][hit] = value
        self._relabel_region(by0, by1, bx0, bx1)

    def _save_tiles(self, y0: int, y1: int, x0: int, x1: int) -> None:
        """Keep the pre-stroke content of the undo tiles the box touches (once per stroke)."""
        T = UNDO_TILE
        for ty in range(y0 // T, (y1 - 1) // T + 1):
            for tx in range(x0 // T, (x1 - 1) // T + 1):
                if (ty, tx) not in self._stroke:
                    self._stroke[(ty, tx)] = self._mask[ty * T:(ty + 1) * T, tx * T:(tx + 1) * T].copy()

    # ------------------------------------------------------------------- undo
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def undo_depth(self) -> int:
        return len(self._undo)

    def undo(self) -> bool:
        """Restore the mask as it was before the last stroke; True if there was one."""
        if not self._undo or self._mask is None or self._stroke is not None:
            return False
        tiles = self._undo.pop()
        T = UNDO_TILE
        for (ty, tx), old in tiles.items():
            y0, x0 = ty * T, tx * T
            self._mask[y0:y0 + old.shape[0], x0:x0 + old.shape[1]] = old
            self._relabel_region(y0, y0 + old.shape[0], x0, x0 + old.shape[1])
        self._undo_changed()
        self._emit_edited()
        return True

    def _emit_edited(self) -> None:
        view = self._mask.view()  # no copy of a 10,000² mask per stroke; receivers copy what they keep
        view.flags.writeable = False
        self.mask_edited.emit(view)

    def _clear_undo(self) -> None:
        self._undo.clear()
        self._stroke = None
        self._undo_changed()

    def _undo_changed(self) -> None:
        self.undo_button.setEnabled(bool(self._undo))
        self.undo_available.emit(bool(self._undo))

    # ----------------------------------------------------------------- export
    def render_image(self, caption: str = "", caption_rgb: tuple[int, int, int] = (40, 40, 40)) -> QtGui.QImage:
        """Image + overlay as shown, at the image's resolution (the overlay at display resolution, stretched)."""
        labels = self.labels()
        self._overlay = None if labels is None else self._lut[labels]
        return super().render_image(caption, caption_rgb)


def _preview() -> int:
    """``python -m studio.gui.mask_view``: a generated 3000² scene with a noisy mask to correct."""
    import sys

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    rng = np.random.default_rng(0)
    size = 3000
    truth = np.zeros((size, size), bool)
    for _ in range(300):
        y, x = rng.integers(0, size - 60, 2)
        truth[y:y + rng.integers(15, 60), x:x + rng.integers(15, 60)] = True
    image = np.dstack([np.where(truth, 170, 90) + rng.integers(0, 40, (size, size))] * 3).astype(np.uint8)
    pred = truth ^ (rng.random((size, size)) < 0.01)
    view = MaskView()
    view.set_image(image)
    view.set_truth(truth)
    view.set_mask(pred)
    view.set_mode("compare")
    view.resize(900, 800)
    view.setWindowTitle("MaskView preview")
    view.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(_preview())
