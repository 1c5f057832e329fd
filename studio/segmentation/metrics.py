"""Segmentation metrics of the paper's Tables I and II (numpy only).

With the binary confusion matrix ``C`` (rows: true class, columns: predicted class;
class 0 background, class 1 building):

- IoU of class k            = C[k,k] / (Σ_j C[k,j] + Σ_i C[i,k] − C[k,k])
- mIoU                      = mean of the IoUs of building and background
- pixel accuracy            = Σ_k C[k,k] / Σ C
- mean (class) accuracy     = mean over classes of C[k,k] / Σ_j C[k,j]

A class that appears neither in the truth nor in the prediction has an undefined
IoU/accuracy (0/0); it is left out of the means (NaN for the class itself), which is
what mmsegmentation and the Massachusetts benchmarks do.

Dataset metrics are computed from the summed confusion matrix of all images, not by
averaging per-image metrics.
"""
from __future__ import annotations

import numpy as np

OUTCOME_TN, OUTCOME_TP, OUTCOME_FP, OUTCOME_FN = 0, 1, 2, 3
METRIC_KEYS = ("iou_background", "iou_building", "miou", "pixel_acc", "mean_acc")


def confusion_matrix(pred, target, num_classes: int = 2, ignore_index: int | None = 255) -> np.ndarray:
    """``num_classes × num_classes`` int64 counts; ``[t, p]`` = pixels of true class t predicted p.

    ``pred`` and ``target`` are integer or boolean arrays of the same shape; target
    pixels equal to ``ignore_index`` are skipped.
    """
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")
    p = pred.astype(np.int64, copy=False).ravel()
    t = target.astype(np.int64, copy=False).ravel()
    if ignore_index is not None:
        keep = t != ignore_index
        if not keep.all():
            p, t = p[keep], t[keep]
    if p.size and (p.min() < 0 or p.max() >= num_classes or t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"class indices must lie in 0..{num_classes - 1}")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def segmentation_metrics(conf) -> dict[str, float]:
    """IoU per class, mIoU, pixel accuracy and mean accuracy of a 2×2 confusion matrix."""
    c = np.asarray(conf, dtype=np.float64)
    tp = np.diag(c)
    true_count = c.sum(axis=1)
    pred_count = c.sum(axis=0)
    union = true_count + pred_count - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / np.maximum(union, 1e-300), np.nan)
        acc = np.where(true_count > 0, tp / np.maximum(true_count, 1e-300), np.nan)
    total = c.sum()
    return {
        "iou_background": float(iou[0]),
        "iou_building": float(iou[1]),
        "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
        "pixel_acc": float(tp.sum() / total) if total > 0 else float("nan"),
        "mean_acc": float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan"),
    }


def outcome_map(pred, target) -> np.ndarray:
    """uint8 map: 0 true negative, 1 true positive, 2 false positive, 3 false negative."""
    p = np.asarray(pred, dtype=bool)
    t = np.asarray(target, dtype=bool)
    if p.shape != t.shape:
        raise ValueError(f"prediction {p.shape} and target {t.shape} differ in shape")
    out = np.zeros(p.shape, np.uint8)
    out[p & t] = OUTCOME_TP
    out[p & ~t] = OUTCOME_FP
    out[~p & t] = OUTCOME_FN
    return out


def box_plot_stats(values) -> dict:
    """Tukey box plot (Figs. 4, 6, 9): quartiles, whiskers at the furthest points within 1.5 IQR, outliers."""
    v = np.sort(np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64))
    if v.size == 0:
        nan = float("nan")
        return {"min": nan, "q1": nan, "median": nan, "q3": nan, "max": nan, "outliers": [], "n": 0}
    q1, median, q3 = (float(x) for x in np.percentile(v, [25, 50, 75]))
    iqr = q3 - q1
    lo, hi = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    inside = v[(v >= lo) & (v <= hi)]
    return {"min": float(inside.min()), "q1": q1, "median": median, "q3": q3, "max": float(inside.max()),
            "outliers": [float(x) for x in v[(v < lo) | (v > hi)]], "n": int(v.size)}
