"""Audio files and audio datasets.

Files
-----
WAV, FLAC and OGG (Vorbis/Opus) — anything libsndfile reads — are decoded with
``soundfile`` (never ``torchaudio.load``): 8-bit (signed or unsigned), 16-, 24- and
32-bit PCM and 32/64-bit float, any sample rate, any number of channels.  Samples
become float32 (PCM scaled to [-1, 1); float kept as stored), channels are averaged
to mono and the rate is converted to 16 kHz with torchaudio's band-limited sinc
resampler (:func:`torchaudio.functional.resample`), the paper's section 4 input.

Segments
--------
The paper cuts every recording into 4 s segments (64 000 samples at 16 kHz) and
zero-pads short ones.  :func:`iter_segments` yields consecutive 4 s windows of a
file of any length; the last one is zero-padded.  It reads the file block by block
(``SoundFile.read`` in blocks of about 10 s of input) and resamples each block with
a margin of context on both sides, aligned to the rate ratio, so the windows equal
those of resampling the whole file at once (to float rounding) while memory stays
bounded by one block: a one-hour recording never sits in memory.

Bad files
---------
Every problem raises :class:`AudioInputError` naming the file: missing, empty
(0 bytes), not an audio format (e.g. a text file renamed ``.wav``), no samples
(a header without data, zero-length), truncated (a WAV whose data chunk is shorter
than its header announces, a FLAC/OGG stream that ends mid-frame), or not finite
(NaN/inf in a float file).

Datasets
--------
:func:`load_dataset` reads

* the UrbanSound8K layout: ``audio/fold1`` … ``audio/fold10`` and
  ``metadata/UrbanSound8K.csv`` (columns ``slice_file_name``, ``fold``,
  ``classID``, ``class``); classes ordered by ``classID``; the paper's split is
  folds 1–8 train, 9 development, 10 test; or
* a folder per class (``root/<class>/*.wav|flac|ogg``, nested folders searched):
  class names are the sorted folder names, and each class's clips are shuffled
  with a fixed seed and dealt round-robin into ten pseudo-folds, so the same
  80/10/10 train/dev/test rule applies (``AudioClip.fold`` stays ``None``).

Each file's header is checked while loading (``soundfile.info`` plus the WAV
data-chunk check); a bad file becomes a line in ``AudioDataset.problems`` naming
the file and the problem, and the rest of the dataset loads.
"""
from __future__ import annotations

import csv
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from studio.engine.jobs import UserError

__all__ = [
    "SAMPLE_RATE", "SEGMENT_SECONDS", "SEGMENT_SAMPLES", "AUDIO_EXTENSIONS", "SPLIT_FOLDS",
    "AudioInputError", "AudioInfo", "probe_audio", "read_audio", "iter_segments", "read_clip", "fit_segment", "resample",
    "write_wav", "AudioClip", "AudioDataset", "load_dataset",
]

SAMPLE_RATE = 16000
SEGMENT_SECONDS = 4.0
SEGMENT_SAMPLES = int(SAMPLE_RATE * SEGMENT_SECONDS)
AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus")
#: The paper's split of UrbanSound8K's ten folds (section 4).
SPLIT_FOLDS = {"train": tuple(range(1, 9)), "dev": (9,), "test": (10,)}
FOLDER_SPLIT_SEED = 0
BLOCK_SECONDS = 10.0


class AudioInputError(UserError):
    """An audio file that cannot be used; the message names the file and the problem."""

    def __init__(self, path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# ------------------------------------------------------------- resampling
_RESAMPLE = None


def _torchaudio_resample():
    """``torchaudio.functional.resample``, imported once (torchaudio is pinned to the build that loads
    against the pinned torch: pyproject.toml)."""
    global _RESAMPLE
    if _RESAMPLE is None:
        from torchaudio.functional import resample as fn

        _RESAMPLE = fn
    return _RESAMPLE


def resample(samples: np.ndarray, orig_sr: int, new_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited sinc resampling of a 1-D float signal (torchaudio's defaults)."""
    samples = np.asarray(samples, dtype=np.float32)
    if orig_sr == new_sr or samples.size == 0:
        return samples
    import torch

    out = _torchaudio_resample()(torch.from_numpy(np.ascontiguousarray(samples)), int(orig_sr), int(new_sr))
    return out.numpy()


# ------------------------------------------------------------------ files
@dataclass
class AudioInfo:
    path: Path
    samplerate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0


def _wav_declared_frames(path: Path, block_align: int) -> tuple[int, int] | None:
    """(frames the WAV header's data chunk announces, frames the file holds), or None when unknown."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
                return None
            fmt = "<I" if head[:4] == b"RIFF" else ">I"
            pos = 12
            while pos + 8 <= size:
                fh.seek(pos)
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, csize = chunk[:4], struct.unpack(fmt, chunk[4:])[0]
                if cid == b"data":
                    if csize in (0, 0xFFFFFFFF) or block_align <= 0:  # streaming writers leave it open
                        return None
                    return csize // block_align, max(0, size - pos - 8) // block_align
                pos += 8 + csize + (csize & 1)
    except OSError:
        return None
    return None


def _open_error(path: Path, exc: Exception) -> AudioInputError:
    text = str(exc)
    if "Format not recognised" in text or "unknown format" in text.lower():
        return AudioInputError(path, "not an audio file that can be read (WAV, FLAC or OGG expected; "
                                     "is it another kind of file with an audio extension?)")
    detail = text.split(":", 1)[-1].strip() if text.startswith("Error opening") else text
    return AudioInputError(path, f"cannot be decoded as audio ({detail})")


def probe_audio(path) -> AudioInfo:
    """Check a file's header without decoding it; raises :class:`AudioInputError`."""
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioInputError(path, "file not found")
    if path.is_dir():
        raise AudioInputError(path, "is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioInputError(path, "empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise _open_error(path, exc) from None
    if info.samplerate <= 0:
        raise AudioInputError(path, f"invalid sample rate {info.samplerate} Hz in the header")
    if info.channels <= 0:
        raise AudioInputError(path, "no audio channels in the header")
    if info.frames <= 0:
        raise AudioInputError(path, "contains no audio samples (zero-length or truncated)")
    if info.format in ("WAV", "WAVEX", "RF64") and info.subtype:
        bits = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32,
                "DOUBLE": 64}.get(info.subtype)
        if bits:
            declared = _wav_declared_frames(path, bits // 8 * info.channels)
            if declared and declared[1] < declared[0]:
                raise AudioInputError(path, f"truncated: the header announces {declared[0]} frames, "
                                            f"the file holds {declared[1]}")
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames), info.format, info.subtype)


def _mono(block: np.ndarray) -> np.ndarray:
    return block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0].astype(np.float32)


def _check_finite(path: Path, x: np.ndarray) -> None:
    if not np.isfinite(x).all():
        raise AudioInputError(path, "contains NaN or infinite sample values")


def read_audio(path) -> tuple[np.ndarray, int]:
    """The whole file as mono float32 at 16 kHz, and its original sample rate."""
    import soundfile as sf

    info = probe_audio(path)
    try:
        with sf.SoundFile(str(info.path)) as fh:
            data = fh.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioInputError(info.path, f"truncated or corrupt audio data ({exc})") from None
    if data.shape[0] == 0:
        raise AudioInputError(info.path, "contains no audio samples (zero-length or truncated)")
    mono = _mono(data)
    _check_finite(info.path, mono)
    return resample(mono, info.samplerate, SAMPLE_RATE), info.samplerate


def _resample_margin(orig_sr: int, new_sr: int) -> tuple[int, int, int]:
    """(input step, output step, input margin) for block-wise resampling equal to whole-signal resampling.

    torchaudio's kernel for output sample ``n`` reads input around ``n·orig/new``;
    with rates reduced by their gcd (``orig'``, ``new'``), an input block starting at a
    multiple of ``orig'`` maps onto outputs starting at the same multiple of
    ``new'``.  The kernel reaches ``lowpass_filter_width / rolloff · orig / min``
    input samples (6 / 0.99 by default); the margin is a multiple of ``orig'`` above 64
    times that ratio.
    """
    g = math.gcd(orig_sr, new_sr)
    o, n = orig_sr // g, new_sr // g
    reach = 64 * max(1.0, orig_sr / min(orig_sr, new_sr))
    margin = o * max(1, math.ceil(reach / o))
    return o, n, margin


def _iter_resampled(path: Path, info: AudioInfo, block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Consecutive pieces of the file as mono float32 at 16 kHz, read block by block."""
    import soundfile as sf

    orig = info.samplerate
    o, n, margin = _resample_margin(orig, SAMPLE_RATE)
    block = max(1, int(block_seconds * orig) // o) * o
    try:
        with sf.SoundFile(str(path)) as fh:
            left = np.zeros(margin, np.float32)  # torchaudio zero-pads before the first sample
            current = _mono(fh.read(block, dtype="float32", always_2d=True))
            if current.size == 0:
                raise AudioInputError(path, "contains no audio samples (zero-length or truncated)")
            while current.size:
                _check_finite(path, current)
                ahead = _mono(fh.read(block, dtype="float32", always_2d=True))
                if orig == SAMPLE_RATE:
                    yield current
                else:
                    right = ahead[:margin]
                    if right.size < margin:
                        right = np.concatenate([right, np.zeros(margin - right.size, np.float32)])
                    out = resample(np.concatenate([left, current, right]), orig, SAMPLE_RATE)
                    start = margin // o * n
                    count = -(-current.size * n // o)  # ceil, the length whole-file resampling gives
                    yield out[start:start + count]
                    left = current[-margin:] if current.size >= margin else \
                        np.concatenate([left, current])[-margin:]
                current = ahead
    except sf.LibsndfileError as exc:
        raise AudioInputError(path, f"truncated or corrupt audio data ({exc})") from None


def iter_segments(path, seconds: float = SEGMENT_SECONDS) -> Iterator[np.ndarray]:
    """Consecutive windows of ``seconds`` (float32, mono, 16 kHz), the last one zero-padded.

    Reads and resamples the file block by block, so memory stays bounded whatever
    the file's length.  A file shorter than one window gives one zero-padded window.
    """
    info = probe_audio(path)
    width = int(round(seconds * SAMPLE_RATE))
    if width <= 0:
        raise ValueError(f"segment length must be positive, got {seconds} s")
    pending: list[np.ndarray] = []
    have = 0
    for piece in _iter_resampled(info.path, info):
        pending.append(piece)
        have += piece.size
        if have >= width:
            buf = np.concatenate(pending)
            k = buf.size // width
            for i in range(k):
                yield buf[i * width:(i + 1) * width].copy()
            rest = buf[k * width:]
            pending, have = ([rest] if rest.size else []), rest.size
    if have:
        yield fit_segment(np.concatenate(pending), width)


def fit_segment(samples: np.ndarray, width: int = SEGMENT_SAMPLES) -> np.ndarray:
    """Zero-pad or cut to exactly ``width`` samples (the paper's 4 s at 16 kHz)."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size >= width:
        return samples[:width].copy()
    out = np.zeros(width, np.float32)
    out[:samples.size] = samples
    return out


def read_clip(path, seconds: float = SEGMENT_SECONDS) -> tuple[np.ndarray, int]:
    """The first window of a file, zero-padded, and how many of its samples are audio.

    This is what one dataset clip contributes (UrbanSound8K clips last at most
    4 s); only the first window is decoded, so a long file costs one block.
    """
    info = probe_audio(path)
    width = int(round(seconds * SAMPLE_RATE))
    pieces, have = [], 0
    for piece in _iter_resampled(info.path, info):
        pieces.append(piece)
        have += piece.size
        if have >= width:
            break
    samples = np.concatenate(pieces)
    return fit_segment(samples, width), min(samples.size, width)


def write_wav(path, samples, sr: int = SAMPLE_RATE, subtype: str = "PCM_16") -> Path:
    """Write mono (or (frames, channels)) float samples as WAV; values are clipped to [-1, 1] for PCM."""
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.asarray(samples, dtype=np.float32)
    if subtype.startswith("PCM"):
        data = np.clip(data, -1.0, 1.0)
    sf.write(str(path), data, int(sr), subtype=subtype, format="WAV")
    return path


# --------------------------------------------------------------- datasets
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
    layout: str = "urbansound8k"  # or "folders"

    def summary(self) -> str:
        counts = np.bincount([c.label for c in self.clips], minlength=len(self.classes))
        parts = [f"{len(self.clips)} clips in {len(self.classes)} classes ({self.layout} layout)"]
        parts.append(", ".join(f"{name} {int(n)}" for name, n in zip(self.classes, counts)))
        parts.append(" / ".join(f"{s} {len(self.split(s))}" for s in SPLIT_FOLDS))
        if self.problems:
            parts.append(f"{len(self.problems)} files skipped")
        return "; ".join(parts)

    def _fold_of(self) -> dict[int, int]:
        """Clip index -> fold: the real fold, or the seeded pseudo-fold of the folder layout."""
        folds: dict[int, int] = {}
        by_class: dict[int, list[int]] = {}
        for i, clip in enumerate(self.clips):
            if clip.fold is not None:
                folds[i] = int(clip.fold)
            else:
                by_class.setdefault(clip.label, []).append(i)
        rng = np.random.default_rng(FOLDER_SPLIT_SEED)
        for label in sorted(by_class):
            members = sorted(by_class[label], key=lambda i: str(self.clips[i].path))
            order = rng.permutation(len(members))
            # Deal test, dev, then train folds first, so even 2 or 3 clips per class reach test and dev.
            sequence = [10, 9, 1, 2, 3, 4, 5, 6, 7, 8]
            for rank, j in enumerate(order):
                folds[members[j]] = sequence[rank % 10]
        return folds

    def split(self, name: str) -> list[AudioClip]:
        """``train`` folds 1–8, ``dev`` fold 9, ``test`` fold 10 (section 4)."""
        if name not in SPLIT_FOLDS:
            raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLIT_FOLDS)}")
        wanted = SPLIT_FOLDS[name]
        folds = self._fold_of()
        return [clip for i, clip in enumerate(self.clips) if folds[i] in wanted]


def _find_urbansound_csv(root: Path) -> Path | None:
    for candidate in (root / "metadata" / "UrbanSound8K.csv", root / "UrbanSound8K.csv"):
        if candidate.is_file():
            return candidate
    return None


def _load_urbansound(root: Path, csv_path: Path, verify: bool, progress) -> AudioDataset:
    audio_dir = root / "audio" if (root / "audio").is_dir() else root
    problems: list[str] = []
    rows = []
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            needed = {"slice_file_name", "fold", "classID", "class"}
            if not reader.fieldnames or not needed <= set(reader.fieldnames):
                raise AudioInputError(csv_path, f"not an UrbanSound8K metadata file: needs the columns "
                                                f"{', '.join(sorted(needed))}")
            for line, row in enumerate(reader, start=2):
                try:
                    rows.append((row["slice_file_name"].strip(), int(row["fold"]), int(row["classID"]),
                                 row["class"].strip()))
                except (TypeError, ValueError, AttributeError):
                    problems.append(f"{csv_path}: line {line}: unreadable fold or classID")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AudioInputError(csv_path, f"cannot read the metadata table ({exc})") from None
    if not rows:
        raise AudioInputError(csv_path, "the metadata table lists no clips")
    names: dict[int, str] = {}
    for _, _, cid, cname in rows:
        if names.setdefault(cid, cname) != cname:
            raise AudioInputError(csv_path, f"classID {cid} is named both {names[cid]!r} and {cname!r}")
    ids = sorted(names)
    index = {cid: k for k, cid in enumerate(ids)}
    clips: list[AudioClip] = []
    for k, (fname, fold, cid, _) in enumerate(rows):
        if progress is not None:
            progress(k, len(rows))
        path = audio_dir / f"fold{fold}" / fname
        if not 1 <= fold <= 10:
            problems.append(f"{path}: fold {fold} is not one of 1..10")
            continue
        try:
            if verify:
                probe_audio(path)
            elif not path.is_file():
                raise AudioInputError(path, "file not found")
        except AudioInputError as exc:
            problems.append(str(exc))
            continue
        clips.append(AudioClip(path, index[cid], fold))
    return AudioDataset(root, [names[c] for c in ids], clips, problems, "urbansound8k")


def _load_folders(root: Path, verify: bool, progress) -> AudioDataset:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    problems: list[str] = []
    entries: list[tuple[Path, int]] = []
    classes: list[str] = []
    for d in class_dirs:
        files = sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        if not files:
            continue
        classes.append(d.name)
        entries += [(f, len(classes) - 1) for f in files]
    if not classes:
        raise AudioInputError(root, "no class folders with audio files (.wav, .flac, .ogg) and no "
                                    "metadata/UrbanSound8K.csv")
    clips = []
    for k, (path, label) in enumerate(entries):
        if progress is not None:
            progress(k, len(entries))
        try:
            if verify:
                probe_audio(path)
        except AudioInputError as exc:
            problems.append(str(exc))
            continue
        clips.append(AudioClip(path, label, None))
    return AudioDataset(root, classes, clips, problems, "folders")


def load_dataset(root, verify: bool = True, progress: Callable[[int, int], None] | None = None) -> AudioDataset:
    """An UrbanSound8K-layout folder or a folder per class (see the module docstring).

    Raises :class:`AudioInputError` only when nothing usable remains; single bad
    files are listed in ``problems``.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise AudioInputError(root, "folder not found")
    if root.is_file() and root.name.lower().endswith(".csv"):
        csv_path, root = root, root.parent.parent if root.parent.name == "metadata" else root.parent
    elif not root.is_dir():
        raise AudioInputError(root, "not a folder (expected an UrbanSound8K folder or a folder per class)")
    else:
        csv_path = _find_urbansound_csv(root)
    dataset = _load_urbansound(root, csv_path, verify, progress) if csv_path else \
        _load_folders(root, verify, progress)
    if not dataset.clips:
        raise AudioInputError(root, "no readable audio clips" + (f" ({len(dataset.problems)} files skipped; "
                                                                   f"first: {dataset.problems[0]})"
                                                                   if dataset.problems else ""))
    if len({c.label for c in dataset.clips}) < 2:
        raise AudioInputError(root, "needs clips of at least two classes")
    return dataset
