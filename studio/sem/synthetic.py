"""Seeded generator of SEM-like images of electrospun nanofibre mats (sample data).

The paper's 160 PVAc micrographs cannot be downloaded here, so "Open sample
dataset" uses images made by this module: 75 homogeneous (HNF) and 85
non-homogeneous (NHNF) 1024x1024 8-bit greyscale images, the class sizes of the
paper, in the folder-per-class layout that :func:`studio.sem.io.load_dataset` reads.

What it imitates
----------------
*Mat geometry.* An electrospun mat is a random deposit of long, gently curved
fibres laid down one after the other on the collector.  Each fibre is a smooth
curve right through the field of view (it enters and leaves at the border: the
fibres are continuous, so no image shows a cut fibre end; up to v5 about 1.4
square-cut ends per image were drawn) whose curvature is a sum of two slow sinusoids
(radius of curvature of several hundred pixels), with a log-normal radius
(fibre diameters of electrospun mats are close to log-normal) that also varies
slowly along the fibre.  Fibres are painted in deposition order, so later fibres
occlude earlier ones; the earlier ~40 % (the deep layers) are darker and
slightly defocused, and the gaps show a dark, softly textured background.

*Secondary-electron contrast.* A fibre is rendered as a body of revolution
(radius R(s) along its arc length s).  The secondary-electron yield grows with
the tilt of the surface to the beam (the secant law, delta ~ 1/cos(theta)), which
gives the characteristic bright fibre edges; a small term in the surface normal
towards a side-mounted Everhart-Thornley detector adds one-sided shading.  The
same law shades beads and particles, which therefore look like bright compact
blobs.  Pixels are evaluated from the exact distance of the pixel centre to the
local fibre axis with a one-pixel antialiased edge.

*Defects (NHNF only).*  Beads -- the spindle-like or elliptical polymer
swellings that appear when the solution viscosity is too low (paper,
Sect. 2.1) -- are local bumps of R(s) on a fibre (Gaussian bump = spindle,
half-ellipse = round bead).  Specks of dust and electrosprayed particles are
small bright hemispheres anywhere in the image.  Optionally, some fibre
crossings are fused (a flat melted blob at the junction, 1.6-2.6 times the
fibre radius).  The *difficulty*
knob in [0, 1] sets the defect density and size: 0 gives over a hundred large beads
per image, 1 gives a handful of small beads (bead radius 1.8-2.6x the fibre
radius) and almost no specks, so that the hardest NHNF images differ from HNF
images in only a few of their 64 patches.  Beads go on fibres in proportion to
their visible length, so some end up hidden under later fibres or on the dark,
defocused deep layers; the first bead of every NHNF image sits on the last fibre
laid down, so even the hardest image shows at least one bead.  What of the
defects still shows is marked per pixel (see *Representative patch*).  For HNF images difficulty raises
the natural variation of the fibre diameter along each fibre (up to 14 %), a
confounder for small beads.  Per image the difficulty is drawn from Beta(1.2, 2)
(mean 0.375): mostly clear defects, with a tail of hard images.  The sample is
meant to be cleaner than real micrographs (issue 3).

*Representative patch.*  The paper trains on one hand-picked 128x128 cell per
image; :func:`representative_patch` emulates that pick from the ground truth
(the cell showing the most defect pixels for NHNF, the cell densest in
top-layer fibres for HNF) and the manifest records it.  The defect pixels are
marked while painting: a top-layer fibre marks its swelling (the pixels beyond
its plain radius) and clears whatever it covers, specks and fused blobs mark
their own pixels, so a bead hidden under later fibres counts only with what
still shows (v8; up to v7 a bead counted whole when its fibre was on top at its
centre, so cells whose cluster of beads later fibres largely covered could win;
40 of the 85 NHNF picks of the app's sample moved).

*Instrument.* Beam spot blur (Gaussian, sigma 0.5-1 px), shot noise with
Poisson statistics (approximated by a Gaussian of variance S/N for a dose of
N = 60-300 electrons per pixel at full signal), Gaussian amplifier noise, a
weak scan-line offset, a linear brightness gradient, and in ~30 % of the images
(of both classes, so it is no class cue) a charging glow: a bright diffuse blob.

Everything is vectorised numpy: each fibre is sampled every 0.65 px along its
axis and every 0.65 px across it (<= 1/sqrt(2) px, so every pixel of the fibre
is hit), the samples are rounded to pixels and composited in one scatter.  A
1024x1024 image takes ~0.25 s on one core; the 160-image sample dataset
(including PNG encoding) took 40 s on one thread and 27 s on two (2-core VM).
Images are reproducible from the seed alone, independent of the number of
worker threads.
"""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import ndimage

__all__ = [
    "CLASS_NAMES",
    "GENERATOR_NAME",
    "GENERATOR_VERSION",
    "MANIFEST_NAME",
    "generate_image",
    "generate_dataset",
    "sample_dataset_path",
    "read_manifest",
]

GENERATOR_NAME = "studio.sem.synthetic"
#: Bump whenever the pictures or the manifest change, so that cached sample datasets are remade.
GENERATOR_VERSION = 8
CLASS_NAMES = ("HNF", "NHNF")
MANIFEST_NAME = "manifest.json"

_DELTA = 0.65  # sampling step along and across a fibre, px (must be <= 1/sqrt(2))
_SEC_CAP = 3.0  # cap of the secant law at grazing incidence


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


@dataclass
class _Canvas:
    h: int
    w: int
    img: np.ndarray  # (h, w) float32 signal
    cov: np.ndarray  # (h*w,) float32 max fibre coverage so far
    edge: np.ndarray  # (h*w,) float32 scratch, +inf between uses
    top: np.ndarray  # (h*w,) int16 deposition order of the fibre on top of each pixel, -1 for none
    defect: np.ndarray  # (h*w,) bool: the pixel shows a defect (a top-layer bead's swelling, a speck, a fused blob)

    @classmethod
    def blank(cls, h: int, w: int) -> "_Canvas":
        return cls(h, w, np.zeros((h, w), np.float32), np.zeros(h * w, np.float32), np.full(h * w, np.inf, np.float32),
                   np.full(h * w, -1, np.int16), np.zeros(h * w, bool))

    @property
    def flat(self) -> np.ndarray:
        return self.img.reshape(-1)


@dataclass
class _Shading:
    g: float  # weight of the secant-law term
    h: float  # weight of the detector-direction term
    dx: float  # detector direction in the image plane
    dy: float


# --------------------------------------------------------------------------- fibres
def _centreline(rng: np.random.Generator, size: int, pad: float):
    """Samples (x, y, tx, ty) every _DELTA px of one fibre crossing the image."""
    cx, cy = rng.uniform(0, size, 2)
    theta0 = rng.uniform(0, 2 * np.pi)
    # long enough that a fibre starting anywhere in the field leaves it at both ends even when
    # curved (the diagonal is sqrt(2) * size); up to v5 it was 0.75 * sqrt(2) * size, which left
    # ~1.4 square-cut fibre ends inside each image -- a real mat's fibres are continuous
    half = 1.15 * math.sqrt(2) * size + pad
    s = np.arange(-half, half, _DELTA)
    theta = np.full(s.shape, theta0)
    for _ in range(2):
        lam = rng.uniform(0.3, 1.5) * 1024
        amp = rng.uniform(0.0, 1.0 / 700)
        phi = rng.uniform(0, 2 * np.pi)
        k = 2 * np.pi / lam
        theta += amp / k * (np.cos(phi) - np.cos(k * s + phi))
    tx, ty = np.cos(theta), np.sin(theta)
    x = np.cumsum(tx) * _DELTA
    y = np.cumsum(ty) * _DELTA
    i0 = int(np.searchsorted(s, 0.0))
    x += cx - x[i0]
    y += cy - y[i0]
    inside = (x > -pad) & (x < size + pad) & (y > -pad) & (y < size + pad)
    if not inside.any():
        return None
    i, j = np.flatnonzero(inside)[[0, -1]]
    sl = slice(i, j + 1)
    return (
        x[sl].astype(np.float32),
        y[sl].astype(np.float32),
        tx[sl].astype(np.float32),
        ty[sl].astype(np.float32),
        s[sl] - s[i],
    )


def _radius_profile(rng, s: np.ndarray, r0: float, variation: float) -> np.ndarray:
    r = np.ones_like(s)
    for _ in range(2):
        lam = rng.uniform(150, 600)
        r += variation / 1.4 * np.sin(2 * np.pi * s / lam + rng.uniform(0, 2 * np.pi))
    return (r0 * np.clip(r, 0.5, 1.6)).astype(np.float32)


def _render_tube(cv: _Canvas, x, y, tx, ty, R, dR, bright: float, sh: _Shading, order: int, R_plain=None,
                 mark_beads: bool = False):
    """Composite one fibre (a body of revolution of radius R(s)) over the canvas.

    Pixels it covers for the most part get ``order`` in ``cv.top`` and lose any earlier ``cv.defect`` (the fibre
    hides it); with ``mark_beads`` its own swelling, the pixels farther from its axis than ``R_plain`` (the radius
    without beads), are marked in ``cv.defect``.  Returns the flat indices of pixels where it crosses an earlier
    fibre (candidates for fused junctions) and the fibre's radius there, from ``R_plain`` when given.
    """
    tmax = R + 1.0
    counts = (2.0 * tmax / _DELTA).astype(np.int64) + 2
    n_pts = int(counts.sum())
    idx = np.repeat(np.arange(len(x)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    t = (np.arange(n_pts) - starts).astype(np.float32) * _DELTA - tmax[idx]
    sx, sy, stx, sty = x[idx], y[idx], tx[idx], ty[idx]
    xi = np.rint(sx - t * sty).astype(np.int32)
    yi = np.rint(sy + t * stx).astype(np.int32)
    ok = (xi >= 0) & (xi < cv.w) & (yi >= 0) & (yi < cv.h)
    # exact signed distance of the pixel centre to the local axis
    d = (yi - sy) * stx - (xi - sx) * sty
    Ri = R[idx]
    e = np.abs(d) - Ri
    ok &= e < 0.5
    if not ok.any():
        return np.empty(0, np.int64), np.empty(0, np.float32)
    idx, d, e, Ri = idx[ok], d[ok], e[ok], Ri[ok]
    R_cross = Ri if R_plain is None else R_plain[idx]
    flat = yi[ok].astype(np.int64) * cv.w + xi[ok]
    np.minimum.at(cv.edge, flat, e)
    alpha = np.clip(0.5 - cv.edge[flat], 0.0, 1.0)
    cv.edge[flat] = np.inf
    u = np.clip(d / Ri, -0.999, 0.999)  # sin(phi), phi = angle around the axis
    rp = dR[idx]
    norm = np.sqrt(1.0 + rp * rp)
    sec = np.minimum(norm / np.sqrt(1.0 - u * u), _SEC_CAP)
    ndot = (-rp * (tx[idx] * sh.dx + ty[idx] * sh.dy) + u * (-ty[idx] * sh.dx + tx[idx] * sh.dy)) / norm
    val = bright * (1.0 + sh.g * (sec - 1.0) + sh.h * ndot)
    img = cv.flat
    old = img[flat]
    img[flat] = old + alpha * (val - old)
    covered = cv.cov[flat]
    cross = (covered > 0.6) & (alpha > 0.9)
    cv.cov[flat] = np.maximum(covered, alpha)
    on_top = alpha > 0.5
    cv.top[flat[on_top]] = order
    cv.defect[flat[on_top]] = False
    if mark_beads and R_plain is not None:
        cv.defect[flat[on_top & (np.abs(d) > R_cross + 0.5)]] = True
    return flat[cross], R_cross[cross]


def _render_blob(cv: _Canvas, cx, cy, ra, rb, angle, bright, g, sh: _Shading | None = None):
    """Composite a shaded elliptical hemisphere (a speck or a fused junction: a defect, marked in ``cv.defect``)."""
    r = max(ra, rb) + 1.5
    x0, x1 = max(0, int(cx - r)), min(cv.w, int(cx + r) + 2)
    y0, y1 = max(0, int(cy - r)), min(cv.h, int(cy + r) + 2)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    c, s = math.cos(angle), math.sin(angle)
    a = (dx * c + dy * s) / ra
    b = (-dx * s + dy * c) / rb
    q = np.sqrt(a * a + b * b)
    alpha = np.clip(0.5 - (q - 1.0) * math.sqrt(ra * rb), 0.0, 1.0)
    qc = np.minimum(q, 0.999)
    sec = np.minimum(1.0 / np.sqrt(1.0 - qc * qc), _SEC_CAP)
    val = bright * (1.0 + g * (sec - 1.0))
    if sh is not None:  # detector-side shading of a hemisphere: normal ~ (dx, dy)/r
        val = val + bright * sh.h * qc * (dx * sh.dx + dy * sh.dy) / np.maximum(np.hypot(dx, dy), 1e-3)
    sub = cv.img[y0:y1, x0:x1]
    sub += alpha * (val - sub)
    cv.defect.reshape(cv.h, cv.w)[y0:y1, x0:x1] |= alpha > 0.5


def _smooth_noise(rng, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency noise field, zero mean, unit-ish amplitude."""
    g = rng.standard_normal((cells + 3, cells + 3)).astype(np.float32)
    g = ndimage.gaussian_filter(g, 1.0)
    g /= g.std() + 1e-6
    zy = (cells + 2) / h
    zx = (cells + 2) / w
    yy = np.arange(h, dtype=np.float32) * zy
    xx = np.arange(w, dtype=np.float32) * zx
    return ndimage.map_coordinates(g, np.meshgrid(yy, xx, indexing="ij"), order=1).astype(np.float32)


# --------------------------------------------------------------------------- images
def generate_image(
    rng: np.random.Generator,
    defective: bool,
    size: int | tuple[int, int] = 1024,
    difficulty: float = 0.5,
    *,
    fused: bool | None = None,
    return_info: bool = False,
):
    """One SEM-like fibre-mat image, float32 in [0, 1], shape (h, w).

    ``defective`` False gives HNF (clean fibres), True gives NHNF (beads on the
    fibres, dust specks and, when ``fused`` is True or by chance when it is None,
    fused junctions).  ``difficulty`` in [0, 1]: 0 = many large beads, 1 = a few
    small beads.  ``size`` is an int (square) or (h, w); fibre and bead sizes are
    in pixels and do not scale with the image (a smaller image is a smaller field
    of view), while counts scale with the area.

    With ``return_info`` the result is ``(image, info)`` where ``info`` holds the
    drawn parameters, the list of defects (``kind, x, y, radius``) inside
    the image, ``cover``, a (h, w) bool map of the pixels showing a top-layer
    (not deep) fibre, and ``defect_pixels``, a (h, w) bool map of the pixels
    showing a defect (see :func:`representative_patch`).
    """
    if isinstance(size, (tuple, list)):
        h, w = int(size[0]), int(size[1])
    else:
        h = w = int(size)
    if h < 16 or w < 16:
        raise ValueError(f"image size must be at least 16x16, got {h}x{w}")
    d = float(np.clip(difficulty, 0.0, 1.0))
    side = math.sqrt(h * w)
    area = h * w / 1024.0**2
    cv = _Canvas.blank(h, w)

    # background: gaps between fibres show deeper, unresolved material
    bg = rng.uniform(0.04, 0.12)
    cv.img[:] = bg * (1.0 + 0.35 * _smooth_noise(rng, h, w, 12))

    ang = rng.uniform(0, 2 * np.pi)
    sh = _Shading(g=rng.uniform(0.25, 0.45), h=rng.uniform(0.05, 0.15), dx=math.cos(ang), dy=math.sin(ang))
    n_fib = max(4, int(round(rng.uniform(28, 48) * side / 1024)))
    r_med = rng.uniform(3.5, 6.5)
    variation = (rng.uniform(0.03, 0.08) + 0.06 * d) if not defective else rng.uniform(0.03, 0.10)
    top_b = rng.uniform(0.42, 0.55)
    darken = rng.uniform(0.30, 0.50)
    n_deep = int(round(0.4 * n_fib))
    info: dict = {"defective": bool(defective), "difficulty": d, "n_fibres": n_fib, "defects": []}

    # fibres, beads attached to them
    fibres = []
    for k in range(n_fib):
        r0 = float(np.clip(r_med * math.exp(rng.normal(0, 0.25)), 2.0, 12.0))
        c = _centreline(rng, max(h, w), pad=4 * r0 + 4)
        if c is None:
            continue
        x, y, tx, ty, s = c
        if h != w:  # _centreline works in a square; keep the fibres that reach the image
            if not ((x > -r0) & (x < w + r0) & (y > -r0) & (y < h + r0)).any():
                continue
        R = _radius_profile(rng, s, r0, variation)
        fibres.append([k, x, y, tx, ty, s, R, R.copy()])

    n_beads = n_specks = n_fused = 0
    if defective:
        n_beads = max(1, int(round(_lerp(160, 4, d) * rng.uniform(0.7, 1.3) * area)))
        n_specks = int(round(_lerp(20, 0, d) * rng.uniform(0.5, 1.5) * area)) + int(rng.random() < 0.3)
        if fused is None:
            fused = bool(rng.random() < _lerp(0.7, 0.15, d))
        if fused:
            n_fused = max(1, int(round(rng.uniform(3, 15) * area)))
        ratio_lo, ratio_hi = _lerp(2.5, 1.8, d), _lerp(5.0, 2.6, d)
        # visible length of each fibre decides how many beads it carries; deep fibres
        # (mostly hidden, darker, defocused) carry fewer, so that beads are mostly seen
        vis = np.array([((f[1] >= 0) & (f[1] < w) & (f[2] >= 0) & (f[2] < h)).sum() for f in fibres], float)
        vis *= np.where(np.arange(len(fibres)) < n_deep, 0.3, 1.0)
        if vis.sum() > 0:
            owners = rng.choice(len(fibres), size=n_beads, p=vis / vis.sum())
            # the first bead sits on the last fibre laid down (nothing covers it), so that
            # every NHNF image, even the hardest, shows at least one bead
            owners[0] = int(np.flatnonzero(vis > 0)[-1])
            for fi in owners:
                _, x, y, _, _, s, R, R_base = fibres[fi]
                inside = np.flatnonzero((x >= 0) & (x < w) & (y >= 0) & (y < h))
                j = int(inside[rng.integers(len(inside))])
                rj = float(R_base[j])
                amp = min((rng.uniform(ratio_lo, ratio_hi) - 1.0) * rj, 30.0 - rj)
                if rng.random() < 0.6:  # spindle: Gaussian bump, elongated along the fibre
                    half_len = amp * rng.uniform(1.2, 3.0)
                    lo, hi = np.searchsorted(s, [s[j] - 3 * half_len, s[j] + 3 * half_len])
                    bump = R_base[lo:hi] + amp * np.exp(-(((s[lo:hi] - s[j]) / half_len) ** 2))
                else:  # round/elliptical bead
                    rad = rj + amp
                    half_len = rad * rng.uniform(1.0, 1.5)
                    lo, hi = np.searchsorted(s, [s[j] - half_len, s[j] + half_len])
                    z = np.clip(1.0 - ((s[lo:hi] - s[j]) / half_len) ** 2, 0.0, 1.0)
                    bump = rad * np.sqrt(z)
                R[lo:hi] = np.maximum(R[lo:hi], bump.astype(np.float32))
                info["defects"].append(("bead", float(x[j]), float(y[j]), rj + amp))
    info.update(n_beads=n_beads, n_specks=n_specks, n_fused=n_fused)

    # deposition order: deep layers first, darker, then defocused
    cross_flat: list[np.ndarray] = []
    cross_r: list[np.ndarray] = []
    nf = len(fibres)
    for order, (_, x, y, tx, ty, s, R, R_base) in enumerate(fibres):
        if order == n_deep:
            cv.img[:] = ndimage.gaussian_filter(cv.img, rng.uniform(1.0, 1.8))
        depth = 1.0 - (order + 1) / max(nf, 1)
        bright = top_b * (1.0 - darken * depth) * rng.uniform(0.92, 1.05)
        dR = np.gradient(R, _DELTA).astype(np.float32)
        # a fused junction is sized by the fibre, not by a bead that happens to sit at the crossing
        # (up to v6 it took the bead's radius: melted blobs up to 50 px in radius, 10x the fibre)
        cf, cr = _render_tube(cv, x, y, tx, ty, R, dR, bright, sh, order, R_plain=R_base,
                              mark_beads=order >= n_deep)
        if n_fused and order >= n_deep and len(cf):
            pick = rng.choice(len(cf), size=min(8, len(cf)), replace=False)
            cross_flat.append(cf[pick])
            cross_r.append(cr[pick])
    info["cover"] = (cv.top >= n_deep).reshape(h, w)  # pixels showing a top-layer fibre
    if n_fused and cross_flat:
        cf = np.concatenate(cross_flat)
        cr = np.concatenate(cross_r)
        pick = rng.choice(len(cf), size=min(n_fused, len(cf)), replace=False)
        for fl, rr in zip(cf[pick], cr[pick]):
            yy, xx = divmod(int(fl), w)
            ra = rr * rng.uniform(1.6, 2.6)
            rb = rr * rng.uniform(1.2, 1.7)
            _render_blob(cv, xx, yy, ra, rb, rng.uniform(0, np.pi), top_b * rng.uniform(0.95, 1.1), 0.5 * sh.g, sh)
            info["defects"].append(("fused", float(xx), float(yy), float(ra)))
    info["n_fused"] = len([1 for dd in info["defects"] if dd[0] == "fused"])

    # dust specks and electrosprayed particles
    for _ in range(n_specks):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rad = rng.uniform(1.5, 7.0)
        ell = rng.uniform(0.7, 1.0)
        _render_blob(cv, cx, cy, rad, rad * ell, rng.uniform(0, np.pi), rng.uniform(0.65, 0.95), 0.25, sh)
        if rng.random() < 0.3:  # irregular: a second lobe
            a = rng.uniform(0, 2 * np.pi)
            _render_blob(cv, cx + 0.8 * rad * math.cos(a), cy + 0.8 * rad * math.sin(a),
                         0.7 * rad, 0.6 * rad, a, rng.uniform(0.65, 0.95), 0.25, sh)
        info["defects"].append(("speck", float(cx), float(cy), float(rad)))

    info["defect_pixels"] = cv.defect.reshape(h, w).copy()

    # instrument: gradient, charging glow, beam blur, shot + amplifier noise
    img = cv.img
    ga = rng.uniform(0, 2 * np.pi)
    grad = rng.uniform(-0.15, 0.15)
    yy = (np.arange(h, dtype=np.float32) - h / 2) / side
    xx = (np.arange(w, dtype=np.float32) - w / 2) / side
    img *= 1.0 + grad * (math.cos(ga) * xx[None, :] + math.sin(ga) * yy[:, None])
    info["glow"] = bool(rng.random() < 0.3)
    if info["glow"]:
        gx, gy = rng.uniform(0, w), rng.uniform(0, h)
        sig = rng.uniform(0.08, 0.25) * side
        amp = rng.uniform(0.08, 0.30)
        gyv = np.exp(-0.5 * ((np.arange(h, dtype=np.float32) - gy) / sig) ** 2)
        gxv = np.exp(-0.5 * ((np.arange(w, dtype=np.float32) - gx) / sig) ** 2)
        img += amp * gyv[:, None] * gxv[None, :] * (1.0 + 0.5 * img)
    img = ndimage.gaussian_filter(img, rng.uniform(0.5, 1.0))
    dose = rng.uniform(60, 300)
    sigma_g = rng.uniform(0.008, 0.025)
    np.clip(img, 0.0, None, out=img)
    noise = rng.standard_normal((h, w), dtype=np.float32)
    img += noise * np.sqrt(img / dose + sigma_g**2)
    img += rng.normal(0, 0.004, size=(h, 1)).astype(np.float32)  # scan-line offsets
    np.clip(img, 0.0, 1.0, out=img)
    out = img.astype(np.float32, copy=False)
    if return_info:
        info["defects"] = [dd for dd in info["defects"] if 0 <= dd[1] < w and 0 <= dd[2] < h]
        return out, info
    return out


# --------------------------------------------------------------------------- datasets
def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def _image_plan(n_hnf: int, n_nhnf: int, seed: int):
    seqs = np.random.SeedSequence([int(seed), 0x5E4]).spawn(n_hnf + n_nhnf)
    plan = []
    for i, ss in enumerate(seqs):
        defective = i >= n_hnf
        cls = CLASS_NAMES[int(defective)]
        num = i - n_hnf if defective else i
        plan.append((f"{cls}/{cls}_{num:03d}.png", defective, ss))
    return plan


def _make_one(item, size, difficulty_range=None):
    rel, defective, ss = item
    rng = np.random.default_rng(ss)
    # Skewed towards dense defects (mean 0.375), with a tail of hard, sparse images;
    # ``difficulty_range`` (lo, hi) draws uniformly instead (e.g. easy sets for tests).
    difficulty = float(rng.beta(1.2, 2.0)) if difficulty_range is None else float(rng.uniform(*difficulty_range))
    img, info = generate_image(rng, defective, size=size, difficulty=difficulty, return_info=True)
    info["representative_patch"] = representative_patch(info, img.shape)
    del info["cover"], info["defect_pixels"]  # 1 byte per pixel each, not needed any more
    return rel, defective, _to_uint8(img), info


def generate_dataset(
    root: Path,
    n_hnf: int = 75,
    n_nhnf: int = 85,
    size: int = 1024,
    seed: int = 0,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    difficulty_range: tuple[float, float] | None = None,
) -> Path:
    """Write a synthetic dataset into ``root/HNF`` and ``root/NHNF`` (8-bit PNG).

    Also writes ``README.txt``, ``labels.csv`` (path,label; loadable by
    :func:`studio.sem.io.load_dataset`) and ``manifest.json`` (generator version,
    seed, sizes, per-image difficulty and defect counts), the manifest last.
    Image i depends only on (seed, i), so ``workers`` (threads; default up to 2)
    does not change the result.  ``progress(done, total)`` is called after each
    image; an exception raised from it (e.g. a job's Cancelled) stops the run.
    Refuses to write into class folders that already hold files.
    """
    root = Path(root)
    if n_hnf < 1 or n_nhnf < 1:
        raise ValueError("need at least one image of each class")
    for cls in CLASS_NAMES:
        folder = root / cls
        if folder.exists() and any(folder.iterdir()):
            raise FileExistsError(f"{folder} already holds files; choose an empty folder")
        folder.mkdir(parents=True, exist_ok=True)
    plan = _image_plan(n_hnf, n_nhnf, seed)
    total = len(plan)
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    t0 = time.perf_counter()
    records = []

    def write(result):
        rel, defective, u8, info = result
        from PIL import Image

        Image.fromarray(u8).save(root / rel, format="PNG", compress_level=3)
        records.append({
            "path": rel,
            "label": CLASS_NAMES[int(defective)],
            "difficulty": round(info["difficulty"], 4),
            "n_beads": info["n_beads"],
            "n_specks": info["n_specks"],
            "n_fused": info["n_fused"],
            "glow": info["glow"],
            "representative_patch": info["representative_patch"],
        })
        if progress is not None:
            progress(len(records), total)

    if workers <= 1:
        for item in plan:
            write(_make_one(item, size, difficulty_range))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = []
            try:
                for item in plan:
                    futures.append(pool.submit(_make_one, item, size, difficulty_range))
                for fut in futures:
                    write(fut.result())
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    records.sort(key=lambda r: r["path"])
    with open(root / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh)
        wr.writerow(["path", "label"])
        for r in records:
            wr.writerow([r["path"], r["label"]])
    (root / "README.txt").write_text(
        "Synthetic SEM images of electrospun nanofibre mats (Inspection Studio sample data).\n"
        f"Generator {GENERATOR_NAME} v{GENERATOR_VERSION}, seed {seed}: {n_hnf} HNF (homogeneous) and "
        f"{n_nhnf} NHNF (beads, specks, fused junctions) images of {size}x{size} px, 8-bit PNG.\n"
        "One sub-folder per class; labels.csv lists path,label; manifest.json has per-image\n"
        "difficulty, defect counts and the representative patch (the cell showing the most\n"
        "visible defect area for NHNF, the cell densest in fibres for HNF). These are not\n"
        "real micrographs; see the module\n"
        "docstring of studio/sem/synthetic.py for what they imitate.\n",
        encoding="utf-8",
    )
    manifest = {
        "generator": GENERATOR_NAME,
        "version": GENERATOR_VERSION,
        "seed": int(seed),
        "size": int(size),
        "n_hnf": int(n_hnf),
        "n_nhnf": int(n_nhnf),
        "class_names": list(CLASS_NAMES),
        "seconds": round(time.perf_counter() - t0, 2),
        "files": records,
    }
    tmp = root / (MANIFEST_NAME + ".part")
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(tmp, root / MANIFEST_NAME)
    return root


def representative_patch(info: dict, shape: tuple[int, int], patch: int = 128) -> int:
    """The grid cell a person would pick as "representative" of the image (paper, Sect. 2.1).

    The paper selects one representative 128x128 sub-image per micrograph by hand.
    We emulate that choice from the generator's ground truth (``info`` of
    :func:`generate_image`): for an NHNF image the cell that shows the most defect
    pixels (``info["defect_pixels"]``: a bead's swelling beyond its fibre's plain
    radius where no later fibre covers it, specks and fused junctions); for an HNF
    image, and for an NHNF image without a visible defect, the cell densest in
    top-layer fibres (an operator frames the mat, not a gap in it).  Ties: first
    in row-major order.  Choosing HNF cells at a fixed place (the centre, up to
    generator v4) made "much bright material in the patch" separate the classes on
    its own (AUC 0.86 of the share of bright pixels), a shortcut the CNN learned
    instead of the bead shapes.  Up to v7 a bead counted with its whole area
    (radius squared) when its fibre was on top at the bead's centre: cells where
    later fibres covered most of a cluster of beads won, and showed slivers of
    swelling under crossing fibres that looked like plain crossings.  Stored in the
    manifest as ``representative_patch`` (row-major index); see ``studio.sem.io``.
    """
    rows, cols = shape[0] // patch, shape[1] // patch

    def per_cell(mask) -> np.ndarray | None:
        if mask is None or np.shape(mask)[:2] != tuple(shape[:2]):
            return None
        cells = np.asarray(mask, np.float32)[: rows * patch, : cols * patch]
        return cells.reshape(rows, patch, cols, patch).sum(axis=(1, 3)).ravel()

    cover = per_cell(info.get("cover"))
    densest = int(np.argmax(cover)) if cover is not None else (rows // 2) * cols + cols // 2
    defect = per_cell(info.get("defect_pixels")) if info.get("defective") else None
    if defect is None or defect.max() == 0:
        return densest
    return int(np.argmax(defect))


def read_manifest(root: Path) -> dict | None:
    """The manifest of a generated dataset, or None when missing or unreadable."""
    try:
        data = json.loads((Path(root) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _complete(root: Path, n_hnf: int, n_nhnf: int, size: int, seed: int) -> bool:
    m = read_manifest(root)
    if m is None:
        return False
    want = {"generator": GENERATOR_NAME, "version": GENERATOR_VERSION, "seed": seed,
            "size": size, "n_hnf": n_hnf, "n_nhnf": n_nhnf}
    if any(m.get(k) != v for k, v in want.items()):
        return False
    files = m.get("files") or []
    return len(files) == n_hnf + n_nhnf and all((root / f["path"]).is_file() for f in files)


def sample_dataset_path(
    cache_dir: Path,
    n_hnf: int = 75,
    n_nhnf: int = 85,
    size: int = 1024,
    seed: int = 0,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Folder of the sample dataset, generated on first use and cached.

    The dataset is generated into a temporary folder inside ``cache_dir`` and
    renamed into place only when complete (its ``manifest.json`` with generator
    version and seed is written last), so a killed or cancelled generation never
    leaves a half cache.  The folder name carries version, seed, size and counts.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    name = f"sem-sample-v{GENERATOR_VERSION}-seed{seed}-{size}px-{n_hnf}hnf-{n_nhnf}nhnf"
    target = cache_dir / name
    if _complete(target, n_hnf, n_nhnf, size, seed):
        return target
    _remove_stale_temps(cache_dir, name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=cache_dir))
    try:
        generate_dataset(tmp, n_hnf, n_nhnf, size, seed, workers=workers, progress=progress)
        if target.exists():  # invalid leftover of ours (or a concurrent winner)
            if _complete(target, n_hnf, n_nhnf, size, seed):
                shutil.rmtree(tmp, ignore_errors=True)
                return target
            shutil.rmtree(target)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _remove_stale_temps(cache_dir: Path, name: str, max_age_s: float = 6 * 3600) -> None:
    now = time.time()
    for p in cache_dir.glob(f".{name}.tmp-*"):
        try:
            if now - p.stat().st_mtime > max_age_s:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass
