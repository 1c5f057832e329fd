"""Eqs. (1)-(4), confusion matrix, ROC/AUC and the whole-image verdict against hand-computed values."""
import numpy as np
import pytest

from studio.sem.metrics import (
    DEFAULT_SHARE_THRESHOLD,
    accuracy,
    auc,
    binary_counts,
    classification_report,
    confusion_matrix,
    f_score,
    image_verdict,
    image_verdicts,
    precision,
    recall,
    roc_auc,
    roc_curve,
    share_threshold_sweep,
)

# 0 = HNF, 1 = NHNF (positive).  By hand: TP 4 (items 0,1,3,9), FN 2 (2,4), FP 1 (6), TN 3 (5,7,8)
Y_TRUE = [1, 1, 1, 1, 1, 0, 0, 0, 0, 1]
Y_PRED = [1, 1, 0, 1, 0, 0, 1, 0, 0, 1]


def test_confusion_and_counts():
    cm = confusion_matrix(Y_TRUE, Y_PRED)
    assert cm.tolist() == [[3, 1], [2, 4]]  # rows true HNF/NHNF, columns predicted
    assert binary_counts(Y_TRUE, Y_PRED) == {"tp": 4, "tn": 3, "fp": 1, "fn": 2}
    assert binary_counts(Y_TRUE, Y_PRED, positive=0) == {"tp": 3, "tn": 4, "fp": 2, "fn": 1}
    assert confusion_matrix([0, 2], [2, 2], n_classes=3).tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 1]]


def test_equations_1_to_4():
    assert precision(4, 1) == pytest.approx(0.8)
    assert recall(4, 2) == pytest.approx(2 / 3)
    assert f_score(0.8, 2 / 3) == pytest.approx(8 / 11)
    assert accuracy(4, 3, 1, 2) == pytest.approx(0.7)
    assert precision(0, 0) == 0.0 and f_score(0.0, 0.0) == 0.0


def test_report_per_class_and_average():
    rep = classification_report(Y_TRUE, Y_PRED, class_names=["HNF", "NHNF"])
    nh, h = rep["per_class"]["NHNF"], rep["per_class"]["HNF"]
    assert (nh["precision"], nh["recall"], nh["f_score"]) == pytest.approx((4 / 5, 4 / 6, 8 / 11))
    assert (h["precision"], h["recall"], h["f_score"]) == pytest.approx((3 / 5, 3 / 4, 2 / 3))
    assert (nh["support"], h["support"]) == (6, 4)
    assert rep["average"]["precision"] == pytest.approx(0.7)
    assert rep["average"]["recall"] == pytest.approx(17 / 24)
    assert rep["average"]["f_score"] == pytest.approx(23 / 33)
    assert rep["accuracy"] == pytest.approx(0.7)
    assert (rep["positive"], rep["tp"], rep["tn"], rep["fp"], rep["fn"]) == ("NHNF", 4, 3, 1, 2)


def test_report_other_positive_and_three_classes():
    rep = classification_report([0, 1, 2, 2], [0, 2, 2, 1], positive=2)
    assert rep["confusion"].tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert (rep["tp"], rep["fp"], rep["fn"], rep["tn"]) == (1, 1, 1, 1)
    assert rep["per_class"]["2"]["precision"] == pytest.approx(0.5)
    assert rep["accuracy"] == pytest.approx(0.5)


def test_roc_hand_example_with_ties():
    scores = [0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.3]
    y = [1, 1, 0, 1, 0, 1, 0]  # 4 positives, 3 negatives
    fpr, tpr, th = roc_curve(y, scores)
    assert th.tolist() == [np.inf, 0.9, 0.8, 0.7, 0.6, 0.3]
    assert fpr.tolist() == pytest.approx([0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    assert tpr.tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1.0, 1.0])
    # trapezoids: 1/3*(.25+.5)/2 + 1/3*(.75+1)/2 + 1/3*1 = 0.75; Mann-Whitney with ties as 1/2: 9/12
    assert roc_auc(y, scores) == pytest.approx(0.75)
    probs = np.stack([1 - np.array(scores), scores], axis=1)
    assert roc_auc(y, probs) == pytest.approx(0.75)
    assert roc_auc(1 - np.array(y), 1 - np.array(scores), positive=1) == pytest.approx(0.75)


def test_auc_equals_pairwise_count():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = rng.integers(0, 6, 300).astype(float) + 0.5 * y  # many ties
    pos, neg = s[y == 1], s[y == 0]
    pair = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()
    assert roc_auc(y, s) == pytest.approx(pair)
    assert auc([0, 1], [0, 1]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])


def test_image_verdict():
    assert DEFAULT_SHARE_THRESHOLD == 0.125
    p = np.zeros(64)
    p[:8] = 0.9
    assert image_verdict(p) == (True, 0.125)
    p[7] = 0.49
    defective, share = image_verdict(p)
    assert not defective and share == pytest.approx(7 / 64)
    assert image_verdict(p, share_threshold=1 / 64)[0]
    assert image_verdict(p, patch_threshold=0.4)[0]
    assert not image_verdict(p, patch_threshold=0.4, share_threshold=0.5)[0]
    two_col = np.stack([1 - p, p], axis=1)
    assert image_verdict(two_col, share_threshold=0.2) == image_verdict(p, share_threshold=0.2)
    with pytest.raises(ValueError):
        image_verdict(p, share_threshold=0.0)


def test_image_verdicts_and_sweep():
    probs = np.array([0.9, 0.1, 0.2, 0.8, 0.7, 0.6, 0.1, 0.1])
    img = np.array([5, 5, 5, 5, 2, 2, 9, 9])
    ids, defective, share = image_verdicts(probs, img, share_threshold=0.5)
    assert ids.tolist() == [2, 5, 9]
    assert share.tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert defective.tolist() == [True, True, False]
    sw = share_threshold_sweep(share, [1, 0, 0], thresholds=[0.25, 0.75])
    assert sw["accuracy"].tolist() == pytest.approx([2 / 3, 1.0])
    assert sw["recall"].tolist() == pytest.approx([1.0, 1.0])
    assert sw["precision"].tolist() == pytest.approx([0.5, 1.0])


def test_calibrated_share_threshold_separates_the_training_images():
    from studio.sem.metrics import DEFAULT_SHARE_THRESHOLD, calibrated_share_threshold

    # separable: any threshold in (0.30, 0.45] is perfect; the middle candidate is taken
    t = calibrated_share_threshold([0.1, 0.2, 0.3, 0.45, 0.6, 0.9], [0, 0, 0, 1, 1, 1])
    assert t == pytest.approx(0.375)
    # overlap: the best balanced accuracy (not plain accuracy) wins, whatever the class sizes
    shares = [0.0, 0.05, 0.1, 0.5, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8]
    labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    t = calibrated_share_threshold(shares, labels)
    assert 0.1 < t <= 0.2  # misses HNF 0.5 only; placing it above 0.5 would lose three NHNF images
    # one class, or nothing to separate: the default
    assert calibrated_share_threshold([0.1, 0.5], [1, 1]) == DEFAULT_SHARE_THRESHOLD
    assert calibrated_share_threshold([0.3, 0.3], [0, 1]) == DEFAULT_SHARE_THRESHOLD
    with pytest.raises(ValueError):
        calibrated_share_threshold([0.1, 0.2], [0])
