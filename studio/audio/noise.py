"""Noise for the robustness tests (paper 003, section 4: noise mixed into the test set only).

The paper mixes seven NOISEX-92 recordings (babble, F16, factory 1/2, leopard,
pink, destroyer) into the test fold at 20, 15, 10, 5 and 0 dB.  Those files cannot
be downloaded here, so :func:`make_noise` synthesises the kinds that can be
described physically, and :func:`load_noise` opens any recording the user has
(e.g. the NOISEX-92 files themselves).  All generators are seeded and vectorised
(numpy), return float32 at 16 kHz with unit RMS (the level is set by the mixer).

- ``white``: Gaussian, flat power spectral density.
- ``pink``: 1/f power spectral density (−3 dB/octave), shaped in the frequency
  domain from white Gaussian noise (NOISEX "pink").
- ``brown``: 1/f² (−6 dB/octave; the spectrum of integrated white noise), shaped
  the same way with the shaping flattened below 20 Hz so there is no DC drift.
- ``babble``: a crowd — 12 overlapping synthetic talkers.  Each talker is a
  glottal source (harmonics of a fundamental of 90–260 Hz with slow intonation and
  jitter, −12 dB/octave source tilt) shaped by three formant resonances that move
  from vowel to vowel every syllable (about 4 per second), with a syllabic on/off
  envelope and pauses.
- ``factory``: machinery — a 50 Hz mains hum with harmonics, a motor whine with a
  slowly wandering speed, a broadband low-passed rumble, and impulsive hits
  (hammer/press strokes: exponentially decaying noise bursts with a resonant ring)
  at irregular intervals (about 2 per second).

:func:`mix_at_snr` scales the noise so that 10·log10(P_clean / P_noise) equals
the requested SNR exactly (powers as mean squares over the clip, in float64).
"""
from __future__ import annotations

import numpy as np

__all__ = ["NOISE_TYPES", "make_noise", "load_noise", "mix_at_snr", "fit_noise", "snr_db"]

NOISE_TYPES = ("white", "pink", "brown", "babble", "factory")
SAMPLE_RATE = 16000


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return (x / rms if rms > 0 else x).astype(np.float32)


def _coloured(n: int, rng: np.random.Generator, exponent: float, corner_hz: float = 20.0) -> np.ndarray:
    """Gaussian noise with power spectral density ∝ 1/f^exponent (flat below ``corner_hz``)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spectrum *= np.maximum(f, corner_hz) ** (-exponent / 2.0)
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n)


def _resonator_gain(freq: np.ndarray, centre: np.ndarray, bandwidth: np.ndarray) -> np.ndarray:
    """Magnitude of a second-order resonance (a formant) at ``freq``."""
    return 1.0 / np.sqrt(1.0 + ((freq - centre) / (bandwidth / 2.0)) ** 2)


#: (F1, F2, F3) in Hz of five vowels (adult averages, Peterson & Barney style).
VOWEL_FORMANTS = np.array([[730, 1090, 2440], [270, 2290, 3010], [530, 1840, 2480], [570, 840, 2410],
                           [300, 870, 2240]], dtype=np.float64)


def voice(n: int, rng: np.random.Generator, f0_range=(90.0, 260.0), syllable_rate: float = 4.0,
          formant_scale: float = 1.0, n_harmonics: int = 40) -> np.ndarray:
    """One synthetic talker (harmonic source + moving formants + syllabic envelope), unit RMS.

    Shared by the babble noise and by the sample generator's children's voices
    (``f0_range`` 250–450 Hz, ``formant_scale`` 1.25).
    """
    t = np.arange(n) / SAMPLE_RATE
    f0_mean = rng.uniform(*f0_range)
    n_knots = max(2, int(n / SAMPLE_RATE * 3) + 2)
    knots = rng.uniform(0.85, 1.15, n_knots)
    intonation = np.interp(t, np.linspace(0, t[-1] if n > 1 else 1, n_knots), knots)
    f0 = f0_mean * intonation * (1 + 0.01 * rng.standard_normal(n).cumsum() / np.sqrt(np.arange(1, n + 1)))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    # syllables: each has its vowel, duration ~ 1/syllable_rate, and is voiced or a pause
    n_syll = max(1, int(np.ceil(n / SAMPLE_RATE * syllable_rate)) + 1)
    durations = rng.uniform(0.6, 1.4, n_syll) / syllable_rate
    edges = np.concatenate([[0.0], np.cumsum(durations)])
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, n_syll - 1)
    vowels = VOWEL_FORMANTS[rng.integers(0, len(VOWEL_FORMANTS), n_syll)] * formant_scale
    voiced = rng.random(n_syll) < 0.8
    local = (t - edges[idx]) / durations[idx]
    envelope = np.sin(np.pi * np.clip(local, 0, 1)) ** 0.6 * voiced[idx]
    bandwidths = np.array([80.0, 110.0, 160.0]) * formant_scale
    # Harmonic amplitudes follow the formants at a 4 ms control rate (formant jumps between
    # syllables smoothed over 20 ms, amplitudes linearly interpolated); the harmonics are
    # synthesised at full rate, all at once as a (K, n) array.
    hop = 64
    ctrl = np.arange(0, n + hop, hop).clip(max=n - 1)
    formants = vowels[idx[ctrl]]
    kernel = np.hanning(7)[1:-1]
    kernel /= kernel.sum()
    padded = np.pad(formants, ((2, 2), (0, 0)), mode="edge")
    formants = sum(kernel[i] * padded[i:i + len(ctrl)] for i in range(5))
    k = np.arange(1, max(2, min(n_harmonics, int(5000.0 / f0_mean))) + 1, dtype=np.float64)[:, None]
    fk = k * f0[ctrl]
    gain = sum(_resonator_gain(fk, formants[:, j], bandwidths[j]) * (1.0, 0.6, 0.3)[j] for j in range(3))
    gain *= (fk < SAMPLE_RATE / 2 - 200) / k  # −6 dB/oct per harmonic amplitude (−12 dB/oct power)
    gain = gain.astype(np.float32)
    pos = np.arange(n, dtype=np.float32) / hop
    i0 = np.minimum(pos.astype(np.int64), len(ctrl) - 2)
    frac = pos - i0
    phase = np.mod(phase, 2 * np.pi).astype(np.float32)
    harmonics = np.sin(k.astype(np.float32) * phase)
    out = np.einsum("kn,kn->n", gain[:, i0], harmonics) * (1 - frac) + \
        np.einsum("kn,kn->n", gain[:, i0 + 1], harmonics) * frac
    out = out * envelope + 0.02 * envelope * rng.standard_normal(n)  # a little breath
    return _unit_rms(out)


def _babble(n: int, rng: np.random.Generator, talkers: int = 12) -> np.ndarray:
    mix = np.zeros(n)
    for _ in range(talkers):
        mix += voice(n, rng) * rng.uniform(0.4, 1.0)
    return mix


def _factory(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    mains = rng.choice([50.0, 60.0])
    hum = sum(np.sin(2 * np.pi * k * mains * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 8))
    speed = 1 + 0.02 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 2 * np.pi))
    whine_f = rng.uniform(600, 1400)
    whine = 0.3 * np.sin(2 * np.pi * np.cumsum(whine_f * speed) / SAMPLE_RATE)
    rumble = _coloured(n, rng, 1.6, corner_hz=40.0)
    rumble *= 1.0 / (np.sqrt(np.mean(rumble ** 2)) + 1e-12)
    # impulsive hits: Poisson arrivals (~2/s), each a decaying noise burst with a resonant ring
    hits = np.zeros(n)
    n_hits = rng.poisson(2.0 * n / SAMPLE_RATE)
    length = int(0.25 * SAMPLE_RATE)
    tt = np.arange(length) / SAMPLE_RATE
    for start in rng.integers(0, max(1, n), n_hits):
        decay = rng.uniform(0.01, 0.06)
        ring = np.sin(2 * np.pi * rng.uniform(300, 2500) * tt)
        burst = np.exp(-tt / decay) * (rng.standard_normal(length) + 2 * ring) * rng.uniform(2, 6)
        stop = min(n, start + length)
        hits[start:stop] += burst[: stop - start]
    return 0.8 * hum + whine + 0.7 * rumble + hits


def make_noise(kind: str, n_samples: int, seed: int = 0) -> np.ndarray:
    """``n_samples`` of noise ``kind`` (one of :data:`NOISE_TYPES`) at 16 kHz, float32, unit RMS."""
    if kind not in NOISE_TYPES:
        raise ValueError(f"unknown noise {kind!r}; choose one of {', '.join(NOISE_TYPES)} or open a noise file")
    n = int(n_samples)
    if n <= 0:
        return np.zeros(0, np.float32)
    rng = np.random.default_rng([seed, NOISE_TYPES.index(kind)])
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _coloured(n, rng, 1.0)
    elif kind == "brown":
        x = _coloured(n, rng, 2.0)
    elif kind == "babble":
        x = _babble(n, rng)
    else:
        x = _factory(n, rng)
    return _unit_rms(x)


def load_noise(path) -> np.ndarray:
    """A noise recording as mono float32 at 16 kHz (any format :func:`studio.audio.io.read_audio` reads)."""
    from studio.audio.io import AudioInputError, read_audio

    samples, _ = read_audio(path)
    if not np.any(samples):
        raise AudioInputError(path, "the noise recording is silent (all samples are zero)")
    return samples


def fit_noise(noise: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
    """``n`` samples of ``noise`` from ``offset`` on, repeating it when it is shorter."""
    noise = np.asarray(noise, dtype=np.float32)
    if noise.size == 0:
        raise ValueError("the noise is empty")
    idx = (np.arange(n) + int(offset)) % noise.size
    return noise[idx]


def snr_db(clean: np.ndarray, noise: np.ndarray) -> float:
    """10·log10(P_clean / P_noise) with powers as mean squares."""
    pc = float(np.mean(np.square(clean, dtype=np.float64)))
    pn = float(np.mean(np.square(noise, dtype=np.float64)))
    return 10.0 * np.log10(pc / pn)


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``clean + g·noise`` with ``g`` such that the SNR is exactly ``snr_db`` (powers over the clip).

    The noise is cut to the clip's length (repeated when shorter).  A silent clean
    clip has no power to set a noise level against: it is returned unchanged (all
    zeros), never NaN.  A silent noise raises ``ValueError``.
    """
    clean = np.asarray(clean, dtype=np.float32)
    if clean.size == 0:
        return clean.copy()
    noise = fit_noise(noise, clean.size)
    pc = float(np.mean(np.square(clean, dtype=np.float64)))
    pn = float(np.mean(np.square(noise, dtype=np.float64)))
    if pn == 0.0:
        raise ValueError("the noise is silent; it cannot be mixed at an SNR")
    if pc == 0.0:
        return clean.copy()
    gain = np.sqrt(pc / (pn * 10.0 ** (float(snr_db) / 10.0)))
    return (clean.astype(np.float64) + gain * noise.astype(np.float64)).astype(np.float32)
