"""The paper's input features: normalised 40-band mel spectra (paper 003, section 4).

Per 4 s clip at 16 kHz (64 000 samples):

1. STFT with a 512-point Hamming window (periodic, as ``scipy.signal.get_window``
   and librosa use) and a hop of 256 samples, frames taken inside the clip only
   (no centre padding, ``center=False``): 257 frequency bins × **249** frames.
2. Power spectrum |X|², then a 40-band mel filterbank (0–8 kHz, Slaney mel scale
   and Slaney area normalisation, librosa's defaults), 40 × 249.
3. Log compression in dB, 10·log10(mel), floored 80 dB below the clip's maximum
   (librosa's ``power_to_db(top_db=80)``); the paper says "Mel spectrum" without
   naming a compression, and min-max scaling of linear power would leave all but
   the loudest cells at ~0.
4. Min-max normalisation per clip to [0, 1] (the paper's "Min-Max normalization").
   A clip whose mel spectrum is constant (e.g. digital silence) gives all zeros,
   never NaN.

Frame count against the paper: the paper reports 257 × 248 spectrograms for the
same window, hop and clip length.  Framing inside the signal gives
1 + ⌊(64 000 − 512) / 256⌋ = 249 frames; centre padding (librosa's default) gives
1 + ⌊64 000 / 256⌋ = 251.  No standard convention gives 248 (it needs a clip of
63 744–63 999 samples, e.g. a final frame dropped by the authors' framing code),
so we keep the 249 complete frames; the models do not depend on the exact count
(the classifier's FC size is computed from :data:`N_FRAMES`).

Everything is batched in torch: one ``torch.stft`` and one matrix product for the
whole batch; the filterbank and window are built once per device.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["N_MELS", "N_FFT", "HOP", "N_FRAMES", "TOP_DB", "mel_features", "n_frames", "mel_filterbank"]

SAMPLE_RATE = 16000
N_MELS = 40
N_FFT = 512
HOP = 256
TOP_DB = 80.0
SEGMENT_SAMPLES = 64000


def n_frames(n_samples: int = SEGMENT_SAMPLES) -> int:
    """STFT frames of a clip of ``n_samples`` (inside-signal framing)."""
    return 1 + (int(n_samples) - N_FFT) // HOP if n_samples >= N_FFT else 0


N_FRAMES = n_frames(SEGMENT_SAMPLES)  # 249 for 4 s at 16 kHz


def _hz_to_mel_slaney(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    mel = f / f_sp
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mel)


def _mel_to_hz_slaney(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=4)
def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sr: int = SAMPLE_RATE) -> np.ndarray:
    """(n_mels, n_fft/2 + 1) triangular filters, Slaney scale and area normalisation (= librosa.filters.mel)."""
    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_pts = _mel_to_hz_slaney(np.linspace(_hz_to_mel_slaney(0.0), _hz_to_mel_slaney(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_pts[2:n_mels + 2] - mel_pts[:n_mels]))[:, None]
    return weights.astype(np.float32)


_CACHE: dict = {}


def _constants(device, dtype):
    import torch

    key = (str(device), dtype)
    if key not in _CACHE:
        window = torch.hamming_window(N_FFT, periodic=True, dtype=dtype, device=device)
        fb = torch.as_tensor(mel_filterbank(), dtype=dtype, device=device)
        _CACHE[key] = (window, fb)
    return _CACHE[key]


def mel_features(waveforms, normalise: bool = True):
    """Normalised log-mel spectra of 16 kHz clips.

    ``waveforms``: a torch tensor (B, T) or (T,), or a numpy array (T,) / (B, T).
    Returns a float32 tensor (B, 40, frames) on the waveforms' device, frames =
    1 + (T − 512) // 256 (249 for 4 s), each clip min-max scaled to [0, 1].
    ``normalise=False`` returns the dB values before the min-max step.
    """
    import torch

    x = torch.as_tensor(waveforms) if not isinstance(waveforms, torch.Tensor) else waveforms
    if x.dim() == 1:
        x = x[None]
    if x.dim() != 2:
        raise ValueError(f"waveforms must be (T,) or (B, T), got shape {tuple(x.shape)}")
    if x.shape[1] < N_FFT:
        raise ValueError(f"a clip needs at least {N_FFT} samples, got {x.shape[1]}")
    x = x.to(torch.float32)
    window, fb = _constants(x.device, x.dtype)
    spec = torch.stft(x, N_FFT, hop_length=HOP, win_length=N_FFT, window=window, center=False,
                      return_complex=True)
    power = spec.real.square() + spec.imag.square()  # (B, 257, frames)
    mel = torch.matmul(fb, power)  # (B, 40, frames)
    db = 10.0 * torch.log10(mel.clamp_min(1e-10))
    db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - TOP_DB)
    if not normalise:
        return db
    lo = db.amin(dim=(1, 2), keepdim=True)
    span = db.amax(dim=(1, 2), keepdim=True) - lo
    return torch.where(span > 0, (db - lo) / span.clamp_min(1e-12), torch.zeros_like(db))
