"""ELMM (eq. 5): recovery on noiseless data, FCLS as the special case psi = 1, monotone descent."""
import numpy as np
import pytest

from studio.unmixing import elmm as elmm_module
from studio.unmixing.elmm import elmm, elmm_objective
from studio.unmixing.fcls import _affine_maps, fcls, objective


def _problem(seed=0, N=200, L=60, P=4):
    rng = np.random.default_rng(seed)
    M = rng.uniform(0.05, 0.9, (L, P))
    A = rng.dirichlet(np.full(P, 0.8), N)
    psi = rng.uniform(0.75, 1.25, (N, P))
    return M, A, psi


def test_recovers_scaled_contributions_on_noiseless_data():
    """psi * a (what the data identify) is recovered up to the small bias of the psi prior."""
    M, A, psi = _problem()
    Y = (psi * A) @ M.T
    A_hat, psi_hat = elmm(Y, M, lambda_psi=1e-3, max_iter=1000, tol=1e-9)
    assert np.allclose(A_hat.sum(1), 1.0) and A_hat.min() >= 0
    assert np.abs(psi_hat * A_hat - psi * A).max() < 5e-3
    # FCLS cannot absorb the scaling; ELMM fits the data almost exactly
    fit_elmm = objective(Y, M, psi_hat * A_hat)
    fit_fcls = objective(Y, M, fcls(Y, M))
    assert fit_elmm.mean() < 1e-3 * fit_fcls.mean()
    # psi is near the truth where the material is present in a useful amount
    present = A > 0.2
    assert np.median(np.abs(psi_hat - psi)[present]) < 0.1


def test_no_variability_gives_fcls_and_unit_psi():
    M, A, _ = _problem(1)
    Y = A @ M.T
    A_hat, psi_hat = elmm(Y, M)
    assert np.abs(A_hat - A).max() < 1e-6
    assert np.abs(psi_hat - 1.0).max() < 1e-6


def test_each_sweep_decreases_the_objective():
    M, A, psi = _problem(2, N=100)
    rng = np.random.default_rng(3)
    Y = (psi * A) @ M.T + 0.01 * rng.standard_normal((100, M.shape[0]))
    lam_rel = 0.01
    G = M.T @ M
    lam = lam_rel * np.trace(G) / M.shape[1]
    T, _ = _affine_maps(G, sum_to_one=False)
    B = Y @ M
    U = np.einsum("spq,nq->nsp", T, B)
    a = fcls(Y, M)
    psi_k = np.ones_like(a)
    previous = elmm_objective(Y, M, a, psi_k, lam_rel)
    for _ in range(30):
        psi_k = elmm_module._psi_step(B, a, G, lam, 0.05, 20.0)
        a, _ = elmm_module._a_step(B, U, T, psi_k, G)
        value = elmm_objective(Y, M, a, psi_k, lam_rel)
        assert np.all(value <= previous + 1e-12)
        previous = value
    final_a, final_psi = elmm(Y, M, lambda_psi=lam_rel)
    assert np.all(elmm_objective(Y, M, final_a, final_psi, lam_rel) <= previous + 1e-9)


def test_chunks_single_and_errors(monkeypatch):
    M, A, psi = _problem(4, N=50)
    Y = (psi * A) @ M.T
    full = elmm(Y, M, tol=1e-11, max_iter=5000)
    monkeypatch.setattr(elmm_module, "_CHUNK_BYTES", 2000)  # chunks stop on their own: compare converged runs
    chunked = elmm(Y, M, tol=1e-11, max_iter=5000)
    assert np.abs(full[0] - chunked[0]).max() < 1e-6 and np.abs(full[1] - chunked[1]).max() < 1e-6
    a, p = elmm(Y[0], M)
    assert a.shape == (4,) and p.shape == (4,)
    with pytest.raises(ValueError, match="bands"):
        elmm(Y, M[:-1])
    with pytest.raises(ValueError, match="psi_bounds"):
        elmm(Y, M, psi_bounds=(0.0, 2.0))
