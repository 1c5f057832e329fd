"""Spectra, cubes and endmembers: the in-memory types and the real-format loaders.

Types
-----
:class:`SpectralDataset` holds N spectra ``(N, L)`` sampled at L wavelengths, and
optionally their abundance labels ``(N, P)`` with the material names (paper 000,
section 3: the spectra are grouped by distinct abundance vector, and each group is
one Gaussian process).  :class:`SpectralCube` is an image ``(rows, cols, L)`` that
is unmixed pixel by pixel.

Validation (every loader)
-------------------------
* NaN or infinite values: :class:`SpectraInputError` naming the file and the count.
* Negative reflectance: kept, with a warning in ``dataset.warnings`` (small
  negative values are common after dark-current subtraction).
* Abundances whose rows do not sum to one (tolerance 1e-3): a warning, or the rows
  are divided by their sums when ``renormalise=True``.  Negative abundances are an
  error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from studio.engine.jobs import UserError

__all__ = [
    "SpectraInputError",
    "SpectralDataset",
    "SpectralCube",
    "check_compatible",
]

#: Rows of abundances must sum to one within this tolerance (else warning).
SUM_TOLERANCE = 1e-3
#: Abundance vectors are grouped after rounding to this precision.
GROUP_DECIMALS = 6


class SpectraInputError(UserError):
    """Unusable spectral input; the message names the file (or source) and the problem."""

    def __init__(self, source: str, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}" if self.source else problem)


@dataclass
class SpectralDataset:
    """Spectra ``(N, L)`` at ``wavelengths (L,)``, with optional abundances ``(N, P)``."""

    spectra: np.ndarray
    wavelengths: np.ndarray
    abundances: np.ndarray | None
    materials: list[str]
    name: str
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spectra = np.asarray(self.spectra)
        self.wavelengths = np.asarray(self.wavelengths)
        src = self.source or self.name
        if self.spectra.ndim != 2:
            raise SpectraInputError(src, f"spectra must be a 2-D array (N, bands), got shape {self.spectra.shape}")
        if self.wavelengths.shape != (self.spectra.shape[1],):
            raise SpectraInputError(src, f"{self.wavelengths.size} wavelengths for {self.spectra.shape[1]} bands")
        if self.abundances is not None:
            self.abundances = np.asarray(self.abundances)
            if self.abundances.ndim != 2 or self.abundances.shape[0] != self.spectra.shape[0]:
                raise SpectraInputError(src, f"abundances of shape {self.abundances.shape} do not match "
                                             f"{self.spectra.shape[0]} spectra")
            if len(self.materials) != self.abundances.shape[1]:
                raise SpectraInputError(src, f"{len(self.materials)} material names for "
                                             f"{self.abundances.shape[1]} abundance columns")
        self.materials = [str(m) for m in self.materials]

    def __len__(self) -> int:
        return int(self.spectra.shape[0])

    @property
    def n_bands(self) -> int:
        return int(self.spectra.shape[1])

    @property
    def n_materials(self) -> int:
        return 0 if self.abundances is None else int(self.abundances.shape[1])

    def _need_labels(self) -> np.ndarray:
        if self.abundances is None:
            raise SpectraInputError(self.source or self.name, "the dataset has no abundance labels")
        return self.abundances

    def groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct abundance vectors ``(G, P)`` (rounded to 1e-6, sorted) and each spectrum's group ``(N,)``."""
        rounded = np.round(self._need_labels().astype(np.float64), GROUP_DECIMALS) + 0.0  # -0.0 -> 0.0
        vectors, index = np.unique(rounded, axis=0, return_inverse=True)
        return vectors, index.reshape(-1).astype(np.int64)

    def subset(self, mask_or_indices: np.ndarray | Sequence[int]) -> "SpectralDataset":
        """A new dataset with the selected spectra (boolean mask or integer indices)."""
        sel = np.asarray(mask_or_indices)
        if sel.dtype == bool and sel.shape != (len(self),):
            raise ValueError(f"mask of shape {sel.shape} for {len(self)} spectra")
        return SpectralDataset(
            spectra=self.spectra[sel],
            wavelengths=self.wavelengths.copy(),
            abundances=None if self.abundances is None else self.abundances[sel],
            materials=list(self.materials),
            name=self.name,
            source=self.source,
            warnings=list(self.warnings),
        )

    def pure_endmembers(self) -> np.ndarray:
        """Endmember matrix ``(L, P)``: per material, the mean of the spectra whose abundance is that unit vector."""
        a = self._need_labels()
        pure = np.abs(a - 1.0) <= 10.0 ** -GROUP_DECIMALS  # (N, P): a_p == 1 (so the others are 0)
        counts = pure.sum(axis=0)
        missing = [m for m, c in zip(self.materials, counts) if c == 0]
        if missing:
            raise SpectraInputError(self.source or self.name,
                                    f"no pure spectra (abundance 1) for {', '.join(missing)}; "
                                    "load the endmembers from a file instead")
        sums = pure.T.astype(np.float64) @ self.spectra.astype(np.float64)  # (P, L)
        return (sums / counts[:, None]).T


@dataclass
class SpectralCube:
    """A hyperspectral image ``(rows, cols, L)``."""

    data: np.ndarray
    wavelengths: np.ndarray
    name: str
    source: str = ""

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]

    def pixels(self) -> np.ndarray:
        """All pixels as spectra ``(rows*cols, L)`` (row-major)."""
        return self.data.reshape(-1, self.data.shape[-1])


def check_compatible(spectra_bands: int, endmembers: np.ndarray, source: str) -> None:
    """Raise :class:`SpectraInputError` unless the endmembers ``(L, P)`` have ``spectra_bands`` rows."""
    endmembers = np.asarray(endmembers)
    if endmembers.ndim != 2:
        raise SpectraInputError(source, f"endmembers must be a 2-D array (bands, materials), got {endmembers.shape}")
    if endmembers.shape[0] != int(spectra_bands):
        raise SpectraInputError(source, f"the spectra have {spectra_bands} bands but the endmembers have "
                                        f"{endmembers.shape[0]}")
