"""The sample generator: seeded, ten classes, UrbanSound8K layout, clips that differ per seed."""
import numpy as np
import pytest

from studio.audio import io, synthetic as S
from studio.audio.features import mel_features


def test_classes_in_urbansound_order():
    assert S.CLASSES[0] == "air_conditioner" and S.CLASSES[3] == "dog_bark" and S.CLASSES[9] == "street_music"
    assert len(S.CLASSES) == 10


@pytest.mark.parametrize("name", S.CLASSES)
def test_clip_is_seeded_and_varies(name):
    a = S.synthesize_clip(name, 1)
    assert a.shape == (64000,) and a.dtype == np.float32 and np.isfinite(a).all() and 0 < np.abs(a).max() <= 0.9
    np.testing.assert_array_equal(a, S.synthesize_clip(name, 1))
    assert not np.allclose(a, S.synthesize_clip(name, 2))


def test_classes_differ_more_between_than_within():
    import torch

    feats = {c: mel_features(torch.from_numpy(np.stack([S.synthesize_clip(c, s) for s in range(3)]))).mean(2)
             for c in ("siren", "engine_idling", "children_playing")}
    within = np.mean([torch.cdist(f, f).sum().item() / 6 for f in feats.values()])
    between = torch.cdist(feats["siren"], feats["engine_idling"]).mean().item()
    assert between > within


def test_generate_dataset_in_urbansound_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "synthesize_event", lambda name, seed: np.full(800, 0.01 * (seed % 7 + 1), np.float32))
    root = S.generate_dataset(tmp_path / "d", per_class=10)
    ds = io.load_dataset(root)
    assert ds.classes == S.CLASSES and len(ds.clips) == 100 and not ds.problems
    assert len(ds.split("train")) == 80 and len(ds.split("dev")) == 10 and len(ds.split("test")) == 10
    assert {c.label for c in ds.split("test")} == set(range(10))


def test_sample_dataset_is_cached(monkeypatch):
    monkeypatch.setitem(S.PRESETS, "tiny", 1)
    monkeypatch.setattr(S, "synthesize_event", lambda name, seed: np.full(800, 0.01, np.float32))
    first = S.sample_dataset("tiny")
    stamp = (first / "metadata" / "UrbanSound8K.csv").stat().st_mtime_ns
    assert S.sample_dataset("tiny") == first
    assert (first / "metadata" / "UrbanSound8K.csv").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="preset"):
        S.sample_dataset("huge")
