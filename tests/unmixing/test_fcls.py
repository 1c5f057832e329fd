"""LS / NNLS / FCLS against reference solvers, on problems where the constraints are active."""
import numpy as np
import pytest
from scipy.optimize import minimize, nnls as scipy_nnls

from studio.unmixing import fcls as fcls_module
from studio.unmixing.fcls import fcls, nnls, objective, project_simplex, unconstrained_ls


def _problem(seed, N=50, L=30, P=5, collinear=False):
    rng = np.random.default_rng(seed)
    M = rng.uniform(0.05, 0.9, (L, P))
    if collinear:
        M[:, 1] = 2.0 * M[:, 0]
    # sparse true abundances pushed outside the simplex by noise: many constraints active
    A = rng.dirichlet(np.full(P, 0.3), N)
    Y = A @ M.T + 0.05 * rng.standard_normal((N, L)) + rng.normal(0, 0.1, (N, 1))
    return Y, M


def _slsqp_fcls(y, M):
    P = M.shape[1]
    res = minimize(lambda a: np.sum((y - M @ a) ** 2), np.full(P, 1.0 / P),
                   jac=lambda a: -2.0 * M.T @ (y - M @ a), method="SLSQP", bounds=[(0, None)] * P,
                   constraints=[{"type": "eq", "fun": lambda a: a.sum() - 1.0, "jac": lambda a: np.ones(P)}],
                   options={"ftol": 1e-14, "maxiter": 500})
    return res.x


@pytest.mark.parametrize("seed,collinear", [(0, False), (1, False), (2, True)])
def test_fcls_matches_qp_reference(seed, collinear):
    Y, M = _problem(seed, collinear=collinear)
    A = fcls(Y, M)
    assert A.shape == (50, 5)
    assert A.min() >= 0.0 and np.allclose(A.sum(axis=1), 1.0, atol=1e-12)
    ref = np.array([_slsqp_fcls(y, M) for y in Y])
    ours, theirs = objective(Y, M, A), objective(Y, M, ref)
    assert np.all(ours <= theirs + 1e-8)
    assert (A == 0).sum() > 20  # constraints really active
    if not collinear:  # unique minimiser
        assert np.abs(A - ref).max() < 1e-4


def test_fcls_brute_force_vertices_and_edges():
    """P = 3, a fine grid over the simplex: nothing on it beats the solution."""
    Y, M = _problem(3, N=20, P=3)
    A = fcls(Y, M)
    t = np.linspace(0, 1, 201)
    g = np.array([(x, y, 1 - x - y) for x in t for y in t if x + y <= 1 + 1e-12])
    grid_best = objective(np.repeat(Y, len(g), 0), M, np.tile(g, (len(Y), 1))).reshape(len(Y), -1).min(axis=1)
    assert np.all(objective(Y, M, A) <= grid_best + 1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_nnls_matches_scipy(seed):
    Y, M = _problem(seed, P=6)
    Y = Y - 0.3  # many zeros
    A = nnls(Y, M)
    ref = np.array([scipy_nnls(M, y)[0] for y in Y])
    assert A.min() >= 0 and (ref == 0).sum() > 20
    assert np.all(objective(Y, M, A) <= objective(Y, M, ref) + 1e-8)
    assert np.abs(A - ref).max() < 1e-6


def test_unconstrained_and_single_spectrum():
    Y, M = _problem(4)
    A = unconstrained_ls(Y, M)
    assert np.allclose(A, np.linalg.lstsq(M, Y.T, rcond=None)[0].T)
    a = fcls(Y[0], M)
    assert a.shape == (5,) and np.allclose(a, fcls(Y[:1], M)[0])
    with pytest.raises(ValueError, match="30 bands but the endmembers have 29"):
        fcls(Y, M[:-1])


def test_exact_noiseless_recovery_and_chunking(monkeypatch):
    rng = np.random.default_rng(5)
    M = rng.uniform(0.05, 0.9, (40, 4))
    A = rng.dirichlet(np.ones(4), 300)
    A[:100, 0] = 0
    A /= A.sum(1, keepdims=True)
    monkeypatch.setattr(fcls_module, "_CHUNK_BYTES", 4096)  # many chunks
    assert np.abs(fcls(A @ M.T, M) - A).max() < 1e-9


def test_large_p_fallback_close_to_reference():
    Y, M = _problem(6, N=8, L=40, P=12)
    A = fcls(Y, M)
    ref = np.array([_slsqp_fcls(y, M) for y in Y])
    assert A.min() >= 0 and np.allclose(A.sum(1), 1.0)
    assert np.all(objective(Y, M, A) <= objective(Y, M, ref) + 1e-6)
    An = nnls(Y, M)
    refn = np.array([scipy_nnls(M, y)[0] for y in Y])
    assert np.all(objective(Y, M, An) <= objective(Y, M, refn) + 1e-6)


def test_project_simplex():
    V = np.array([[0.2, 0.3, 0.5], [2.0, 0.0, 0.0], [-1.0, 0.5, 0.6], [0.4, 0.4, 0.4]])
    Pr = project_simplex(V)
    assert np.allclose(Pr.sum(1), 1) and Pr.min() >= 0
    assert np.allclose(Pr[0], V[0]) and np.allclose(Pr[1], [1, 0, 0]) and np.allclose(Pr[3], 1 / 3)
    assert np.allclose(Pr[2], [0, 0.45, 0.55])
