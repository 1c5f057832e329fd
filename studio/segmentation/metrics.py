"""Segmentation metrics (skeleton)."""
from __future__ import annotations

import numpy as np


def confusion_matrix(pred, target, num_classes: int = 2) -> np.ndarray:
    raise NotImplementedError


def segmentation_metrics(conf) -> dict:
    raise NotImplementedError


def outcome_map(pred, target) -> np.ndarray:
    raise NotImplementedError


def box_plot_stats(values) -> dict:
    raise NotImplementedError
