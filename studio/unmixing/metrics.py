"""Figures of merit of paper 000 (numpy only).

* :func:`delta_amn` -- eq. 12: average over the I measured spectra of one abundance
  vector of the Euclidean distance to the nearest of the H generated spectra.
* :func:`delta_gamn` -- the mean of Delta_AMN over all abundance vectors of a test
  set ("global average minimum norm", section 4.2, Table 1).
* :func:`delta_rmse` -- eq. 13: root of the mean over spectra and materials of the
  squared abundance error (Table 2, Fig. 3).
* :func:`reconstruction_rmse` -- per spectrum, the RMS over bands of ``y - M a``
  (not in the paper; shown beside the abundances to judge the fit).

Distances are computed exactly (``scipy.spatial.distance.cdist``, no
``|x|^2 + |y|^2 - 2xy`` cancellation) in blocks of measured spectra, so I = H = 400
takes a few milliseconds and large sets stay within memory.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.spatial.distance import cdist

__all__ = ["delta_amn", "delta_gamn", "delta_rmse", "reconstruction_rmse"]

_BLOCK_ELEMENTS = 4_000_000  # I_block x H distances per block


def delta_amn(measured: np.ndarray, generated: np.ndarray) -> float:
    """Eq. 12: ``1/I sum_i min_h ||y_i - y^_h||_2`` for measured ``(I, L)`` and generated ``(H, L)``."""
    Y = np.asarray(measured, dtype=np.float64)
    G = np.asarray(generated, dtype=np.float64)
    if Y.ndim != 2 or G.ndim != 2 or Y.shape[1] != G.shape[1]:
        raise ValueError(f"measured {Y.shape} and generated {G.shape} must be (I, L) and (H, L) with the same L")
    if len(Y) == 0 or len(G) == 0:
        raise ValueError("Delta_AMN needs at least one measured and one generated spectrum")
    block = max(1, _BLOCK_ELEMENTS // len(G))
    total = 0.0
    for start in range(0, len(Y), block):
        total += cdist(Y[start:start + block], G).min(axis=1).sum()
    return float(total / len(Y))


def delta_gamn(measured_by_group: Sequence[np.ndarray], generated_by_group: Sequence[np.ndarray]) -> float:
    """Mean of :func:`delta_amn` over abundance vectors (lists in the same group order)."""
    if len(measured_by_group) != len(generated_by_group):
        raise ValueError(f"{len(measured_by_group)} measured groups but {len(generated_by_group)} generated groups")
    if not measured_by_group:
        raise ValueError("Delta_GAMN needs at least one group")
    return float(np.mean([delta_amn(m, g) for m, g in zip(measured_by_group, generated_by_group)]))


def delta_rmse(A_hat: np.ndarray, A: np.ndarray) -> float:
    """Eq. 13: ``sqrt(1/N sum_n 1/P sum_p (a^_pn - a_pn)^2)``."""
    A_hat = np.asarray(A_hat, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    if A_hat.shape != A.shape:
        raise ValueError(f"estimated abundances {A_hat.shape} and labels {A.shape} differ in shape")
    return float(np.sqrt(np.mean((A_hat - A) ** 2)))


def reconstruction_rmse(Y: np.ndarray, M: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Per spectrum ``sqrt(mean_l (y - M a)_l^2)``, shape ``(N,)``."""
    R = np.asarray(Y, dtype=np.float64) - np.asarray(A, dtype=np.float64) @ np.asarray(M, dtype=np.float64).T
    return np.sqrt(np.mean(R * R, axis=-1))
