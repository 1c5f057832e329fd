"""Audio files and datasets (skeleton; filled in below)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from studio.engine.jobs import UserError

SAMPLE_RATE = 16000
SEGMENT_SECONDS = 4.0
SEGMENT_SAMPLES = int(SAMPLE_RATE * SEGMENT_SECONDS)


class AudioInputError(UserError):
    """An audio file that cannot be used; the message names the file and the problem."""

    def __init__(self, path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def read_audio(path) -> tuple[np.ndarray, int]:
    """Mono float32 samples at 16 kHz and the file's original sample rate."""
    raise NotImplementedError


def iter_segments(path, seconds: float = SEGMENT_SECONDS) -> Iterator[np.ndarray]:
    """4 s windows (float32, 16 kHz, the last one zero-padded), read in bounded memory."""
    raise NotImplementedError


def write_wav(path, samples, sr: int = SAMPLE_RATE) -> Path:
    raise NotImplementedError


@dataclass
class AudioClip:
    path: Path
    label: int
    fold: int | None = None


@dataclass
class AudioDataset:
    root: Path
    classes: list[str]
    clips: list[AudioClip]
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.clips)} clips in {len(self.classes)} classes"

    def split(self, name: str) -> list[AudioClip]:
        raise NotImplementedError


def load_dataset(root) -> AudioDataset:
    raise NotImplementedError
