"""Sliding-window inference (skeleton)."""
from __future__ import annotations

import numpy as np


def predict_tiled(model, image, tile: int = 250, overlap: int = 32, batch: int = 8, device="cpu",
                  check=None, progress=None, normalisation: dict | None = None) -> np.ndarray:
    raise NotImplementedError
