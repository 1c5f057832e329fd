"""Section 3 of paper 000: moments, index transforms, target mapping, PSD covariances, grid, training."""
import numpy as np
import pytest

from studio.unmixing.augmentation import (
    GPAugmenter, MomentTrainConfig, TargetMapping, augmentation_grid, cov_index_pairs, cov_net_inputs, group_moments,
    mean_net_inputs, nearest_psd, train_moment_nets, transformed_indices,
)
from studio.unmixing.io import SpectralDataset
from studio.unmixing.synthetic import make_sample, paper_split


class Ctx:
    """A minimal job context recording metrics."""

    def __init__(self):
        import torch

        self.device, self.run, self.metrics, self.fractions = torch.device("cpu"), None, {}, []

    def progress(self, done, total, message=""):
        self.fractions.append(done / total)

    def metric(self, name, value, step, epoch=None):
        self.metrics.setdefault(name, []).append(value)

    def log(self, text):
        pass

    def check(self):
        pass

    def set_final_metrics(self, m):
        pass


def tiny_dataset(n_per=12, L=10, seed=0):
    """3 materials, 4 abundance vectors, a smooth linear mix plus per-vector noise."""
    rng = np.random.default_rng(seed)
    groups = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0]], float)
    A = np.repeat(groups, n_per, axis=0)
    wl = np.linspace(450, 810, L)
    M = np.stack([np.linspace(0.2, 0.8, L), np.linspace(0.7, 0.3, L), 0.5 + 0.2 * np.sin(wl / 50)], axis=1)
    Y = A @ M.T + 0.01 * rng.standard_normal((len(A), L))
    return SpectralDataset(spectra=Y.astype(np.float32), wavelengths=wl, abundances=A, materials=["x", "y", "z"],
                           name="tiny")


def test_group_moments_match_eqs_8_and_9():
    ds = tiny_dataset()
    A_groups, means, covs = group_moments(ds)
    _, index = ds.groups()
    for g in range(len(A_groups)):
        Y = ds.spectra[index == g].astype(np.float64)
        assert np.allclose(means[g], Y.mean(axis=0))
        assert np.allclose(covs[g], np.cov(Y, rowvar=False, ddof=1))  # N_a − 1


def test_index_transforms_follow_the_paper():
    L = 7
    lam1, lam2 = transformed_indices(L)
    lam = np.arange(1, L + 1)
    assert lam1[2, 5] == lam[2] + lam[5]
    assert lam2[2, 5] == L - abs(lam[2] - lam[5])
    assert np.array_equal(lam1, lam1.T) and np.array_equal(lam2, lam2.T)  # symmetric in (λ, λ*)
    assert np.all(np.diag(lam2) == lam2.max()) and np.all(lam2.max() > lam2[~np.eye(L, dtype=bool)])
    X = cov_net_inputs(np.array([[0.2, 0.8]]), L)
    assert X.shape == (L * L, 4)
    assert X[:, 2:].min() == 0.0 and X[:, 2:].max() == 1.0
    grid = X[:, 3].reshape(L, L)
    assert np.array_equal(grid, grid.T) and np.all(np.diag(grid) == 1.0)
    tri = cov_net_inputs(np.array([[0.2, 0.8], [1.0, 0.0]]), L, triangle=True)
    assert tri.shape == (2 * L * (L + 1) // 2, 4)
    m = mean_net_inputs(np.array([[0.2, 0.8], [1.0, 0.0]]), L)
    assert m.shape == (2 * L, 3) and np.allclose(m[:L, 2], np.linspace(0, 1, L)) and np.allclose(m[L:, :2], [1, 0])


def test_target_mapping_round_trips_and_fits_into_the_open_interval():
    v = np.array([-3e-4, 0.0, 1e-4, 2.5e-3])
    tm = TargetMapping.fit(v, margin=0.05)
    t = tm.forward(v)
    assert np.isclose(t.min(), 0.05) and np.isclose(t.max(), 0.95)
    assert np.allclose(tm.inverse(t), v)
    assert TargetMapping.from_dict(tm.to_dict()) == tm


def test_nearest_psd_is_symmetric_positive_semidefinite():
    rng = np.random.default_rng(1)
    K = rng.standard_normal((5, 8, 8))  # neither symmetric nor PSD
    P = nearest_psd(K)
    assert np.allclose(P, np.swapaxes(P, 1, 2))
    assert np.linalg.eigvalsh(P).min() > -1e-10
    S = rng.standard_normal((8, 8))
    S = S @ S.T
    assert np.allclose(nearest_psd(S[None])[0], S)  # already PSD: unchanged


@pytest.mark.parametrize("name,step", [("quartz-4", 0.1), ("quartz-3", 0.0625)])
def test_augmentation_grid_excludes_training_vectors_and_lies_on_the_simplex(name, step):
    ds = make_sample(name, spectra_per_mixture=1)
    train_A = ds.abundances[paper_split(ds.abundances, name)]
    grid = augmentation_grid(train_A, step)
    assert len(grid) > 0
    assert np.all(grid >= 0) and np.allclose(grid.sum(1), 1)
    assert np.allclose(np.round(grid / step) * step, grid)
    dist = np.abs(grid[:, None, :] - train_A[None, :, :]).max(axis=2)
    assert dist.min() > 1e-6
    P = train_A.shape[1]
    from math import comb
    assert len(grid) == comb(round(1 / step) + P - 1, P - 1) - len(train_A)  # every training vector is on the grid


@pytest.fixture(scope="module")
def trained():
    ctx = Ctx()
    aug = train_moment_nets(ctx, tiny_dataset(), MomentTrainConfig(mean_epochs=60, cov_epochs=5, seed=0))
    return ctx, aug


def test_training_lowers_the_loss_of_n_m(trained):
    ctx, aug = trained
    losses = ctx.metrics["N_m/train/epoch_loss"]
    assert len(losses) == 60
    assert losses[-1] < losses[0] - 0.01
    # eq. 11's minimum is the entropy of the soft targets; the network must get closer to it
    assert aug.info["mean"]["final_epoch_loss"] == pytest.approx(losses[-1])
    assert "N_k/train/epoch_loss" in ctx.metrics
    assert np.all(np.diff(ctx.fractions) >= 0) and ctx.fractions[-1] == 1.0  # N_m then N_k, one progress bar


def test_generation_mean_returns_means_and_normal_spreads(trained, tmp_path):
    _, aug = trained
    A = np.array([[0.25, 0.25, 0.5], [0.0, 0.5, 0.5]])
    means, covs = aug.predict_moments(A)
    assert means.shape == (2, 10) and covs.shape == (2, 10, 10)
    assert np.allclose(covs, np.swapaxes(covs, 1, 2)) and np.linalg.eigvalsh(covs).min() > -1e-10
    mean_only = aug.generate(A, n_per_vector=3, strategy="mean")
    assert np.allclose(mean_only.spectra.reshape(2, 3, 10), means[:, None, :], atol=1e-6)
    assert np.allclose(mean_only.abundances, np.repeat(A, 3, axis=0))
    normal = aug.generate(A, n_per_vector=200, strategy="normal", seed=3)
    per_vector = normal.spectra.reshape(2, 200, 10).astype(np.float64)
    assert np.all(per_vector.std(axis=1).max(axis=1) > 0)  # spread within each vector
    assert np.allclose(per_vector.mean(axis=1), means, atol=6 * np.sqrt(covs.diagonal(axis1=1, axis2=2).max()) + 1e-6)
    with pytest.raises(ValueError, match="strategy"):
        aug.generate(A, strategy="median")
    # save / load gives the same moments
    aug.save(tmp_path / "augmenter")
    again = GPAugmenter.load(tmp_path)
    m2, c2 = again.predict_moments(A)
    assert np.allclose(m2, means) and np.allclose(c2, covs)
    assert again.materials == ["x", "y", "z"]


def test_moment_nets_train_through_a_wrapper_like_distributed_data_parallel(monkeypatch):
    """Under torchrun, fit hands loss_fn a DistributedDataParallel wrapper: only its forward reaches the net."""
    import torch

    from studio.engine import training

    real_fit = training.fit
    wrapped = []

    class OnlyForward(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, *args, **kwargs):
            wrapped.append(True)
            return self.module(*args, **kwargs)

    def fit_with_wrapper(ctx, model, train_data, cfg, *, loss_fn, **kw):
        wrapper = OnlyForward(model)
        return real_fit(ctx, model, train_data, cfg, loss_fn=lambda _m, batch: loss_fn(wrapper, batch), **kw)

    monkeypatch.setattr(training, "fit", fit_with_wrapper)
    aug = train_moment_nets(Ctx(), tiny_dataset(), MomentTrainConfig(mean_epochs=2, cov_epochs=1, seed=0))
    assert wrapped and np.isfinite(aug.info["mean"]["final_epoch_loss"])
