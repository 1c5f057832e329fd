"""Widget tests: MaskView (overlay, TP/FP/FN comparison, brush, eraser, undo, large images) and BoxPlot."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from studio.gui.box_plot import BoxPlot  # noqa: E402
from studio.gui.mask_view import FN, FP, LABEL_RGBA, PREDICTED, TP, TRUTH, MaskView  # noqa: E402
from studio.segmentation.metrics import box_plot_stats, outcome_map  # noqa: E402


@pytest.fixture
def view(qtbot):
    v = MaskView()
    qtbot.addWidget(v)
    v.resize(600, 520)
    v.show()
    qtbot.waitExposed(v)
    v.set_image(np.full((300, 400, 3), 90, np.uint8))
    return v


def test_brush_paints_the_dragged_path_and_ctrl_z_undoes_it(qtbot, view):
    view.set_mask(np.zeros((300, 400), bool))
    view.set_tool("brush")
    view.set_brush_size(10)
    with qtbot.waitSignal(view.mask_edited) as blocker:
        assert view.paint_stroke([(50.0, 50.0), (150.0, 50.0)])
    mask = view.mask()
    assert np.array_equal(np.asarray(blocker.args[0]), mask)
    # every pixel centre within 5 px of the segment, and nothing else
    yy, xx = np.mgrid[0:300, 0:400] + 0.5
    t = np.clip((xx - 50) / 100, 0, 1)
    expected = (xx - (50 + 100 * t)) ** 2 + (yy - 50) ** 2 <= 25
    assert np.array_equal(mask, expected)
    assert view.undo_depth == 1 and view.undo_button.isEnabled()
    # the overlay shows the painted pixels at the mask colour
    assert np.array_equal(view.labels() == PREDICTED, mask)

    view.activateWindow()
    view.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is not None, timeout=2000)
    QTest.keyClick(QtWidgets.QApplication.focusWidget(), QtCore.Qt.Key.Key_Z,
                   QtCore.Qt.KeyboardModifier.ControlModifier)
    assert not view.mask().any(), "Ctrl+Z did not undo the stroke"
    assert view.undo_depth == 0 and not view.undo_button.isEnabled()
    assert not view.undo()  # nothing left


def test_eraser_removes_pixels_and_undo_steps_back_one_stroke_at_a_time(view):
    base = np.zeros((300, 400), bool)
    base[100:200, 100:300] = True
    view.set_mask(base)
    view.set_brush_size(20)
    assert view.paint_stroke([(200.0, 150.0)], erase=True)  # a single click: a disc
    after_erase = view.mask()
    assert not after_erase[150, 200] and after_erase[150, 120]
    assert after_erase.sum() == base.sum() - np.count_nonzero(~after_erase[100:200, 100:300])
    assert view.paint_stroke([(10.0, 10.0), (10.0, 60.0)], erase=False)
    assert view.mask()[30, 10]
    assert view.tool == "pan"  # a programmatic stroke does not change the tool
    assert view.paint_stroke([(250.0, 250.0)], erase=True) is False  # nothing to erase there: no undo step
    assert view.undo_depth == 2
    view.undo()
    assert np.array_equal(view.mask(), after_erase)
    view.undo()
    assert np.array_equal(view.mask(), base)


def test_comparison_colours_true_false_positives_and_negatives(view):
    truth = np.zeros((300, 400), bool)
    truth[50:150, 50:150] = True
    pred = np.zeros((300, 400), bool)
    pred[100:200, 100:200] = True
    view.set_truth(truth)
    assert view.mode == "prediction"
    view.set_mask(pred)
    view.set_mode("compare")
    labels = view.labels()
    assert np.array_equal(labels, outcome_map(pred, truth))
    assert [int((labels == c).sum()) for c in (TP, FP, FN)] == [2500, 7500, 7500]
    colours = {LABEL_RGBA[c][:3] for c in (TP, FP, FN, PREDICTED, TRUTH)}
    assert len(colours) == 5, "outcomes must be told apart by colour"
    view.set_mode("truth")
    assert np.array_equal(view.labels() == TRUTH, truth)
    # toggle and opacity act on the overlay item
    view.set_overlay_visible(False)
    assert not view.overlay_item.isVisible()
    view.set_overlay_visible(True)
    view.set_overlay_opacity(0.3)
    assert view.overlay_item.opacity() == pytest.approx(0.3)
    # painting switches back from the (read-only) ground truth to the editable mask
    view.set_tool("brush")
    assert view.mode == "prediction"
    # without a truth only the mask can be shown
    view.set_truth(None)
    assert view.mode == "prediction"
    assert not view.mode_combo.model().item(1).isEnabled()


def test_mask_of_another_size_is_refused(view):
    with pytest.raises(ValueError, match="300"):
        view.set_mask(np.zeros((10, 10), bool))


def test_large_image_is_drawn_subsampled_but_edited_at_full_resolution(qtbot):
    v = MaskView(display_max=1000)
    qtbot.addWidget(v)
    v.set_image(np.zeros((2500, 1800, 3), np.uint8))
    assert v.stride == 3 and v.display_image().shape[:2] == (834, 600)
    assert v.image_item.mapRectToView(v.image_item.boundingRect()).width() == pytest.approx(1800)
    v.set_brush_size(4)
    assert v.paint_stroke([(901.0, 1201.0)], erase=False)  # painting on an image without a mask starts one
    mask = v.mask()
    assert mask.shape == (2500, 1800) and mask[1201, 901] and mask.sum() < 30
    assert v.labels()[1201 // 3, 901 // 3] == PREDICTED


def test_mouse_drag_with_the_brush_paints_and_middle_drag_does_not(qtbot, view):
    view.set_mask(np.zeros((300, 400), bool))
    view.set_tool("brush")
    view.set_brush_size(12)
    gv = view.graphics
    vp = gv.viewport()

    def to_widget(x, y):
        scene = view.view.mapViewToScene(QtCore.QPointF(x, y))
        return gv.mapFromScene(scene)

    def drag(button, points):
        QTest.mousePress(vp, button, QtCore.Qt.KeyboardModifier.NoModifier, to_widget(*points[0]))
        for p in points[1:]:
            pos = to_widget(*p)
            ev = QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, QtCore.QPointF(pos), vp.mapToGlobal(
                QtCore.QPointF(pos)), QtCore.Qt.MouseButton.NoButton, button, QtCore.Qt.KeyboardModifier.NoModifier)
            QtWidgets.QApplication.sendEvent(vp, ev)
        QTest.mouseRelease(vp, button, QtCore.Qt.KeyboardModifier.NoModifier, to_widget(*points[-1]))

    with qtbot.waitSignal(view.mask_edited, timeout=2000):
        drag(QtCore.Qt.MouseButton.LeftButton, [(100, 150), (150, 150), (200, 150), (300, 150)])
    mask = view.mask()
    assert mask[150, 120:280].all() and not mask[100].any()
    assert view.undo_depth == 1
    drag(QtCore.Qt.MouseButton.MiddleButton, [(100, 250), (200, 250), (300, 250)])  # pans
    assert view.undo_depth == 1 and not view.mask()[250].any()


def test_box_plot_draws_the_five_numbers_of_each_variant(qtbot):
    plot = BoxPlot(title="mIoU")
    qtbot.addWidget(plot)
    plot.show()
    runs = [0.71, 0.73, 0.72, 0.74, 0.70, 0.72, 0.73, 0.71, 0.72, 0.52]
    plot.set_group("baseline", runs)
    plot.set_group("alpha0.5", [0.75, 0.77, 0.76])
    assert plot.group_names() == ["baseline", "alpha0.5"]
    assert plot.stats("baseline") == box_plot_stats(runs)
    assert 0.52 in plot.stats("baseline")["outliers"]
    ticks = plot.plot_item.getAxis("bottom")._tickLevels[0]
    assert [t[1] for t in ticks] == ["baseline", "alpha0.5"]
    plot.add_value("alpha0.5", 0.78)
    assert plot.values("alpha0.5") == [0.75, 0.77, 0.76, 0.78]
    plot.set_group("beta0.1", [float("nan")])  # no finite value: no box
    assert "beta0.1" not in plot.group_names()
    plot.clear()
    assert plot.group_names() == []
