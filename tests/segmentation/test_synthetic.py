"""The seeded aerial-scene generator and the cached sample dataset."""
import numpy as np

from studio.segmentation.io import load_dataset
from studio.segmentation.synthetic import generate_scene, sample_dataset


def test_scenes_are_seeded_and_plausible():
    a_rgb, a_mask = generate_scene(5, 300)
    b_rgb, b_mask = generate_scene(5, 300)
    c_rgb, _ = generate_scene(6, 300)
    assert a_rgb.shape == (300, 300, 3) and a_rgb.dtype == np.uint8 and a_mask.dtype == bool
    assert np.array_equal(a_rgb, b_rgb) and np.array_equal(a_mask, b_mask)
    assert not np.array_equal(a_rgb, c_rgb)
    assert 0.03 < a_mask.mean() < 0.35
    # not trivially separable: building and background pixels overlap in colour
    roofs = a_rgb[a_mask].astype(float).mean(axis=0)
    ground = a_rgb[~a_mask].astype(float).mean(axis=0)
    assert np.abs(roofs - ground).max() < 80


def test_some_roofs_look_like_roads():
    greyish = []
    for seed in range(3):
        rgb, mask = generate_scene(seed, 300)
        px = rgb[mask].astype(int)
        greyish.append(np.mean((np.ptp(px, axis=1) < 12) & (px.mean(axis=1) > 70) & (px.mean(axis=1) < 125)))
    assert max(greyish) > 0.02


def test_sample_dataset_is_cached_in_massachusetts_layout():
    root = sample_dataset("tiny")
    ds = load_dataset(root)
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 4, "val": 1, "test": 1}
    assert not ds.problems
    stamp = (root / "train" / "scene_0000.png").stat().st_mtime_ns
    assert sample_dataset("tiny") == root
    assert (root / "train" / "scene_0000.png").stat().st_mtime_ns == stamp
