"""Seeded generator of UrbanSound8K-like sound events (the sample dataset).

UrbanSound8K (Salamon et al. 2014, the paper's data) cannot be downloaded here,
so "Open sample dataset" uses clips made by this module, in UrbanSound8K's
layout (``audio/fold1..10``, ``metadata/UrbanSound8K.csv``) with its ten classes
in its classID order.  Clips are mono 16 kHz 16-bit WAV of 0.5–4 s (real clips
are at most 4 s and the loader zero-pads them to 4 s, as the paper does).

What each class imitates (all parameters drawn per clip from the clip's seed):

- **air_conditioner** — broadband hum: low-passed noise (corner 0.6–3 kHz)
  plus fan blade-pass harmonics (fundamental 40–140 Hz, 3–7 harmonics) with a
  slow amplitude modulation at the rotation rate; steady for the whole clip.
- **car_horn** — steady harmonic tone: one or two (a major third apart) tones
  of 300–520 Hz with harmonics to 4 kHz (amplitudes ∝ k^-0.7), 20 ms attack and
  release, 1–3 honks of 0.25–1.5 s.
- **children_playing** — 3–7 high voices (glottal harmonics at 250–450 Hz with
  moving formants scaled ×1.25 for shorter vocal tracts, 3–6 syllables/s, see
  :func:`studio.audio.noise.voice`) and an occasional upward shout glide.
- **dog_bark** — 1–5 barks of 0.08–0.35 s: harmonic bursts with a falling
  fundamental (350–900 Hz) through two formants (~0.8–1.4 and 2–3 kHz) plus a
  noisy part, sharp attack and exponential decay.
- **drilling** — amplitude-modulated broadband noise: band-passed noise (centre
  1.5–5 kHz) and a motor whine (150–400 Hz harmonics), modulated at 20–60 Hz
  (bit rotation / hammer action), in one to three runs.
- **engine_idling** — low harmonic rumble: firing frequency 18–45 Hz with
  harmonics to ~1 kHz, cycle-to-cycle jitter of the firing strength, and
  low-passed noise; steady for the whole clip.
- **gun_shot** — impulse with decay and reverb: a 2–10 ms broadband blast with a
  20–120 ms exponential decay, followed by a reverberant tail (low-passed noise
  decaying with RT60 0.3–1.5 s); 1–3 shots.
- **jackhammer** — rapid impulses: 11–25 blows per second with ±5 % timing
  jitter, each a short broadband burst with a metallic ring (1–3.5 kHz), in
  runs separated by pauses.
- **siren** — frequency-modulated sweep: a "wail" (0.15–0.5 Hz) or "yelp"
  (2.5–8 Hz) sweep between a low (500–800 Hz) and high (1.1–1.8 kHz) frequency,
  with 2–4 harmonics and a slow Doppler drift.
- **street_music** — chords with rhythm: major/minor triads (roots 110–330 Hz)
  changing every bar, plucked notes re-struck on each beat (80–150 bpm, decaying
  harmonic tones), a bass note and, in half the clips, a kick/snare pattern.

Every clip gets an urban background (brown/pink noise at 12–35 dB below the
event), in 35 % of clips a quieter event of another class (12–25 dB below, the
"background" salience of UrbanSound8K), a random microphone colouring (first-order
low- or high-shelf) and a random level (peak 0.05–0.9).  Durations, pitches,
rates and levels overlap between neighbouring classes (air conditioner / engine
idling; drilling / jackhammer; children playing / street music), so the task is
not separable by level or duration alone.

Generation is vectorised numpy per clip (about 5–100 ms, the voices of
children_playing being the slowest).  ``sample_dataset("small")`` has 20 clips per
class (two per fold, 200 clips), ``"full"`` 100 per class (1000 clips); each is
generated once and cached under ``studio_home()/samples/audio/``.  A clip is a
function of (class, seed) only.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from studio.audio.noise import make_noise, voice

__all__ = ["CLASSES", "PRESETS", "SAMPLE_RATE", "synthesize_clip", "synthesize_event", "generate_dataset",
           "sample_dataset"]

SAMPLE_RATE = 16000
CLIP_SAMPLES = 64000
#: UrbanSound8K's classes in classID order.
CLASSES = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling",
           "gun_shot", "jackhammer", "siren", "street_music"]
#: clips per class of each preset (ten folds each).
PRESETS = {"tiny": 10, "small": 20, "full": 100}
GENERATOR_VERSION = 1


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _norm(x: np.ndarray) -> np.ndarray:
    r = _rms(x)
    return x / r if r > 0 else x


def _lowpass(x: np.ndarray, cutoff: float) -> np.ndarray:
    """Zero-phase brick-wall-ish low-pass in the frequency domain (cosine roll-off of one octave)."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    gain = np.clip(np.log2(np.maximum(f, 1e-9) / cutoff), 0, 1)
    spec *= 0.5 * (1 + np.cos(np.pi * gain))
    return np.fft.irfft(spec, x.size)


def _bandpass(x: np.ndarray, centre: float, octaves: float) -> np.ndarray:
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    d = np.abs(np.log2(np.maximum(f, 1e-9) / centre)) / (octaves / 2)
    spec *= np.exp(-0.5 * d ** 2 * 4)
    return np.fft.irfft(spec, x.size)


def _harmonic(f0: np.ndarray, n_harm: int, rolloff: float, rng, fmax: float = 7000.0) -> np.ndarray:
    """Sum of harmonics k·f0(t), amplitude k^-rolloff, random phases, band-limited at ``fmax`` (float32 synthesis)."""
    phase = np.mod(2 * np.pi * np.cumsum(f0) / SAMPLE_RATE, 2 * np.pi).astype(np.float32)
    k = np.arange(1, int(n_harm) + 1, dtype=np.float32)[:, None]
    offsets = rng.uniform(0, 2 * np.pi, (int(n_harm), 1)).astype(np.float32)
    waves = np.sin(k * phase[None, :] + offsets)
    amps = (k ** -np.float32(rolloff)) * (k * f0[None, :].astype(np.float32) < fmax)
    return np.einsum("kn,kn->n", amps, waves).astype(np.float64)


def _envelope(n: int, starts, lengths, attack: float, release: float) -> np.ndarray:
    """Sum of trapezoid gates (attack/release in seconds)."""
    t = np.arange(n)
    env = np.zeros(n)
    a, r = max(1, int(attack * SAMPLE_RATE)), max(1, int(release * SAMPLE_RATE))
    for s, L in zip(starts, lengths):
        s, L = int(s), int(L)
        rise = np.clip((t - s) / a, 0, 1)
        fall = np.clip((s + L - t) / r, 0, 1)
        env = np.maximum(env, np.minimum(rise, fall))
    return env


def _air_conditioner(n, rng):
    t = np.arange(n) / SAMPLE_RATE
    broadband = _norm(_lowpass(rng.standard_normal(n), rng.uniform(600, 3000)))
    bp = rng.uniform(40, 140)
    fan = _norm(_harmonic(np.full(n, bp) * (1 + 0.003 * np.sin(2 * np.pi * 0.3 * t)), rng.integers(3, 8), 1.0, rng))
    am = 1 + rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * bp / rng.integers(3, 7) * t)
    return (broadband * rng.uniform(0.6, 1.2) + fan * rng.uniform(0.3, 1.0)) * am


def _car_horn(n, rng):
    f0 = rng.uniform(300, 520)
    tone = _harmonic(np.full(n, f0), 14, 0.7, rng, 4000.0)
    if rng.random() < 0.6:
        tone += _harmonic(np.full(n, f0 * 1.26), 12, 0.7, rng, 4000.0)
    honks = rng.integers(1, 4)
    lengths = rng.uniform(0.25, 1.5, honks) * SAMPLE_RATE
    gaps = rng.uniform(0.05, 0.4, honks) * SAMPLE_RATE
    starts = np.concatenate([[rng.uniform(0, 0.3) * SAMPLE_RATE], np.cumsum(lengths + gaps)[:-1]])
    return tone * _envelope(n, starts, lengths, 0.02, 0.02)


def _children_playing(n, rng):
    out = np.zeros(n)
    for _ in range(rng.integers(3, 8)):
        out += voice(n, rng, f0_range=(250.0, 450.0), syllable_rate=rng.uniform(3, 6), formant_scale=1.25,
                     n_harmonics=16) * rng.uniform(0.3, 1.0)
    if rng.random() < 0.5:  # a shout: upward glide
        L = int(rng.uniform(0.3, 0.8) * SAMPLE_RATE)
        s = rng.integers(0, max(1, n - L))
        f = np.zeros(n) + 600
        f[s:s + L] = np.linspace(rng.uniform(500, 700), rng.uniform(900, 1300), min(L, n - s))
        out += 1.5 * _harmonic(f, 8, 1.0, rng) * _envelope(n, [s], [L], 0.05, 0.1)
    return out


def _dog_bark(n, rng):
    out = np.zeros(n)
    barks = rng.integers(1, 6)
    t_cursor = rng.uniform(0, 0.4)
    f1, f2 = rng.uniform(800, 1400), rng.uniform(2000, 3000)
    for _ in range(barks):
        L = int(rng.uniform(0.08, 0.35) * SAMPLE_RATE)
        s = int(t_cursor * SAMPLE_RATE)
        if s + L >= n:
            break
        tt = np.arange(L) / SAMPLE_RATE
        f0 = rng.uniform(350, 900) * (1 - 0.35 * tt / tt[-1])
        burst = _harmonic(f0, 12, 0.5, rng) + 0.5 * rng.standard_normal(L)
        spec = np.fft.rfft(burst)
        f = np.fft.rfftfreq(L, 1 / SAMPLE_RATE)
        spec *= 1 / np.sqrt(1 + ((f - f1) / 250) ** 2) + 0.6 / np.sqrt(1 + ((f - f2) / 400) ** 2)
        burst = np.fft.irfft(spec, L) * np.minimum(1, tt / 0.005) * np.exp(-tt / rng.uniform(0.05, 0.15))
        out[s:s + L] += _norm(burst) * rng.uniform(0.6, 1.0)
        t_cursor += L / SAMPLE_RATE + rng.uniform(0.1, 0.6)
    return out


def _drilling(n, rng):
    t = np.arange(n) / SAMPLE_RATE
    noise = _norm(_bandpass(rng.standard_normal(n), rng.uniform(1500, 5000), rng.uniform(1.0, 2.5)))
    whine = _norm(_harmonic(np.full(n, rng.uniform(150, 400)) * (1 + 0.01 * np.sin(2 * np.pi * 0.7 * t)), 10, 0.8,
                            rng))
    am = 1 + rng.uniform(0.4, 0.9) * np.sin(2 * np.pi * rng.uniform(20, 60) * t)
    runs = rng.integers(1, 4)
    lengths = rng.uniform(0.6, 3.0, runs) * SAMPLE_RATE
    starts = np.sort(rng.uniform(0, max(1, n - lengths.min()), runs))
    return (noise + rng.uniform(0.2, 0.8) * whine) * am * _envelope(n, starts, lengths, 0.05, 0.08)


def _engine_idling(n, rng):
    t = np.arange(n) / SAMPLE_RATE
    fire = rng.uniform(18, 45)
    f0 = fire * (1 + 0.01 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t))
    rumble = _harmonic(f0, int(1000 / fire), 0.6, rng, 1000.0)
    cycle = np.floor(np.cumsum(f0) / SAMPLE_RATE).astype(int)
    jitter = 1 + rng.uniform(0.1, 0.35) * rng.standard_normal(cycle.max() + 2)
    noise = _lowpass(rng.standard_normal(n), rng.uniform(200, 800))
    return _norm(rumble) * jitter[cycle] + rng.uniform(0.3, 0.8) * _norm(noise)


def _gun_shot(n, rng):
    out = np.zeros(n)
    shots = rng.integers(1, 4)
    rt60 = rng.uniform(0.3, 1.5)
    s = int(rng.uniform(0, 0.3) * SAMPLE_RATE)
    for _ in range(shots):
        if s >= n:
            break
        L = n - s
        tt = np.arange(L) / SAMPLE_RATE
        blast = rng.standard_normal(L) * np.exp(-tt / rng.uniform(0.02, 0.12)) * \
            np.minimum(1, tt / rng.uniform(0.002, 0.01) + 0.3)
        tail = _lowpass(rng.standard_normal(L), rng.uniform(1500, 4000)) * np.exp(-6.9 * tt / rt60) * \
            rng.uniform(0.1, 0.35)
        out[s:] += blast + tail
        s += int(rng.uniform(0.15, 1.2) * SAMPLE_RATE)
    return out


def _jackhammer(n, rng):
    rate = rng.uniform(11, 25)
    out = np.zeros(n)
    L = int(0.03 * SAMPLE_RATE)
    tt = np.arange(L) / SAMPLE_RATE
    ring_f = rng.uniform(1000, 3500)
    times = np.cumsum(1 / rate * (1 + 0.05 * rng.standard_normal(int(n / SAMPLE_RATE * rate) + 2)))
    on = _envelope(n, *(lambda k: (np.sort(rng.uniform(0, n * 0.6, k)), rng.uniform(0.5, 3.0, k) * SAMPLE_RATE))(
        rng.integers(1, 3)), 0.01, 0.01)
    starts = (times * SAMPLE_RATE).astype(int)
    starts = starts[(starts < n - L) & (on[np.minimum(starts, n - 1)] > 0.5)]
    if starts.size:
        bursts = (rng.standard_normal((starts.size, L)) + 2 * np.sin(2 * np.pi * ring_f * tt)) * \
            np.exp(-tt / rng.uniform(0.004, 0.012))
        idx = starts[:, None] + np.arange(L)[None, :]
        np.add.at(out, idx, bursts * rng.uniform(0.7, 1.0, (starts.size, 1)))
    out += 0.15 * _lowpass(rng.standard_normal(n), 500) * on
    return out


def _siren(n, rng):
    t = np.arange(n) / SAMPLE_RATE
    lo, hi = rng.uniform(500, 800), rng.uniform(1100, 1800)
    if rng.random() < 0.5:
        rate = rng.uniform(0.15, 0.5)  # wail
        shape = 0.5 * (1 - np.cos(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)))
    else:
        rate = rng.uniform(2.5, 8)  # yelp: saw-like sweep
        shape = np.mod(rate * t + rng.uniform(0, 1), 1.0)
    f = (lo + (hi - lo) * shape) * (1 + rng.uniform(-0.03, 0.03) * t / t[-1])
    return _harmonic(f, rng.integers(2, 5), 1.2, rng)


def _street_music(n, rng):
    t = np.arange(n) / SAMPLE_RATE
    bpm = rng.uniform(80, 150)
    beat = 60 / bpm
    root = rng.uniform(110, 330)
    minor = rng.random() < 0.5
    degrees = rng.choice([0, 5, 7, 9, 3], size=int(t[-1] / (4 * beat)) + 2)
    out = np.zeros(n)
    n_beats = int(t[-1] / beat) + 1
    pluck_len = int(min(beat, 0.6) * SAMPLE_RATE)
    tt = np.arange(pluck_len) / SAMPLE_RATE
    decay = np.exp(-tt / rng.uniform(0.1, 0.3))
    for b in range(n_beats):
        s = int(b * beat * SAMPLE_RATE)
        if s >= n:
            break
        chord_root = root * 2 ** (degrees[b // 4] / 12)
        notes = chord_root * 2 ** (np.array([0, 3 if minor else 4, 7]) / 12)
        L = min(pluck_len, n - s)
        k = np.arange(1, 7)[:, None, None]
        tones = np.sin(2 * np.pi * k * notes[None, :, None] * tt[None, None, :L]) / k ** 1.2
        out[s:s + L] += tones.sum(axis=(0, 1)) * decay[:L] * (1.0 if b % 4 == 0 else 0.7)
        bass = np.sin(2 * np.pi * chord_root / 2 * tt[:L]) * decay[:L]
        out[s:s + L] += 0.8 * bass
    if rng.random() < 0.5:  # drums
        L = int(0.12 * SAMPLE_RATE)
        tk = np.arange(L) / SAMPLE_RATE
        kick = np.sin(2 * np.pi * (60 + 80 * np.exp(-tk / 0.02)) * tk) * np.exp(-tk / 0.05)
        snare = rng.standard_normal(L) * np.exp(-tk / 0.04) * 0.5
        for b in range(n_beats):
            s = int(b * beat * SAMPLE_RATE)
            if s + L >= n:
                break
            out[s:s + L] += 2 * (kick if b % 2 == 0 else snare)
    return out


_MAKERS = {"air_conditioner": _air_conditioner, "car_horn": _car_horn, "children_playing": _children_playing,
           "dog_bark": _dog_bark, "drilling": _drilling, "engine_idling": _engine_idling, "gun_shot": _gun_shot,
           "jackhammer": _jackhammer, "siren": _siren, "street_music": _street_music}
#: clip length range in seconds (short events make short files, as in UrbanSound8K)
_DURATION = {"car_horn": (1.0, 4.0), "dog_bark": (0.6, 4.0), "gun_shot": (0.5, 4.0)}


def _shelf(x: np.ndarray, rng) -> np.ndarray:
    """A random microphone colouring: ±6 dB first-order tilt around 1 kHz."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    tilt_db = rng.uniform(-6, 6)
    spec *= 10 ** (tilt_db / 20 * np.tanh(np.log2(np.maximum(f, 1.0) / 1000)))
    return np.fft.irfft(spec, x.size)


def synthesize_event(class_name: str, seed: int) -> np.ndarray:
    """One clip of ``class_name`` at its natural length (0.5–4 s), float32 at 16 kHz, peak ≤ 0.9."""
    if class_name not in _MAKERS:
        raise ValueError(f"unknown class {class_name!r}; choose one of {', '.join(CLASSES)}")
    cid = CLASSES.index(class_name)
    rng = np.random.default_rng([GENERATOR_VERSION, cid, int(seed)])
    lo, hi = _DURATION.get(class_name, (2.5, 4.0))
    seconds = min(4.0, rng.uniform(lo, hi) if rng.random() < 0.6 else hi)
    n = int(round(seconds * 10)) * (SAMPLE_RATE // 10)  # whole tenths of a second: FFT-friendly lengths
    event = _norm(_MAKERS[class_name](n, rng))
    if rng.random() < 0.35:  # a quieter event of another class in the background
        other = CLASSES[(cid + rng.integers(1, len(CLASSES))) % len(CLASSES)]
        event = event + _norm(_MAKERS[other](n, rng)) * 10 ** (-rng.uniform(12, 25) / 20)
    background = make_noise(str(rng.choice(["brown", "pink"])), n, seed=int(rng.integers(1 << 31)))
    x = event + background * 10 ** (-rng.uniform(12, 35) / 20)
    x = _shelf(x, rng)
    peak = np.abs(x).max()
    x = x / peak * rng.uniform(0.05, 0.9) if peak > 0 else x
    return x.astype(np.float32)


def synthesize_clip(class_name: str, seed: int) -> np.ndarray:
    """One 4 s clip (64 000 samples at 16 kHz, float32): the event zero-padded like the paper's segments."""
    event = synthesize_event(class_name, seed)
    out = np.zeros(CLIP_SAMPLES, np.float32)
    out[:event.size] = event[:CLIP_SAMPLES]
    return out


def generate_dataset(root, per_class: int = 20, seed: int = 0,
                     progress: Callable[[int, int], None] | None = None, classes: list[str] | None = None,
                     max_seconds: float = 4.0) -> Path:
    """Write ``per_class`` clips of each class in UrbanSound8K's layout, dealt evenly into ten folds.

    ``classes`` limits the classes (keeping their classIDs) and ``max_seconds`` cuts
    the clips (both for small test datasets).
    """
    from studio.audio.io import write_wav

    root = Path(root)
    rows = []
    chosen = list(classes) if classes else list(CLASSES)
    total = per_class * len(chosen)
    done = 0
    for name in chosen:
        cid = CLASSES.index(name)
        for k in range(per_class):
            clip_seed = seed * 1_000_003 + k
            fold = k % 10 + 1
            fs_id = 10_000 * (cid + 1) + k
            fname = f"{fs_id}-{cid}-0-0.wav"
            x = synthesize_event(name, clip_seed)[: int(max_seconds * SAMPLE_RATE)]
            write_wav(root / "audio" / f"fold{fold}" / fname, x)
            rows.append([fname, fs_id, 0.0, round(x.size / SAMPLE_RATE, 4), 1, fold, cid, name])
            done += 1
            if progress is not None:
                progress(done, total)
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    with open(root / "metadata" / "UrbanSound8K.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"])
        writer.writerows(rows)
    return root


def sample_dataset(preset: str = "small", progress: Callable[[int, int], None] | None = None) -> Path:
    """The cached sample dataset of ``preset`` ("small": 20 clips per class, "full": 100), generated once."""
    from studio.engine.registry import studio_home

    if preset not in PRESETS:
        raise ValueError(f"unknown sample preset {preset!r}; choose one of {', '.join(PRESETS)}")
    root = studio_home() / "samples" / "audio" / f"{preset}-v{GENERATOR_VERSION}"
    marker = root / "complete.json"
    if marker.is_file():
        return root
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    generate_dataset(tmp, per_class=PRESETS[preset], seed=0, progress=progress)
    (tmp / "complete.json").write_text(json.dumps({"preset": preset, "per_class": PRESETS[preset],
                                                   "generator_version": GENERATOR_VERSION}))
    if marker.is_file():  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
        return root
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)
    return root
