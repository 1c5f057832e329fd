"""Audio decoding (bit depths, channels, rates), segments of long files, bad files, dataset layouts."""
import csv

import numpy as np
import pytest
import soundfile as sf

from studio.audio import io

RATE_TONE = 440.0


def tone(sr, seconds, channels=1, amp=0.5):
    t = np.arange(int(sr * seconds)) / sr
    x = amp * np.sin(2 * np.pi * RATE_TONE * t)
    return np.stack([x * (1 - 0.3 * c) for c in range(channels)], axis=1) if channels > 1 else x


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_U8"), ("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"),
                                         ("WAV", "FLOAT"), ("WAV", "DOUBLE"), ("FLAC", "PCM_S8"),
                                         ("FLAC", "PCM_16"), ("FLAC", "PCM_24"), ("OGG", "VORBIS")])
def test_decodes_each_bit_depth_to_mono_16k(tmp_path, fmt, subtype):
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, tone(22050, 0.5), 22050, format=fmt, subtype=subtype)
    x, sr = io.read_audio(path)
    assert sr == 22050 and x.dtype == np.float32 and x.ndim == 1
    assert abs(x.size - 8000) <= 1
    ref = tone(16000, 0.5)[: x.size]
    tol = {"PCM_U8": 0.02, "PCM_S8": 0.02, "VORBIS": 0.05}.get(subtype, 2e-3)
    # away from the edges (resampler ramp-in), the decoded tone matches the 16 kHz reference
    assert np.abs(x[200:-200] - ref[200:-200]).max() < tol


def test_multichannel_is_averaged(tmp_path):
    path = tmp_path / "six.wav"
    data = tone(16000, 0.25, channels=6)
    sf.write(path, data, 16000, subtype="PCM_24")
    x, sr = io.read_audio(path)
    assert sr == 16000
    np.testing.assert_allclose(x, data.mean(axis=1), atol=1e-5)


def test_long_file_is_read_window_by_window(tmp_path, monkeypatch):
    path = tmp_path / "long.flac"
    sr = 44100
    rng = np.random.default_rng(0)
    sf.write(path, 0.1 * rng.standard_normal((int(sr * 23.3), 2)), sr, subtype="PCM_16")
    reads = []
    real_read = sf.SoundFile.read

    def spy(self, frames=-1, *a, **k):
        reads.append(frames)
        return real_read(self, frames, *a, **k)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    segments = list(io.iter_segments(path))
    assert len(segments) == 6 and all(s.shape == (io.SEGMENT_SAMPLES,) for s in segments)
    assert reads and all(0 < f <= int(io.BLOCK_SECONDS * sr) for f in reads)  # never the whole file at once
    monkeypatch.undo()
    whole, _ = io.read_audio(path)
    joined = np.concatenate(segments)
    np.testing.assert_allclose(joined[: whole.size], whole, atol=1e-5)  # same as resampling the whole file
    assert not joined[whole.size:].any()  # the last window is zero-padded


def test_short_clip_gives_one_padded_segment(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, tone(8000, 1.0), 8000)
    (seg,) = list(io.iter_segments(path))
    assert seg.shape == (64000,) and seg[:15000].any() and not seg[16100:].any()


def _bad_files(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(16000, 0.5, channels=2), 16000, subtype="PCM_16")
    raw = good.read_bytes()
    files = {
        "empty": (b"", "empty file"),
        "truncated": (raw[: len(raw) // 2], "truncated"),
        "header_only": (raw[:44], "no audio samples"),
        "text": (b"this is a text file, not a recording\n" * 20, "not an audio file"),
    }
    out = {}
    for name, (data, message) in files.items():
        p = tmp_path / f"{name}.wav"
        p.write_bytes(data)
        out[name] = (p, message)
    return out


def test_bad_files_name_the_file_and_the_problem(tmp_path):
    for name, (path, message) in _bad_files(tmp_path).items():
        with pytest.raises(io.AudioInputError) as err:
            io.read_audio(path)
        assert str(path) in str(err.value) and message in str(err.value), name
    flac = tmp_path / "cut.flac"
    sf.write(flac, tone(16000, 1.0), 16000)
    flac.write_bytes(flac.read_bytes()[:2000])
    with pytest.raises(io.AudioInputError, match="cut.flac"):
        io.read_audio(flac)
    with pytest.raises(io.AudioInputError, match="not found"):
        io.read_audio(tmp_path / "missing.wav")


def write_urbansound(root, per_class=2, classes=("dog_bark", "siren", "car_horn"), class_ids=(3, 8, 1)):
    rows = []
    for cname, cid in zip(classes, class_ids):
        for k in range(per_class * 10):
            fold = k % 10 + 1
            name = f"{100 + k}-{cid}-0-{k}.wav"
            path = root / "audio" / f"fold{fold}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, tone(16000, 0.1) * (cid + 1) / 10, 16000)
            rows.append([name, 100 + k, 0, 0.1, 1, fold, cid, cname])
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    with open(root / "metadata" / "UrbanSound8K.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"])
        w.writerows(rows)
    return rows


def test_urbansound_layout_split_and_problems(tmp_path):
    rows = write_urbansound(tmp_path)
    bad = tmp_path / "audio" / "fold10" / rows[-1][0]
    bad.write_bytes(b"not audio")
    (tmp_path / "audio" / "fold3" / rows[2][0]).unlink()
    ds = io.load_dataset(tmp_path)
    assert ds.classes == ["car_horn", "dog_bark", "siren"]  # classID order 1, 3, 8
    assert len(ds.clips) == len(rows) - 2 and len(ds.problems) == 2
    assert any(bad.name in p and "not an audio file" in p for p in ds.problems)
    assert any("not found" in p for p in ds.problems)
    assert {c.fold for c in ds.split("train")} == set(range(1, 9))
    assert {c.fold for c in ds.split("dev")} == {9} and {c.fold for c in ds.split("test")} == {10}
    assert len(ds.split("test")) == 3 * 2 - 1
    assert "2 files skipped" in ds.summary()


def test_folder_per_class_gets_a_seeded_split(tmp_path):
    for cname in ("a", "b"):
        for k in range(12):
            p = tmp_path / cname / f"{k}.flac"
            p.parent.mkdir(parents=True, exist_ok=True)
            sf.write(p, tone(16000, 0.1), 16000)
    (tmp_path / "b" / "empty.wav").write_bytes(b"")
    ds = io.load_dataset(tmp_path)
    assert ds.classes == ["a", "b"] and ds.layout == "folders" and len(ds.clips) == 24
    assert ds.problems and "empty.wav" in ds.problems[0]
    splits = {s: {str(c.path) for c in ds.split(s)} for s in ("train", "dev", "test")}
    assert sum(map(len, splits.values())) == 24 and not splits["train"] & splits["test"]
    assert len(splits["test"]) == 4 and len(splits["dev"]) == 4  # 12 per class dealt 10, 9, 1..8, 10, 9
    again = io.load_dataset(tmp_path)
    assert {str(c.path) for c in again.split("test")} == splits["test"]


def test_dataset_errors(tmp_path):
    with pytest.raises(io.AudioInputError, match="not found"):
        io.load_dataset(tmp_path / "nope")
    with pytest.raises(io.AudioInputError, match="no class folders"):
        io.load_dataset(tmp_path)
