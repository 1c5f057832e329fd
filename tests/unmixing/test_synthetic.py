"""Sample datasets: the paper's designs and splits, seeded, fast, not linear (Table 2's ordering)."""

import numpy as np
import pytest

from studio.unmixing.fcls import fcls
from studio.unmixing.metrics import delta_rmse
from studio.unmixing.synthetic import (
    SAMPLE_NAMES,
    WAVELENGTHS,
    make_sample,
    make_sample_cube,
    paper_split,
    simplex_grid,
)


def test_simplex_grid_counts_and_rows():
    g3 = simplex_grid(3, 0.125)
    assert g3.shape == (45, 3)
    assert simplex_grid(4, 0.2).shape == (56, 4)
    for g in (g3, simplex_grid(4, 0.2)):
        assert np.allclose(g.sum(axis=1), 1.0) and g.min() >= 0
        assert len(np.unique(np.round(g, 9), axis=0)) == len(g)
    assert simplex_grid(4, 0.2, max_components=2).shape == (4 + 6 * 4, 4)  # vertices + 4 interior points per edge
    assert simplex_grid(4, 0.2, max_components=1).shape == (4, 4)
    with pytest.raises(ValueError):
        simplex_grid(3, 0.3)


@pytest.mark.parametrize("name,groups,train,test", [("quartz-3", 45, 15, 30), ("quartz-4", 56, 16, 40),
                                                    ("colour-4", 56, 16, 40)])
def test_paper_split_and_group_counts(name, groups, train, test):
    ds = make_sample(name, spectra_per_mixture=3)
    A, index = ds.groups()
    assert A.shape[0] == groups and len(ds) == 3 * groups
    assert np.array_equal(np.bincount(index), np.full(groups, 3))
    is_train = paper_split(A, name)
    assert is_train.sum() == train and (~is_train).sum() == test
    # per-spectrum labels give the same split as their groups
    assert np.array_equal(paper_split(ds.abundances, name), is_train[index])
    # every pure material is in the training part (the endmembers come from there)
    assert np.all(A[is_train].max(axis=0) == 1.0)


def test_sample_shape_and_seed():
    ds = make_sample("colour-4", spectra_per_mixture=400, seed=3)
    assert ds.spectra.shape == (56 * 400, 91) and ds.spectra.dtype == np.float32
    assert np.allclose(ds.wavelengths, WAVELENGTHS) and ds.wavelengths[0] == 450 and ds.wavelengths[-1] == 810
    assert len(ds.materials) == 4 and all(isinstance(m, str) for m in ds.materials)
    assert np.all(np.isfinite(ds.spectra)) and ds.spectra.min() > 0
    again = make_sample("colour-4", spectra_per_mixture=5, seed=3)
    same = make_sample("colour-4", spectra_per_mixture=5, seed=3)
    other = make_sample("colour-4", spectra_per_mixture=5, seed=4)
    assert np.array_equal(again.spectra, same.spectra) and not np.array_equal(again.spectra, other.spectra)


@pytest.mark.parametrize("name", ["quartz-4", "colour-4"])
def test_variability_depends_on_abundances(name):
    """The per-mixture spread differs between mixtures (so eq. 9's covariances carry information)."""
    ds = make_sample(name, spectra_per_mixture=200)
    A, index = ds.groups()
    spread = np.array([ds.spectra[index == g].std(axis=0).mean() for g in range(len(A))])
    pure = spread[A.max(axis=1) == 1.0]
    assert pure.max() > 1.3 * pure.min()  # materials vary differently
    assert spread.std() / spread.mean() > 0.12  # sampling error of a std from 200 spectra is ~5 %


def test_fcls_clearly_worse_on_colour_than_on_quartz():
    """Table 2's ordering, computed: colour-4 mixes non-linearly, the quartz sets nearly linearly."""
    errors = {}
    for name in SAMPLE_NAMES:
        ds = make_sample(name, spectra_per_mixture=40)
        A, index = ds.groups()
        test = ~paper_split(A, name)[index]
        M = ds.pure_endmembers()
        errors[name] = delta_rmse(fcls(ds.spectra[test], M), ds.abundances[test])
    assert errors["colour-4"] > 1.5 * max(errors["quartz-3"], errors["quartz-4"])
    assert all(0.05 < e < 0.5 for e in errors.values())
    # the data are not exactly linear: even the quartz sets leave clear residual errors
    assert min(errors.values()) > 0.05


def test_sample_cube():
    cube, maps, M, materials = make_sample_cube("colour-4", rows=12, cols=10, seed=1)
    assert cube.data.shape == (12, 10, 91) and maps.shape == (12, 10, 4) and M.shape == (91, 4)
    assert np.allclose(maps.sum(axis=-1), 1.0, atol=1e-5)
    assert cube.pixels().shape == (120, 91) and len(materials) == 4
