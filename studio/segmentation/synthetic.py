"""Seeded generator of aerial-like scenes with building masks (skeleton)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

PRESETS = {"paper": {"size": 1500, "train": 137, "val": 4, "test": 10},
           "small": {"size": 500, "train": 24, "val": 4, "test": 6}}


def generate_scene(seed: int, size: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    raise NotImplementedError


def sample_dataset(preset: str = "small", progress=None) -> Path:
    raise NotImplementedError
