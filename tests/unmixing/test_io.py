"""Loaders round-trip on small files written here, for every format, and bad input gives clear errors."""
import json

import h5py
import numpy as np
import pytest
import scipy.io

from studio.engine.jobs import UserError
from studio.unmixing.io import (
    SpectraInputError,
    check_compatible,
    list_variables,
    load_cube,
    load_endmembers,
    load_spectra,
    save_abundance_maps,
    save_spectra,
)

WL = np.linspace(450, 810, 7)
MATERIALS = ["red", "blue"]


def _data(n=5, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.dirichlet(np.ones(2), n)
    Y = rng.uniform(0.05, 0.9, (n, WL.size))
    return Y, A


def _same(ds, Y, A=None, names=None):
    assert np.allclose(ds.spectra, Y, atol=1e-6) and np.allclose(ds.wavelengths, WL)
    if A is None:
        assert ds.abundances is None
    else:
        assert np.allclose(ds.abundances, A, atol=1e-6) and ds.materials == names


# --------------------------------------------------------------------------- round trips
def test_csv_with_header_and_abundances(tmp_path):
    Y, A = _data()
    path = save_spectra(tmp_path / "s.csv", Y, WL, A, MATERIALS)
    ds = load_spectra(path)
    _same(ds, Y, A, MATERIALS)
    assert ds.warnings == [] and ds.source == str(path)


def test_csv_variants(tmp_path):
    Y, A = _data()
    # semicolon, "nm" headers, an id column, wavelength columns first
    lines = ["id;" + ";".join(f"{w:g}nm" for w in WL) + ";red;blue"]
    lines += [f"s{i};" + ";".join(f"{v:.17g}" for v in Y[i]) + f";{A[i, 0]:.17g};{A[i, 1]:.17g}" for i in range(len(Y))]
    (tmp_path / "v.csv").write_text("\n".join(lines))
    ds = load_spectra(tmp_path / "v.csv")
    _same(ds, Y, A, MATERIALS)
    assert any("'id'" in w for w in ds.warnings)
    # no header: every column is a band, band numbers as wavelengths
    (tmp_path / "n.csv").write_text("\n".join(",".join(f"{v:.17g}" for v in r) for r in Y))
    ds = load_spectra(tmp_path / "n.csv")
    assert np.allclose(ds.spectra, Y) and np.array_equal(ds.wavelengths, np.arange(7)) and ds.warnings


def test_csv_header_of_plain_wavelength_numbers(tmp_path):
    """A first row of wavelength numbers only (as save_spectra writes spectra without abundances) is a header;
    an increasing spectrum in the first row of a headerless file is not."""
    Y, _ = _data()
    _same(load_spectra(save_spectra(tmp_path / "s.csv", Y, WL)), Y)
    rising = np.sort(Y, axis=1)  # every row increasing, as a red material's reflectance
    (tmp_path / "r.csv").write_text("\n".join(",".join(f"{v:.17g}" for v in r) for r in rising))
    ds = load_spectra(tmp_path / "r.csv")
    assert ds.spectra.shape == (5, 7) and np.allclose(ds.spectra, rising)
    # counts larger than the wavelength numbers: the first row stays data (ambiguous, so not guessed)
    counts = 1000.0 + 100 * rising
    (tmp_path / "c.csv").write_text(",".join(f"{w:g}" for w in WL) + "\n"
                                     + "\n".join(",".join(f"{v:.17g}" for v in r) for r in counts))
    assert load_spectra(tmp_path / "c.csv").spectra.shape == (6, 7)


def test_npy_npz(tmp_path):
    Y, A = _data()
    ds = load_spectra(save_spectra(tmp_path / "s.npy", Y, WL))
    assert np.allclose(ds.spectra, Y) and ds.abundances is None
    _same(load_spectra(save_spectra(tmp_path / "s.npz", Y, WL, A, MATERIALS)), Y, A, MATERIALS)
    assert ("spectra", (5, 7)) in list_variables(tmp_path / "s.npz")


def test_mat_v5_with_mapping_and_transposed(tmp_path):
    Y, A = _data()
    path = tmp_path / "v5.mat"
    scipy.io.savemat(path, {"meas": Y.T, "lam": WL, "fractions": A, "names": np.array(MATERIALS, dtype=object)})
    with pytest.raises(SpectraInputError, match=r"v5.mat.*no variable recognisable as the spectra.*meas 7x5"):
        load_spectra(path)
    assert dict(list_variables(path))["meas"] == (7, 5)
    ds = load_spectra(path, mapping={"spectra": "meas", "wavelengths": "lam", "abundances": "fractions",
                                     "materials": "names"})
    _same(ds, Y, A, MATERIALS)
    scipy.io.savemat(tmp_path / "g.mat", {"spectra": Y, "wavelengths": WL, "abundances": A,
                                          "materials": np.array(MATERIALS, dtype=object)})
    _same(load_spectra(tmp_path / "g.mat"), Y, A, MATERIALS)


def _write_v73(path, variables):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 with a 512-byte user block, arrays transposed."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            if isinstance(value, str):
                ds = f.create_dataset(name, data=np.array([[ord(c)] for c in value], dtype=np.uint16))
                ds.attrs["MATLAB_class"] = np.bytes_("char")
            else:
                ds = f.create_dataset(name, data=np.asarray(value).T)
                ds.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116, b" "))


def test_mat_v73(tmp_path):
    Y, A = _data()
    path = tmp_path / "v73.mat"
    _write_v73(path, {"Y": Y, "wavelengths": WL[None, :], "A": A, "note": "hello"})
    ds = load_spectra(path)
    _same(ds, Y, A, ["material 1", "material 2"])
    assert dict(list_variables(path))["Y"] == (5, 7)
    _write_v73(tmp_path / "odd.mat", {"foo": Y, "bar": WL})
    with pytest.raises(SpectraInputError, match=r"odd.mat.*variables found: .*foo 5x7") as err:
        load_spectra(tmp_path / "odd.mat")
    assert "bar 7" in str(err.value)


def test_hdf5(tmp_path):
    Y, A = _data()
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("measurement")
        g["spectra"] = Y
        g["wavelengths"] = WL
        g["abundances"] = A
        g["materials"] = np.array(MATERIALS, dtype="S")
    _same(load_spectra(path), Y, A, MATERIALS)
    assert ("measurement/spectra", (5, 7)) in list_variables(path)


ENVI_TYPES = [(1, "u1"), (2, "i2"), (3, "i4"), (4, "f4"), (5, "f8"), (12, "u2")]


def _write_envi(tmp_path, cube, interleave, byte_order, data_type=4, name="img", offset=0, wl=WL):
    dtype = np.dtype(dict(ENVI_TYPES)[data_type]).newbyteorder(">" if byte_order else "<")
    rows, cols, bands = cube.shape
    arranged = {"bsq": cube.transpose(2, 0, 1), "bil": cube.transpose(0, 2, 1), "bip": cube}[interleave]
    (tmp_path / f"{name}.img").write_bytes(b"\0" * offset + np.ascontiguousarray(arranged).astype(dtype).tobytes())
    (tmp_path / f"{name}.hdr").write_text(
        "ENVI\ndescription = {test cube}\n"
        f"samples = {cols}\nlines = {rows}\nbands = {bands}\nheader offset = {offset}\nfile type = ENVI Standard\n"
        f"data type = {data_type}\ninterleave = {interleave}\nbyte order = {byte_order}\n"
        "wavelength units = Nanometers\nwavelength = {\n " + ",\n ".join(f"{w:g}" for w in wl) + "}\n")
    return tmp_path / f"{name}.hdr"


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize("byte_order", [0, 1])
def test_envi_interleaves_and_byte_orders(tmp_path, interleave, byte_order):
    cube = np.random.default_rng(1).uniform(0, 1, (4, 3, WL.size)).astype(np.float32)
    header = _write_envi(tmp_path, cube, interleave, byte_order, offset=16)
    c = load_cube(header)
    assert c.data.shape == (4, 3, 7) and np.array_equal(c.data, cube) and np.allclose(c.wavelengths, WL)
    assert np.array_equal(load_cube(tmp_path / "img.img").data, cube)  # the binary's name works too


@pytest.mark.parametrize("data_type,dtype", ENVI_TYPES)
def test_envi_data_types(tmp_path, data_type, dtype):
    cube = np.random.default_rng(2).integers(0, 100, (2, 3, WL.size)).astype(dtype)
    c = load_cube(_write_envi(tmp_path, cube, "bil", 1, data_type=data_type))
    assert np.array_equal(c.data, cube.astype(np.float64))


def test_array_cubes_axis_order(tmp_path):
    cube = np.random.default_rng(3).uniform(0, 1, (9, 8, WL.size))
    np.save(tmp_path / "rcb.npy", cube)
    np.save(tmp_path / "brc.npy", cube.transpose(2, 0, 1))
    assert np.allclose(load_cube(tmp_path / "rcb.npy").data, cube)
    assert np.allclose(load_cube(tmp_path / "brc.npy").data, cube)  # first axis strictly shortest: bands
    assert np.allclose(load_cube(tmp_path / "brc.npy", axis_order="brc").data, cube)
    scipy.io.savemat(tmp_path / "c.mat", {"hsi": cube.transpose(2, 0, 1), "wavelength": WL})
    c = load_cube(tmp_path / "c.mat")  # bands first, recognised from the wavelength count
    assert np.allclose(c.data, cube) and np.allclose(c.wavelengths, WL)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["cube"] = cube
    assert np.allclose(load_cube(tmp_path / "c.h5").data, cube)
    assert load_cube(tmp_path / "c.h5").pixels().shape == (72, 7)


def test_endmembers_and_exports(tmp_path):
    M = np.random.default_rng(4).uniform(0, 1, (WL.size, 2))
    (tmp_path / "em.csv").write_text("wavelength,red,blue\n" + "\n".join(
        f"{w:g},{a:.17g},{b:.17g}" for w, (a, b) in zip(WL, M)))
    M2, names = load_endmembers(tmp_path / "em.csv")
    assert np.allclose(M2, M) and names == MATERIALS
    # one endmember per row under a header of wavelengths: read as (bands, materials)
    (tmp_path / "rows.csv").write_text(",".join(f"{w:g}" for w in WL) + "\n"
                                        + "\n".join(",".join(f"{v:.17g}" for v in r) for r in M.T))
    assert np.allclose(load_endmembers(tmp_path / "rows.csv")[0], M)
    # without the header the orientation is ambiguous: the band-count message asks about it
    (tmp_path / "rows_nohdr.csv").write_text("\n".join(",".join(f"{v:.17g}" for v in r) for r in M.T))
    with pytest.raises(SpectraInputError, match="are its materials in rows"):
        check_compatible(WL.size, load_endmembers(tmp_path / "rows_nohdr.csv")[0], "rows_nohdr.csv")
    np.save(tmp_path / "em.npy", M)
    M3, names3 = load_endmembers(tmp_path / "em.npy")
    assert np.allclose(M3, M) and names3 == ["material 1", "material 2"]
    maps = np.random.default_rng(5).uniform(0, 1, (4, 6, 2)).astype(np.float32)
    assert np.array_equal(np.load(save_abundance_maps(tmp_path / "m.npy", maps, MATERIALS)), maps)
    from PIL import Image

    with Image.open(save_abundance_maps(tmp_path / "m.tif", maps, MATERIALS)) as im:
        assert im.n_frames == 2 and json.loads(im.tag_v2[270])["materials"] == MATERIALS
        pages = []
        for i in range(im.n_frames):
            im.seek(i)
            pages.append(np.array(im))
    assert np.array_equal(np.stack(pages, axis=-1), maps)


# --------------------------------------------------------------------------- bad input
def test_band_count_mismatch():
    with pytest.raises(SpectraInputError, match="em.csv: the spectra have 91 bands but the endmembers have 90"):
        check_compatible(91, np.ones((90, 3)), "em.csv")


def test_nan_and_inf(tmp_path):
    Y, A = _data()
    Y[1, 2] = np.nan
    Y[3, 0] = np.inf
    np.save(tmp_path / "bad.npy", Y)
    with pytest.raises(SpectraInputError, match=r"bad.npy: 2 NaN or infinite values in the spectra"):
        load_spectra(tmp_path / "bad.npy")
    save_spectra(tmp_path / "bad.csv", Y, WL, A, MATERIALS)
    with pytest.raises(UserError, match="bad.csv: 2 NaN or infinite"):
        load_spectra(tmp_path / "bad.csv")


def test_negative_reflectance_warns(tmp_path):
    Y, _ = _data()
    Y[0, 0] = -0.01
    ds = load_spectra(save_spectra(tmp_path / "neg.npy", Y, WL))
    assert ds.spectra[0, 0] == pytest.approx(-0.01)
    assert any("1 negative reflectance" in w for w in ds.warnings)


def test_abundances_not_summing_to_one(tmp_path):
    Y, A = _data()
    A[:2] *= 1.2
    path = save_spectra(tmp_path / "sum.csv", Y, WL, A, MATERIALS)
    ds = load_spectra(path)
    assert any("2 abundance rows do not sum to one" in w for w in ds.warnings)
    assert np.allclose(ds.abundances, A, atol=1e-6)
    fixed = load_spectra(path, renormalise=True)
    assert np.allclose(fixed.abundances.sum(1), 1.0, atol=1e-6) and any("renormalised" in w for w in fixed.warnings)
    A[0, 0] = -0.5
    with pytest.raises(SpectraInputError, match="negative abundances"):
        load_spectra(save_spectra(tmp_path / "negab.csv", Y, WL, A, MATERIALS))


def test_mat_without_recognisable_variables(tmp_path):
    scipy.io.savemat(tmp_path / "x.mat", {"foo": np.ones((3, 4)), "bar": np.ones(5)})
    with pytest.raises(SpectraInputError) as err:
        load_spectra(tmp_path / "x.mat")
    message = str(err.value)
    assert "x.mat" in message and "foo 3x4" in message and "bar 1x5" in message
    with pytest.raises(SpectraInputError, match="x.mat.*no single 3-D variable.*foo 3x4"):
        load_cube(tmp_path / "x.mat")


def test_truncated_envi(tmp_path):
    cube = np.ones((4, 3, WL.size), dtype=np.float32)
    _write_envi(tmp_path, cube, "bsq", 0)
    data = tmp_path / "img.img"
    data.write_bytes(data.read_bytes()[:-10])
    with pytest.raises(SpectraInputError, match=r"img.img: the ENVI binary is truncated.*336 bytes.*326 bytes"):
        load_cube(tmp_path / "img.hdr")


def test_other_bad_files(tmp_path):
    with pytest.raises(SpectraInputError, match="missing.csv: file not found"):
        load_spectra(tmp_path / "missing.csv")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(SpectraInputError, match="junk.npy: cannot be read"):
        load_spectra(tmp_path / "junk.npy")
    (tmp_path / "junk.mat").write_bytes(b"\0" * 10)
    with pytest.raises(SpectraInputError, match="junk.mat"):
        load_spectra(tmp_path / "junk.mat")
    (tmp_path / "h.hdr").write_text("not an envi header")
    with pytest.raises(SpectraInputError, match="h.hdr"):
        load_cube(tmp_path / "h.hdr")
    np.save(tmp_path / "cube.npy", np.ones((2, 3, 4)))
    with pytest.raises(SpectraInputError, match="cube.npy.*open it as a cube"):
        load_spectra(tmp_path / "cube.npy")
    with pytest.raises(SpectraInputError, match="x.xyz: unsupported"):
        load_spectra(tmp_path / "x.xyz")
    (tmp_path / "t.csv").write_text("450,500\n0.1,abc\n")
    with pytest.raises(SpectraInputError, match="t.csv: 1 non-numeric cells in column 2"):
        load_spectra(tmp_path / "t.csv")
