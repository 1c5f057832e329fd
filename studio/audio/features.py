"""The paper's input features (skeleton)."""
from __future__ import annotations

N_MELS = 40
N_FFT = 512
HOP = 256


def mel_features(waveforms):
    """(B, T) tensor or (T,) array -> (B, 40, frames) tensor, min-max per clip."""
    raise NotImplementedError
