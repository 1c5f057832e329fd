"""Eqs. 12 and 13 against plain loops."""
import numpy as np
import pytest

from studio.unmixing import metrics
from studio.unmixing.metrics import delta_amn, delta_gamn, delta_rmse, reconstruction_rmse


def _amn_loop(Y, G):
    return sum(min(np.sqrt(np.sum((y - g) ** 2)) for g in G) for y in Y) / len(Y)


def test_delta_amn_against_brute_force(monkeypatch):
    rng = np.random.default_rng(0)
    Y, G = rng.random((37, 11)), rng.random((23, 11))
    assert delta_amn(Y, G) == pytest.approx(_amn_loop(Y, G), rel=1e-12)
    monkeypatch.setattr(metrics, "_BLOCK_ELEMENTS", 50)  # several blocks
    assert delta_amn(Y, G) == pytest.approx(_amn_loop(Y, G), rel=1e-12)
    assert delta_amn(Y, Y) == 0.0
    # not symmetric: each measured spectrum looks for its nearest generated one
    assert delta_amn(Y, G[:1]) > delta_amn(Y, G)


def test_delta_amn_400_by_400():
    rng = np.random.default_rng(1)
    Y, G = rng.random((400, 91)), rng.random((400, 91))
    per_row_loop = np.mean([np.sqrt(((y - G) ** 2).sum(1)).min() for y in Y])
    assert delta_amn(Y, G) == pytest.approx(per_row_loop, rel=1e-12)


def test_delta_gamn_and_errors():
    rng = np.random.default_rng(2)
    ms = [rng.random((5, 4)) for _ in range(3)]
    gs = [rng.random((6, 4)) for _ in range(3)]
    assert delta_gamn(ms, gs) == pytest.approx(np.mean([_amn_loop(m, g) for m, g in zip(ms, gs)]))
    with pytest.raises(ValueError):
        delta_gamn(ms, gs[:2])
    with pytest.raises(ValueError):
        delta_amn(ms[0], rng.random((3, 5)))


def test_delta_rmse_and_reconstruction():
    A = np.array([[1.0, 0.0], [0.5, 0.5]])
    A_hat = np.array([[0.8, 0.2], [0.5, 0.5]])
    assert delta_rmse(A_hat, A) == pytest.approx(np.sqrt((0.04 + 0.04) / 4))
    M = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    Y = A @ M.T
    assert np.allclose(reconstruction_rmse(Y, M, A), 0)
    assert reconstruction_rmse(Y, M, A_hat)[0] == pytest.approx(np.sqrt((0.04 + 0.04 + 0) / 3))
