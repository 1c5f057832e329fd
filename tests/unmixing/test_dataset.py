"""SpectralDataset: groups, subsets, pure endmembers, shape checks."""
import numpy as np
import pytest

from studio.unmixing.io import SpectraInputError, SpectralCube, SpectralDataset, check_compatible


def _dataset():
    A = np.array([[1, 0], [1, 0], [0.5, 0.5], [0.5 + 1e-9, 0.5 - 1e-9], [0, 1]], dtype=float)
    Y = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 5.0], [6.0, 6.0], [7.0, 9.0]])
    return SpectralDataset(Y, np.array([500.0, 600.0]), A, ["a", "b"], "toy")


def test_groups_subset_pure():
    ds = _dataset()
    vectors, index = ds.groups()
    assert vectors.shape == (3, 2)
    assert np.array_equal(index, [2, 2, 1, 1, 0])  # sorted vectors: (0,1), (.5,.5), (1,0)
    sub = ds.subset(index == 1)
    assert len(sub) == 2 and np.allclose(sub.spectra, [[5, 5], [6, 6]])
    assert len(ds.subset([0, 4])) == 2
    M = ds.pure_endmembers()
    assert M.shape == (2, 2)
    assert np.allclose(M[:, 0], [2.0, 3.0]) and np.allclose(M[:, 1], [7.0, 9.0])


def test_pure_endmembers_missing_material():
    ds = _dataset().subset([0, 1, 2])
    with pytest.raises(SpectraInputError, match="no pure spectra.*b"):
        ds.pure_endmembers()


def test_unlabelled_and_bad_shapes():
    ds = SpectralDataset(np.ones((3, 4)), np.arange(4.0), None, [], "x", source="file.csv")
    with pytest.raises(SpectraInputError, match="file.csv.*no abundance labels"):
        ds.groups()
    with pytest.raises(SpectraInputError, match="3 wavelengths for 4 bands"):
        SpectralDataset(np.ones((3, 4)), np.arange(3.0), None, [], "x")
    with pytest.raises(SpectraInputError, match="material names"):
        SpectralDataset(np.ones((3, 4)), np.arange(4.0), np.ones((3, 2)) / 2, ["a"], "x")


def test_cube_pixels_and_band_check():
    cube = SpectralCube(np.arange(24.0).reshape(2, 3, 4), np.arange(4.0), "c")
    assert cube.pixels().shape == (6, 4) and np.array_equal(cube.pixels()[4], cube.data[1, 1])
    check_compatible(4, np.ones((4, 3)), "em.csv")
    with pytest.raises(SpectraInputError, match="em.csv: the spectra have 5 bands but the endmembers have 4"):
        check_compatible(5, np.ones((4, 3)), "em.csv")
