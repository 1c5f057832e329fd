"""Metric functions against hand-computed confusion matrices (Table I's mIoU, pixel and mean accuracy)."""
import numpy as np
import pytest

from studio.segmentation import metrics as M


def test_confusion_and_metrics_by_hand():
    target = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1]], bool)
    pred = np.array([[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]], bool)
    conf = M.confusion_matrix(pred, target)
    # background: 7 pixels, 6 right, 1 predicted building; building: 5 pixels, 3 right, 2 missed
    assert conf.tolist() == [[6, 1], [2, 3]]
    assert conf.dtype == np.int64
    m = M.segmentation_metrics(conf)
    assert m["iou_background"] == pytest.approx(6 / (6 + 1 + 2))
    assert m["iou_building"] == pytest.approx(3 / (3 + 2 + 1))
    assert m["miou"] == pytest.approx((6 / 9 + 3 / 6) / 2)
    assert m["pixel_acc"] == pytest.approx(9 / 12)
    assert m["mean_acc"] == pytest.approx((6 / 7 + 3 / 5) / 2)


def test_ignore_label_and_absent_class():
    target = np.array([0, 0, 255, 0])
    pred = np.array([0, 1, 1, 0])
    assert M.confusion_matrix(pred, target).tolist() == [[2, 1], [0, 0]]
    m = M.segmentation_metrics([[5, 0], [0, 0]])  # no building anywhere: building IoU undefined
    assert np.isnan(m["iou_building"]) and m["miou"] == 1.0 and m["pixel_acc"] == 1.0
    with pytest.raises(ValueError):
        M.confusion_matrix(np.zeros(3), np.zeros(4))


def test_outcome_map():
    pred = np.array([True, True, False, False])
    truth = np.array([True, False, True, False])
    assert M.outcome_map(pred, truth).tolist() == [M.OUTCOME_TP, M.OUTCOME_FP, M.OUTCOME_FN, M.OUTCOME_TN]


def test_box_plot_stats():
    s = M.box_plot_stats([0.78, 0.79, 0.80, 0.79, 0.785, 0.60])
    assert s["median"] == pytest.approx(np.median([0.78, 0.79, 0.80, 0.79, 0.785, 0.60]))
    assert s["outliers"] == [0.60]
    assert s["min"] == 0.78 and s["max"] == 0.80 and s["n"] == 6
    assert np.isnan(M.box_plot_stats([])["median"])
