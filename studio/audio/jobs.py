"""Audio Enhancement jobs (skeleton)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio.audio.noise import NOISE_TYPES

WORKBENCH = "audio"


@dataclass
class AudioTrainConfig:
    data: str | None = None
    sample_preset: str = "small"
    model: str = "cnn"
    epochs: int | None = None
    batch: int = 64
    lr: float = 1e-3
    classifier: str | None = None
    init_checkpoint: str | None = None
    seed: int = 0


@dataclass
class AudioTrainResult:
    checkpoint: str
    metrics: dict


@dataclass
class AudioEvalConfig:
    model: str
    data: str | None = None
    noises: tuple = NOISE_TYPES
    snrs: tuple = (20, 15, 10, 5, 0)
    seed: int = 0


@dataclass
class ClipInspection:
    clean_mel: np.ndarray
    noisy_mel: np.ndarray
    noisy_probs: np.ndarray
    classes: list[str]
    per_model: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


@dataclass
class ClassifyConfig:
    model: str
    files: list[str]


def train_audio(ctx, cfg: AudioTrainConfig) -> AudioTrainResult:
    raise NotImplementedError


def load_audio_model(path):
    raise NotImplementedError


def evaluate_audio(ctx, cfg: AudioEvalConfig) -> dict[str, Any]:
    raise NotImplementedError


def inspect_clip(models: list[str], waveform, noise: str, snr_db: float, seed: int = 0) -> ClipInspection:
    raise NotImplementedError


def classify_files(ctx, cfg: ClassifyConfig) -> list[dict]:
    raise NotImplementedError
