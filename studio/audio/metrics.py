"""Classification metrics of the paper's Tables 1 and 2 (numpy only).

Tables 1 and 2 report the classification rate (accuracy, in %) on the development
and test folds, clean and with noise; the workbench also shows per-class accuracy
(recall of each class) and the confusion matrix (rows: true class, columns:
predicted class).
"""
from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "per_class_accuracy", "confusion_matrix"]


def _labels(x) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(x).astype(np.int64).ravel()


def accuracy(pred, target) -> float:
    """Share of correct predictions (0..1); NaN for no samples."""
    p, t = _labels(pred), _labels(target)
    if p.shape != t.shape:
        raise ValueError(f"{p.size} predictions for {t.size} targets")
    return float(np.mean(p == t)) if t.size else float("nan")


def confusion_matrix(pred, target, n: int) -> np.ndarray:
    """(n, n) counts: row = true class, column = predicted class."""
    p, t = _labels(pred), _labels(target)
    if p.shape != t.shape:
        raise ValueError(f"{p.size} predictions for {t.size} targets")
    if t.size and (min(p.min(), t.min()) < 0 or max(p.max(), t.max()) >= n):
        raise ValueError(f"labels must lie in 0..{n - 1}")
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)


def per_class_accuracy(pred, target, n: int) -> np.ndarray:
    """Accuracy within each true class (the confusion matrix's diagonal over its row sums); NaN when absent."""
    cm = confusion_matrix(pred, target, n)
    rows = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, np.diag(cm) / np.maximum(rows, 1), np.nan)
