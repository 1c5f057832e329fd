"""Loading SEM images and SEM datasets.

Images
------
TIFF (8- and 16-bit; multi-page files give their first page), PNG (8/16-bit),
JPEG and BMP, read with Pillow.  Greyscale is used as is; RGB(A), palette and
other colour modes are converted to grey with Pillow's ITU-R 601-2 luma
(L = 0.299 R + 0.587 G + 0.114 B).  Values are normalised to float32 in [0, 1]:
8-bit / 255, 16-bit / 65535 (Pillow modes ``I;16``, ``I;16B``, ``I;16L``; 32-bit
integer images whose values fit 0..65535, e.g. some 16-bit PNG writers, count as
16-bit).  Float TIFFs are kept when they already lie in [0, 1], otherwise
min-max normalised.  Images must be at least 128x128 (one patch of the paper)
after the optional ``crop_bottom`` that removes the instrument's info bar.

Datasets
--------
``load_dataset(path)`` accepts

* a folder with one sub-folder per class (class names = folder names, sorted;
  nested folders inside a class folder are searched too), or
* a CSV file of ``path,label`` rows (header optional; ``,`` ``;`` or tab;
  relative paths are resolved against the CSV's folder).

Bad files do not stop the loading: every unreadable, truncated, non-image or too
small file becomes a :class:`LoadProblem` naming the file and the problem, and
the rest of the dataset loads.  :class:`DatasetError` is raised only when nothing
usable remains: an empty folder, no class sub-folders, or fewer than two classes
with usable images.

Memory
------
A dataset holds paths, labels and validated sizes; pixels are loaded on demand
(:meth:`SemDataset.image`, :meth:`SemDataset.raw`) and kept in their original
integer type (uint8 / uint16) in a byte-bounded LRU cache (256 MiB by default:
the paper's 160 images of 1024x1024 at 8 bit take 160 MiB and stay in memory;
as float32 they would take 640 MiB).  Conversion to float32 happens per patch
batch (:class:`studio.sem.patches.PatchSet`).  By default ``load_dataset``
decodes every image once while validating (that is the only way to find
truncated files up front) and fills the cache on the way; ``verify=False``
reads only the headers, and truncated files then fail when first used.
"""
from __future__ import annotations

import csv
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "MIN_SIZE",
    "ImageLoadError",
    "DatasetError",
    "LoadProblem",
    "ImageInfo",
    "SemDataset",
    "read_image",
    "load_image",
    "probe_image",
    "load_dataset",
]

SUPPORTED_EXTENSIONS = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")
#: Smallest accepted side: one 128x128 patch of the paper.
MIN_SIZE = 128
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024

_HEADER_PATH = {"path", "file", "filename", "file_name", "filepath", "image", "image_path", "img"}
_HEADER_LABEL = {"label", "class", "class_name", "category", "target", "y"}


class ImageLoadError(ValueError):
    """An image file could not be used; the message names the file and the problem."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DatasetError(ValueError):
    """Nothing usable remains of a dataset (empty folder, fewer than two classes...).

    ``problems`` holds the per-file problems found on the way.
    """

    def __init__(self, message: str, problems: Iterable["LoadProblem"] = ()):
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class LoadProblem:
    """One file (or folder) that was skipped; ``message`` names it and says why."""

    path: Path
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ImageInfo:
    """What is known about an image file after validation (sizes after cropping)."""

    path: Path
    height: int
    width: int
    bit_depth: int  # 8, 16, or 32 for float images
    mode: str  # Pillow mode of the first page
    n_pages: int
    full_height: int  # before crop_bottom


# --------------------------------------------------------------------------- images
def _to_array(im) -> tuple[np.ndarray, float, int]:
    """Pillow image -> (2-D array uint8/uint16/float32, scale, bit depth)."""
    mode = im.mode
    if mode == "L":
        return np.asarray(im, dtype=np.uint8), 255.0, 8
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im).astype(np.uint16), 65535.0, 16
    if mode == "I":
        a = np.asarray(im)
        lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise ValueError(f"32-bit integer pixels outside 0..65535 (min {lo}, max {hi}) are not supported")
        return a.astype(np.uint16), 65535.0, 16
    if mode == "F":
        a = np.asarray(im, dtype=np.float32)
        if not np.isfinite(a).all():
            raise ValueError("float image contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:
            a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        return np.ascontiguousarray(a, dtype=np.float32), 1.0, 32
    if mode in ("LA", "La"):
        return np.asarray(im.getchannel(0), dtype=np.uint8), 255.0, 8
    if mode in ("1", "P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr"):
        return np.asarray(im.convert("L"), dtype=np.uint8), 255.0, 8
    try:
        return np.asarray(im.convert("RGB").convert("L"), dtype=np.uint8), 255.0, 8
    except Exception as exc:  # noqa: BLE001 - any Pillow failure is "unsupported"
        raise ValueError(f"unsupported pixel format {mode!r}") from exc


def _open_decode(path: Path, decode: bool):
    """Open with Pillow; returns (array or None, scale, bit_depth, mode, n_pages, (w, h))."""
    from PIL import Image, UnidentifiedImageError

    try:
        size_bytes = path.stat().st_size
    except FileNotFoundError:
        raise ImageLoadError(path, "file not found") from None
    except OSError as exc:
        raise ImageLoadError(path, f"cannot access file ({exc.strerror or exc})") from None
    if path.is_dir():
        raise ImageLoadError(path, "is a folder, not an image file")
    if size_bytes == 0:
        raise ImageLoadError(path, "file is empty (0 bytes)")
    try:
        with Image.open(path) as im:
            n_pages = int(getattr(im, "n_frames", 1) or 1)
            if n_pages > 1:
                im.seek(0)
            mode, wh = im.mode, im.size
            if not decode:
                return None, 0.0, 0, mode, n_pages, wh
            im.load()
            arr, scale, depth = _to_array(im)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        ext = path.suffix.lower() or "(no extension)"
        raise ImageLoadError(path, f"not a readable image: the contents are not a known image format "
                                   f"(extension {ext}); the file may be corrupt or mislabelled") from None
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(path, f"image is too large to open safely ({exc})") from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc)
        if "truncated" in text.lower() or isinstance(exc, EOFError):
            raise ImageLoadError(path, f"image file is truncated or incomplete ({text or 'unexpected end of file'})") from None
        raise ImageLoadError(path, f"cannot decode image ({text or type(exc).__name__})") from None
    if arr.ndim != 2:
        raise ImageLoadError(path, f"unexpected pixel array shape {arr.shape}")
    return arr, scale, depth, mode, n_pages, wh


def _check_size(path: Path, h: int, w: int, crop_bottom: int, min_size: int) -> int:
    if crop_bottom < 0:
        raise ValueError(f"crop_bottom must be >= 0, got {crop_bottom}")
    hc = h - crop_bottom
    if hc <= 0:
        raise ImageLoadError(path, f"cropping {crop_bottom} bottom rows leaves nothing of a {w}x{h} image")
    if min_size and (hc < min_size or w < min_size):
        crop = f" after cropping {crop_bottom} bottom rows" if crop_bottom else ""
        raise ImageLoadError(path, f"image is {w}x{hc} px{crop}, smaller than the {min_size}x{min_size} minimum "
                                   f"(one patch)")
    return hc


def read_image(path: Path | str, crop_bottom: int = 0, *, min_size: int = MIN_SIZE) -> tuple[np.ndarray, float]:
    """Raw pixels of the first page: ``(array, scale)``, grey, 2-D.

    ``array`` is uint8, uint16 or float32 and ``array / scale`` is the image in
    [0, 1].  Raises :class:`ImageLoadError` naming the file.
    """
    arr, scale, _, _ = _read(Path(path), crop_bottom, min_size)
    return arr, scale


def _read(path: Path, crop_bottom: int, min_size: int):
    arr, scale, depth, mode, n_pages, (w, h) = _open_decode(path, decode=True)
    hc = _check_size(path, arr.shape[0], arr.shape[1], crop_bottom, min_size)
    if crop_bottom:
        arr = np.ascontiguousarray(arr[:hc])
    info = ImageInfo(path, hc, arr.shape[1], depth, mode, n_pages, h)
    return arr, scale, depth, info


def load_image(path: Path | str, crop_bottom: int = 0, *, min_size: int = MIN_SIZE) -> np.ndarray:
    """The image as float32 in [0, 1], shape (height - crop_bottom, width).

    Raises :class:`ImageLoadError` (a ValueError) naming the file and the problem.
    """
    arr, scale = read_image(path, crop_bottom, min_size=min_size)
    out = arr.astype(np.float32)
    if scale != 1.0:
        out *= np.float32(1.0 / scale)
    return out


def probe_image(path: Path | str, crop_bottom: int = 0, *, min_size: int = MIN_SIZE,
                decode: bool = True) -> ImageInfo:
    """Validate an image file; ``decode=False`` reads only the header (fast, misses truncation)."""
    path = Path(path)
    if decode:
        return _read(path, crop_bottom, min_size)[3]
    _, _, _, mode, n_pages, (w, h) = _open_decode(path, decode=False)
    hc = _check_size(path, h, w, crop_bottom, min_size)
    depth = 16 if mode.startswith("I") else 32 if mode == "F" else 8
    return ImageInfo(path, hc, w, depth, mode, n_pages, h)


# --------------------------------------------------------------------------- cache
class _RawCache:
    """Thread-safe LRU of raw pixel arrays, bounded in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._data: OrderedDict[int, tuple[np.ndarray, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: int):
        with self._lock:
            item = self._data.get(key)
            if item is not None:
                self._data.move_to_end(key)
            return item

    def put(self, key: int, item: tuple[np.ndarray, float]) -> None:
        nbytes = item[0].nbytes
        if nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[0].nbytes
            self._data[key] = item
            self._bytes += nbytes
            while self._bytes > self.max_bytes and self._data:
                _, (a, _) = self._data.popitem(last=False)
                self._bytes -= a.nbytes

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes


# --------------------------------------------------------------------------- dataset
@dataclass
class SemDataset:
    """Image paths with integer labels; pixels are loaded on demand (see module doc).

    ``labels[i]`` indexes ``class_names``; ``sizes[i]`` is (height, width) after
    ``crop_bottom``; ``problems`` lists the files that were skipped.
    """

    root: Path
    paths: list[Path]
    labels: np.ndarray
    class_names: list[str]
    problems: list[LoadProblem] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    bit_depths: list[int] = field(default_factory=list)
    crop_bottom: int = 0
    source: str = "folder"  # "folder" or "csv"
    cache_bytes: int = DEFAULT_CACHE_BYTES
    #: per image, the annotated representative patch (row-major grid index) or None
    representative: list = field(default_factory=list)
    _cache: _RawCache = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self._cache = _RawCache(self.cache_bytes)

    def __len__(self) -> int:
        return len(self.paths)

    def raw(self, i: int) -> tuple[np.ndarray, float]:
        """Pixels of image ``i`` in their stored type and the scale to [0, 1]."""
        item = self._cache.get(i)
        if item is None:
            item = read_image(self.paths[i], self.crop_bottom)
            self._cache.put(i, item)
        return item

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` as float32 in [0, 1]."""
        arr, scale = self.raw(i)
        out = arr.astype(np.float32)
        if scale != 1.0:
            out *= np.float32(1.0 / scale)
        return out

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def relative_path(self, i: int) -> str:
        return _rel(self.paths[i], self.root)

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.class_counts().items())
        sizes = sorted(set(self.sizes))
        size_txt = (f"{sizes[0][1]}x{sizes[0][0]}" if len(sizes) == 1 else f"{len(sizes)} different sizes")
        depths = "/".join(str(d) for d in sorted(set(self.bit_depths))) or "?"
        prob = f", {len(self.problems)} problem(s)" if self.problems else ""
        return (f"{len(self)} images, {len(self.class_names)} classes ({counts}), {size_txt}, "
                f"{depths}-bit{prob}")

    def clear_cache(self) -> None:
        self._cache.clear()


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _hidden(path: Path, base: Path) -> bool:
    try:
        parts = path.relative_to(base).parts
    except ValueError:
        parts = path.parts
    return any(p.startswith(".") for p in parts) or path.name.lower() in ("thumbs.db", "desktop.ini")


def load_dataset(
    path: Path | str,
    crop_bottom: int = 0,
    *,
    min_size: int = MIN_SIZE,
    verify: bool = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> SemDataset:
    """Load a folder-per-class dataset or a ``path,label`` CSV (see module doc).

    Per-file problems are collected in ``dataset.problems``; raises
    :class:`DatasetError` only when fewer than two classes with usable images
    remain.  ``progress(done, total)`` is called while validating images.
    """
    path = Path(path).expanduser()
    if crop_bottom < 0:
        raise ValueError(f"crop_bottom must be >= 0, got {crop_bottom}")
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() in SUPPORTED_EXTENSIONS:
            raise DatasetError(f"{path}: is a single image; a dataset is a folder with one sub-folder per "
                               f"class, or a CSV of path,label")
        root, items, problems = path.parent, *_csv_items(path)
        source = "csv"
    else:
        root = path
        items, problems = _folder_items(path)
        source = "folder"
    return _validate(root, items, problems, crop_bottom, min_size, verify, cache_bytes, progress, source, path)


def _folder_items(root: Path) -> tuple[list[tuple[Path, str]], list[LoadProblem]]:
    problems: list[LoadProblem] = []
    try:
        entries = sorted(root.iterdir())
    except OSError as exc:
        raise DatasetError(f"{root}: cannot list folder ({exc.strerror or exc})") from None
    subdirs = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    top_images = [e for e in entries if e.is_file() and e.suffix.lower() in SUPPORTED_EXTENSIONS]
    if not subdirs:
        if top_images:
            raise DatasetError(
                f"{root}: found {len(top_images)} image(s) but no class sub-folders; put the images of "
                f"each class in their own sub-folder (e.g. {root.name}/HNF/ and {root.name}/NHNF/)")
        raise DatasetError(f"{root}: the folder is empty (no class sub-folders with images)")
    if top_images:
        problems.append(LoadProblem(root, f"{len(top_images)} image(s) directly in {root.name}/ are not in a "
                                          f"class sub-folder and were skipped (e.g. {top_images[0].name})"))
    items: list[tuple[Path, str]] = []
    for d in subdirs:
        skipped: list[Path] = []
        n_before = len(items)
        for f in sorted(p for p in d.rglob("*") if p.is_file() and not _hidden(p, d)):
            if f.suffix.lower() in SUPPORTED_EXTENSIONS:
                items.append((f, d.name))
            else:
                skipped.append(f)
        if skipped:
            problems.append(LoadProblem(d, f"{d.name}/: {len(skipped)} file(s) skipped that are not "
                                           f"{'/'.join(SUPPORTED_EXTENSIONS)} images (e.g. {_rel(skipped[0], root)})"))
        if len(items) == n_before:
            problems.append(LoadProblem(d, f"{d.name}/: class folder has no image files; class ignored"))
    return items, problems


def _csv_items(csv_path: Path) -> tuple[list[tuple[Path, str]], list[LoadProblem]]:
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = csv_path.read_text(encoding="latin-1")
    except OSError as exc:
        raise DatasetError(f"{csv_path}: cannot read CSV ({exc.strerror or exc})") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = [(n, r) for n, r in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), start=1)
            if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    if not rows:
        raise DatasetError(f"{csv_path}: the CSV has no rows (expected path,label)")
    col_path, col_label = 0, 1
    first = [c.strip().lower() for c in rows[0][1]]
    if (first and first[0] in _HEADER_PATH) or (len(first) > 1 and first[1] in _HEADER_LABEL):
        col_path = next((i for i, c in enumerate(first) if c in _HEADER_PATH), 0)
        col_label = next((i for i, c in enumerate(first) if c in _HEADER_LABEL), 1 if col_path != 1 else 0)
        rows = rows[1:]
    base = csv_path.parent
    items: list[tuple[Path, str]] = []
    problems: list[LoadProblem] = []
    seen: dict[Path, str] = {}
    for n, row in rows:
        if len(row) <= max(col_path, col_label):
            problems.append(LoadProblem(csv_path, f"{csv_path.name} line {n}: expected path{delimiter}label, "
                                                  f"got {delimiter.join(row)!r}"))
            continue
        cell, label = row[col_path].strip(), row[col_label].strip()
        if not cell or not label:
            problems.append(LoadProblem(csv_path, f"{csv_path.name} line {n}: empty path or label"))
            continue
        p = Path(cell).expanduser()
        if not p.is_absolute():
            p = base / p
        if not p.exists() and "\\" in cell:
            alt = Path(cell.replace("\\", "/"))
            p = alt if alt.is_absolute() else base / alt
        if p in seen:
            if seen[p] != label:
                problems.append(LoadProblem(p, f"{cell} ({csv_path.name} line {n}): listed again with label "
                                               f"{label!r}; keeping the first label {seen[p]!r}"))
            continue
        seen[p] = label
        items.append((p, label))
    return items, problems


def _class_order(labels: Iterable[str]) -> list[str]:
    names = sorted(set(labels))
    try:
        return sorted(names, key=lambda s: (int(s), s))
    except ValueError:
        return names


def _validate(root, items, problems, crop_bottom, min_size, verify, cache_bytes, progress, source, given):
    cache = _RawCache(cache_bytes)
    ok_paths: list[Path] = []
    ok_labels: list[str] = []
    sizes: list[tuple[int, int]] = []
    depths: list[int] = []
    total = len(items)
    for k, (p, label) in enumerate(items):
        try:
            if verify:
                arr, scale, depth, info = _read(p, crop_bottom, min_size)
                if cache.nbytes + arr.nbytes <= cache.max_bytes:  # fill, never evict, while validating
                    cache.put(len(ok_paths), (arr, scale))
            else:
                info = probe_image(p, crop_bottom, min_size=min_size, decode=False)
        except ImageLoadError as exc:
            problems.append(LoadProblem(p, f"{_rel(p, root)}: {exc.reason}"))
        else:
            ok_paths.append(p)
            ok_labels.append(label)
            sizes.append((info.height, info.width))
            depths.append(info.bit_depth)
        if progress is not None:
            progress(k + 1, total)
    names_all = _class_order(label for _, label in items)
    present = set(ok_labels)
    for name in names_all:
        n_items = sum(1 for _, lab in items if lab == name)
        if name not in present and n_items:
            problems.append(LoadProblem(root / name if source == "folder" else given,
                                        f"class {name!r}: none of its {n_items} image(s) could be used; "
                                        f"class ignored"))
    class_names = _class_order(present)
    if len(class_names) < 2:
        found = ", ".join(repr(c) for c in class_names) or "none"
        what = "one sub-folder per class" if source == "folder" else "at least two different labels"
        raise DatasetError(f"{given}: need at least two classes with usable images ({what}); found {found}",
                           problems)
    index = {c: i for i, c in enumerate(class_names)}
    ds = SemDataset(root=root, paths=ok_paths, labels=np.array([index[c] for c in ok_labels], np.int64),
                    class_names=class_names, problems=problems, sizes=sizes, bit_depths=depths,
                    crop_bottom=crop_bottom, source=source, cache_bytes=cache_bytes)
    ds._cache = cache
    ds.representative = _annotated_patches(root, ok_paths, crop_bottom)
    return ds


def _annotated_patches(root: Path, paths: list[Path], crop_bottom: int) -> list:
    """Representative patches from a ``manifest.json`` next to the data (the sample dataset writes one).

    Each ``files`` entry may carry ``path`` (relative to the dataset root) and
    ``representative_patch`` (row-major index of the 128x128 grid of the uncropped
    image).  With ``crop_bottom`` the grid shifts, so annotations are then ignored.
    """
    import json

    none = [None] * len(paths)
    if crop_bottom:
        return none
    try:
        manifest = json.loads((Path(root) / "manifest.json").read_text(encoding="utf-8"))
        by_path = {str(e["path"]): e.get("representative_patch") for e in manifest.get("files", [])}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return none
    return [by_path.get(_rel(p, root)) for p in paths]
