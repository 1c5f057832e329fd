"""Metrics of the SEM workbench (numpy only).

The paper (Sect. 3) evaluates with, NHNF being the positive class,

    Precision = TP / (TP + FP)                                   (1)
    Recall    = TP / (TP + FN)                                   (2)
    F_score   = 2 * Precision * Recall / (Precision + Recall)    (3)
    Accuracy  = (TP + TN) / (TP + TN + FP + FN)                  (4)

and reports them per class (NHNF, HNF: the same formulas with the roles of the
classes swapped) and as their unweighted average (Table 4: 78.5 / 79 / 78.5 %).
Undefined ratios (0 / 0) are reported as 0.0.  The positive class index is an
argument (default 1, which is NHNF with the class names sorted: HNF, NHNF).

Also: confusion matrix (rows = true class, columns = predicted class), ROC
curve with correct handling of tied scores, AUC by the trapezoidal rule, and
the whole-image verdict from patch probabilities.

Whole-image verdict
-------------------
An image is called defective when the share of its patches with P(NHNF) >=
``patch_threshold`` is at least ``share_threshold``.  The default share is
0.125 (8 of the 64 patches of a 1024x1024 image).  Rationale: beads are local,
so a defective image need not look defective in most of its patches (majority
vote, 0.5, misses sparsely beaded images), while a single patch (1/64) is too
sensitive to the false positives of a patch classifier trained with
image-level labels.  Measured once on the sample dataset (seed 0, 112 training
/ 48 test images, the Table 2 CNN trained 1,100 Adam steps of 32 patches on all
training patches): patch accuracy 64 % (AUC 0.69), image accuracy 69 / 88 /
85 / 75 / 65 % at share thresholds 1/64, 1/16, 1/8, 1/4, 1/2 (image AUC of the
share 0.96).  It is a knob: the best value depends on how the patch classifier
is calibrated, and :func:`share_threshold_sweep` shows the trade-off on a
labelled set.  Training therefore calibrates it by default
(:func:`calibrated_share_threshold` on the training images' shares, see
``studio.sem.jobs.train_sem``): with the representative-patch protocol the
sample's HNF test images had shares of 0.09-0.50, so 0.125 called 42 % of the
test images wrong.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = [
    "DEFAULT_SHARE_THRESHOLD",
    "confusion_matrix",
    "binary_counts",
    "precision",
    "recall",
    "f_score",
    "accuracy",
    "classification_report",
    "roc_curve",
    "auc",
    "roc_auc",
    "image_verdict",
    "image_verdicts",
    "share_threshold_sweep",
    "calibrated_share_threshold",
]

DEFAULT_SHARE_THRESHOLD = 0.125


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; rows = true class, columns = predicted class."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length ({t.size} vs {p.size})")
    if n_classes is None:
        n_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
        n_classes = max(n_classes, 2)
    if t.size and (t.min() < 0 or p.min() < 0 or t.max() >= n_classes or p.max() >= n_classes):
        raise ValueError(f"labels must be in 0..{n_classes - 1}")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def binary_counts(y_true, y_pred, positive: int = 1) -> dict[str, int]:
    """TP, TN, FP, FN with ``positive`` as the positive class (all others negative)."""
    t = np.asarray(y_true).ravel() == positive
    p = np.asarray(y_pred).ravel() == positive
    return {"tp": int(np.sum(t & p)), "tn": int(np.sum(~t & ~p)), "fp": int(np.sum(~t & p)),
            "fn": int(np.sum(t & ~p))}


def precision(tp: int, fp: int) -> float:
    """Eq. (1): TP / (TP + FP); 0.0 when undefined."""
    return _div(tp, tp + fp)


def recall(tp: int, fn: int) -> float:
    """Eq. (2): TP / (TP + FN); 0.0 when undefined."""
    return _div(tp, tp + fn)


def f_score(prec: float, rec: float) -> float:
    """Eq. (3): 2 * P * R / (P + R); 0.0 when undefined."""
    return _div(2.0 * prec * rec, prec + rec)


def accuracy(tp: int, tn: int, fp: int, fn: int) -> float:
    """Eq. (4): (TP + TN) / (TP + TN + FP + FN)."""
    return _div(tp + tn, tp + tn + fp + fn)


def classification_report(y_true, y_pred, class_names: Sequence[str] | None = None, positive: int = 1,
                          n_classes: int | None = None) -> dict:
    """Eqs. (1)-(4) per class (one class against the rest), their average, the confusion matrix.

    Returns ``{"confusion": ndarray, "accuracy": float, "per_class": {name: {"precision",
    "recall", "f_score", "support"}}, "average": {"precision", "recall", "f_score"},
    "positive": name, "tp", "tn", "fp", "fn"}`` where the counts refer to ``positive``.
    The average is the unweighted mean over classes, as in the paper's Table 4.
    """
    if n_classes is None and class_names is not None:
        n_classes = len(class_names)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    n = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    if len(names) != n:
        raise ValueError(f"{len(names)} class names for {n} classes")
    if not 0 <= positive < n:
        raise ValueError(f"positive class {positive} outside 0..{n - 1}")
    per_class = {}
    for c in range(n):
        tp = int(cm[c, c])
        fp = int(cm[:, c].sum()) - tp
        fn = int(cm[c, :].sum()) - tp
        p, r = precision(tp, fp), recall(tp, fn)
        per_class[names[c]] = {"precision": p, "recall": r, "f_score": f_score(p, r), "support": int(cm[c].sum())}
    avg = {k: float(np.mean([v[k] for v in per_class.values()])) for k in ("precision", "recall", "f_score")}
    tp = int(cm[positive, positive])
    fp = int(cm[:, positive].sum()) - tp
    fn = int(cm[positive, :].sum()) - tp
    tn = int(cm.sum()) - tp - fp - fn
    return {"confusion": cm, "accuracy": _div(np.trace(cm), cm.sum()), "per_class": per_class, "average": avg,
            "positive": names[positive], "tp": tp, "tn": tn, "fp": fp, "fn": fn}


def _binary_scores(y_true, scores, positive: int):
    y = np.asarray(y_true).ravel() == positive
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 2:
        s = s[:, positive]
    s = s.ravel()
    if s.shape != y.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y, s


def roc_curve(y_true, scores, positive: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve ``(fpr, tpr, thresholds)``.

    A sample is called positive when its score >= threshold.  ``thresholds`` are
    the distinct scores in decreasing order preceded by +inf (the point (0, 0));
    tied scores move the curve in one diagonal step, so the area counts a tied
    positive/negative pair as one half.  ``scores`` may be 1-D (score of the
    positive class) or (n, n_classes) probabilities.  A class absent from
    ``y_true`` gives NaN rates for that axis.
    """
    y, s = _binary_scores(y_true, scores, positive)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_run = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), s_sorted.size - 1] if s.size else np.array([], int)
    tps = np.cumsum(y_sorted)[last_of_run]
    fps = (last_of_run + 1) - tps
    tps = np.r_[0, tps].astype(np.float64)
    fps = np.r_[0, fps].astype(np.float64)
    n_pos, n_neg = float(y.sum()), float((~y).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tps / n_pos if n_pos else np.full_like(tps, np.nan)
        fpr = fps / n_neg if n_neg else np.full_like(fps, np.nan)
    thresholds = np.r_[np.inf, s_sorted[last_of_run]]
    return fpr, tpr, thresholds


def auc(x, y) -> float:
    """Area under a curve by the trapezoidal rule (x must be monotonic)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 2:
        return float("nan")
    return float(abs(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0)))


def roc_auc(y_true, scores, positive: int = 1) -> float:
    """Area under the ROC curve; raises ValueError unless both classes are present."""
    y, _ = _binary_scores(y_true, scores, positive)
    if y.all() or not y.any():
        raise ValueError("ROC AUC needs both positive and negative samples")
    fpr, tpr, _ = roc_curve(y_true, scores, positive)
    return auc(fpr, tpr)


def _positive_probs(patch_probs, positive: int) -> np.ndarray:
    p = np.asarray(patch_probs, dtype=np.float64)
    if p.ndim == 2:
        p = p[:, positive]
    return p.ravel()


def image_verdict(patch_probs, patch_threshold: float = 0.5, share_threshold: float = DEFAULT_SHARE_THRESHOLD,
                  positive: int = 1) -> tuple[bool, float]:
    """``(is_defective, defect_share)`` of one image from its patch probabilities.

    ``patch_probs``: P(NHNF) per patch (1-D) or (n_patches, n_classes)
    probabilities.  ``defect_share`` is the fraction of patches with
    P(NHNF) >= ``patch_threshold``; the image is defective when
    ``defect_share >= share_threshold`` (``share_threshold`` in (0, 1]).
    """
    if not 0.0 < share_threshold <= 1.0:
        raise ValueError(f"share_threshold must be in (0, 1], got {share_threshold}")
    p = _positive_probs(patch_probs, positive)
    if p.size == 0:
        raise ValueError("no patch probabilities")
    share = float(np.mean(p >= patch_threshold))
    return bool(share >= share_threshold - 1e-12), share


def image_verdicts(patch_probs, image_index, patch_threshold: float = 0.5,
                   share_threshold: float = DEFAULT_SHARE_THRESHOLD,
                   positive: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verdicts for many images at once: ``(image_ids, is_defective, defect_share)``.

    ``image_index[k]`` is the image of patch ``k`` (e.g. ``PatchSet.image_index``);
    ``image_ids`` are the sorted distinct images.
    """
    if not 0.0 < share_threshold <= 1.0:
        raise ValueError(f"share_threshold must be in (0, 1], got {share_threshold}")
    p = _positive_probs(patch_probs, positive)
    idx = np.asarray(image_index).ravel()
    if idx.shape != p.shape:
        raise ValueError(f"{p.size} patch probabilities but {idx.size} image indices")
    ids, inv = np.unique(idx, return_inverse=True)
    hits = np.bincount(inv, weights=(p >= patch_threshold).astype(np.float64), minlength=len(ids))
    share = hits / np.bincount(inv, minlength=len(ids))
    return ids, share >= share_threshold - 1e-12, share


def share_threshold_sweep(defect_shares, image_labels, positive: int = 1,
                          thresholds: Sequence[float] | None = None) -> dict[str, np.ndarray]:
    """Image-level accuracy, recall and precision of the positive class for several share thresholds."""
    share = np.asarray(defect_shares, dtype=np.float64).ravel()
    y = np.asarray(image_labels).ravel() == positive
    th = np.asarray(thresholds if thresholds is not None else np.linspace(1 / 64, 1.0, 64), dtype=np.float64)
    acc, rec, prec = [], [], []
    for t in th:
        pred = share >= t - 1e-12
        tp, fp = int(np.sum(pred & y)), int(np.sum(pred & ~y))
        fn, tn = int(np.sum(~pred & y)), int(np.sum(~pred & ~y))
        acc.append(accuracy(tp, tn, fp, fn))
        rec.append(recall(tp, fn))
        prec.append(precision(tp, fp))
    return {"threshold": th, "accuracy": np.array(acc), "recall": np.array(rec), "precision": np.array(prec)}


def calibrated_share_threshold(defect_shares, image_labels, positive: int = 1) -> float:
    """The share threshold that best separates labelled images by their defect share.

    Candidates lie midway between neighbouring distinct shares; the one with the
    highest balanced accuracy (mean of the two classes' recall, so that the class
    sizes do not matter) wins, and among equally good ones the middle one (the
    widest gap).  :data:`DEFAULT_SHARE_THRESHOLD` when the images hold only one
    class or one distinct share.
    """
    share = np.asarray(defect_shares, dtype=np.float64).ravel()
    y = np.asarray(image_labels).ravel() == positive
    if share.shape != y.shape:
        raise ValueError(f"{share.size} shares but {y.size} labels")
    values = np.unique(share)
    if y.all() or not y.any() or len(values) < 2:
        return DEFAULT_SHARE_THRESHOLD
    candidates = (values[:-1] + values[1:]) / 2.0
    pred = share[None, :] >= candidates[:, None]
    balanced = 0.5 * (pred[:, y].mean(axis=1) + (~pred[:, ~y]).mean(axis=1))
    best = np.flatnonzero(balanced >= balanced.max() - 1e-12)
    return float(candidates[best[len(best) // 2]])
