"""Patches and splits as in the paper (Sect. 2.1).

"Given the j-th SEM image ... it was firstly split into 64 sub-images sized
128x128, then one representative sub-image was selected ... there is no
downsampling of the original SEM image."  A 1024x1024 image therefore gives an
8x8 grid of exact pixel copies; other sizes give the full grid that fits
(floor(h/128) x floor(w/128), starting at the top-left corner; the right and
bottom remainders are not used).

Training uses either all patches of the training images, each labelled with its
image's label, or -- the paper's protocol -- one representative patch per image.
The paper does not say how its representative patch was chosen (apparently by
hand), so :func:`representative_patch_index` offers ``"center"`` (default: grid
cell (rows // 2, cols // 2), i.e. for 1024x1024 the patch whose top-left corner
is the image centre), ``"max_std"`` (the patch with the highest pixel standard
deviation, an automatic stand-in for "the most informative area") and
``"random"`` (seeded per image), or a fixed row-major grid index.

The train/test split is made by image, never by patch, so no image contributes
patches to both sides.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

__all__ = [
    "PATCH_SIZE",
    "REPRESENTATIVE_METHODS",
    "patch_grid",
    "extract_patches",
    "stratified_split",
    "representative_patch_index",
    "PatchSet",
    "build_patch_set",
]

PATCH_SIZE = 128
REPRESENTATIVE_METHODS = ("annotated", "center", "max_std", "random")


def patch_grid(h: int, w: int, size: int = PATCH_SIZE) -> list[tuple[int, int, int, int]]:
    """Row-major ``(row, col, y0, x0)`` of the full ``size`` x ``size`` patches that fit."""
    if size <= 0:
        raise ValueError(f"patch size must be positive, got {size}")
    rows, cols = int(h) // size, int(w) // size
    return [(r, c, r * size, c * size) for r in range(rows) for c in range(cols)]


def extract_patches(image: np.ndarray, size: int = PATCH_SIZE) -> np.ndarray:
    """All patches of :func:`patch_grid`, shape (n, size, size), exact pixel copies.

    Same dtype as ``image``, no resampling, row-major order; never a view of
    ``image``.
    """
    a = np.asarray(image)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {a.shape}")
    if size <= 0:
        raise ValueError(f"patch size must be positive, got {size}")
    rows, cols = a.shape[0] // size, a.shape[1] // size
    if rows == 0 or cols == 0:
        return np.empty((0, size, size), dtype=a.dtype)
    out = a[: rows * size, : cols * size].reshape(rows, size, cols, size).swapaxes(1, 2).reshape(-1, size, size)
    if np.shares_memory(out, a):
        out = out.copy()
    return out


def stratified_split(labels: Sequence[int] | np.ndarray, test_fraction: float = 0.3,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of item indices into ``(train_idx, test_idx)``.

    Apply it to images (not patches).  The test size is ``round(n * test_fraction)``
    apportioned to the classes by largest remainder (ties: larger class first),
    and every class with at least two items has at least one item on each side;
    a class with a single item goes to training.  Both arrays are sorted int64.
    For the paper's 75 HNF + 85 NHNF images and 0.3 this gives 22 + 26 = 48 test
    images.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError("labels must be 1-D")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * test_fraction
    n_test = np.floor(exact).astype(int)
    lo = np.where(counts >= 2, 1, 0)
    hi = np.where(counts >= 2, counts - 1, 0)
    n_test = np.clip(n_test, lo, hi)
    remaining = int(round(len(y) * test_fraction)) - int(n_test.sum())
    order = sorted(range(len(classes)), key=lambda i: (-(exact[i] - math.floor(exact[i])), -counts[i], i))
    for i in order:
        if remaining <= 0:
            break
        if n_test[i] < hi[i]:
            n_test[i] += 1
            remaining -= 1
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls, k in zip(classes, n_test):
        members = np.flatnonzero(y == cls)
        perm = rng.permutation(members)
        test.append(perm[:k])
        train.append(perm[k:])
    return (np.sort(np.concatenate(train)).astype(np.int64), np.sort(np.concatenate(test)).astype(np.int64))


def representative_patch_index(image: np.ndarray, size: int = PATCH_SIZE, method: str | int = "center",
                               rng: np.random.Generator | None = None) -> int:
    """Row-major grid index of the one patch used per image in the paper's protocol.

    ``method``: ``"center"`` -> cell (rows // 2, cols // 2); ``"annotated"`` -> as
    ``"center"`` here (:func:`build_patch_set` substitutes the dataset's annotation,
    see ``SemDataset.representative``, when there is one); ``"max_std"`` -> the
    patch with the largest standard deviation; ``"random"`` -> uniform (needs
    ``rng``); an int -> that grid index.
    """
    h, w = np.shape(image)[:2]
    rows, cols = h // size, w // size
    n = rows * cols
    if n == 0:
        raise ValueError(f"image {w}x{h} is smaller than one {size}x{size} patch")
    if isinstance(method, (int, np.integer)) and not isinstance(method, bool):
        if not 0 <= int(method) < n:
            raise ValueError(f"patch index {method} outside the {rows}x{cols} grid")
        return int(method)
    if method in ("center", "annotated"):
        return (rows // 2) * cols + cols // 2
    if method == "max_std":
        p = extract_patches(np.asarray(image), size).astype(np.float32)
        return int(np.argmax(p.reshape(n, -1).std(axis=1)))
    if method == "random":
        if rng is None:
            raise ValueError("method 'random' needs an rng")
        return int(rng.integers(n))
    raise ValueError(f"unknown representative patch method {method!r}; use one of {REPRESENTATIVE_METHODS} or an int")


class _RawSource(Protocol):
    labels: np.ndarray

    def raw(self, i: int) -> tuple[np.ndarray, float]: ...


@dataclass
class PatchSet:
    """Patches of several images kept in a compact integer type.

    ``patches`` (n, s, s) uint8, uint16 or float32; ``patches / scale`` is in [0, 1].
    ``image_index`` says which dataset image each patch comes from, ``rows`` /
    ``cols`` its grid cell, ``labels`` its (image) label.  ``windows`` (only when
    built with ``margin`` > 0): per patch the (s + 2·margin)² neighbourhood
    centred on it, same dtype and scale, zero where it passes the image's border,
    for translated training crops (:meth:`shifted`); ``room`` (n, 4) says how far
    each patch can move up, down, left and right (at most ``margin``) and stay
    inside its image.  Crops never reach past the border: up to 2026-12 the
    neighbourhood was mirrored there, so a shifted crop of a border cell (a third
    of the sample's representative patches, 40 % of the NHNF ones against 27 % of
    the HNF ones) showed mirror-image fibres and beads that no test patch shows.
    """

    patches: np.ndarray
    scale: float
    labels: np.ndarray
    image_index: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    windows: np.ndarray | None = None
    margin: int = 0
    room: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.patches)

    def as_float(self, idx: np.ndarray | slice | None = None) -> np.ndarray:
        """float32 batch of shape (n, 1, s, s) in [0, 1], ready for the model."""
        return self._unit(self.patches if idx is None else self.patches[idx])[:, None, :, :]

    def _unit(self, pixels: np.ndarray) -> np.ndarray:
        out = pixels.astype(np.float32)
        if self.scale != 1.0:
            out *= np.float32(1.0 / self.scale)
        return out

    def shifted(self, i: int, dy: int, dx: int) -> np.ndarray:
        """Patch ``i`` moved by (dy, dx) pixels inside its image, float32 (1, s, s) in [0, 1].

        -up ≤ dy ≤ down and -left ≤ dx ≤ right of ``room[i]`` (the patch itself at
        (0, 0)); a pure crop of the stored neighbourhood, no resampling.
        """
        m = self.margin
        if self.windows is None or max(abs(dy), abs(dx)) > m:
            raise ValueError(f"shift ({dy}, {dx}) needs a patch set built with margin >= {max(abs(dy), abs(dx))}")
        up, down, left, right = (int(v) for v in self.room[i])
        if not (-up <= dy <= down and -left <= dx <= right):
            raise ValueError(f"shift ({dy}, {dx}) leaves the image of patch {i}: it can move {up} px up, "
                             f"{down} down, {left} left and {right} right")
        s = self.patches.shape[-1]
        return self._unit(self.windows[i, m + dy:m + dy + s, m + dx:m + dx + s])[None]


def build_patch_set(
    dataset: _RawSource,
    indices: Sequence[int] | np.ndarray,
    *,
    mode: str = "all",
    size: int = PATCH_SIZE,
    representative: str | int = "center",
    seed: int = 0,
    margin: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> PatchSet:
    """Patches of the images ``indices`` of ``dataset`` (anything with ``raw(i)`` and ``labels``).

    ``mode="all"``: every grid patch, labelled with its image's label.
    ``mode="representative"``: one patch per image (see
    :func:`representative_patch_index`; ``"random"`` is seeded by ``(seed, i)``).
    Mixed bit depths are stored as uint16 (8-bit values x 257, exact), float
    images force float32.  ``margin`` > 0 keeps each patch's neighbourhood
    (``PatchSet.windows``) for translated training crops, the patches being views of
    their centres; it costs ((s + 2·margin) / s)² times the patches' memory.
    """
    if mode not in ("all", "representative"):
        raise ValueError(f"mode must be 'all' or 'representative', got {mode!r}")
    margin = int(margin)
    if not 0 <= margin < size:
        raise ValueError(f"margin must be in [0, {size}), got {margin}")
    idx = [int(i) for i in indices]
    chunks, labs, imgs, rws, cls_ = [], [], [], [], []
    win_chunks, rooms = [], []
    scales = []
    for k, i in enumerate(idx):
        arr, scale = dataset.raw(i)
        rows, cols = arr.shape[0] // size, arr.shape[1] // size
        if mode == "all":
            p = extract_patches(arr, size)
            g = np.arange(rows * cols)
        else:
            rng = np.random.default_rng([int(seed), i]) if representative == "random" else None
            annotated = getattr(dataset, "representative", None)
            if representative == "annotated" and annotated and annotated[i] is not None \
                    and 0 <= int(annotated[i]) < rows * cols:
                j = int(annotated[i])
            else:
                j = representative_patch_index(arr, size, representative, rng)
            r, c = divmod(j, cols)
            p = arr[r * size:(r + 1) * size, c * size:(c + 1) * size].copy()[None]
            g = np.array([j])
        g_rows, g_cols = g // cols, g % cols
        if margin:
            padded = np.pad(arr, margin)  # zeros past the border, never cropped (``room``)
            win_chunks.append(np.stack([padded[r * size:(r + 1) * size + 2 * margin,
                                               c * size:(c + 1) * size + 2 * margin] for r, c in zip(g_rows, g_cols)]))
            rooms.append(np.minimum(np.stack([g_rows * size, arr.shape[0] - (g_rows + 1) * size,
                                              g_cols * size, arr.shape[1] - (g_cols + 1) * size], axis=1), margin))
        else:
            chunks.append(p)
        scales.append(scale)
        labs.append(np.full(len(g), int(dataset.labels[i]), np.int64))
        imgs.append(np.full(len(g), i, np.int64))
        rws.append(g_rows)
        cls_.append(g_cols)
        if progress is not None:
            progress(k + 1, len(idx))
    if not scales:
        e = np.empty(0, np.int64)
        return PatchSet(np.empty((0, size, size), np.uint8), 255.0, e, e.copy(), e.copy(), e.copy())
    windows = room = None
    if margin:
        windows, scale = _common_scale(win_chunks, scales)
        data = windows[:, margin:margin + size, margin:margin + size]
        room = np.concatenate(rooms).astype(np.int64)
    else:
        data, scale = _common_scale(chunks, scales)
    return PatchSet(data, scale, np.concatenate(labs), np.concatenate(imgs),
                    np.concatenate(rws).astype(np.int64), np.concatenate(cls_).astype(np.int64),
                    windows=windows, margin=margin, room=room)


def _common_scale(chunks: list[np.ndarray], scales: list[float]) -> tuple[np.ndarray, float]:
    """Chunks of several images in one array: uint8, uint16 (8-bit x 257, exact) or float32 in [0, 1]."""
    dtypes = {c.dtype for c in chunks}
    if dtypes == {np.dtype(np.uint8)}:
        return np.concatenate(chunks), 255.0
    if np.dtype(np.float32) in dtypes or any(s not in (255.0, 65535.0) for s in scales):
        return np.concatenate([c.astype(np.float32) / np.float32(s) for c, s in zip(chunks, scales)]), 1.0
    return np.concatenate([c.astype(np.uint16) * np.uint16(257) if s == 255.0 else c.astype(np.uint16)
                           for c, s in zip(chunks, scales)]), 65535.0
