"""Sliding-window inference over images of any size in bounded memory.

Windows: about ``tile × tile`` pixels, overlapping by at least ``overlap``.  Their
starts are multiples of 16 (the U-Net's total stride), so each window sees the
same stride-2 sampling grid as the whole image would.  The last window of a row
(column) is stretched to the image border (up to ``tile + 15`` pixels) instead of
hanging over it, and an image smaller than a tile is one window of its own size
(the fully convolutional network takes any size; stride-2 convolutions pad odd
sizes): no window ever contains artificial padding, so the network sees exactly
the image borders it would see untiled, and the windows agree with untiled
inference except within the receptive field of their *inner* edges.  Windows of
one shape are batched, ``batch`` at a time, on the device.

Blending: a window's probabilities are weighted by ``a(y)·b(x)``: 1 everywhere
except along edges that lie inside the image, where the weight is ~0 for the
first ``overlap/4`` pixels (the part with truncated context) and then rises
linearly to 1 over ``overlap/2`` pixels.  Because the windows form a grid and the
weight is separable, the sum of weights is the outer product of two 1-D sums, so
no second H×W array is needed; the result is ``Σ w·p / Σ w``.

Memory: the input is read window by window (a ``numpy.memmap`` of an uncompressed
TIFF works), so the only H×W array is the float32 result (400 MB for 10,000²);
network activations exist for one batch of windows at a time.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

NETWORK_STRIDE = 16
WEIGHT_FLOOR = 1e-3


def input_range(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (lo, hi) that map the image to [0, 1]: 0..255 for 8-bit, else 0.5–99.5 % percentiles."""
    from studio.segmentation.io import value_range

    return value_range(image, 0.5, 99.5)


def prepare_input(pixels: np.ndarray, lo, hi, mean, std) -> np.ndarray:
    """float32 N×3×h×w network input from N×h×w×C (or h×w×C) pixels: scale to [0, 1], 3 bands, standardise."""
    x = np.asarray(pixels)
    if x.ndim == 3:
        x = x[None]
    c = x.shape[-1]
    lo = np.asarray(lo, np.float32)[:c]
    hi = np.asarray(hi, np.float32)[:c]
    x = (x.astype(np.float32) - lo) / (hi - lo)
    if c == 1:
        x = np.repeat(x, 3, axis=-1)
    elif c == 2:
        x = np.concatenate([x, x[..., :1]], axis=-1)
    elif c > 3:
        x = x[..., :3]
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def tile_windows(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of the windows along one axis (see the module docstring)."""
    step = max(NETWORK_STRIDE, ((tile - overlap) // NETWORK_STRIDE) * NETWORK_STRIDE)
    last = max(0, ((length - tile) // NETWORK_STRIDE) * NETWORK_STRIDE)
    starts = list(range(0, last, step)) + [last]
    return [(s, s + tile) for s in starts[:-1]] + [(last, length)]


def edge_weights(start: int, end: int, length: int, overlap: int) -> np.ndarray:
    """1-D blending weight of one window: falls off only along edges inside the image."""
    n = end - start
    w = np.ones(n, np.float32)
    if overlap <= 0:
        return w
    margin, ramp_len = overlap // 4, max(1, overlap // 2)
    d = np.arange(n, dtype=np.float32)
    rise = np.clip((d - margin + 0.5) / ramp_len, WEIGHT_FLOOR, 1.0).astype(np.float32)
    if start > 0:
        w = np.minimum(w, rise)
    if end < length:
        w = np.minimum(w, rise[::-1])
    return w


def predict_tiled(model, image, tile: int = 250, overlap: int = 32, batch: int = 8, device="cpu",
                  check: Callable[[], None] | None = None, progress: Callable[[int, int], None] | None = None,
                  normalisation: dict | None = None, value_range: tuple | None = None) -> np.ndarray:
    """float32 H×W building probability (softmax class 1) of ``image`` (H×W×C or H×W).

    ``normalisation`` holds the training ``mean``/``std`` per band (default 0/1);
    ``value_range`` the (lo, hi) scaling to [0, 1] (default :func:`input_range`).
    ``check()`` is called before every batch (cancel), ``progress(done, total)`` after.
    """
    import torch

    if tile < NETWORK_STRIDE:
        raise ValueError(f"tile must be at least {NETWORK_STRIDE} pixels")
    if image.ndim not in (2, 3):
        raise ValueError(f"an image must be H×W or H×W×C, not {image.shape}")
    overlap = int(min(max(0, overlap), tile - NETWORK_STRIDE))
    arr = image if image.ndim == 3 else image[:, :, None]
    h, w = arr.shape[:2]
    norm = normalisation or {}
    mean = norm.get("mean", [0.0, 0.0, 0.0])
    std = norm.get("std", [1.0, 1.0, 1.0])
    lo, hi = value_range if value_range is not None else input_range(arr)

    rows, cols = tile_windows(h, tile, overlap), tile_windows(w, tile, overlap)
    row_w = [edge_weights(y0, y1, h, overlap) for y0, y1 in rows]
    col_w = [edge_weights(x0, x1, w, overlap) for x0, x1 in cols]
    wy = np.zeros(h, np.float32)
    wx = np.zeros(w, np.float32)
    for (y0, y1), a in zip(rows, row_w):
        wy[y0:y1] += a
    for (x0, x1), b in zip(cols, col_w):
        wx[x0:x1] += b
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}  # windows of one shape stack into a batch
    for i, (y0, y1) in enumerate(rows):
        for j, (x0, x1) in enumerate(cols):
            groups.setdefault((y1 - y0, x1 - x0), []).append((i, j))
    n = max(1, int(batch))
    batches = [items[k:k + n] for items in groups.values() for k in range(0, len(items), n)]
    total = len(rows) * len(cols)

    out = np.zeros((h, w), np.float32)
    done = 0
    device = torch.device(device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for chunk in batches:
                if check is not None:
                    check()
                pixels = np.stack([np.asarray(arr[rows[i][0]:rows[i][1], cols[j][0]:cols[j][1]]) for i, j in chunk])
                x_in = torch.from_numpy(prepare_input(pixels, lo, hi, mean, std)).to(device)
                prob = torch.softmax(model(x_in).float(), dim=1)[:, 1].cpu().numpy()
                for (i, j), p in zip(chunk, prob):
                    (y0, y1), (x0, x1) = rows[i], cols[j]
                    out[y0:y1, x0:x1] += p * row_w[i][:, None] * col_w[j][None, :]
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    finally:
        model.train(was_training)
    for r0 in range(0, h, 1024):  # normalise in row blocks: no second H×W temporary
        r1 = min(h, r0 + 1024)
        out[r0:r1] /= wy[r0:r1, None] * wx[None, :]
    return out
