"""Extended linear mixing model, ELMM (paper 000, eq. 5; Veganzones, Drumetz et al., paper ref. [16]).

Each pixel may scale each endmember: ``y ~ M diag(psi) a`` with ``a`` on the simplex
and ``psi >= 0`` per pixel and material (the diagonal matrix B of eq. 5).  This
models illumination and grain-size effects that scale a material's spectrum.

Problem solved (our choices where the paper leaves details open)
---------------------------------------------------------------
Only the products ``psi_p * a_p`` are identifiable from y: for any simplex ``a``
with the same support, ``psi = (psi * a) / a`` gives the same fit.  As in Drumetz
et al.'s ELMM (IEEE TIP 2016), a quadratic penalty pulls the scaling factors
towards one and fixes the split::

    min_{a in simplex, psi in [lo, hi]^P}  ||y - M diag(psi) a||^2 + lam ||psi - 1||^2
    lam = lambda_psi * trace(M^T M) / P

(``lambda_psi`` is relative to the mean squared endmember norm, so it does not
depend on the reflectance scale; default 0.01; Drumetz's spatial smoothness terms
are omitted since pixels are unmixed independently.)  Without variability
(psi = 1) the penalty vanishes and the model is FCLS.  For pixels where
``a_p = 0`` the penalty sets ``psi_p = 1``.  Values of ``lambda_psi`` below about
1e-3 make the split ill-posed (a tiny ``a_p`` times a huge ``psi_p``): psi then
runs into its bounds, where the clipped psi-step is no longer exact, and the
alternation converges slowly.  On the sample datasets ELMM's Delta_RMSE is within
0.02 of FCLS's, as in the paper's Table 2.

Solver: alternating exact block minimisation, vectorised over pixels
---------------------------------------------------------------------
Start from ``a = FCLS(y)``, ``psi = 1``; then repeat

1. *psi-step* -- for fixed ``a`` the problem is a ridge regression per pixel:
   ``(diag(a) G diag(a) + lam I) psi = a * (M^T y) + lam 1``, solved as a batch of
   P x P systems, then clipped to ``psi_bounds`` (exact when the bounds are not
   active, which is the usual case; the bounds are a safety net).
2. *a-step* -- for fixed ``psi > 0`` substitute ``c = psi * a``: minimise
   ``||y - M c||^2`` subject to ``c >= 0`` and ``sum(c / psi) = 1``.  This is FCLS
   with a per-pixel weighted sum constraint and is solved *exactly* by the same
   active-set enumeration as :func:`studio.unmixing.fcls.fcls`: for a support S,
   ``c_S = u_S - mu v_S`` with ``u_S = G_S^+ (M^T y)_S`` (computed once),
   ``v_S = G_S^+ (1/psi)_S`` and ``mu`` from the constraint; the feasible
   candidate of lowest objective wins.  (Requires P <= 10 and, to be exact,
   linearly independent endmembers.)

Each step does not increase the objective.  Stopping rule: the iteration stops when
the largest change of any abundance and of any ``psi * a`` product over all pixels
in one sweep is below ``tol`` (default 1e-6), or after ``max_iter`` sweeps
(default 200).  Pixels are processed in chunks, each iterated to its own stop.
"""
from __future__ import annotations

import numpy as np

from studio.unmixing.fcls import ENUMERATION_MAX_P, FEASIBILITY_TOL, _affine_maps, fcls

__all__ = ["elmm", "elmm_objective"]

_CHUNK_BYTES = 64 * 1024 * 1024


def elmm_objective(Y: np.ndarray, M: np.ndarray, A: np.ndarray, psi: np.ndarray,
                   lambda_psi: float = 0.01) -> np.ndarray:
    """Per pixel ``||y - M diag(psi) a||^2 + lam ||psi - 1||^2`` (``lam`` as in the module docstring)."""
    M = np.asarray(M, dtype=np.float64)
    lam = lambda_psi * np.trace(M.T @ M) / M.shape[1]
    R = np.asarray(Y, dtype=np.float64) - (np.asarray(psi) * np.asarray(A)) @ M.T
    return np.einsum("nl,nl->n", R, R) + lam * np.sum((np.asarray(psi) - 1.0) ** 2, axis=1)


def _a_step(B, U, T, psi, G):
    """Exact minimiser over the simplex for fixed psi; returns (a, c = psi * a)."""
    inv_psi = 1.0 / psi  # (n, P)
    V = np.einsum("spq,nq->nsp", T, inv_psi, optimize=True)  # (n, S, P)
    support = np.any(T != 0.0, axis=2)[None]  # (1, S, P): entries in S
    num = np.einsum("nsp,np->ns", U, inv_psi) - 1.0
    den = np.einsum("nsp,np->ns", V, inv_psi)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(np.abs(den) > 1e-300, num / den, np.nan)
    C = U - mu[:, :, None] * V
    C = np.where(support, C, 0.0)
    value = np.einsum("nsp,nsp->ns", C, C @ G) - 2.0 * np.einsum("nsp,np->ns", C, B)
    feasible = np.all(C >= -FEASIBILITY_TOL, axis=2) & np.isfinite(value)
    value = np.where(feasible, value, np.inf)
    best = np.argmin(value, axis=1)
    c = np.maximum(C[np.arange(C.shape[0]), best], 0.0)
    a = c * inv_psi
    s = a.sum(axis=1, keepdims=True)
    a /= s  # removes rounding; s == 1 up to FEASIBILITY_TOL
    return a, a * psi


def _psi_step(B, A, G, lam, lo, hi):
    P = A.shape[1]
    H = A[:, :, None] * G[None] * A[:, None, :] + lam * np.eye(P)[None]
    rhs = A * B + lam
    psi = np.linalg.solve(H, rhs[:, :, None])[:, :, 0]
    return np.clip(psi, lo, hi)


def elmm(Y: np.ndarray, M: np.ndarray, *, max_iter: int = 200, tol: float = 1e-6,
         psi_bounds: tuple[float, float] = (0.05, 20.0), lambda_psi: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """ELMM unmixing (eq. 5): abundances ``A (N, P)`` on the simplex and scaling factors ``psi (N, P)``.

    See the module docstring for the regularised problem, the alternating solver
    and the stopping rule.
    """
    Y = np.asarray(Y, dtype=np.float64)
    M = np.asarray(M, dtype=np.float64)
    single = Y.ndim == 1
    if single:
        Y = Y[None]
    if Y.ndim != 2 or M.ndim != 2 or Y.shape[1] != M.shape[0]:
        raise ValueError(f"the spectra {Y.shape} and endmembers {M.shape} do not match (bands)")
    P = M.shape[1]
    if P > ENUMERATION_MAX_P:
        raise ValueError(f"ELMM supports at most {ENUMERATION_MAX_P} endmembers, got {P}")
    lo, hi = float(psi_bounds[0]), float(psi_bounds[1])
    if not 0.0 < lo <= 1.0 <= hi:
        raise ValueError(f"psi_bounds {psi_bounds} must satisfy 0 < lo <= 1 <= hi")
    if lambda_psi < 0:
        raise ValueError("lambda_psi must be >= 0")
    G = M.T @ M
    lam = max(lambda_psi, 1e-12) * np.trace(G) / P
    T, _ = _affine_maps(G, sum_to_one=False)  # pinv(G_S), zero-padded
    n_sub = T.shape[0]
    chunk = max(1, _CHUNK_BYTES // (8 * n_sub * P * 6))
    A_out = np.empty((Y.shape[0], P))
    psi_out = np.empty((Y.shape[0], P))
    for start in range(0, Y.shape[0], chunk):
        B = Y[start:start + chunk] @ M  # (n, P)
        U = np.einsum("spq,nq->nsp", T, B, optimize=True)  # (n, S, P)
        A = fcls(Y[start:start + chunk], M)
        C = A.copy()
        psi = np.ones_like(A)
        for _ in range(max_iter):
            psi = _psi_step(B, A, G, lam, lo, hi)
            A_new, C_new = _a_step(B, U, T, psi, G)
            change = max(np.abs(A_new - A).max(initial=0.0), np.abs(C_new - C).max(initial=0.0))
            A, C = A_new, C_new
            if change < tol:
                break
        psi = _psi_step(B, A, G, lam, lo, hi)  # psi consistent with the final a
        A_out[start:start + chunk] = A
        psi_out[start:start + chunk] = psi
    if single:
        return A_out[0], psi_out[0]
    return A_out, psi_out
