"""Live training curves: the plot every workbench and the runs dock embed.

Design
------
Training loops report metrics far faster than a screen needs redrawing
(hundreds of points per second while a small model trains).  So the widget is
*pull based*:

* :meth:`LiveCurvePlot.add_point` (and the bulk variants) only append to plain
  Python lists and set a dirty flag.  They never touch pyqtgraph, so a caller
  may feed thousands of points in a tight loop from the GUI thread.
* A 100 ms :class:`QtCore.QTimer` polls the dirty flag and redraws when it is
  set, so there are at most 10 redraws a second whatever the feed rate.  The
  timer stops itself after an idle tick and restarts on the next point, so a
  finished run costs nothing.  :meth:`LiveCurvePlot.flush` redraws at once
  (tests, screenshots, export).  :attr:`LiveCurvePlot.repaint_count` counts the
  redraws so the throttle can be tested.
* A redraw converts only the series that changed to numpy arrays and hands
  them to ``PlotDataItem.setData``; pyqtgraph clips to the view and
  peak-downsamples, so 4 series x 20,000 points stay cheap.

Smoothing follows TensorBoard: a debiased exponential moving average
(:func:`studio.engine.metrics.debiased_ema`, weight 0.6 by default), drawn in
full colour over the faint raw curve.  The average is computed per redraw and
only for series that changed, never per point.  With weight 0 only the raw
curve is drawn (in full colour).

The x axis can be the global step, the epoch (points reported without an
epoch are left out) or the wall time in seconds since the series' first point.
Log y is pyqtgraph's own log mode, which maps non-positive values to NaN gaps.

Exports: PNG through ``pyqtgraph.exporters.ImageExporter``; CSV of *our* data
in long format (``series,step,epoch,wall,value``, every raw point) through the
csv module; and, for completeness, pyqtgraph's ``CSVExporter`` of the arrays
as drawn (possibly smoothed) as :meth:`LiveCurvePlot.export_plotted_csv`.

Run ``python -m studio.gui.live_curve`` for a standalone preview streaming a
fake decaying loss curve.
"""
from __future__ import annotations

import csv
import math
import os
import re
import time
from typing import Iterable, Sequence

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters.*)
from PySide6 import QtCore, QtGui, QtWidgets

from studio.engine.metrics import debiased_ema

__all__ = ["LiveCurvePlot", "REPAINT_INTERVAL_MS", "DEFAULT_SMOOTHING"]

#: Minimum time between two throttled redraws (at most 10 redraws a second).
REPAINT_INTERVAL_MS = 100
#: TensorBoard's default smoothing weight.
DEFAULT_SMOOTHING = 0.6
#: Alpha of the raw curve drawn behind the smoothed one.
RAW_ALPHA = 60

_X_AXES: tuple[tuple[str, str], ...] = (
    ("step", "Step"),
    ("epoch", "Epoch"),
    ("wall", "Wall time (s)"),
)

# Tableau 10: distinct, colour-blind friendlier than evenly spaced hues.
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)


def _color_for(index: int) -> QtGui.QColor:
    if index < len(_PALETTE):
        return QtGui.QColor(_PALETTE[index])
    return pg.intColor(index - len(_PALETTE), hues=13, values=2, minValue=180)


class _Series:
    """Raw points of one curve plus its two plot items and a smoothing cache."""

    __slots__ = (
        "steps", "values", "epochs", "walls", "t0", "color",
        "curve", "raw", "changed", "version", "ema_key", "ema",
    )

    def __init__(self, color: QtGui.QColor) -> None:
        self.steps: list[int] = []
        self.values: list[float] = []
        self.epochs: list[float | None] = []
        self.walls: list[float] = []
        self.t0: float | None = None  # time.monotonic() of the first point
        self.color = color
        self.curve: pg.PlotDataItem | None = None  # smoothed (or raw when w == 0)
        self.raw: pg.PlotDataItem | None = None  # faint raw curve behind it
        self.changed = True
        self.version = 0
        self.ema_key: tuple[int, float] | None = None
        self.ema: np.ndarray | None = None

    def wall_now(self, wall: float | None) -> float:
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now - (float(wall) if wall is not None else 0.0)
        return float(wall) if wall is not None else now - self.t0


class LiveCurvePlot(QtWidgets.QWidget):
    """A throttled, smoothed live plot of named scalar series.

    Series are keyed by a free-form string (``"train/loss"``, or for overlaid
    runs ``"run 12 · val/loss"``); the key is the legend label.
    """

    smoothing_changed = QtCore.Signal(float)
    log_y_changed = QtCore.Signal(bool)
    x_axis_changed = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None, title: str = "") -> None:
        super().__init__(parent)
        self._title = title
        self._series: dict[str, _Series] = {}
        self._next_color = 0
        self._dirty = False
        self._grew = False  # new points since the last redraw (for auto range)
        self._syncing_auto = False
        #: Number of actual redraws so far (tests use it to check the throttle).
        self.repaint_count = 0

        # ---- plot -------------------------------------------------------
        self._plot_widget = pg.PlotWidget(self)
        self._plot_item: pg.PlotItem = self._plot_widget.getPlotItem()
        if title:
            self._plot_item.setTitle(title)
        self._plot_item.showGrid(x=True, y=True, alpha=0.25)
        self._plot_item.setDownsampling(auto=True, mode="peak")
        self._plot_item.setClipToView(True)
        self._plot_item.setLabel("bottom", "Step")
        self._legend = self._plot_item.addLegend(offset=(-10, 10))
        vb = self._plot_item.getViewBox()
        vb.sigRangeChangedManually.connect(self._on_user_range_change)
        vb.sigStateChanged.connect(self._on_viewbox_state_changed)

        # ---- controls -----------------------------------------------------
        self._smooth_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal, self)
        self._smooth_slider.setRange(0, 99)
        self._smooth_slider.setValue(round(DEFAULT_SMOOTHING * 100))
        self._smooth_slider.setToolTip(
            "Smoothing weight of the debiased exponential moving average "
            "(as TensorBoard); 0 shows the raw values only."
        )
        self._smooth_slider.setMinimumWidth(50)
        self._smooth_label = QtWidgets.QLabel(self)
        self._smooth_label.setMinimumWidth(
            self._smooth_label.fontMetrics().horizontalAdvance("0.00") + 4
        )
        self._update_smooth_label()
        self._smooth_slider.valueChanged.connect(self._on_smoothing_slider)

        self._log_check = QtWidgets.QCheckBox("Log y", self)
        self._log_check.toggled.connect(self._on_log_toggled)
        # Keep in sync with pyqtgraph's own context-menu "Log Y" option.
        ctrl = getattr(self._plot_item, "ctrl", None)
        if ctrl is not None and hasattr(ctrl, "logYCheck"):
            ctrl.logYCheck.toggled.connect(self._log_check.setChecked)

        self._x_combo = QtWidgets.QComboBox(self)
        self._x_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._x_combo.setMinimumContentsLength(5)
        self._x_combo.setToolTip("x axis: step, epoch or wall time")
        for data, text in _X_AXES:
            self._x_combo.addItem(text, data)
        self._x_combo.currentIndexChanged.connect(self._on_x_axis_changed)

        self._auto_check = QtWidgets.QCheckBox("Auto", self)
        self._auto_check.setChecked(True)
        self._auto_check.setToolTip("Auto range: follow new points; unticked when you pan or zoom.")
        self._auto_check.toggled.connect(self._on_auto_toggled)

        self._export_button = QtWidgets.QToolButton(self)
        self._export_button.setText("Export")
        self._export_button.setToolTip("Export the plot as PNG, or its data as CSV")
        self._export_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        export_menu = QtWidgets.QMenu(self._export_button)
        export_menu.addAction("Plot as PNG…", self._on_export_png_clicked)
        export_menu.addAction("Data as CSV…", self._on_export_csv_clicked)
        self._export_button.setMenu(export_menu)

        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        smooth_caption = QtWidgets.QLabel("Smooth", self)
        smooth_caption.setToolTip(self._smooth_slider.toolTip())
        row.addWidget(smooth_caption)
        row.addWidget(self._smooth_slider, 1)
        row.addWidget(self._smooth_label)
        row.addWidget(self._log_check)
        row.addWidget(self._x_combo)
        row.addWidget(self._auto_check)
        row.addStretch(0)
        row.addWidget(self._export_button)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self._plot_widget, 1)

        # ---- throttle -----------------------------------------------------
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(REPAINT_INTERVAL_MS)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_tick)

    # ------------------------------------------------------------------ data
    def add_point(
        self,
        key: str,
        step: int,
        value: float,
        epoch: float | None = None,
        wall: float | None = None,
    ) -> None:
        """Append one point.  Cheap: no drawing happens here.

        ``wall`` is seconds since the series' first point; when omitted it is
        measured with ``time.monotonic()`` from the first point's arrival.
        """
        s = self._series.get(key)
        if s is None:
            s = self._new_series(key)
        s.steps.append(int(step))
        s.values.append(float(value))
        s.epochs.append(None if epoch is None else float(epoch))
        s.walls.append(s.wall_now(wall))
        s.version += 1
        s.changed = True
        self._grew = True
        if not self._dirty:
            self._mark_dirty()

    def add_points(
        self,
        key: str,
        steps: Sequence[int],
        values: Sequence[float],
        epochs: Sequence[float | None] | None = None,
        walls: Sequence[float] | None = None,
    ) -> None:
        """Append many points of one series at once."""
        steps_l, values_l, epochs_l, walls_in = self._check_lengths(steps, values, epochs, walls)
        if not steps_l:
            if key not in self._series:
                self._new_series(key)
            return
        s = self._series.get(key)
        if s is None:
            s = self._new_series(key)
        if walls_in is None:
            now = s.wall_now(None)
            walls_l = [now] * len(steps_l)
        else:
            s.wall_now(walls_in[0])  # anchors t0 if this is the first point
            walls_l = walls_in
        s.steps.extend(steps_l)
        s.values.extend(values_l)
        s.epochs.extend(epochs_l)
        s.walls.extend(walls_l)
        s.version += 1
        s.changed = True
        self._grew = True
        self._mark_dirty()

    def set_series(
        self,
        key: str,
        steps: Sequence[int],
        values: Sequence[float],
        epochs: Sequence[float | None] | None = None,
        walls: Sequence[float] | None = None,
    ) -> None:
        """Replace all points of ``key`` (creating the series if needed)."""
        steps_l, values_l, epochs_l, walls_in = self._check_lengths(steps, values, epochs, walls)
        s = self._series.get(key)
        if s is None:
            s = self._new_series(key)
        s.t0 = None
        if walls_in is None:
            walls_l = [s.wall_now(None)] * len(steps_l) if steps_l else []
        else:
            if walls_in:
                s.wall_now(walls_in[0])
            walls_l = walls_in
        s.steps, s.values, s.epochs, s.walls = steps_l, values_l, epochs_l, walls_l
        s.version += 1
        s.changed = True
        self._grew = True
        self._mark_dirty()

    def remove_series(self, key: str) -> None:
        """Drop one series and its curves (no error if it does not exist)."""
        s = self._series.pop(key, None)
        if s is None:
            return
        for item in (s.curve, s.raw):
            if item is not None:
                self._plot_item.removeItem(item)
        self._mark_dirty()

    def clear(self) -> None:
        """Remove every series; colours start over."""
        for key in list(self._series):
            self.remove_series(key)
        self._next_color = 0
        self._grew = True
        self._mark_dirty()

    def series_keys(self) -> list[str]:
        """Keys in the order the series were first seen."""
        return list(self._series)

    def series_data(self, key: str) -> dict[str, list]:
        """Copies of the raw points of ``key``: lists "step", "value", "epoch", "wall"."""
        s = self._series[key]
        return {
            "step": list(s.steps),
            "value": list(s.values),
            "epoch": list(s.epochs),
            "wall": list(s.walls),
        }

    def curve_item(self, key: str) -> pg.PlotDataItem:
        """The full-colour item of ``key`` (smoothed, or raw when smoothing is 0)."""
        s = self._series[key]
        assert s.curve is not None
        return s.curve

    def raw_item(self, key: str) -> pg.PlotDataItem:
        """The faint raw item of ``key`` (hidden when smoothing is 0)."""
        s = self._series[key]
        assert s.raw is not None
        return s.raw

    @property
    def plot_item(self) -> pg.PlotItem:
        return self._plot_item

    @property
    def plot_widget(self) -> pg.PlotWidget:
        return self._plot_widget

    # -------------------------------------------------------------- settings
    @property
    def smoothing(self) -> float:
        """EMA weight in [0, 0.99], in steps of 0.01 (the slider's resolution)."""
        return self._smooth_slider.value() / 100.0

    @smoothing.setter
    def smoothing(self, weight: float) -> None:
        self.set_smoothing(weight)

    def set_smoothing(self, weight: float) -> None:
        try:
            w = float(weight)
        except (TypeError, ValueError):
            w = DEFAULT_SMOOTHING
        if not math.isfinite(w):
            w = DEFAULT_SMOOTHING
        self._smooth_slider.setValue(int(round(min(max(w, 0.0), 0.99) * 100)))

    @property
    def log_y(self) -> bool:
        return self._log_check.isChecked()

    @log_y.setter
    def log_y(self, on: bool) -> None:
        self.set_log_y(on)

    def set_log_y(self, on: bool) -> None:
        self._log_check.setChecked(bool(on))

    @property
    def x_axis(self) -> str:
        """``"step"``, ``"epoch"`` or ``"wall"``."""
        return self._x_combo.currentData()

    @x_axis.setter
    def x_axis(self, axis: str) -> None:
        self.set_x_axis(axis)

    def set_x_axis(self, axis: str) -> None:
        index = self._x_combo.findData(axis)
        if index < 0:
            raise ValueError(
                f"x axis must be one of {[a for a, _ in _X_AXES]}, got {axis!r}"
            )
        self._x_combo.setCurrentIndex(index)

    @property
    def auto_range(self) -> bool:
        return self._auto_check.isChecked()

    @auto_range.setter
    def auto_range(self, on: bool) -> None:
        self._auto_check.setChecked(bool(on))

    @property
    def title(self) -> str:
        return self._title

    def set_title(self, title: str) -> None:
        self._title = title
        self._plot_item.setTitle(title or None)

    # ----------------------------------------------------------------- redraw
    def flush(self) -> None:
        """Redraw now, whatever the throttle says."""
        self._redraw()

    def _mark_dirty(self) -> None:
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def _mark_all_changed(self) -> None:
        for s in self._series.values():
            s.changed = True
        self._mark_dirty()

    def _on_tick(self) -> None:
        if self._dirty:
            self._redraw()
        else:
            self._timer.stop()  # idle: restarted by the next point

    def _redraw(self) -> None:
        self._dirty = False
        weight = self.smoothing
        axis = self.x_axis
        for s in self._series.values():
            if s.changed:
                self._redraw_series(s, weight, axis)
                s.changed = False
        if self._grew:
            self._grew = False
            if self._auto_check.isChecked():
                self._plot_item.getViewBox().enableAutoRange()
        self.repaint_count += 1

    def _redraw_series(self, s: _Series, weight: float, axis: str) -> None:
        assert s.curve is not None and s.raw is not None
        y = np.asarray(s.values, dtype=float)
        if weight > 0.0 and y.size:
            key = (s.version, weight)
            if s.ema_key != key or s.ema is None:
                s.ema = np.asarray(debiased_ema(s.values, weight), dtype=float)
                s.ema_key = key
            smooth = s.ema
        else:
            smooth = None

        if axis == "epoch":
            x = np.fromiter(
                (math.nan if e is None else e for e in s.epochs), dtype=float, count=len(s.epochs)
            )
            keep = np.isfinite(x)
            if not keep.all():
                x, y = x[keep], y[keep]
                if smooth is not None:
                    smooth = smooth[keep]
        elif axis == "wall":
            x = np.asarray(s.walls, dtype=float)
        else:
            x = np.asarray(s.steps, dtype=float)

        if smooth is None:
            s.raw.setData(x[:0], y[:0])
            s.raw.setVisible(False)
            s.curve.setData(x, y)
        else:
            s.raw.setData(x, y)
            s.raw.setVisible(True)
            s.curve.setData(x, smooth)

    def _new_series(self, key: str) -> _Series:
        s = _Series(_color_for(self._next_color))
        self._next_color += 1
        faint = QtGui.QColor(s.color)
        faint.setAlpha(RAW_ALPHA)
        # Raw first (behind), unnamed so it stays out of the legend.
        s.raw = pg.PlotDataItem(pen=pg.mkPen(faint, width=1))
        s.raw.setZValue(0)
        s.curve = pg.PlotDataItem(pen=pg.mkPen(s.color, width=2), name=key)
        s.curve.setZValue(1)
        for item in (s.raw, s.curve):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
            self._plot_item.addItem(item)
        s.raw.setVisible(self.smoothing > 0.0)
        self._series[key] = s
        return s

    @staticmethod
    def _check_lengths(
        steps: Iterable[int],
        values: Iterable[float],
        epochs: Iterable[float | None] | None,
        walls: Iterable[float] | None,
    ) -> tuple[list[int], list[float], list[float | None], list[float] | None]:
        steps_l = [int(v) for v in steps]
        values_l = [float(v) for v in values]
        n = len(steps_l)
        if len(values_l) != n:
            raise ValueError(f"{n} steps but {len(values_l)} values")
        if epochs is None:
            epochs_l: list[float | None] = [None] * n
        else:
            epochs_l = [None if e is None else float(e) for e in epochs]
            if len(epochs_l) != n:
                raise ValueError(f"{n} steps but {len(epochs_l)} epochs")
        walls_l: list[float] | None = None
        if walls is not None:
            walls_l = [float(w) for w in walls]
            if len(walls_l) != n:
                raise ValueError(f"{n} steps but {len(walls_l)} wall times")
        return steps_l, values_l, epochs_l, walls_l

    # ------------------------------------------------------------- controls
    def _update_smooth_label(self) -> None:
        self._smooth_label.setText(f"{self._smooth_slider.value() / 100.0:.2f}")

    def _on_smoothing_slider(self, _value: int) -> None:
        self._update_smooth_label()
        self._mark_all_changed()  # the EMA cache is keyed by weight too
        self.smoothing_changed.emit(self.smoothing)

    def _on_log_toggled(self, on: bool) -> None:
        self._plot_item.setLogMode(y=on)
        self._grew = True  # re-fit the range to the new scale
        self._mark_dirty()
        self.log_y_changed.emit(on)

    def _on_x_axis_changed(self, _index: int) -> None:
        self._plot_item.setLabel("bottom", self._x_combo.currentText())
        self._grew = True
        self._mark_all_changed()
        self.x_axis_changed.emit(self.x_axis)

    def _on_auto_toggled(self, on: bool) -> None:
        vb = self._plot_item.getViewBox()
        self._syncing_auto = True  # disabling emits state changes while still enabled
        try:
            if on:
                vb.enableAutoRange()
            else:
                vb.disableAutoRange()
        finally:
            self._syncing_auto = False

    def _on_user_range_change(self, *_args) -> None:
        # The user panned or zoomed: stop following new points.
        if self._auto_check.isChecked():
            self._auto_check.blockSignals(True)
            self._auto_check.setChecked(False)
            self._auto_check.blockSignals(False)

    def _on_viewbox_state_changed(self, *_args) -> None:
        # pyqtgraph's "A" button re-enables auto range: reflect it.
        if not self._syncing_auto and not self._auto_check.isChecked():
            x_on, y_on = self._plot_item.getViewBox().autoRangeEnabled()
            if x_on and y_on:
                self._auto_check.blockSignals(True)
                self._auto_check.setChecked(True)
                self._auto_check.blockSignals(False)

    # ---------------------------------------------------------------- export
    def export_png(self, path: str | os.PathLike[str]) -> None:
        """Write the plot as a PNG image.  Raises OSError when it cannot."""
        path = os.fspath(path)
        self.flush()
        self._ensure_laid_out()
        exporter = pg.exporters.ImageExporter(self._plot_item)
        if int(exporter.parameters()["width"]) <= 0 or int(exporter.parameters()["height"]) <= 0:
            raise OSError(f"cannot export {path}: the plot has no size yet")
        ok = exporter.export(path)
        if not ok:
            raise OSError(f"could not write image {path}")

    def export_csv(self, path: str | os.PathLike[str]) -> None:
        """Write every raw point, long format: ``series,step,epoch,wall,value``.

        Raises OSError when the file cannot be written.
        """
        with open(os.fspath(path), "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["series", "step", "epoch", "wall", "value"])
            for key, s in self._series.items():
                for step, epoch, wall, value in zip(s.steps, s.epochs, s.walls, s.values):
                    writer.writerow([key, step, "" if epoch is None else repr(epoch), repr(wall), repr(value)])

    def export_plotted_csv(self, path: str | os.PathLike[str]) -> None:
        """pyqtgraph's CSVExporter: the arrays as drawn (x axis choice, smoothing)."""
        self.flush()
        exporter = pg.exporters.CSVExporter(self._plot_item)
        exporter.export(os.fspath(path))

    def _ensure_laid_out(self) -> None:
        # A never-shown widget has not laid out its scene (the plot would be
        # rendered at the 100x30 default of a hidden child); size it now.  The
        # view keeps following its widget's size once shown.
        if self._plot_widget.isVisible():
            return
        layout = self.layout()
        if layout is not None:
            layout.activate()
        size = self._plot_widget.size()
        w = size.width() if size.width() >= 200 else 800
        h = size.height() if size.height() >= 150 else 500
        self._plot_widget.resize(w, h)
        # PlotWidget.setRange forwards to the ViewBox; call the view's own, as
        # GraphicsView.resizeEvent does.
        pg.GraphicsView.setRange(
            self._plot_widget, QtCore.QRectF(0, 0, w, h), padding=0, disableAutoPixel=False
        )

    def _default_export_name(self, suffix: str) -> str:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", self._title).strip("_") or "curves"
        return stem + suffix

    def _on_export_png_clicked(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export plot as PNG", self._default_export_name(".png"), "PNG image (*.png)"
        )
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        self._export_guarded(path, self.export_png)

    _CSV_DATA_FILTER = "CSV, all raw points (*.csv)"
    _CSV_PLOTTED_FILTER = "CSV, curves as drawn (*.csv)"

    def _on_export_csv_clicked(self) -> None:
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self,
            "Export curves as CSV",
            self._default_export_name(".csv"),
            f"{self._CSV_DATA_FILTER};;{self._CSV_PLOTTED_FILTER}",
        )
        if not path:
            return
        if not path.lower().endswith(".csv"):
            path += ".csv"
        exporter = self.export_plotted_csv if chosen == self._CSV_PLOTTED_FILTER else self.export_csv
        self._export_guarded(path, exporter)

    def _export_guarded(self, path: str, exporter) -> None:
        try:
            exporter(path)
        except OSError as exc:
            QtWidgets.QMessageBox.warning(
                self, "Export failed", f"Could not write {path}:\n{exc.strerror or exc}"
            )


def _preview() -> int:
    """Standalone window streaming a noisy, decaying fake loss curve."""
    import random
    import sys

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    plot = LiveCurvePlot(title="Preview: fake training run")
    plot.setWindowTitle("LiveCurvePlot preview")
    plot.resize(900, 520)
    plot.show()

    state = {"step": 0}
    steps_per_epoch = 200
    rng = random.Random(0)

    def feed() -> None:
        # 20 points per 10 ms tick = 2,000 points/s; the plot redraws at <= 10 Hz.
        for _ in range(20):
            step = state["step"]
            epoch = step / steps_per_epoch
            loss = 2.0 * math.exp(-step / 1500.0) + 0.05
            plot.add_point("train/loss", step, loss * math.exp(rng.gauss(0.0, 0.25)), epoch)
            if step % steps_per_epoch == 0:
                plot.add_point("val/loss", step, loss * 1.15 + rng.gauss(0.0, 0.02), epoch)
            state["step"] = step + 1
        plot.setWindowTitle(
            f"LiveCurvePlot preview: {state['step']} steps, {plot.repaint_count} redraws"
        )

    timer = QtCore.QTimer()
    timer.timeout.connect(feed)
    timer.start(10)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(_preview())
