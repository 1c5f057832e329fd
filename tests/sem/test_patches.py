"""Patch grid, exact patch extraction, by-image stratified split, patch sets."""
import numpy as np
import pytest

from studio.sem.patches import (
    PatchSet,
    build_patch_set,
    extract_patches,
    patch_grid,
    representative_patch_index,
    stratified_split,
)


def test_64_exact_patches_from_1024():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 65536, size=(1024, 1024), dtype=np.uint16)
    grid = patch_grid(1024, 1024)
    patches = extract_patches(img)
    assert len(grid) == 64 and patches.shape == (64, 128, 128)
    assert patches.dtype == np.uint16
    for k, (r, c, y0, x0) in enumerate(grid):
        assert (y0, x0) == (128 * r, 128 * c)
        assert np.array_equal(patches[k], img[y0:y0 + 128, x0:x0 + 128])
    assert not np.shares_memory(patches, img)
    # together the patches are the image, pixel for pixel (no resampling, no overlap)
    assert np.array_equal(patches.reshape(8, 8, 128, 128).swapaxes(1, 2).reshape(1024, 1024), img)


@pytest.mark.parametrize("h,w,rows,cols", [(300, 520, 2, 4), (128, 128, 1, 1), (1023, 1024, 7, 8),
                                           (768, 1280, 6, 10), (127, 500, 0, 3)])
def test_floor_grid(h, w, rows, cols):
    img = np.arange(h * w, dtype=np.float32).reshape(h, w)
    grid = patch_grid(h, w)
    patches = extract_patches(img)
    assert len(grid) == len(patches) == rows * cols
    for k, (r, c, y0, x0) in enumerate(grid):
        assert (r, c) == divmod(k, cols)
        assert np.array_equal(patches[k], img[y0:y0 + 128, x0:x0 + 128])


def test_single_patch_is_a_copy():
    img = np.zeros((128, 128), np.uint8)
    p = extract_patches(img)
    p[0, 0, 0] = 7
    assert img[0, 0] == 0


def test_paper_split_sizes_and_stratification():
    y = np.array([0] * 75 + [1] * 85)
    tr, te = stratified_split(y, 0.3, seed=0)
    assert len(te) == 48 and len(tr) == 112
    assert np.bincount(y[te]).tolist() == [22, 26]
    assert np.intersect1d(tr, te).size == 0
    assert np.array_equal(np.sort(np.r_[tr, te]), np.arange(160))


def test_split_seeded():
    y = np.array([0, 1, 2] * 20)
    a = stratified_split(y, seed=5)
    b = stratified_split(y, seed=5)
    c = stratified_split(y, seed=6)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    for cls in range(3):
        assert (y[a[1]] == cls).sum() == 6


def test_split_small_classes():
    y = np.array([0, 0, 1, 1, 1, 2])  # class 2 has a single image
    tr, te = stratified_split(y, 0.3, seed=1)
    for cls in (0, 1):
        assert (y[tr] == cls).any() and (y[te] == cls).any()
    assert 5 in tr
    with pytest.raises(ValueError):
        stratified_split(y, 1.0)


class _FakeDataset:
    def __init__(self, images, labels):
        self.images = images
        self.labels = np.asarray(labels)

    def raw(self, i):
        a = self.images[i]
        return a, (255.0 if a.dtype == np.uint8 else 65535.0 if a.dtype == np.uint16 else 1.0)


def test_split_by_image_never_by_patch():
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (256, 384), dtype=np.uint8) for _ in range(20)]
    ds = _FakeDataset(images, [0] * 9 + [1] * 11)
    tr, te = stratified_split(ds.labels, 0.3, seed=0)
    ptr = build_patch_set(ds, tr)
    pte = build_patch_set(ds, te)
    assert len(ptr) == 6 * len(tr) and len(pte) == 6 * len(te)
    assert not set(ptr.image_index.tolist()) & set(pte.image_index.tolist())
    assert np.array_equal(ptr.labels, ds.labels[ptr.image_index])
    k = 7
    i, r, c = ptr.image_index[k], ptr.rows[k], ptr.cols[k]
    assert np.array_equal(ptr.patches[k], images[i][r * 128:(r + 1) * 128, c * 128:(c + 1) * 128])


def test_patch_set_mixed_depths_and_float():
    rng = np.random.default_rng(4)
    a8 = rng.integers(0, 256, (128, 256), dtype=np.uint8)
    a16 = rng.integers(0, 65536, (256, 128), dtype=np.uint16)
    ds = _FakeDataset([a8, a16], [0, 1])
    ps = build_patch_set(ds, [0, 1])
    assert isinstance(ps, PatchSet) and ps.patches.dtype == np.uint16 and len(ps) == 4
    x = ps.as_float()
    assert x.shape == (4, 1, 128, 128) and x.dtype == np.float32
    assert np.allclose(x[0, 0], a8[:, :128] / 255.0, atol=1e-6)
    assert np.allclose(x[2, 0], a16[:128] / 65535.0, atol=1e-6)
    only8 = build_patch_set(_FakeDataset([a8], [0]), [0])
    assert only8.patches.dtype == np.uint8 and only8.scale == 255.0


def test_representative_patch():
    img = np.zeros((1024, 1024), np.float32)
    assert representative_patch_index(img) == 4 * 8 + 4
    img[640:768, 256:384] = np.random.default_rng(0).random((128, 128))
    assert representative_patch_index(img, method="max_std") == 5 * 8 + 2
    assert representative_patch_index(img, method=9) == 9
    r1 = representative_patch_index(img, method="random", rng=np.random.default_rng(1))
    r2 = representative_patch_index(img, method="random", rng=np.random.default_rng(1))
    assert r1 == r2
    with pytest.raises(ValueError):
        representative_patch_index(img, method="best")
    ds = _FakeDataset([img.astype(np.float32)] * 3, [0, 1, 1])
    ps = build_patch_set(ds, [0, 2], mode="representative", representative="max_std")
    assert len(ps) == 2 and ps.rows.tolist() == [5, 5] and ps.cols.tolist() == [2, 2]
    assert np.array_equal(ps.patches[0], img[640:768, 256:384])


def test_annotated_representative_patch_from_the_generator_manifest(tmp_path):
    import json

    from studio.sem.io import load_dataset
    from studio.sem.patches import build_patch_set, extract_patches
    from studio.sem.synthetic import generate_dataset

    root = generate_dataset(tmp_path / "d", n_hnf=3, n_nhnf=3, size=384, seed=5)
    manifest = json.loads((root / "manifest.json").read_text())
    ds = load_dataset(root)
    wanted = {e["path"]: e["representative_patch"] for e in manifest["files"]}
    assert ds.representative == [wanted[ds.relative_path(i)] for i in range(len(ds))]
    ps = build_patch_set(ds, range(len(ds)), mode="representative", representative="annotated")
    for k, i in enumerate(range(len(ds))):
        assert np.array_equal(ps.patches[k], extract_patches(ds.raw(i)[0])[ds.representative[i]])
    assert load_dataset(root, crop_bottom=10).representative == [None] * len(ds)  # grid shifted: not used


def test_shifted_patches_are_exact_crops_that_stay_inside_the_image():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, size=(384, 512), dtype=np.uint8)
    ds = _FakeDataset([img, img.T.copy()], [0, 1])
    ps = build_patch_set(ds, [0, 1], mode="all", margin=16)
    assert ps.windows.shape == (len(ps), 160, 160) and ps.margin == 16
    k = 5  # image 0, row 1, col 1: an inner cell, every shift stays inside the image
    assert (ps.rows[k], ps.cols[k]) == (1, 1)
    for dy, dx in [(0, 0), (-16, 16), (7, -3)]:
        got = ps.shifted(k, dy, dx)
        assert got.shape == (1, 128, 128) and got.dtype == np.float32
        assert np.array_equal(np.rint(got[0] * 255), img[128 + dy:256 + dy, 128 + dx:256 + dx])
    assert np.array_equal(ps.shifted(k, 0, 0), ps.as_float(np.array([k]))[0])  # no shift: the patch itself
    # how far each cell of image 0's 3 x 4 grid can move (up, down, left, right): the margin, or less at the border
    assert ps.room[0].tolist() == [0, 16, 0, 16] and ps.room[5].tolist() == [16, 16, 16, 16]
    assert ps.room[11].tolist() == [16, 0, 16, 0] and ps.room[12 + 2].tolist() == [0, 16, 16, 0]  # image 1: 4 x 3
    assert np.array_equal(np.rint(ps.shifted(0, 16, 5)[0] * 255), img[16:144, 5:133])  # the corner moves inwards
    for dy, dx in [(-1, 0), (0, -1), (-4, 4)]:  # past the top or left border: refused, not mirrored
        with pytest.raises(ValueError, match="leaves the image"):
            ps.shifted(0, dy, dx)
    with pytest.raises(ValueError, match="leaves the image"):
        ps.shifted(11, 1, 0)
    with pytest.raises(ValueError):
        ps.shifted(k, 17, 0)
    with pytest.raises(ValueError):
        build_patch_set(ds, [0], margin=128)
    assert build_patch_set(ds, [0]).windows is None  # no neighbourhoods unless asked for
