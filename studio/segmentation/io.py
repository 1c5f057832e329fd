"""Aerial images, building masks and segmentation datasets.

Images
------
- GeoTIFF / TIFF, read with ``tifffile`` (first page / first series): 8- or 16-bit
  integer or float, 1 to 4 bands, chunky (H×W×C) or planar (C×H×W) layout.
- PNG and JPEG (and BMP), read with Pillow; palette, grey+alpha and 16-bit PNGs
  are handled.
- :func:`read_image` returns H×W×C (C = 1..4) in the file's dtype (uint8, uint16 or
  float32).  :func:`open_image` returns the same but, for an uncompressed TIFF,
  as a read-only memory map, so a 10,000×10,000 image is segmented tile by tile
  without being loaded (:mod:`studio.segmentation.tiling`).
- :func:`to_display_rgb` makes an 8-bit RGB view: 8-bit data as is, 16-bit and float
  data with a 2–98 % percentile stretch per band; one band becomes grey RGB; four
  bands show the first three.

Masks
-----
:func:`read_mask` accepts three encodings and returns a boolean building mask:
single-band 0/255, single-band 0/1, or RGB(A) with buildings non-black (any
colour channel > 0).  A single-band mask with other values (e.g. 0/128/255 or a
JPEG-compressed mask) is refused with a message listing the values found, and
so is a mask whose size differs from its image.

Masks are written as 0/255 PNG (:func:`write_mask_png`) or as 8-bit GeoTIFF
(:func:`write_mask_geotiff`) that copies the georeferencing tags of the source
image (ModelPixelScale 33550, ModelTiepoint 33922, GeoKeyDirectory 34735,
GeoDoubleParams 34736, GeoAsciiParams 34737) when it had them.

Datasets
--------
:func:`load_dataset` finds, without extra flags:

- the Massachusetts Buildings layout: ``train/``, ``val/`` (or ``valid/``) and
  ``test/`` image folders with ``train_labels/``, ``val_labels/``, ``test_labels/``
  mask folders (also one level down, e.g. ``tiff/train``), masks matched by file
  stem (``22678915_15.tiff`` ↔ ``22678915_15.tif``);
- an image folder plus a mask folder matched by stem: ``images/`` + ``masks/``
  (also ``image(s)``/``img``/``rgb`` with ``mask(s)``/``label(s)``/``gt``); such a
  dataset has the single split ``"all"`` (the training job splits it by image).

Bad files never stop the loading: an image that cannot be read, a mask that is
missing, of a different size or with unexpected values becomes a line in
``SegDataset.problems`` naming the file and the problem, and the rest loads.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.engine.jobs import UserError

IMAGE_EXTENSIONS = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")
TIFF_EXTENSIONS = (".tif", ".tiff")
GEO_TAGS = (33550, 33922, 34735, 34736, 34737)
SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {"train": ("train", "training"), "val": ("val", "valid", "validation"), "test": ("test", "testing")}
_IMAGE_DIRS = ("images", "image", "imgs", "img", "rgb", "sat")
_MASK_DIRS = ("masks", "mask", "labels", "label", "gt", "groundtruth", "annotations")


class SegInputError(UserError):
    """An image, mask or dataset that cannot be used; the message names the file and the problem."""


# ------------------------------------------------------------------- images
def _as_hwc(arr: np.ndarray, path) -> np.ndarray:
    if arr.ndim == 2:
        return arr[:, :, None]
    if arr.ndim == 3:
        if arr.shape[-1] <= 4:
            return arr
        if arr.shape[0] <= 4:  # planar C×H×W
            return np.moveaxis(arr, 0, -1)
    raise SegInputError(f"{path}: an image of shape {arr.shape} is not 1 to 4 bands of H×W pixels")


def _check_dtype(arr: np.ndarray, path) -> np.ndarray:
    if arr.dtype in (np.uint8, np.uint16, np.float32):
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind == "f":
        return arr.astype(np.float32)
    if arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            return arr.astype(np.float32)
        return arr.astype(np.uint16)
    raise SegInputError(f"{path}: pixel type {arr.dtype} is not supported (8/16-bit integer or float)")


def _read_tiff(path: Path, memmap: bool = False) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.pages:
                raise SegInputError(f"{path}: the TIFF has no image")
            page = tif.pages[0]
            if memmap and page.is_contiguous and page.compression == 1:
                try:
                    arr = tifffile.memmap(path, page=0, mode="r")
                except (ValueError, OSError):
                    arr = page.asarray()
            else:
                arr = page.asarray()
    except SegInputError:
        raise
    except Exception as exc:  # tifffile raises many kinds on corrupt files
        raise SegInputError(f"{path}: not a readable TIFF ({exc})") from None
    return arr


def _read_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode in ("LA", "PA"):
                im = im.convert("L")
            elif im.mode in ("CMYK", "YCbCr", "HSV", "LAB"):
                im = im.convert("RGB")
            elif im.mode == "1":
                im = im.convert("L")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SegInputError(f"{path}: not a readable image ({exc})") from None
    if arr.dtype == np.int32 and arr.size and arr.min() >= 0 and arr.max() <= 65535:  # 16-bit PNG via mode I
        arr = arr.astype(np.uint16)
    return arr


def open_image(path, memmap: bool = True) -> np.ndarray:
    """H×W×C image; an uncompressed chunky TIFF comes back as a read-only memory map."""
    path = Path(path)
    if not path.is_file():
        raise SegInputError(f"{path}: file not found")
    if path.suffix.lower() in TIFF_EXTENSIONS:
        arr = _read_tiff(path, memmap=memmap)
    else:
        arr = _read_pillow(path)
    arr = _as_hwc(arr, path)
    if isinstance(arr, np.memmap) and arr.dtype in (np.uint8, np.uint16, np.float32):
        return arr
    arr = _check_dtype(np.asarray(arr), path)
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise SegInputError(f"{path}: the image is empty")
    return arr


def read_image(path) -> np.ndarray:
    """H×W×C (C 1..4) uint8/uint16/float32 pixels of the first page, loaded into memory."""
    return np.ascontiguousarray(open_image(path, memmap=False))


def value_range(image: np.ndarray, low: float = 2.0, high: float = 98.0, max_samples: int = 1_000_000):
    """Per-band (lo, hi) for scaling: 0/255 for 8-bit, else percentiles of a strided subsample."""
    c = image.shape[2] if image.ndim == 3 else 1
    if image.dtype == np.uint8:
        return np.zeros(c, np.float32), np.full(c, 255.0, np.float32)
    h, w = image.shape[:2]
    step = max(1, int(np.sqrt(h * w / max_samples)))
    sub = np.asarray(image[::step, ::step], dtype=np.float32).reshape(-1, c)
    sub = sub[np.isfinite(sub).all(axis=1)]
    if sub.size == 0:
        return np.zeros(c, np.float32), np.ones(c, np.float32)
    lo = np.percentile(sub, low, axis=0).astype(np.float32)
    hi = np.percentile(sub, high, axis=0).astype(np.float32)
    hi = np.where(hi > lo, hi, lo + 1.0).astype(np.float32)
    return lo, hi


def to_display_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 H×W×3 for display: 2–98 % stretch for 16-bit/float, grey→RGB, first three of 4 bands."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    img = img[:, :, :3]
    if img.dtype != np.uint8:
        lo, hi = value_range(img)
        img = np.clip((img.astype(np.float32) - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] == 2:
        img = np.concatenate([img, img[:, :, :1]], axis=2)
    return np.ascontiguousarray(img)


# -------------------------------------------------------------------- masks
def mask_from_array(arr: np.ndarray, path="mask") -> np.ndarray:
    """Boolean building mask from 0/255, 0/1 or RGB-non-black encodings (see the module docstring)."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3:
        if arr.shape[2] not in (2, 3, 4):
            raise SegInputError(f"{path}: a mask with {arr.shape[2]} bands; expected one band or RGB")
        colour = arr[:, :, :3] if arr.shape[2] >= 3 else arr[:, :, :1]
        return np.any(colour > 0, axis=2)
    if arr.ndim != 2:
        raise SegInputError(f"{path}: a mask of shape {arr.shape} is not an H×W image")
    if arr.dtype == np.bool_:
        return arr.copy()
    if arr.dtype == np.uint8:
        values = np.flatnonzero(np.bincount(arr.ravel(), minlength=256))
    else:
        values = np.unique(arr)
    allowed = ({0, 255}, {0, 1})
    vals = set(values.tolist())
    if not any(vals <= a for a in allowed):
        shown = ", ".join(str(v) for v in sorted(vals)[:8]) + (" …" if len(vals) > 8 else "")
        raise SegInputError(f"{path}: mask values {shown} are not 0/255 or 0/1 "
                            f"(save building masks losslessly, e.g. PNG, as 0/255 or 0/1, or as RGB with "
                            f"buildings non-black)")
    return arr > 0


def read_mask(path, shape=None) -> np.ndarray:
    """Boolean H×W building mask; ``shape`` (H, W[, C]) of the image it belongs to is checked."""
    path = Path(path)
    arr = open_image(path, memmap=False)
    mask = mask_from_array(arr, path)
    if shape is not None and tuple(mask.shape) != tuple(shape[:2]):
        raise SegInputError(f"{path}: mask is {mask.shape[1]}×{mask.shape[0]} pixels but its image is "
                            f"{shape[1]}×{shape[0]}")
    return mask


def write_mask_png(path, mask: np.ndarray) -> None:
    """0/255 8-bit PNG."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(mask, dtype=bool).astype(np.uint8) * 255).save(path, optimize=False)


CORRECTIONS_LIST = "corrections.json"


def write_corrections(folder, pairs: list[tuple[str, str]]) -> Path:
    """Record the (image, corrected mask) pairs of a corrections folder in ``corrections.json``.

    The list is what Retrain trains on; keeping it beside the masks lets the
    workbench restore it when the same dataset is opened again.  Written to a
    temporary file first and then renamed, so a crash never leaves half a list.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / CORRECTIONS_LIST
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([{"image": str(i), "mask": str(m)} for i, m in pairs], indent=1))
    os.replace(tmp, target)
    return target


def read_corrections(folder) -> tuple[list[tuple[str, str]], list[str]]:
    """The pairs recorded by :func:`write_corrections` whose two files still exist, and a message per dropped one.

    A missing list is an empty one; an unreadable list is reported, never raised.
    """
    path = Path(folder) / CORRECTIONS_LIST
    if not path.is_file():
        return [], []
    try:
        rows = json.loads(path.read_text())
        pairs = [(str(r["image"]), str(r["mask"])) for r in rows]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return [], [f"{path}: not a corrections list ({exc}); the corrected masks beside it are kept"]
    kept, problems = [], []
    for image, mask in pairs:
        missing = [f for f in (image, mask) if not os.path.isfile(f)]
        if missing:
            problems.append(f"{path}: correction of {Path(image).name} dropped, {missing[0]} no longer exists")
        else:
            kept.append((image, mask))
    return kept, problems


def geo_tags(path) -> list[tuple]:
    """The GeoTIFF tags of ``path``'s first page as ``tifffile`` extratags (empty when none)."""
    import tifffile

    path = Path(path)
    if path.suffix.lower() not in TIFF_EXTENSIONS or not path.is_file():
        return []
    try:
        with tifffile.TiffFile(path) as tif:
            tags = tif.pages[0].tags
            out = []
            for code in GEO_TAGS:
                tag = tags.get(code)
                if tag is None:
                    continue
                value = tag.value
                if isinstance(value, bytes):
                    value = value.decode("ascii", "replace")
                out.append((code, int(tag.dtype), tag.count, value, True))
            return out
    except Exception as exc:  # noqa: BLE001
        raise SegInputError(f"{path}: cannot read its GeoTIFF tags ({exc})") from None


def write_mask_geotiff(path, mask: np.ndarray, like: str | None = None) -> None:
    """0/255 8-bit TIFF; with ``like``, the georeferencing tags of that image are copied."""
    import tifffile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extratags = geo_tags(like) if like else []
    data = np.asarray(mask, dtype=bool).astype(np.uint8) * 255
    tifffile.imwrite(path, data, photometric="minisblack", compression="zlib", extratags=extratags)


# ----------------------------------------------------------------- datasets
@dataclass
class SegSample:
    name: str
    image: Path
    mask: Path | None


@dataclass
class SegDataset:
    root: Path
    splits: dict[str, list[SegSample]]
    problems: list[str] = field(default_factory=list)
    layout: str = ""

    def summary(self) -> str:
        parts = [f"{name} {len(samples)}" for name, samples in self.splits.items()]
        unlabelled = sum(1 for s in self.samples() if s.mask is None)
        text = f"{self.layout or 'dataset'}: " + ", ".join(parts) + " images"
        if unlabelled:
            text += f" ({unlabelled} without mask)"
        if self.problems:
            text += f", {len(self.problems)} problem(s)"
        return text

    def samples(self, split: str | None = None) -> list[SegSample]:
        if split is not None:
            return list(self.splits.get(split, []))
        return [s for samples in self.splits.values() for s in samples]


def _images_in(folder: Path) -> dict[str, Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                   and not p.name.startswith("."))
    out: dict[str, Path] = {}
    for p in files:
        out.setdefault(p.stem, p)
    return out


def _find_child(folder: Path, names) -> Path | None:
    children = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
    for n in names:
        if n in children:
            return children[n]
    return None


def _pair(image_dir: Path, mask_dir: Path | None, problems: list[str], check: bool) -> list[SegSample]:
    images = _images_in(image_dir)
    masks = _images_in(mask_dir) if mask_dir is not None else {}
    out = []
    for stem, img in images.items():
        mask = masks.get(stem)
        if mask is None:
            for suffix in ("_mask", "_label", "_labels", "_gt"):
                mask = masks.get(stem + suffix)
                if mask is not None:
                    break
        if mask_dir is not None and mask is None:
            problems.append(f"{img}: no mask with the same name in {mask_dir}")
            continue
        if check:
            problem = _check_pair(img, mask)
            if problem:
                problems.append(problem)
                continue
        out.append(SegSample(stem, img, mask))
    return out


def _image_shape(path: Path) -> tuple[int, int]:
    """(H, W) from the header, without decoding pixels."""
    if path.suffix.lower() in TIFF_EXTENSIONS:
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                return tuple(_as_hwc(np.empty(page.shape, np.uint8), path).shape[:2])
        except SegInputError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise SegInputError(f"{path}: not a readable TIFF ({exc})") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except (UnidentifiedImageError, OSError) as exc:
        raise SegInputError(f"{path}: not a readable image ({exc})") from None


def _check_pair(image: Path, mask: Path | None) -> str | None:
    try:
        shape = _image_shape(image)
        if mask is not None:
            read_mask(mask, shape)
    except SegInputError as exc:
        return str(exc)
    return None


def load_dataset(root, check: bool = True) -> SegDataset:
    """Find the images and masks under ``root`` (layouts in the module docstring).

    ``check`` reads every image header and every mask (size and values) so bad pairs
    are reported now; they are left out and listed in ``problems``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise SegInputError(f"{root}: not a folder")
    problems: list[str] = []
    for base in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        split_dirs = {}
        for split, aliases in _SPLIT_ALIASES.items():
            d = _find_child(base, aliases)
            if d is not None:
                split_dirs[split] = d
        if split_dirs:
            splits = {}
            for split, d in split_dirs.items():
                labels = _find_child(base, [f"{a}_labels" for a in _SPLIT_ALIASES[split]]
                                     + [f"{a}_masks" for a in _SPLIT_ALIASES[split]])
                sub_img, sub_mask = _find_child(d, _IMAGE_DIRS), _find_child(d, _MASK_DIRS)
                if labels is None and sub_img is not None:  # train/images + train/masks
                    splits[split] = _pair(sub_img, sub_mask, problems, check)
                else:
                    if labels is None:
                        problems.append(f"{d}: no {d.name}_labels folder next to it; its images have no masks")
                    splits[split] = _pair(d, labels, problems, check)
            if any(splits.values()):
                return SegDataset(root, splits, problems, layout="Massachusetts layout")
        img_dir, mask_dir = _find_child(base, _IMAGE_DIRS), _find_child(base, _MASK_DIRS)
        if img_dir is not None and mask_dir is not None:
            samples = _pair(img_dir, mask_dir, problems, check)
            if samples:
                return SegDataset(root, {"all": samples}, problems, layout="image + mask folders")
    detail = ("; problems: " + "; ".join(problems[:3])) if problems else ""
    raise SegInputError(f"{root}: no segmentation dataset found (expected train/ val/ test/ with *_labels/ "
                        f"folders, or images/ and masks/ folders with matching file names){detail}")
