"""Residual U-Net with the weight mechanism (skeleton)."""
from __future__ import annotations

VARIANTS = ("baseline", "alpha0.1", "alpha0.5", "beta0.1", "dynamic", "gating", "fused")
MODEL_KIND = "seg-residual-unet"


def build_model(variant: str = "baseline", num_classes: int = 2, alphas=None, betas=None, bn_init: str = "normal"):
    raise NotImplementedError


def model_complexity(model, size: int = 250) -> tuple[int, float]:
    raise NotImplementedError
