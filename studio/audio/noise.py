"""Noise generators and mixing at an exact SNR (skeleton)."""
from __future__ import annotations

import numpy as np

NOISE_TYPES = ("white", "pink", "brown", "babble", "factory")


def make_noise(kind: str, n_samples: int, seed: int = 0) -> np.ndarray:
    raise NotImplementedError


def load_noise(path) -> np.ndarray:
    raise NotImplementedError


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    raise NotImplementedError
