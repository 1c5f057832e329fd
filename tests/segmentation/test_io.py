"""Aerial image, mask and dataset loaders on tiny files the tests write."""
import numpy as np
import pytest
import tifffile
from PIL import Image

from studio.segmentation.io import (GEO_TAGS, SegInputError, geo_tags, load_dataset, open_image, read_image,
                                    read_mask, to_display_rgb, write_mask_geotiff, write_mask_png)

MASK = np.zeros((6, 8), bool)
MASK[1:4, 2:6] = True


def test_three_mask_encodings(tmp_path):
    Image.fromarray(MASK.astype(np.uint8) * 255).save(tmp_path / "m255.png")
    tifffile.imwrite(tmp_path / "m01.tif", MASK.astype(np.uint8))
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[MASK] = (255, 0, 0)  # buildings red, the rest black
    rgb[1, 2] = (0, 0, 7)  # any non-black colour is a building
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    for name in ("m255.png", "m01.tif", "rgb.png"):
        mask = read_mask(tmp_path / name, (6, 8))
        assert mask.dtype == bool and np.array_equal(mask, MASK), name


def test_mask_problems_name_the_file(tmp_path):
    odd = MASK.astype(np.uint8) * 255
    odd[0, 0] = 128
    Image.fromarray(odd).save(tmp_path / "odd.png")
    with pytest.raises(SegInputError, match=r"odd\.png.*128"):
        read_mask(tmp_path / "odd.png")
    Image.fromarray(MASK.astype(np.uint8) * 255).save(tmp_path / "small.png")
    with pytest.raises(SegInputError, match=r"small\.png.*8×6.*10×6"):
        read_mask(tmp_path / "small.png", (6, 10, 3))


def test_unreadable_tiff(tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x07" * 40)
    with pytest.raises(SegInputError, match="broken.tif"):
        read_image(bad)
    (tmp_path / "text.tiff").write_text("not an image")
    with pytest.raises(SegInputError, match="text.tiff"):
        read_image(tmp_path / "text.tiff")
    with pytest.raises(SegInputError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_tiff_bands_depths_and_layouts(tmp_path):
    rng = np.random.default_rng(0)
    gray16 = rng.integers(0, 4096, (20, 30), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "g16.tif", gray16)
    img = read_image(tmp_path / "g16.tif")
    assert img.shape == (20, 30, 1) and img.dtype == np.uint16
    disp = to_display_rgb(img)
    assert disp.shape == (20, 30, 3) and disp.dtype == np.uint8 and disp.min() == 0 and disp.max() == 255
    four = rng.integers(0, 255, (4, 20, 30), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", four, planarconfig="separate", photometric="rgb",
                     extrasamples=["unspecified"])
    img = read_image(tmp_path / "planar.tif")
    assert img.shape == (20, 30, 4)
    assert np.array_equal(to_display_rgb(img), np.moveaxis(four[:3], 0, -1))
    rgb = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb)
    mm = open_image(tmp_path / "rgb.tif")  # uncompressed: memory-mapped
    assert isinstance(mm, np.memmap) and np.array_equal(mm, rgb)
    Image.fromarray(rgb).save(tmp_path / "rgb.jpg", quality=95)
    assert read_image(tmp_path / "rgb.jpg").shape == (20, 30, 3)


def test_geotiff_tags_survive_mask_export(tmp_path):
    geo = [(33550, "d", 3, (1.0, 1.0, 0.0), True),
           (33922, "d", 6, (0.0, 0.0, 0.0, 500000.0, 4600000.0, 0.0), True),
           (34735, "H", 16, (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 26919), True),
           (34736, "d", 1, (0.5,), True),
           (34737, "s", 0, "NAD83 / UTM zone 19N|", True)]
    src = tmp_path / "scene.tif"
    tifffile.imwrite(src, np.zeros((6, 8, 3), np.uint8), extratags=geo)
    write_mask_geotiff(tmp_path / "mask.tif", MASK, like=str(src))
    with tifffile.TiffFile(tmp_path / "mask.tif") as tif:
        tags = tif.pages[0].tags
        for code in GEO_TAGS:
            assert tags[code].value == tifffile.TiffFile(src).pages[0].tags[code].value
    assert np.array_equal(read_mask(tmp_path / "mask.tif"), MASK)
    assert {t[0] for t in geo_tags(tmp_path / "mask.tif")} == set(GEO_TAGS)
    write_mask_geotiff(tmp_path / "plain.tif", MASK, like=None)
    assert geo_tags(tmp_path / "plain.tif") == []
    write_mask_png(tmp_path / "mask.png", MASK)
    assert np.unique(np.asarray(Image.open(tmp_path / "mask.png"))).tolist() == [0, 255]


def _write_pair(img_dir, mask_dir, stem, size=(12, 16), mask_size=None, mask_ext=".png"):
    img_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), 90, np.uint8)).save(img_dir / f"{stem}.png")
    m = np.zeros(mask_size or size, np.uint8)
    m[2:5, 2:5] = 255
    Image.fromarray(m).save(mask_dir / f"{stem}{mask_ext}")


def test_massachusetts_layout_collects_problems(tmp_path):
    for split in ("train", "val", "test"):
        _write_pair(tmp_path / split, tmp_path / f"{split}_labels", f"{split}_a", mask_ext=".tif")
    _write_pair(tmp_path / "train", tmp_path / "train_labels", "wrong_size", mask_size=(10, 16))
    (tmp_path / "train" / "orphan.png").write_bytes((tmp_path / "train" / "train_a.png").read_bytes())
    ds = load_dataset(tmp_path)
    assert [s.name for s in ds.splits["train"]] == ["train_a"]
    assert len(ds.splits["val"]) == len(ds.splits["test"]) == 1
    assert any("wrong_size" in p and "16×10" in p for p in ds.problems)
    assert any("orphan.png" in p and "no mask" in p for p in ds.problems)
    assert "train 1" in ds.summary() and "2 problem" in ds.summary()


def test_image_and_mask_folders_by_stem(tmp_path):
    for k in range(3):
        _write_pair(tmp_path / "images", tmp_path / "masks", f"tile{k}")
    ds = load_dataset(tmp_path)
    assert list(ds.splits) == ["all"] and len(ds.splits["all"]) == 3
    with pytest.raises(SegInputError, match="no segmentation dataset"):
        load_dataset(tmp_path / "images")


def test_corrections_list_round_trip_drops_missing_files_and_reports_a_bad_list(tmp_path):
    from studio.segmentation.io import read_corrections, write_corrections

    image, mask, gone = tmp_path / "a.png", tmp_path / "a_corrected.png", tmp_path / "b_corrected.png"
    image.write_bytes(b"x")
    mask.write_bytes(b"x")
    folder = tmp_path / "corrections"
    write_corrections(folder, [(str(image), str(mask)), (str(image), str(gone))])
    pairs, problems = read_corrections(folder)
    assert pairs == [(str(image), str(mask))]
    assert len(problems) == 1 and str(gone) in problems[0]
    assert read_corrections(tmp_path / "nowhere") == ([], [])
    (folder / "corrections.json").write_text("{not json")
    pairs, problems = read_corrections(folder)
    assert pairs == [] and "not a corrections list" in problems[0]
