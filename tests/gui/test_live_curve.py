"""Tests for studio.gui.live_curve.LiveCurvePlot (pytest-qt, offscreen)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import csv  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from studio.engine.metrics import debiased_ema  # noqa: E402
from studio.gui.live_curve import LiveCurvePlot  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def plot(qtbot):
    w = LiveCurvePlot(title="test curves")
    qtbot.addWidget(w)
    w.resize(640, 400)
    return w


@pytest.fixture
def shown_plot(qtbot, plot):
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def _checkbox(plot: LiveCurvePlot, text: str) -> QtWidgets.QCheckBox:
    for box in plot.findChildren(QtWidgets.QCheckBox):
        if box.text() == text:
            return box
    raise AssertionError(f"no checkbox {text!r}")


def _noisy(n: int, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(2.0 * np.exp(-np.arange(n) / 300.0) + 0.1 + rng.normal(0.0, 0.2, n))


# ---------------------------------------------------------------- throttle
def test_tight_loop_is_throttled_and_plots_every_point(qtbot, plot):
    values = _noisy(1000)
    for i, v in enumerate(values):
        plot.add_point("train/loss", i, v)
    assert plot.repaint_count == 0, "add_point must never redraw directly"

    qtbot.wait(350)
    assert 1 <= plot.repaint_count <= 5

    x, y = plot.curve_item("train/loss").getOriginalDataset()
    assert len(x) == len(y) == 1000
    np.testing.assert_array_equal(x, np.arange(1000, dtype=float))
    rx, ry = plot.raw_item("train/loss").getOriginalDataset()
    assert len(rx) == 1000
    np.testing.assert_allclose(ry, values)


def test_streaming_redraws_at_most_ten_times_a_second(qtbot, plot):
    state = {"i": 0}

    def feed():
        for _ in range(10):
            plot.add_point("train/loss", state["i"], 1.0 / (1 + state["i"]))
            state["i"] += 1

    timer = QtCore.QTimer()
    timer.timeout.connect(feed)
    t0 = time.monotonic()
    timer.start(5)
    qtbot.wait(650)
    timer.stop()
    elapsed_ms = (time.monotonic() - t0) * 1000.0
    assert state["i"] > 100
    assert 1 <= plot.repaint_count <= elapsed_ms / 100.0 + 1


def test_idle_plot_stops_redrawing(qtbot, plot):
    plot.add_point("a", 0, 1.0)
    qtbot.wait(300)
    count = plot.repaint_count
    assert count == 1
    qtbot.wait(300)
    assert plot.repaint_count == count


def test_flush_redraws_immediately(plot):
    plot.add_points("a", range(10), range(10))
    plot.flush()
    assert plot.repaint_count == 1
    x, _ = plot.curve_item("a").getOriginalDataset()
    assert len(x) == 10


# --------------------------------------------------------------- smoothing
def test_smoothing_default_and_slider_drive_the_curve(plot):
    values = _noisy(500, seed=1)
    plot.add_points("train/loss", range(500), values)
    slider = plot.findChild(QtWidgets.QSlider)
    assert plot.smoothing == pytest.approx(0.6)
    assert slider.value() == 60
    assert any(lbl.text() == "0.60" for lbl in plot.findChildren(QtWidgets.QLabel))

    plot.flush()
    _, y = plot.curve_item("train/loss").getOriginalDataset()
    np.testing.assert_allclose(y, debiased_ema(values, 0.6))
    assert plot.raw_item("train/loss").isVisible() or not plot.isVisible()
    _, raw_y = plot.raw_item("train/loss").getOriginalDataset()
    np.testing.assert_allclose(raw_y, values)

    slider.setValue(90)
    assert plot.smoothing == pytest.approx(0.9)
    plot.flush()
    _, y90 = plot.curve_item("train/loss").getOriginalDataset()
    np.testing.assert_allclose(y90, debiased_ema(values, 0.9))
    assert not np.allclose(y90, debiased_ema(values, 0.6))

    # Weight 0: only the raw curve, in full colour.
    slider.setValue(0)
    plot.flush()
    _, y0 = plot.curve_item("train/loss").getOriginalDataset()
    np.testing.assert_allclose(y0, values)
    assert not plot.raw_item("train/loss").isVisible()


def test_smoothing_setter_updates_slider_and_signal(qtbot, plot):
    slider = plot.findChild(QtWidgets.QSlider)
    with qtbot.waitSignal(plot.smoothing_changed) as blocker:
        plot.smoothing = 0.25
    assert slider.value() == 25
    assert blocker.args == [pytest.approx(0.25)]
    plot.smoothing = 5.0  # clamped
    assert plot.smoothing == pytest.approx(0.99)


def test_smoothing_recomputed_after_new_points(qtbot, plot):
    values = _noisy(50)
    plot.add_points("a", range(50), values)
    plot.flush()
    plot.add_point("a", 50, 10.0)
    plot.flush()
    _, y = plot.curve_item("a").getOriginalDataset()
    np.testing.assert_allclose(y, debiased_ema(values + [10.0], 0.6))


# ------------------------------------------------------------------- log y
def test_log_y_toggles_log_mode_and_survives_non_positive(qtbot, shown_plot):
    plot = shown_plot
    plot.add_points("val/loss", range(6), [1.0, 0.5, 0.0, -0.3, 0.1, 0.01])
    box = _checkbox(plot, "Log y")
    assert not plot.log_y

    box.setChecked(True)
    assert plot.log_y
    assert plot.plot_item.ctrl.logYCheck.isChecked()
    assert plot.plot_item.getAxis("left").logMode
    plot.flush()
    qtbot.wait(250)
    plot.grab()  # forces a real paint of the log-scaled curves
    _, y = plot.curve_item("val/loss").getData()
    assert len(y) == 6

    plot.log_y = False
    assert not box.isChecked()
    assert not plot.plot_item.ctrl.logYCheck.isChecked()
    plot.flush()
    plot.grab()


# ------------------------------------------------------------------- x axis
def test_epoch_axis_uses_epochs_and_skips_points_without(plot):
    plot.add_point("train/loss", 0, 3.0)  # no epoch: left out in epoch mode
    for i, e in enumerate([0.25, 0.5, 0.75, 1.0], start=1):
        plot.add_point("train/loss", i * 10, 3.0 - i, epoch=e)
    plot.smoothing = 0.0
    plot.x_axis = "epoch"
    combo = plot.findChild(QtWidgets.QComboBox)
    assert combo.currentText() == "Epoch"
    plot.flush()
    x, y = plot.curve_item("train/loss").getOriginalDataset()
    np.testing.assert_allclose(x, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(y, [2.0, 1.0, 0.0, -1.0])

    plot.x_axis = "step"
    plot.flush()
    x, _ = plot.curve_item("train/loss").getOriginalDataset()
    np.testing.assert_allclose(x, [0, 10, 20, 30, 40])

    with pytest.raises(ValueError):
        plot.x_axis = "minutes"


def test_wall_axis_uses_given_and_measured_wall_times(plot):
    plot.add_points("a", [0, 1, 2], [1.0, 2.0, 3.0], walls=[0.0, 1.5, 3.0])
    plot.x_axis = "wall"
    plot.smoothing = 0.0
    plot.flush()
    x, _ = plot.curve_item("a").getOriginalDataset()
    np.testing.assert_allclose(x, [0.0, 1.5, 3.0])

    plot.add_point("b", 0, 1.0)
    time.sleep(0.05)
    plot.add_point("b", 1, 1.0)
    walls = plot.series_data("b")["wall"]
    assert walls[0] == 0.0
    assert 0.04 <= walls[1] < 5.0


# -------------------------------------------------------------- data model
def test_data_model_api(plot):
    plot.add_point("train/loss", 1, 0.5, epoch=0.1, wall=0.0)
    plot.add_points("run 12 · val/loss", [1, 2], [0.7, 0.6], epochs=[0.1, None])
    assert plot.series_keys() == ["train/loss", "run 12 · val/loss"]
    d = plot.series_data("run 12 · val/loss")
    assert d["step"] == [1, 2] and d["value"] == [0.7, 0.6] and d["epoch"] == [0.1, None]
    assert len(d["wall"]) == 2

    plot.set_series("train/loss", [5, 6, 7], [1.0, 2.0, 3.0])
    assert plot.series_data("train/loss")["step"] == [5, 6, 7]
    plot.flush()
    x, _ = plot.curve_item("train/loss").getOriginalDataset()
    np.testing.assert_allclose(x, [5, 6, 7])

    with pytest.raises(ValueError):
        plot.add_points("x", [1, 2], [1.0])

    plot.clear()
    assert plot.series_keys() == []
    assert [i for i in plot.plot_item.listDataItems()] == []
    with pytest.raises(KeyError):
        plot.series_data("train/loss")


def test_distinct_colours_and_legend(plot):
    for k in range(4):
        plot.add_point(f"s{k}", 0, 1.0)
    plot.flush()
    colours = {plot.curve_item(f"s{k}").opts["pen"].color().name() for k in range(4)}
    assert len(colours) == 4
    raw_pen = plot.raw_item("s0").opts["pen"].color()
    assert raw_pen.alpha() < 100
    legend_labels = [label.text for _, label in plot.plot_item.legend.items]
    assert legend_labels == ["s0", "s1", "s2", "s3"]


def test_user_zoom_stops_following_and_A_button_resumes(plot):
    vb = plot.plot_item.getViewBox()
    plot.add_points("a", range(100), range(100))
    plot.flush()
    vb.scaleBy((0.5, 0.5))  # what a mouse wheel does, followed by the signal
    vb.sigRangeChangedManually.emit([True, True])
    assert not plot.auto_range
    plot.add_point("a", 100, 100.0)
    plot.flush()
    assert not any(vb.autoRangeEnabled())
    plot.plot_item.autoBtnClicked()  # pyqtgraph's "A" button
    assert plot.auto_range


def test_auto_range_follows_new_points_unless_off(plot):
    vb = plot.plot_item.getViewBox()
    vb.disableAutoRange()
    plot.add_point("a", 0, 1.0)
    plot.flush()
    assert all(vb.autoRangeEnabled())

    plot.auto_range = False
    assert not any(vb.autoRangeEnabled())
    plot.add_point("a", 1, 2.0)
    plot.flush()
    assert not any(vb.autoRangeEnabled())


def test_redraw_of_large_series_is_fast(plot):
    n = 20_000
    for k in range(4):
        plot.add_points(f"run {k} · loss", range(n), _noisy(n, seed=k), epochs=np.arange(n) / 1000)
    t0 = time.perf_counter()
    plot.flush()
    first = time.perf_counter() - t0
    x, _ = plot.curve_item("run 3 · loss").getOriginalDataset()
    assert len(x) == n
    # Generous bounds: pyqtgraph + the EMA take tens of milliseconds here.
    assert first < 2.0
    plot.add_point("run 0 · loss", n, 0.5)  # only one series changed
    t0 = time.perf_counter()
    plot.flush()
    assert time.perf_counter() - t0 < 1.0


# ------------------------------------------------------------------ export
def test_export_png_writes_png(tmp_path, qtbot, shown_plot):
    shown_plot.add_points("train/loss", range(200), _noisy(200))
    out = tmp_path / "curve.png"
    shown_plot.export_png(out)
    data = out.read_bytes()
    assert len(data) > len(PNG_MAGIC)
    assert data.startswith(PNG_MAGIC)


def test_export_png_of_never_shown_widget(tmp_path, plot):
    plot.add_points("train/loss", range(200), _noisy(200))
    out = tmp_path / "hidden.png"
    plot.export_png(out)
    assert out.read_bytes().startswith(PNG_MAGIC)
    image = QtGui.QImage(str(out))
    assert image.width() >= 200 and image.height() >= 150, image.size()


def test_export_png_to_directory_raises_oserror(tmp_path, shown_plot):
    shown_plot.add_point("a", 0, 1.0)
    with pytest.raises(OSError):
        shown_plot.export_png(tmp_path)


def test_export_csv_writes_every_point(tmp_path, plot):
    plot.add_points("train/loss", range(100), _noisy(100), epochs=[i / 10 for i in range(100)])
    plot.add_points("val/loss", [0, 50], [1.5, 0.25])
    plot.smoothing = 0.9  # must not affect the exported values
    out = tmp_path / "curves.csv"
    plot.export_csv(out)
    with open(out, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    assert header == ["series", "step", "epoch", "wall", "value"]
    assert len(rows) == 102
    by_series: dict[str, list[list[str]]] = {}
    for row in rows:
        by_series.setdefault(row[0], []).append(row)
    train = plot.series_data("train/loss")
    assert [int(r[1]) for r in by_series["train/loss"]] == train["step"]
    assert [float(r[4]) for r in by_series["train/loss"]] == train["value"]  # exact round trip
    assert [float(r[2]) for r in by_series["train/loss"]] == train["epoch"]
    assert [r[2] for r in by_series["val/loss"]] == ["", ""]
    assert all(math.isfinite(float(r[3])) for r in rows)


def test_export_csv_to_directory_raises_oserror(tmp_path, plot):
    plot.add_point("a", 0, 1.0)
    with pytest.raises(OSError):
        plot.export_csv(tmp_path)


def test_export_plotted_csv(tmp_path, plot):
    plot.add_points("a", range(20), _noisy(20))
    out = tmp_path / "plotted.csv"
    plot.export_plotted_csv(out)
    text = out.read_text()
    assert len(text.splitlines()) >= 21


def test_csv_button_shows_warning_instead_of_raising(tmp_path, monkeypatch, plot):
    plot.add_point("a", 0, 1.0)
    bad = str(tmp_path / "missing-dir" / "out.csv")
    monkeypatch.setattr(
        QtWidgets.QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *a, **k: (bad, "CSV, all raw points (*.csv)")),
    )
    warnings: list[str] = []
    monkeypatch.setattr(
        QtWidgets.QMessageBox,
        "warning",
        staticmethod(lambda parent, title, text, *a, **k: warnings.append(text)),
    )
    button = next(b for b in plot.findChildren(QtWidgets.QToolButton) if b.text() == "Export")
    next(a for a in button.menu().actions() if a.text() == "Data as CSV…").trigger()
    assert len(warnings) == 1
    assert bad in warnings[0]
