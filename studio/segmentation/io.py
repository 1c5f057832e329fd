"""Aerial images, building masks and segmentation datasets (skeleton)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.engine.jobs import UserError


class SegInputError(UserError):
    """An image, mask or dataset that cannot be used; the message names the file and the problem."""


def read_image(path) -> np.ndarray:
    raise NotImplementedError


def to_display_rgb(image: np.ndarray) -> np.ndarray:
    raise NotImplementedError


def read_mask(path, shape=None) -> np.ndarray:
    raise NotImplementedError


def write_mask_png(path, mask: np.ndarray) -> None:
    raise NotImplementedError


def write_mask_geotiff(path, mask: np.ndarray, like: str | None = None) -> None:
    raise NotImplementedError


@dataclass
class SegSample:
    name: str
    image: Path
    mask: Path | None


@dataclass
class SegDataset:
    root: Path
    splits: dict[str, list[SegSample]]
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        raise NotImplementedError


def load_dataset(root) -> SegDataset:
    raise NotImplementedError
