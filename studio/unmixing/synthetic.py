"""Seeded generator of the sample datasets quartz-3, quartz-4 and colour-4 (paper 000, section 4.1).

The paper's laboratory recordings (powder mixtures imaged in 91 channels from
450 nm to 810 nm, 400 spectra per mixture) cannot be downloaded here, so "Open
sample dataset" uses spectra made by this module.  The abundance designs are the
paper's; the spectra imitate the physics of powder mixtures, with the properties
the paper describes: the quartz-sand sets mix almost linearly and vary little,
the colour-powder set mixes strongly non-linearly and varies more.

Design (section 4.1)
--------------------
* quartz-3: 3 materials, every abundance vector on the simplex grid of step 0.125
  (45 mixtures; "at most 3 components" is then every mixture).
* quartz-4, colour-4: 4 materials, simplex grid of step 0.2 (56 mixtures).
* 91 channels, 450-810 nm in 4 nm steps; 400 spectra per mixture by default.
* :func:`paper_split` gives the paper's train/test split (15/30 and 16/40 vectors).

What a spectrum is made of (all seeded, vectorised over every spectrum)
-----------------------------------------------------------------------
1. *Pure materials.*  Fixed smooth reflectance curves built from logistic
   absorption edges and Gaussian bands (:data:`MATERIALS`): dyed quartz sand has a
   moderate contrast (reflectance 0.12-0.6), the colour pigments a high one
   (0.03-0.85).
2. *Local composition.*  A pixel sees a finite number of grains, so its local
   composition scatters around the nominal mixture: the non-zero abundances are
   redrawn from a Dirichlet distribution with concentration ``local_concentration``
   times the nominal abundances (pure materials stay pure).  The labels stay the
   nominal abundances, as in a laboratory dataset.  This makes the spread of the
   spectra depend on the abundances (zero for pure materials, largest for even
   mixtures), so that per-mixture covariances (eq. 9) differ between mixtures.
3. *Endmember variability.*  Each material's spectrum in each pixel is multiplied
   by ``exp(s_p * g(lambda))``, g a random smooth curve (random cubic in the
   normalised wavelength, unit variance); ``s_p`` differs per material, so the
   covariance again depends on the composition.
4. *Mixing.*  Intimate mixing after Hapke: each reflectance r is converted to the
   single-scattering albedo w with the isotropic-scatterer hemispherical
   reflectance r = (1 - g)/(1 + g), g = sqrt(1 - w); the albedos are mixed
   linearly with cross-section weights proportional to abundance x ``grain_factor``
   (fine, light powders cover more area per unit mass); the mixed albedo is
   converted back.  The final spectrum is ``(1 - k) * linear + k * Hapke`` with
   ``k = hapke_fraction``, plus for the pigments a bilinear (two-bounce, absorbing)
   term ``- bilinear * sum_{p<q} f_p f_q r_p r_q``.  Quartz: moderate contrast and
   grain factors within 0.5-2, so the mixing is mildly non-linear; colour powders:
   high contrast, grain factors 0.25-8 (a fine, strongly tinting ultramarine next to
   coarse cadmium yellow) and the bilinear term, so it is strongly non-linear.
5. *Illumination and sensor.*  A per-pixel brightness factor (log-normal,
   ``illumination_sigma``) and spectral tilt (``tilt_sigma`` per 360 nm) from
   the local surface orientation, then Gaussian sensor noise whose variance grows
   with the signal (``noise_sigma`` at reflectance 0.5).  Values are clipped to
   [1e-4, 1.5].

The mixing is not linear, so FCLS with the pure-material means as endmembers
errs.  The paper's Table 2 has FCLS Delta_RMSE 0.16 / 0.11 / 0.30 (quartz-3 /
quartz-4 / colour-4) and ELMM about the same.  The recipes' parameters were chosen
by hand to land near those magnitudes and near Table 1's spread (see RECIPES);
with seed 0 and the paper's test split we measured FCLS 0.125 / 0.116 / 0.298
(400 spectra per mixture) and ELMM (default settings) 0.136 / 0.120 / 0.298 (100
spectra per mixture).  An earlier version had three times the spread per mixture
(mostly illumination); there the CNN could not gain from augmentation because its
error was dominated by the within-mixture scatter, unlike the paper's data.  The
tests recompute the ordering (colour-4 clearly worst); nothing is fitted at run time.

Generation of 56 x 400 x 91 spectra takes well under a second (numpy, vectorised).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from studio.unmixing.io import SpectralCube, SpectralDataset

__all__ = [
    "SAMPLE_NAMES",
    "WAVELENGTHS",
    "MATERIALS",
    "SampleRecipe",
    "RECIPES",
    "simplex_grid",
    "paper_split",
    "pure_spectrum",
    "make_sample",
    "make_sample_cube",
    "load_sample",
]

SAMPLE_NAMES = ("quartz-3", "quartz-4", "colour-4")
#: 91 channels from 450 nm to 810 nm (section 4.1).
WAVELENGTHS = np.linspace(450.0, 810.0, 91)


def _edge(wl, centre, width):
    return 1.0 / (1.0 + np.exp(-(wl - centre) / width))


def _band(wl, centre, width):
    return np.exp(-0.5 * ((wl - centre) / width) ** 2)


#: Pure-material reflectance recipes: (base, [(kind, amplitude, centre nm, width nm), ...]).
MATERIALS: dict[str, tuple[float, list[tuple[str, float, float, float]]]] = {
    # dyed quartz sand: moderate contrast
    "red quartz": (0.14, [("edge", 0.42, 600.0, 14.0)]),
    "green quartz": (0.13, [("band", 0.26, 530.0, 42.0), ("edge", 0.22, 705.0, 25.0)]),
    "blue quartz": (0.15, [("band", 0.25, 465.0, 38.0), ("edge", 0.28, 745.0, 25.0)]),
    "yellow quartz": (0.15, [("edge", 0.45, 515.0, 15.0)]),
    # colour powders (pigments): high contrast
    "ultramarine blue": (0.035, [("band", 0.42, 460.0, 35.0), ("edge", 0.55, 735.0, 22.0)]),
    "cadmium yellow": (0.05, [("edge", 0.74, 510.0, 10.0)]),
    "red oxide": (0.045, [("edge", 0.55, 595.0, 14.0)]),
    "chromium green": (0.05, [("band", 0.26, 545.0, 38.0), ("edge", 0.40, 720.0, 30.0)]),
}


def pure_spectrum(material: str, wavelengths: np.ndarray = WAVELENGTHS) -> np.ndarray:
    """The noise-free reflectance of one material of :data:`MATERIALS` at ``wavelengths``."""
    base, terms = MATERIALS[material]
    wl = np.asarray(wavelengths, dtype=np.float64)
    r = np.full(wl.shape, base)
    for kind, amp, centre, width in terms:
        r = r + amp * (_edge(wl, centre, width) if kind == "edge" else _band(wl, centre, width))
    return r


@dataclass(frozen=True)
class SampleRecipe:
    """Parameters of one sample dataset (see the module docstring for their meaning)."""

    materials: tuple[str, ...]
    step: float
    max_components: int | None
    hapke_fraction: float
    grain_factor: tuple[float, ...]
    bilinear: float
    local_concentration: float
    material_variability: tuple[float, ...]
    illumination_sigma: float
    tilt_sigma: float
    noise_sigma: float


RECIPES: dict[str, SampleRecipe] = {
    # Variability (local_concentration, material_variability, illumination, tilt) is set so that the
    # per-mixture spread matches the paper's Table 1: the distance of a measured spectrum to its
    # mixture's mean spectrum (Δ_GAMN of the true means) is 0.12 / 0.10 / 0.12 here, against the
    # paper's "mean only" 0.137 / 0.130 / 0.147, which also carries the mean network's error.
    "quartz-3": SampleRecipe(
        materials=("red quartz", "green quartz", "blue quartz"), step=0.125, max_components=3,
        hapke_fraction=1.0, grain_factor=(2.0, 0.5, 1.0), bilinear=0.0, local_concentration=600.0,
        material_variability=(0.014, 0.0175, 0.021), illumination_sigma=0.0385, tilt_sigma=0.014,
        noise_sigma=0.004),
    "quartz-4": SampleRecipe(
        materials=("red quartz", "green quartz", "blue quartz", "yellow quartz"), step=0.2, max_components=4,
        hapke_fraction=1.0, grain_factor=(1.5, 0.7, 1.0, 1.0), bilinear=0.0, local_concentration=600.0,
        material_variability=(0.014, 0.0175, 0.021, 0.014), illumination_sigma=0.0245, tilt_sigma=0.014,
        noise_sigma=0.004),
    "colour-4": SampleRecipe(
        materials=("ultramarine blue", "cadmium yellow", "red oxide", "chromium green"), step=0.2,
        max_components=4, hapke_fraction=1.0, grain_factor=(8.0, 0.25, 0.5, 3.0), bilinear=0.8,
        local_concentration=300.0, material_variability=(0.042, 0.021, 0.049, 0.035), illumination_sigma=0.0245,
        tilt_sigma=0.028, noise_sigma=0.006),
}


def simplex_grid(P: int, step: float, max_components: int | None = None) -> np.ndarray:
    """Every abundance vector ``(K, P)`` with entries on the grid ``step`` summing to one.

    ``max_components`` keeps the vectors with at most that many non-zero entries.
    Rows are sorted lexicographically (descending first entry).
    """
    if P < 1:
        raise ValueError("P must be at least 1")
    n = int(round(1.0 / step))
    if n < 1 or abs(n * step - 1.0) > 1e-9:
        raise ValueError(f"step {step} does not divide 1")
    rows = []
    for bars in itertools.combinations(range(n + P - 1), P - 1):
        edges = (-1,) + bars + (n + P - 1,)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(P)])
    counts = np.asarray(rows, dtype=np.int64).reshape(-1, P)
    if max_components is not None:
        counts = counts[(counts > 0).sum(axis=1) <= max_components]
    order = np.lexsort(counts.T[::-1])[::-1]
    return counts[order] / n


def paper_split(abundances: np.ndarray, name: str) -> np.ndarray:
    """True for training rows, False for test rows: the split of section 4.1.

    Four-component sets (quartz-4, colour-4): training = no abundance equal to 0.2
    or 0.8 (16 of the 56 vectors).  quartz-3: test = at least one abundance in
    {0.125, 0.375, 0.625, 0.875} (30 of 45), training = the other 15.  Works on
    group vectors ``(G, P)`` or on per-spectrum labels ``(N, P)``.
    """
    a = np.asarray(abundances, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"abundances must be 2-D, got shape {a.shape}")

    def has_any(values) -> np.ndarray:
        return np.any(np.isclose(a[..., None], np.asarray(values), atol=1e-6, rtol=0.0), axis=(1, 2))

    if name == "quartz-3":
        return ~has_any([0.125, 0.375, 0.625, 0.875])
    if name in ("quartz-4", "colour-4"):
        return ~has_any([0.2, 0.8])
    raise ValueError(f"no paper split for {name!r}; known: {', '.join(SAMPLE_NAMES)}")


def _recipe(name: str) -> SampleRecipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown sample dataset {name!r}; choose one of {', '.join(SAMPLE_NAMES)}") from None


def _albedo(r: np.ndarray) -> np.ndarray:
    g = (1.0 - r) / (1.0 + r)
    return 1.0 - g * g


def _reflectance(w: np.ndarray) -> np.ndarray:
    g = np.sqrt(np.clip(1.0 - w, 0.0, 1.0))
    return (1.0 - g) / (1.0 + g)


def _mix(recipe: SampleRecipe, A: np.ndarray, rng: np.random.Generator, wavelengths: np.ndarray) -> np.ndarray:
    """Spectra ``(N, L)`` for nominal abundances ``A (N, P)`` (steps 2-5 of the module docstring)."""
    N, P = A.shape
    L = wavelengths.size
    x = (wavelengths - wavelengths.mean()) / (wavelengths.max() - wavelengths.min()) * 2.0  # [-1, 1]

    # 2. local composition: Dirichlet around the nominal mixture (zero stays zero)
    shape = recipe.local_concentration * A
    gam = np.where(A > 0, rng.standard_gamma(np.maximum(shape, 1e-12)), 0.0)
    a_local = gam / gam.sum(axis=1, keepdims=True)

    # 3. endmember variability: r_p * exp(s_p * smooth curve), smooth = random cubic (unit variance)
    basis = np.stack([np.ones_like(x), x, 1.5 * x * x - 0.5, 2.5 * x ** 3 - 1.5 * x])  # Legendre 0-3
    basis /= np.sqrt((basis ** 2).mean(axis=1, keepdims=True))
    coef = rng.standard_normal((N, P, 4)) / 2.0
    smooth = coef @ basis  # (N, P, L), unit variance
    pure = np.stack([pure_spectrum(m, wavelengths) for m in recipe.materials], axis=1)  # (L, P)
    s = np.asarray(recipe.material_variability)[None, :, None]
    R = pure.T[None, :, :] * np.exp(s * smooth)  # (N, P, L)
    R = np.clip(R, 1e-4, 0.999)

    # 4. mixing: linear and Hapke (albedo mixed with cross-section weights), plus bilinear bounces
    linear = np.einsum("np,npl->nl", a_local, R)
    f = a_local * np.asarray(recipe.grain_factor)[None, :]
    f /= f.sum(axis=1, keepdims=True)
    hapke = _reflectance(np.einsum("np,npl->nl", f, _albedo(R)))
    y = (1.0 - recipe.hapke_fraction) * linear + recipe.hapke_fraction * hapke
    if recipe.bilinear:
        fr = f[:, :, None] * R  # (N, P, L)
        total = fr.sum(axis=1)
        pairs = 0.5 * (total * total - (fr * fr).sum(axis=1))  # sum_{p<q} f_p f_q r_p r_q
        y = y - recipe.bilinear * pairs  # the extra bounce absorbs: mixtures are darker
    # 5. illumination (brightness and tilt) and sensor noise
    bright = np.exp(recipe.illumination_sigma * rng.standard_normal((N, 1)))
    tilt = 1.0 + recipe.tilt_sigma * rng.standard_normal((N, 1)) * x[None, :] / 2.0
    y = y * bright * tilt
    y = y + recipe.noise_sigma * np.sqrt(np.clip(y, 0.0, None) / 0.5) * rng.standard_normal((N, L))
    return np.clip(y, 1e-4, 1.5)


def make_sample(name: str, spectra_per_mixture: int = 400, seed: int = 0) -> SpectralDataset:
    """One of :data:`SAMPLE_NAMES`: every mixture of the paper's design, ``spectra_per_mixture`` spectra each."""
    recipe = _recipe(name)
    if spectra_per_mixture < 1:
        raise ValueError("spectra_per_mixture must be at least 1")
    rng = np.random.default_rng([seed, SAMPLE_NAMES.index(name)])
    groups = simplex_grid(len(recipe.materials), recipe.step, recipe.max_components)
    A = np.repeat(groups, spectra_per_mixture, axis=0)
    Y = _mix(recipe, A, rng, WAVELENGTHS)
    return SpectralDataset(
        spectra=Y.astype(np.float32),
        wavelengths=WAVELENGTHS.copy(),
        abundances=A.astype(np.float32),
        materials=list(recipe.materials),
        name=name,
        source=f"sample:{name} (seed {seed})",
    )


def make_sample_cube(name: str = "colour-4", rows: int = 64, cols: int = 64,
                     seed: int = 0) -> tuple[SpectralCube, np.ndarray, np.ndarray, list[str]]:
    """A synthetic image of a powder sample: smooth abundance maps mixed with the recipe of ``name``.

    Returns ``(cube, true abundances (rows, cols, P), endmembers (L, P), materials)``;
    the endmembers are the noise-free pure spectra (:func:`pure_spectrum`).  The
    maps are softmaxes of smooth random fields (sums of random 2-D cosines), so
    every region is a different mixture, with some nearly pure patches.
    """
    recipe = _recipe(name)
    rng = np.random.default_rng([seed, SAMPLE_NAMES.index(name), 1])
    P = len(recipe.materials)
    yy, xx = np.meshgrid(np.linspace(0, 1, rows), np.linspace(0, 1, cols), indexing="ij")
    logits = np.zeros((rows, cols, P))
    for p in range(P):
        for _ in range(3):
            kx, ky = rng.uniform(0.5, 3.0, 2)
            phase = rng.uniform(0, 2 * math.pi)
            logits[..., p] += rng.uniform(0.8, 1.6) * np.cos(2 * math.pi * (kx * xx + ky * yy) + phase)
    logits *= 2.5
    maps = np.exp(logits - logits.max(axis=-1, keepdims=True))
    maps /= maps.sum(axis=-1, keepdims=True)
    Y = _mix(recipe, maps.reshape(-1, P), rng, WAVELENGTHS)
    cube = SpectralCube(data=Y.reshape(rows, cols, -1).astype(np.float32), wavelengths=WAVELENGTHS.copy(),
                        name=f"{name} cube", source=f"sample:{name} cube (seed {seed})")
    endmembers = np.stack([pure_spectrum(m) for m in recipe.materials], axis=1)
    return cube, maps.astype(np.float32), endmembers, list(recipe.materials)


_CACHE: dict[tuple[str, int, int], SpectralDataset] = {}


def load_sample(name: str, spectra_per_mixture: int = 400, seed: int = 0) -> SpectralDataset:
    """:func:`make_sample`, memoised in this process (callers must not modify the arrays)."""
    key = (name, int(spectra_per_mixture), int(seed))
    if key not in _CACHE:
        _CACHE[key] = make_sample(name, spectra_per_mixture, seed)
    return _CACHE[key]
