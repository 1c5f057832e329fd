"""Seeded generator of UrbanSound8K-like clips (skeleton)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling",
           "gun_shot", "jackhammer", "siren", "street_music"]


def synthesize_clip(class_name: str, seed: int) -> np.ndarray:
    raise NotImplementedError


def sample_dataset(preset: str = "small") -> Path:
    raise NotImplementedError
