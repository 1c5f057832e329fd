"""Seeded generator of aerial-like RGB scenes with building masks (the sample dataset).

It imitates what makes the Massachusetts Buildings dataset (Mnih 2013; paper 002,
section IV.B) hard, at its ground resolution of **1 m per pixel**:

- **Ground**: grass and bare soil as multi-octave value noise (smooth fields of
  green to dry brown) plus per-pixel sensor noise, so the background is textured,
  not flat.
- **Roads**: an irregular grid of straight streets 7–14 m wide with one or two
  diagonal avenues, asphalt grey with noise and dashed centre lines.
- **Parking lots**: asphalt rectangles with painted stall lines every 2.5 m and
  cars (2 × 4.5 m) of random colours: large grey areas that are *not* buildings.
- **Buildings** (the mask): rectangular and L-shaped roofs, houses 8–22 m and
  larger blocks 25–70 m, mostly aligned with the street grid, some rotated; roof
  colours drawn from grey, dark, red-brown, tan and white palettes, gable roofs of
  houses lit on one side; **about 12 % of roofs are flat asphalt-grey and look like
  roads or parking lots** (the confusion the paper's model must resolve).
- **Shadows**: every building casts a shadow away from a sun in the north-west,
  its length set by a random height of 3–15 m; trees cast shadows too.
- **Trees**: clumps of round crowns 2–6 m in radius, dark green and shaded, some
  overhanging roof edges (the mask keeps the building footprint under them, as the
  Massachusetts labels, which come from building outlines, do).
- Finally a slight optical blur (σ 0.7 px) and sensor noise.

Everything is drawn with vectorised numpy on full-image grids or on per-object
bounding boxes; a 1500 × 1500 scene takes about a second.  ``generate_scene(seed)``
always returns the same scene for the same seed.

:func:`sample_dataset` writes the Massachusetts layout (train/, val/, test/ with
*_labels/ PNG masks 0/255) once under ``studio_home()/samples/segmentation/`` and
reuses it: preset ``"paper"`` is 137/4/10 scenes of 1500 × 1500 like the paper,
``"small"`` 24/4/6 scenes of 500 × 500 for quick work.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import numpy as np

GENERATOR_VERSION = 1
PRESETS = {"paper": {"size": 1500, "train": 137, "val": 4, "test": 10},
           "small": {"size": 500, "train": 24, "val": 4, "test": 6},
           "tiny": {"size": 160, "train": 4, "val": 1, "test": 1}}  # tests only

_ROOF_PALETTES = np.array([
    [95, 95, 100], [150, 150, 155], [185, 183, 178], [60, 58, 60],  # greys and dark
    [140, 75, 55], [120, 60, 45], [165, 110, 80],  # red-brown tiles
    [175, 160, 130], [205, 200, 190], [110, 120, 135],  # tan, white, bluish
], np.float32)
_ASPHALT = np.array([92, 92, 95], np.float32)
_CAR_COLOURS = np.array([[200, 200, 205], [30, 30, 35], [150, 30, 30], [40, 60, 140], [160, 160, 160],
                         [220, 220, 215]], np.float32)


def _value_noise(rng, size: int, cell: int) -> np.ndarray:
    """Smooth noise in [-1, 1]: a random grid of spacing ``cell`` interpolated bilinearly."""
    n = size // cell + 2
    grid = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    t = (np.arange(size, dtype=np.float32) + rng.uniform(0, cell)) / cell
    i = np.minimum(t.astype(int), n - 2)
    f = t - i
    f = f * f * (3 - 2 * f)  # smoothstep
    rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]


def _fractal(rng, size: int, cells=(96, 32, 12, 4), weights=(0.5, 0.3, 0.15, 0.05)) -> np.ndarray:
    return sum(w * _value_noise(rng, size, max(2, c)) for c, w in zip(cells, weights))


def _shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = mask[max(-dy, 0):h - max(dy, 0),
                                                                      max(-dx, 0):w - max(dx, 0)]
    return out


def _shadow(mask: np.ndarray, length: int, direction=(1, 1)) -> np.ndarray:
    """Union of ``mask`` shifted 1..length pixels along ``direction`` (sun in the north-west)."""
    out = np.zeros_like(mask)
    for k in range(1, max(1, length) + 1):
        out |= _shifted(mask, direction[0] * k, direction[1] * k)
    return out


def _footprint(h: int, w: int, angle: float, l_shape, size_hw) -> tuple[np.ndarray, int]:
    """Boolean footprint of a (rotated, optionally L-shaped) roof in its own bounding box."""
    half = int(np.ceil(0.5 * np.hypot(h, w))) + 1
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    u = c * xx + s * yy  # along the width
    v = -s * xx + c * yy  # along the height
    inside = (np.abs(u) <= w / 2) & (np.abs(v) <= h / 2)
    if l_shape is not None:  # cut one corner out: an L
        fu, fv, su, sv = l_shape
        cut = (su * u > w / 2 - fu * w) & (sv * v > h / 2 - fv * h)
        inside &= ~cut
    return inside, half


def _roof_side(h: int, w: int, angle: float, half: int) -> np.ndarray:
    """+1/−1 for the two halves of a gable roof (split along the long axis)."""
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    across = (-s * xx + c * yy) if w >= h else (c * xx + s * yy)
    return np.where(across >= 0, 1.0, -1.0).astype(np.float32)


def generate_scene(seed: int, size: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """One aerial-like scene: (uint8 H×W×3 RGB, bool H×W building mask), 1 m per pixel."""
    rng = np.random.default_rng([GENERATOR_VERSION, int(seed), int(size)])
    H = W = int(size)
    scale = H / 1500.0

    # ground: grass ↔ dry soil, textured
    moisture = _fractal(rng, H)
    grass = np.array([78, 102, 52], np.float32)
    soil = np.array([138, 124, 92], np.float32)
    mix = np.clip(0.5 + 0.9 * moisture, 0, 1)[..., None] * rng.uniform(0.5, 1.0)
    img = grass * (1 - mix) + soil * mix
    img *= (1 + 0.12 * _value_noise(rng, H, 3))[..., None]

    # roads: irregular grid + diagonals
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    road = np.zeros((H, W), bool)
    centre_lines = np.zeros((H, W), bool)
    for axis in (0, 1):
        pos = rng.uniform(-60, 0)
        while True:
            pos += rng.uniform(110, 300)
            if pos >= (H if axis == 0 else W):
                break
            width = rng.uniform(7, 14)
            coord = yy if axis == 0 else xx
            along = xx if axis == 0 else yy
            road |= np.abs(coord - pos) <= width / 2
            centre_lines |= (np.abs(coord - pos) <= 0.5) & ((along // 6) % 2 == 0)
    for _ in range(rng.integers(0, 3)):
        theta = rng.uniform(0, np.pi)
        px, py = rng.uniform(0, W), rng.uniform(0, H)
        dist = np.abs((xx - px) * np.sin(theta) - (yy - py) * np.cos(theta))
        width = rng.uniform(9, 16)
        road |= dist <= width / 2
        centre_lines |= dist <= 0.5
    occupied = road.copy()

    # parking lots
    lots = np.zeros((H, W), bool)
    lot_paint = np.zeros((H, W), bool)
    cars = []
    for _ in range(rng.poisson(10 * scale * scale) + 1):
        lh, lw = rng.integers(20, 70), rng.integers(25, 90)
        y0, x0 = rng.integers(0, max(1, H - lh)), rng.integers(0, max(1, W - lw))
        if occupied[y0:y0 + lh, x0:x0 + lw].mean() > 0.2:
            continue
        lots[y0:y0 + lh, x0:x0 + lw] = True
        occupied[y0:y0 + lh, x0:x0 + lw] = True
        stall = rng.uniform(2.4, 2.8)
        ly, lx = np.mgrid[0:lh, 0:lw]
        row_len = 5
        paint = ((lx % stall) < 0.45) & ((ly % (2 * row_len + 6)) < 2 * row_len)
        lot_paint[y0:y0 + lh, x0:x0 + lw] |= paint
        for _c in range(rng.integers(0, lh * lw // 40 + 1)):
            cy, cx = y0 + rng.integers(0, max(1, lh - 5)), x0 + rng.integers(0, max(1, lw - 2))
            cars.append((cy, cx, _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))]))

    # buildings
    mask = np.zeros((H, W), bool)
    roof = np.zeros((H, W, 3), np.float32)
    shadow = np.zeros((H, W), bool)
    keep_out = occupied.copy()
    attempts = int(2600 * scale * scale) + 40
    for _ in range(attempts):
        big = rng.random() < 0.15
        h = rng.uniform(25, 70) if big else rng.uniform(8, 18)
        w = rng.uniform(25, 70) if big else rng.uniform(10, 22)
        r = rng.random()
        angle = 0.0 if r < 0.65 else (np.pi / 2 if r < 0.75 else rng.uniform(0, np.pi))
        angle += rng.normal(0, 0.03)
        l_shape = (rng.uniform(0.3, 0.6), rng.uniform(0.3, 0.6), rng.choice([-1, 1]), rng.choice([-1, 1])) \
            if rng.random() < 0.3 else None
        foot, half = _footprint(int(h), int(w), angle, l_shape, (H, W))
        cy, cx = rng.integers(half, H - half) if H > 2 * half else None, rng.integers(half, W - half) \
            if W > 2 * half else None
        if cy is None or cx is None:
            continue
        sl = (slice(cy - half, cy + half + 1), slice(cx - half, cx + half + 1))
        margin = _shifted(foot, 2, 2) | _shifted(foot, -2, -2) | _shifted(foot, 2, -2) | _shifted(foot, -2, 2) | foot
        if (keep_out[sl] & margin).any():
            continue
        road_like = rng.random() < 0.12
        if road_like:
            colour = _ASPHALT * rng.uniform(0.9, 1.25)
        else:
            colour = _ROOF_PALETTES[rng.integers(len(_ROOF_PALETTES))] * rng.uniform(0.85, 1.15)
        shade = np.ones_like(foot, np.float32)
        if not big and not road_like and l_shape is None and rng.random() < 0.8:  # gable roof lit from one side
            shade = 1.0 + rng.uniform(0.08, 0.22) * _roof_side(int(h), int(w), angle, half)
        roof[sl][foot] = colour[None, :] * shade[foot][:, None]
        mask[sl] |= foot
        keep_out[sl] |= margin
        height = rng.uniform(3, 15)
        sh = _shadow(foot, int(round(height * 0.45)))
        shadow[sl] |= sh
    shadow &= ~mask

    # trees (some overhang roof edges)
    trees = np.zeros((H, W), bool)
    crown_shade = np.zeros((H, W), np.float32)
    n_clumps = rng.poisson(260 * scale * scale) + 1
    for _ in range(n_clumps):
        cy0, cx0 = rng.uniform(0, H), rng.uniform(0, W)
        for _t in range(rng.integers(1, 14)):
            rad = rng.uniform(2, 6)
            ty, tx = cy0 + rng.normal(0, 10), cx0 + rng.normal(0, 10)
            y0, y1 = int(max(0, ty - rad - 1)), int(min(H, ty + rad + 2))
            x0, x1 = int(max(0, tx - rad - 1)), int(min(W, tx + rad + 2))
            if y1 <= y0 or x1 <= x0:
                continue
            ly, lx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            d2 = ((ly - ty) ** 2 + (lx - tx) ** 2) / rad ** 2
            disk = d2 <= 1
            if (road[y0:y1, x0:x1] & disk).mean() > 0.05:
                continue
            trees[y0:y1, x0:x1] |= disk
            lit = 1.0 - 0.35 * ((ly - ty) + (lx - tx)) / (2 * rad)  # lit from the north-west
            crown_shade[y0:y1, x0:x1] = np.where(disk, lit, crown_shade[y0:y1, x0:x1])
    tree_shadow = _shadow(trees, 3) & ~trees

    # compose
    asphalt = _ASPHALT * (1 + 0.08 * _value_noise(rng, H, 40))[..., None]
    img = np.where(road[..., None], asphalt, img)
    img = np.where(centre_lines[..., None] & road[..., None], np.float32(200), img)
    lot_colour = (_ASPHALT * 1.1) * (1 + 0.05 * _value_noise(rng, H, 25))[..., None]
    img = np.where(lots[..., None], lot_colour, img)
    img = np.where((lots & lot_paint)[..., None], img * 0.35 + np.float32(0.65 * 170), img)
    for cy, cx, colour in cars:
        if rng.random() < 0.5:
            img[cy:cy + 4, cx:cx + 2] = colour
        else:
            img[cy:cy + 2, cx:cx + 4] = colour
    img = np.where(mask[..., None], roof * (1 + 0.05 * _value_noise(rng, H, 2))[..., None], img)
    img = np.where((shadow | tree_shadow)[..., None] & ~trees[..., None], img * 0.55, img)
    leaf = np.array([42, 72, 38], np.float32) * (1 + 0.25 * _value_noise(rng, H, 2))[..., None]
    img = np.where(trees[..., None], leaf * crown_shade[..., None], img)

    from scipy.ndimage import gaussian_filter

    img = gaussian_filter(img, sigma=(0.7, 0.7, 0))
    img += rng.normal(0, 3.0, img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), mask


def _split_names(preset: str) -> list[tuple[str, int]]:
    p = PRESETS[preset]
    out = []
    k = 0
    for split in ("train", "val", "test"):
        for _ in range(p[split]):
            out.append((split, k))
            k += 1
    return out


def write_dataset(target: Path, preset: str = "small", seed: int = 0,
                  progress: Callable[[int, int], None] | None = None) -> Path:
    """Write a preset in the Massachusetts layout under ``target`` (PNG images and 0/255 PNG masks)."""
    from PIL import Image

    if preset not in PRESETS:
        raise ValueError(f"unknown sample preset {preset!r}; choose one of {', '.join(PRESETS)}")
    size = PRESETS[preset]["size"]
    items = _split_names(preset)
    for split in ("train", "val", "test"):
        (target / split).mkdir(parents=True, exist_ok=True)
        (target / f"{split}_labels").mkdir(parents=True, exist_ok=True)
    for done, (split, k) in enumerate(items):
        if progress is not None:
            progress(done, len(items))
        rgb, mask = generate_scene(seed * 100_000 + k, size)
        name = f"scene_{k:04d}.png"
        Image.fromarray(rgb).save(target / split / name, compress_level=1)
        Image.fromarray(mask.astype(np.uint8) * 255).save(target / f"{split}_labels" / name, compress_level=1)
    if progress is not None:
        progress(len(items), len(items))
    return target


def sample_dataset(preset: str = "small", progress: Callable[[int, int], None] | None = None, seed: int = 0) -> Path:
    """The sample dataset folder (Massachusetts layout), generated on first use and cached."""
    from studio.engine.registry import studio_home

    if preset not in PRESETS:
        raise ValueError(f"unknown sample preset {preset!r}; choose one of {', '.join(PRESETS)}")
    final = studio_home() / "samples" / "segmentation" / f"{preset}-seed{seed}-v{GENERATOR_VERSION}"
    if (final / ".complete").is_file():
        return final
    tmp = final.with_name(final.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    write_dataset(tmp, preset, seed, progress)
    (tmp / ".complete").write_text("generated by studio.segmentation.synthetic\n")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final
