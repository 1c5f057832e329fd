"""Linear-mixing-model unmixing: unconstrained LS, NNLS and FCLS (paper 000, eqs. 1-4).

For spectra ``Y (N, L)`` and endmembers ``M (L, P)`` every function returns the
abundances ``A (N, P)`` minimising ``||y - M a||^2`` per spectrum (eq. 1):

* :func:`unconstrained_ls` -- no constraint (the pseudo-inverse of section 2);
* :func:`nnls` -- ``a >= 0`` (eq. 2);
* :func:`fcls` -- ``a >= 0`` and ``sum(a) = 1`` (eqs. 2, 3), the problem the FCLS
  algorithm of Heinz & Chang (paper ref. [15]) solves through the Lagrangian of
  eq. 4 and iterative removal of negative abundances.

Solver: exact active-set enumeration (our choice; the paper does not prescribe one)
----------------------------------------------------------------------------------
Both problems are convex quadratic programs.  If ``S`` is the support (set of
non-zero entries) of an optimal ``a*``, then ``a*`` also minimises the objective
under the *equality* constraints alone (``a_p = 0`` off S, plus ``sum(a) = 1`` for
FCLS), because the remaining inequality constraints are inactive and the problem is
convex.  Conversely the equality-constrained minimiser of any subset S is a
feasible point whenever it is non-negative.  Hence: solve the equality-constrained
problem in closed form for every subset S of the P materials, keep the
non-negative candidates, and take per spectrum the one of lowest objective.  That
candidate is a global minimiser -- exact up to rounding, with no iteration and no
tolerance, which is what the benchmark against a QP solver checks.

Everything is shared by all spectra except the right-hand side ``b = M^T y``: per
subset the KKT system ``[[G_S, 1], [1^T, 0]]`` (``G = M^T M``, FCLS) or ``G_S``
(NNLS) is inverted once (Moore-Penrose, so collinear endmembers are allowed), which
turns each candidate into an affine map ``a = T_S b + c_S``.  The objective is
compared through ``a^T G a - 2 b^T a`` (``||y||^2`` is common to all candidates).
Work is ``O(N 2^P P^2)`` after one ``O(N L P)`` product, vectorised in chunks of
spectra; subsets are enumerated while ``P <= ENUMERATION_MAX_P`` (10: 1023 subsets).

For larger P the functions fall back to an accelerated projected gradient method
(FISTA with restart, Euclidean projection onto the simplex or the non-negative
orthant), vectorised over spectra, stopped when the largest change of any
abundance in one step is below ``tol`` (default 1e-10) or after ``max_iter``
(default 20000) steps; the result is then approximate to that tolerance.
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "ENUMERATION_MAX_P",
    "unconstrained_ls",
    "nnls",
    "fcls",
    "objective",
    "project_simplex",
]

ENUMERATION_MAX_P = 10
#: Candidates with an entry below -FEASIBILITY_TOL (relative to 1) are infeasible.
FEASIBILITY_TOL = 1e-9
#: Bytes of candidate arrays per chunk of spectra.
_CHUNK_BYTES = 64 * 1024 * 1024


def _as_problem(Y: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    Y = np.asarray(Y, dtype=np.float64)
    M = np.asarray(M, dtype=np.float64)
    single = Y.ndim == 1
    if single:
        Y = Y[None, :]
    if Y.ndim != 2 or M.ndim != 2:
        raise ValueError(f"Y must be (N, L) and M (L, P); got {Y.shape} and {M.shape}")
    if Y.shape[1] != M.shape[0]:
        raise ValueError(f"the spectra have {Y.shape[1]} bands but the endmembers have {M.shape[0]}")
    return Y, M, single


def objective(Y: np.ndarray, M: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``||y - M a||^2`` per spectrum ``(N,)``."""
    R = np.asarray(Y, dtype=np.float64) - np.asarray(A, dtype=np.float64) @ np.asarray(M, dtype=np.float64).T
    return np.einsum("nl,nl->n", R, R)


def unconstrained_ls(Y: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Least squares without constraints (eq. 1 through the pseudo-inverse), ``(N, P)``."""
    Y, M, single = _as_problem(Y, M)
    A = Y @ np.linalg.pinv(M).T
    return A[0] if single else A


def _subsets(P: int) -> list[tuple[int, ...]]:
    return [s for k in range(1, P + 1) for s in itertools.combinations(range(P), k)]


def _affine_maps(G: np.ndarray, sum_to_one: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per subset S, ``T (P, P)`` and ``c (P,)`` with the candidate ``a = T b + c`` (zero off S)."""
    P = G.shape[0]
    subsets = _subsets(P)
    T = np.zeros((len(subsets), P, P))
    c = np.zeros((len(subsets), P))
    for i, S in enumerate(subsets):
        idx = np.asarray(S)
        k = idx.size
        if sum_to_one:
            kkt = np.zeros((k + 1, k + 1))
            kkt[:k, :k] = G[np.ix_(idx, idx)]
            kkt[:k, k] = 1.0
            kkt[k, :k] = 1.0
            inv = np.linalg.pinv(kkt)
            T[i][np.ix_(idx, idx)] = inv[:k, :k]
            c[i, idx] = inv[:k, k]
        else:
            T[i][np.ix_(idx, idx)] = np.linalg.pinv(G[np.ix_(idx, idx)])
    return T, c


def _best_candidates(B: np.ndarray, G: np.ndarray, T: np.ndarray, c: np.ndarray,
                     include_zero: bool) -> np.ndarray:
    """Per row of ``B = Y M`` the feasible candidate of lowest objective (see module docstring)."""
    N, P = B.shape
    n_sub = T.shape[0]
    chunk = max(1, _CHUNK_BYTES // (8 * (n_sub + 1) * P * 3))
    out = np.empty((N, P))
    for start in range(0, N, chunk):
        b = B[start:start + chunk]  # (n, P)
        cand = np.einsum("spq,nq->nsp", T, b, optimize=True) + c[None]  # (n, S, P)
        Ga = cand @ G  # (n, S, P), G symmetric
        value = np.einsum("nsp,nsp->ns", cand, Ga) - 2.0 * np.einsum("nsp,np->ns", cand, b)
        feasible = cand.min(axis=2) >= -FEASIBILITY_TOL
        value = np.where(feasible, value, np.inf)
        if include_zero:  # NNLS: a = 0 (objective 0 relative to ||y||^2) is always feasible
            value = np.concatenate([np.zeros((value.shape[0], 1)), value], axis=1)
            cand = np.concatenate([np.zeros((cand.shape[0], 1, P)), cand], axis=1)
        best = np.argmin(value, axis=1)
        out[start:start + chunk] = cand[np.arange(cand.shape[0]), best]
    return out


def project_simplex(V: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of ``V`` onto the probability simplex (sort-based, exact)."""
    V = np.asarray(V, dtype=np.float64)
    P = V.shape[1]
    U = -np.sort(-V, axis=1)
    css = np.cumsum(U, axis=1) - 1.0
    k = np.arange(1, P + 1)
    cond = U - css / k > 0
    rho = P - 1 - np.argmax(cond[:, ::-1], axis=1)
    theta = css[np.arange(V.shape[0]), rho] / (rho + 1)
    return np.maximum(V - theta[:, None], 0.0)


def _fista(B: np.ndarray, G: np.ndarray, A0: np.ndarray, project, tol: float, max_iter: int) -> np.ndarray:
    """Accelerated projected gradient on ``a^T G a - 2 b^T a`` (fallback for large P)."""
    step = 1.0 / max(np.linalg.eigvalsh(G).max(), 1e-300)
    A = project(A0)
    Z = A.copy()
    t = 1.0
    for _ in range(max_iter):
        A_new = project(Z - step * (Z @ G - B))
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        delta = A_new - A
        # adaptive restart (O'Donoghue & Candes) when the momentum points uphill
        uphill = np.einsum("np,np->n", (Z - A_new), delta) > 0
        Z = A_new + ((t - 1.0) / t_new) * delta
        Z[uphill] = A_new[uphill]
        A, t = A_new, t_new
        if np.abs(delta).max(initial=0.0) < tol:
            break
    return A


def _solve(Y, M, sum_to_one: bool, tol: float, max_iter: int) -> np.ndarray:
    Y, M, single = _as_problem(Y, M)
    G = M.T @ M
    B = Y @ M  # rows are b = M^T y
    P = M.shape[1]
    if P <= ENUMERATION_MAX_P:
        T, c = _affine_maps(G, sum_to_one)
        A = _best_candidates(B, G, T, c, include_zero=not sum_to_one)
        if sum_to_one:  # remove rounding: entries >= -tol are clipped, rows renormalised
            A = np.maximum(A, 0.0)
            A /= A.sum(axis=1, keepdims=True)
        else:
            A = np.maximum(A, 0.0)
    else:
        project = project_simplex if sum_to_one else (lambda V: np.maximum(V, 0.0))
        A = _fista(B, G, np.full(B.shape, 1.0 / P), project, tol, max_iter)
    return A[0] if single else A


def nnls(Y: np.ndarray, M: np.ndarray, *, tol: float = 1e-10, max_iter: int = 20000) -> np.ndarray:
    """Non-negative least squares per spectrum, ``(N, P)``; exact for P <= 10 (module docstring)."""
    return _solve(Y, M, sum_to_one=False, tol=tol, max_iter=max_iter)


def fcls(Y: np.ndarray, M: np.ndarray, *, tol: float = 1e-10, max_iter: int = 20000) -> np.ndarray:
    """Fully constrained least squares (eqs. 1-4), ``(N, P)`` on the simplex; exact for P <= 10."""
    return _solve(Y, M, sum_to_one=True, tol=tol, max_iter=max_iter)
