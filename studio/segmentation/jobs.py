"""Building Segmentation jobs (skeleton)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

WORKBENCH = "segmentation"


@dataclass
class SegTrainConfig:
    data: str | None = None
    sample_preset: str = "small"
    variant: str = "baseline"
    alphas: list[float] | None = None
    betas: list[float] | None = None
    bn_init: str = "normal"
    preset: str = "quick"
    iters: int | None = None
    batch: int = 16
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    init_checkpoint: str | None = None
    extra_samples: list[tuple[str, str]] = field(default_factory=list)
    seed: int = 0


@dataclass
class SegTrainResult:
    checkpoint: str
    metrics: dict
    variant: str
    params: int
    gflops: float


@dataclass
class SegPredictConfig:
    model: str
    images: list[str]
    out_dir: str | None = None
    masks: list[str | None] | None = None


@dataclass
class SegPrediction:
    image: str
    prob: np.ndarray
    mask: np.ndarray
    metrics: dict | None = None


@dataclass
class SegEvalConfig:
    model: str
    data: str | None = None
    split: str = "test"


@dataclass
class RepeatConfig:
    train: SegTrainConfig
    runs: int = 10


def train_segmentation(ctx, cfg: SegTrainConfig) -> SegTrainResult:
    raise NotImplementedError


def load_segmenter(path):
    raise NotImplementedError


def predict_segmentation(ctx, cfg: SegPredictConfig) -> list[SegPrediction]:
    raise NotImplementedError


def evaluate_segmentation(ctx, cfg: SegEvalConfig) -> dict[str, Any]:
    raise NotImplementedError


def repeat_runs(ctx, cfg: RepeatConfig) -> list[dict]:
    raise NotImplementedError
