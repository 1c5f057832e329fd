"""Image and dataset loaders: formats, bit depths, CSV, and bad input that must not stop the rest."""
import numpy as np
import pytest
from PIL import Image

from studio.sem.io import (
    DatasetError,
    ImageLoadError,
    LoadProblem,
    SemDataset,
    load_dataset,
    load_image,
    probe_image,
    read_image,
)

RNG = np.random.default_rng(0)


def _u8(h=160, w=200):
    return RNG.integers(0, 256, (h, w), dtype=np.uint8)


def _u16(h=160, w=200):
    return RNG.integers(0, 65536, (h, w), dtype=np.uint16)


def _save(path, arr, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


# --------------------------------------------------------------------------- single images
def test_tiff_8_and_16_bit(tmp_path):
    a8, a16 = _u8(), _u16()
    p8 = _save(tmp_path / "a8.tif", a8)
    p16 = _save(tmp_path / "a16.tiff", a16)
    x8, x16 = load_image(p8), load_image(p16)
    assert x8.dtype == x16.dtype == np.float32 and x8.shape == (160, 200)
    assert np.allclose(x8, a8 / 255.0, atol=1e-7)
    assert np.allclose(x16, a16 / 65535.0, atol=1e-7)
    assert x16.min() >= 0 and x16.max() <= 1
    raw, scale = read_image(p16)
    assert raw.dtype == np.uint16 and scale == 65535.0 and np.array_equal(raw, a16)
    assert probe_image(p16).bit_depth == 16 and probe_image(p8).bit_depth == 8


def test_16_bit_png_and_big_endian_tiff(tmp_path):
    a16 = _u16()
    assert np.allclose(load_image(_save(tmp_path / "a.png", a16)), a16 / 65535.0, atol=1e-7)
    im = Image.frombytes("I;16B", (200, 160), a16.astype(">u2").tobytes())
    im.save(tmp_path / "be.tif")
    assert np.allclose(load_image(tmp_path / "be.tif"), a16 / 65535.0, atol=1e-7)


def test_multipage_tiff_first_page(tmp_path):
    pages = [_u16(140, 150) for _ in range(3)]
    ims = [Image.fromarray(p) for p in pages]
    path = tmp_path / "stack.tif"
    ims[0].save(path, save_all=True, append_images=ims[1:])
    assert probe_image(path).n_pages == 3
    assert np.allclose(load_image(path), pages[0] / 65535.0, atol=1e-7)


def test_rgb_png_to_gray(tmp_path):
    rgb = RNG.integers(0, 256, (150, 170, 3), dtype=np.uint8)
    path = _save(tmp_path / "rgb.png", rgb)
    gray = load_image(path)
    assert gray.shape == (150, 170)
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    assert np.abs(gray * 255 - luma).max() <= 1.0
    rgba = np.dstack([rgb, np.full((150, 170), 255, np.uint8)])
    assert np.allclose(load_image(_save(tmp_path / "rgba.png", rgba)), gray)


def test_jpeg_and_bmp(tmp_path):
    smooth = np.tile(np.linspace(0, 255, 180).astype(np.uint8), (140, 1))
    j = load_image(_save(tmp_path / "a.jpg", smooth, quality=95))
    assert j.shape == (140, 180) and np.abs(j * 255 - smooth).mean() < 2
    b = load_image(_save(tmp_path / "a.bmp", smooth))
    assert np.array_equal(np.rint(b * 255).astype(np.uint8), smooth)
    rgb_jpg = _save(tmp_path / "c.jpeg", np.dstack([smooth] * 3), quality=95)
    assert load_image(rgb_jpg).shape == (140, 180)


def test_float_tiff(tmp_path):
    a = RNG.random((130, 130)).astype(np.float32)
    assert np.allclose(load_image(_save(tmp_path / "f.tif", a)), a)
    b = a * 1000 - 5
    x = load_image(_save(tmp_path / "g.tif", b))
    assert x.min() == 0.0 and x.max() == pytest.approx(1.0)


def test_crop_bottom(tmp_path):
    a = _u8(200, 180)
    path = _save(tmp_path / "bar.png", a)
    x = load_image(path, crop_bottom=40)
    assert x.shape == (160, 180)
    assert np.allclose(x, a[:160] / 255.0)
    with pytest.raises(ImageLoadError, match="bar.png.*after cropping 80 bottom rows"):
        load_image(path, crop_bottom=80)
    with pytest.raises(ImageLoadError, match="leaves nothing"):
        load_image(path, crop_bottom=200)


def test_bad_single_images(tmp_path):
    small = _save(tmp_path / "small.png", _u8(100, 300))
    with pytest.raises(ImageLoadError) as err:
        load_image(small)
    assert "small.png" in str(err.value) and "300x100" in str(err.value)
    assert isinstance(err.value, ValueError) and err.value.path == small
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image\n")
    with pytest.raises(ImageLoadError, match="notes.png.*not a readable image"):
        load_image(fake)
    good = _save(tmp_path / "cut.png", _u8(256, 256))
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="cut.png.*truncated"):
        load_image(good)
    with pytest.raises(ImageLoadError, match="missing.tif.*not found"):
        load_image(tmp_path / "missing.tif")
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty.tif.*empty"):
        load_image(empty)


# --------------------------------------------------------------------------- datasets
def _make_folder_dataset(root):
    _save(root / "HNF" / "h1.png", _u8(128, 128))
    _save(root / "HNF" / "h2.tif", _u16(256, 256))  # 16-bit next to 8-bit, other size
    _save(root / "HNF" / "deeper" / "h3.bmp", _u8(300, 140))
    _save(root / "NHNF" / "n1.png", _u8(200, 256))
    _save(root / "NHNF" / "n2.jpg", _u8(256, 256))
    return root


def test_folder_dataset_mixed_sizes_and_depths(tmp_path):
    root = _make_folder_dataset(tmp_path / "ds")
    (root / "README.txt").write_text("top-level files are ignored")
    ds = load_dataset(root)
    assert isinstance(ds, SemDataset)
    assert ds.class_names == ["HNF", "NHNF"]
    assert len(ds) == 5 and ds.labels.tolist() == [0, 0, 0, 1, 1]
    assert ds.class_counts() == {"HNF": 3, "NHNF": 2}
    assert ds.problems == []
    assert sorted(set(ds.bit_depths)) == [8, 16]
    names = [p.name for p in ds.paths]
    i2, i3 = names.index("h2.tif"), names.index("h3.bmp")
    assert ds.sizes[i2] == (256, 256) and ds.sizes[i3] == (300, 140) and ds.bit_depths[i2] == 16
    assert ds.relative_path(i3) == "HNF/deeper/h3.bmp"
    x = ds.image(i2)
    assert x.dtype == np.float32 and x.shape == (256, 256) and x.max() <= 1.0
    ds.clear_cache()
    assert np.array_equal(ds.image(i2), x)
    assert "5 images" in ds.summary()


def test_bad_files_are_reported_and_the_rest_loads(tmp_path):
    root = _make_folder_dataset(tmp_path / "ds")
    cut = _save(root / "NHNF" / "cut.png", _u8(256, 256))
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    (root / "NHNF" / "fake.png").write_bytes(b"GIF? no, just text pretending to be a PNG")
    _save(root / "HNF" / "tiny.tif", _u8(64, 64))
    (root / "HNF" / "zero.bmp").write_bytes(b"")
    (root / "HNF" / "notes.txt").write_text("operator notes")
    ds = load_dataset(root)
    assert len(ds) == 5  # the good ones
    msgs = {p.path.name: p.message for p in ds.problems}
    assert all(isinstance(p, LoadProblem) for p in ds.problems)
    assert "truncated" in msgs["cut.png"] and "NHNF/cut.png" in msgs["cut.png"]
    assert "not a readable image" in msgs["fake.png"] and "fake.png" in msgs["fake.png"]
    assert "smaller than the 128x128" in msgs["tiny.tif"] and "64x64" in msgs["tiny.tif"]
    assert "empty" in msgs["zero.bmp"]
    assert "notes.txt" in msgs["HNF"]  # unsupported file listed once per class folder
    assert ds.image([p.name for p in ds.paths].index("n1.png")).shape == (200, 256)


def test_verify_false_defers_decoding(tmp_path):
    root = _make_folder_dataset(tmp_path / "ds")
    cut = _save(root / "NHNF" / "z_cut.png", _u8(256, 256))
    cut.write_bytes(cut.read_bytes()[:300])
    ds = load_dataset(root, verify=False)
    assert len(ds) == 6
    with pytest.raises(ImageLoadError, match="z_cut.png"):
        ds.image(5)


def test_empty_and_single_class_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty"):
        load_dataset(tmp_path / "empty")
    one = tmp_path / "one"
    _save(one / "HNF" / "a.png", _u8())
    _save(one / "HNF" / "b.png", _u8())
    with pytest.raises(DatasetError, match="two classes") as err:
        load_dataset(one)
    assert "one" in str(err.value) and "'HNF'" in str(err.value)
    assert isinstance(err.value, ValueError)
    # the second class exists but none of its files can be used: the problems say which
    (one / "NHNF").mkdir()
    (one / "NHNF" / "broken.tif").write_text("no")
    with pytest.raises(DatasetError) as err:
        load_dataset(one)
    assert any("broken.tif" in p.message for p in err.value.problems)
    # images but no class folders
    flat = tmp_path / "flat"
    _save(flat / "a.png", _u8())
    with pytest.raises(DatasetError, match="sub-folder"):
        load_dataset(flat)
    with pytest.raises(DatasetError, match="no such"):
        load_dataset(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="single image"):
        load_dataset(flat / "a.png")


def test_empty_class_folder_is_reported(tmp_path):
    root = _make_folder_dataset(tmp_path / "ds")
    (root / "OTHER").mkdir()
    ds = load_dataset(root)
    assert ds.class_names == ["HNF", "NHNF"]
    assert any("OTHER" in p.message and "no image files" in p.message for p in ds.problems)


def test_csv_dataset(tmp_path):
    root = _make_folder_dataset(tmp_path / "ds")
    (root / "lists").mkdir()
    (root / "lists" / "with_header.csv").write_text(
        "path,label\n../HNF/h1.png,HNF\n../HNF/h2.tif,HNF\n../NHNF/n1.png,NHNF\n"
        "../NHNF/missing.png,NHNF\n../NHNF/n2.jpg\n\n")
    ds = load_dataset(root / "lists" / "with_header.csv")
    assert ds.source == "csv" and len(ds) == 3
    assert ds.class_names == ["HNF", "NHNF"] and ds.labels.tolist() == [0, 0, 1]
    msgs = " | ".join(p.message for p in ds.problems)
    assert "missing.png" in msgs and "not found" in msgs
    assert "line 6" in msgs  # the row without a label
    absolute = root / "HNF" / "h1.png"
    (root / "plain.csv").write_text(f"{absolute};0\nNHNF/n1.png;1\nHNF/h2.tif;0\n")
    ds2 = load_dataset(root / "plain.csv")
    assert len(ds2) == 3 and ds2.class_names == ["0", "1"] and ds2.labels.tolist() == [0, 1, 0]
    assert np.array_equal(ds2.image(0), load_image(absolute))
    (root / "one.csv").write_text("HNF/h1.png,HNF\n")
    with pytest.raises(DatasetError, match="two classes"):
        load_dataset(root / "one.csv")
    (root / "empty.csv").write_text("")
    with pytest.raises(DatasetError, match="no rows"):
        load_dataset(root / "empty.csv")


def test_dataset_crop_bottom(tmp_path):
    root = tmp_path / "ds"
    _save(root / "A" / "a.png", _u8(200, 200))
    _save(root / "B" / "b.png", _u8(140, 200))
    _save(root / "B" / "c.png", _u8(300, 200))
    ds = load_dataset(root, crop_bottom=30)
    assert ds.sizes == [(170, 200), (270, 200)]
    assert any("b.png" in p.message and "after cropping 30" in p.message for p in ds.problems)
    (root / "B" / "c.png").unlink()
    # b.png becomes 110 rows: too small, reported; only one class left -> error
    with pytest.raises(DatasetError) as err:
        load_dataset(root, crop_bottom=30)
    assert any("b.png" in p.message and "after cropping 30" in p.message for p in err.value.problems)
