"""The sample-data generator: seeded, both classes, defects really in the pixels, dataset + cache."""
import json

import numpy as np
import pytest
from scipy import ndimage

from studio.sem import synthetic
from studio.sem.io import load_dataset
from studio.sem.synthetic import (
    GENERATOR_VERSION,
    MANIFEST_NAME,
    generate_dataset,
    generate_image,
    sample_dataset_path,
)


def test_seeded_and_in_range():
    a = generate_image(np.random.default_rng(7), True, size=256, difficulty=0.4)
    b = generate_image(np.random.default_rng(7), True, size=256, difficulty=0.4)
    c = generate_image(np.random.default_rng(8), True, size=256, difficulty=0.4)
    assert a.dtype == np.float32 and a.shape == (256, 256)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.std() > 0.05
    rect = generate_image(np.random.default_rng(1), False, size=(192, 320))
    assert rect.shape == (192, 320)


def test_ground_truth_defects():
    for seed in range(4):
        img, info = generate_image(np.random.default_rng(seed), False, size=256, return_info=True)
        assert info["defects"] == [] and info["n_beads"] == 0
        img, info = generate_image(np.random.default_rng(seed), True, size=256, difficulty=1.0, return_info=True)
        assert info["n_beads"] >= 1  # even the hardest NHNF image has a bead
    _, easy = generate_image(np.random.default_rng(0), True, size=1024, difficulty=0.0, return_info=True)
    _, hard = generate_image(np.random.default_rng(0), True, size=1024, difficulty=1.0, return_info=True)
    assert easy["n_beads"] > 5 * hard["n_beads"]


def test_representative_patch_shows_the_most_defect_pixels_or_the_densest_fibres():
    from studio.sem.synthetic import representative_patch

    for seed in range(3):
        # the hardest NHNF images still show a bead, and their representative cell shows the most of it
        img, info = generate_image(np.random.default_rng(seed), True, size=384, difficulty=1.0, return_info=True)
        shown = info["defect_pixels"].reshape(3, 128, 3, 128).sum(axis=(1, 3)).ravel()
        assert shown.max() > 0 and shown[representative_patch(info, img.shape)] == shown.max()
        # beads show on top-layer fibres only (the deep layers are dark and defocused); specks anywhere
        _, info = generate_image(np.random.default_rng(seed), True, size=384, difficulty=0.2, return_info=True)
        assert info["n_beads"] >= 10
        ys, xs = np.nonzero(info["defect_pixels"] & ~info["cover"])
        blobs = np.array([d[1:4] for d in info["defects"] if d[0] != "bead"]).reshape(-1, 3)
        near_blob = (np.hypot(xs[:, None] - blobs[:, 0], ys[:, None] - blobs[:, 1]) <= 2 * blobs[:, 2] + 2).any(axis=1)
        assert near_blob.all()
        # HNF: the cell with the most top-layer fibre cover, not a fixed place
        img, info = generate_image(np.random.default_rng(seed), False, size=384, return_info=True)
        assert not info["defect_pixels"].any()
        cover = info["cover"].reshape(3, 128, 3, 128).mean(axis=(1, 3)).ravel()
        assert cover[representative_patch(info, img.shape)] == cover.max()
    # counted in pixels: a defect cut by the cell border counts with the part each cell shows
    shown = np.zeros((384, 384), bool)
    shown[100:140, 100:140] = True  # 784 pixels in cell 0, the rest in cells 1, 3 and 4
    shown[300:330, 300:330] = True  # 900 pixels, all in cell 8
    info = {"defective": True, "defect_pixels": shown}
    assert representative_patch(info, (384, 384)) == 2 * 3 + 2
    shown[150:190, 150:190] = True  # 1600 pixels in cell 4
    assert representative_patch(info, (384, 384)) == 1 * 3 + 1


def _straight_fibre(x0, y0, tx, ty, length, radius):
    s = np.arange(0.0, length, synthetic._DELTA, dtype=np.float32)
    x = (x0 + tx * s).astype(np.float32)
    y = (y0 + ty * s).astype(np.float32)
    return x, y, np.full_like(x, tx), np.full_like(x, ty), s, np.full_like(x, radius)


def test_defect_pixels_are_the_bead_swelling_that_no_later_fibre_covers():
    """A bead counts only where it shows: beyond its fibre's plain radius and not under a later fibre."""
    shading = synthetic._Shading(g=0.3, h=0.1, dx=1.0, dy=0.0)
    for mark in (False, True):
        cv = synthetic._Canvas.blank(128, 128)
        # a horizontal fibre of radius 3 along y = 64 with a bead of radius 12 centred at x = 64
        x, y, tx, ty, s, plain = _straight_fibre(-10.0, 64.0, 1.0, 0.0, 148.0, 3.0)
        R = np.maximum(plain, 12.0 * np.sqrt(np.clip(1 - ((x - 64.0) / 14.0) ** 2, 0, 1))).astype(np.float32)
        synthetic._render_tube(cv, x, y, tx, ty, R, np.gradient(R, synthetic._DELTA).astype(np.float32), 0.5,
                               shading, 0, R_plain=plain, mark_beads=mark)
        shown = cv.defect.reshape(128, 128)
        if not mark:  # a deep-layer fibre's bead is no visible defect
            assert not shown.any()
            continue
        rows, cols = np.nonzero(shown)
        assert np.abs(rows - 64).min() >= 4  # the plain fibre is no defect
        assert np.abs(rows - 64).max() <= 13 and np.abs(cols - 64).max() <= 14  # nothing beyond the bead
        assert shown[64 - 8, 64] and shown[64 + 8, 64]
        before = int(shown.sum())
        # a later plain vertical fibre of radius 4 across the bead's middle hides a strip of it
        x, y, tx, ty, s, plain = _straight_fibre(64.0, -10.0, 0.0, 1.0, 148.0, 4.0)
        synthetic._render_tube(cv, x, y, tx, ty, plain, np.zeros_like(plain), 0.5, shading, 1, R_plain=plain,
                               mark_beads=True)
        shown = cv.defect.reshape(128, 128)
        rows, cols = np.nonzero(shown)
        assert np.abs(cols - 64).min() >= 4  # nothing under the covering fibre
        assert shown[64 - 8, 64 - 8] and shown[64 + 8, 64 + 8]  # the rest still shows
        assert 0.4 * before < shown.sum() < 0.8 * before
        # a speck is a defect wherever it lands, on top of everything
        synthetic._render_blob(cv, 20.0, 20.0, 5.0, 5.0, 0.0, 0.8, 0.25, shading)
        assert shown[20, 20] and shown[16, 20] and not shown[10, 20]


def _otsu(x):
    hist, edges = np.histogram(x, 256)
    c = (edges[:-1] + edges[1:]) / 2
    w1 = np.cumsum(hist)
    w2 = w1[-1] - w1
    m1 = np.cumsum(hist * c)
    mu1 = m1 / np.maximum(w1, 1)
    mu2 = (m1[-1] - m1) / np.maximum(w2, 1)
    return c[np.argmax(w1 * w2 * (mu1 - mu2) ** 2)]


def _blob_score(img):
    """Share of bright pixels deeper inside the bright phase than 2.5 typical fibre radii.

    Fibres are bright bands of about one radius; beads and particles are compact
    bright regions several fibre radii wide.  Model-free: thresholds, distance map.
    """
    sm = ndimage.gaussian_filter(img, 1.5)
    dt = ndimage.distance_transform_edt(sm > _otsu(sm))
    ridge = (dt == ndimage.maximum_filter(dt, 3)) & (dt > 1)
    return float((dt > 2.5 * np.median(dt[ridge])).mean())


def test_nhnf_has_more_compact_bright_blobs():
    hnf = [_blob_score(generate_image(np.random.default_rng(s), False, 256, 0.2)) for s in range(8)]
    nhnf = [_blob_score(generate_image(np.random.default_rng(100 + s), True, 256, 0.2)) for s in range(8)]
    assert np.mean(nhnf) > 2 * np.mean(hnf)
    assert np.median(nhnf) > np.median(hnf)


def test_generate_dataset_layout_and_loadable(tmp_path):
    seen = []
    root = generate_dataset(tmp_path / "ds", n_hnf=3, n_nhnf=4, size=160, seed=3, workers=2,
                            progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (7, 7)
    assert len(list((root / "HNF").glob("*.png"))) == 3 and len(list((root / "NHNF").glob("*.png"))) == 4
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest["version"] == GENERATOR_VERSION and manifest["seed"] == 3 and len(manifest["files"]) == 7
    assert (root / "README.txt").exists()
    ds = load_dataset(root)
    assert ds.class_names == ["HNF", "NHNF"] and ds.class_counts() == {"HNF": 3, "NHNF": 4}
    assert ds.problems == [] and ds.sizes[0] == (160, 160)
    assert len(load_dataset(root / "labels.csv")) == 7
    # same seed, one worker: identical files
    again = generate_dataset(tmp_path / "ds2", n_hnf=3, n_nhnf=4, size=160, seed=3, workers=1)
    assert np.array_equal(ds.image(4), load_dataset(again).image(4))
    with pytest.raises(FileExistsError):
        generate_dataset(root, n_hnf=3, n_nhnf=4, size=160, seed=3)


def test_sample_dataset_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"

    def cancel(done, total):
        if done == 2:
            raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt):
        sample_dataset_path(cache, n_hnf=2, n_nhnf=2, size=128, seed=1, progress=cancel)
    assert list(cache.iterdir()) == []  # no half cache left behind
    path = sample_dataset_path(cache, n_hnf=2, n_nhnf=2, size=128, seed=1)
    assert (path / MANIFEST_NAME).exists() and len(load_dataset(path)) == 4
    assert [p.name for p in cache.iterdir()] == [path.name]

    def boom(*a, **k):
        raise AssertionError("must not regenerate")

    monkeypatch.setattr(synthetic, "generate_dataset", boom)
    assert sample_dataset_path(cache, n_hnf=2, n_nhnf=2, size=128, seed=1) == path
    monkeypatch.undo()
    # a damaged cache (manifest gone) is regenerated
    (path / MANIFEST_NAME).unlink()
    assert sample_dataset_path(cache, n_hnf=2, n_nhnf=2, size=128, seed=1) == path
    assert (path / MANIFEST_NAME).exists()
    other = sample_dataset_path(cache, n_hnf=2, n_nhnf=2, size=128, seed=2)
    assert other != path


def test_fibres_cross_the_whole_field():
    """No square-cut fibre ends inside the image (up to v5 about 1.4 per image): the fibres of a mat are continuous."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        x, y = synthetic._centreline(rng, 1024, pad=10.0)[:2]
        for k in (0, -1):
            assert not (0 <= x[k] < 1024 and 0 <= y[k] < 1024)


def test_fused_junctions_are_sized_by_the_fibre_not_by_a_bead_at_the_crossing():
    """Up to v6 a junction on a bead took the bead's radius: melted blobs of 30-60 px on 5 px fibres."""
    radii = []
    for seed in range(6):
        _, info = generate_image(np.random.default_rng(seed), True, size=512, difficulty=0.0, fused=True,
                                 return_info=True)
        radii += [d[3] for d in info["defects"] if d[0] == "fused"]
    assert len(radii) >= 6 and max(radii) < 25  # 1.6-2.6 x fibre radii of mostly 3-9 px
