"""Spectra, cubes and endmembers: the in-memory types and the real-format loaders.

Types
-----
:class:`SpectralDataset` holds N spectra ``(N, L)`` sampled at L wavelengths, and
optionally their abundance labels ``(N, P)`` with the material names (paper 000,
section 3: the spectra are grouped by distinct abundance vector, and each group is
one Gaussian process).  :class:`SpectralCube` is an image ``(rows, cols, L)`` that
is unmixed pixel by pixel.

Formats
-------
* Spectra (:func:`load_spectra`): CSV (one spectrum per row; ``,`` ``;`` or tab;
  a header row is detected when a cell of the first row is not a number, or when
  the first row is increasing wavelengths (200 nm – 25 µm) larger than every value
  below it, as our own export of spectra without abundances writes it: columns
  whose header is a number (optionally with "nm") are wavelengths, the other
  numeric columns are abundances named by their header, text columns such as an
  id are skipped with a warning; without a header every column is a band),
  ``.npy`` (an ``(N, L)`` array), ``.npz``, MATLAB ``.mat`` (v4/v5 through
  ``scipy.io``, v7.3 through ``h5py``; v7.3 arrays are transposed back to MATLAB's
  orientation) and HDF5 (``.h5``/``.hdf5``, datasets addressed by path).  For the
  container formats the variables are taken from ``mapping`` or guessed from
  common names (:data:`NAME_GUESSES`); otherwise :class:`SpectraInputError` lists
  the variables found with their shapes (:func:`list_variables`).  A spectra
  matrix stored as ``(L, N)`` is transposed when the wavelengths say so.  Without
  wavelengths the band index is used, with a warning.
* Cubes (:func:`load_cube`): ENVI (``.hdr`` + binary; BSQ, BIL, BIP; data types 1,
  2, 3, 4, 5, 12 and 13-15; both byte orders; header offset; "reflectance scale
  factor"; wavelengths in micrometres are converted to nm), and 3-D arrays in
  ``.npy``/``.npz``/``.mat``/``.h5``.  ``axis_order`` is ``"rcb"`` (rows, cols,
  bands) or ``"brc"``; when not given it is taken from the wavelength count, else
  the bands are the first axis when it is strictly the shortest, otherwise the last.
* Endmembers (:func:`load_endmembers`): CSV with a header row of material names
  and one column per material (an optional leading wavelength column is dropped),
  or one endmember per row under a header row of wavelengths,
  ``.npy`` ``(L, P)``, or an ``endmembers``/``M`` variable of a container file.
* Exports: :func:`save_spectra` (``.csv`` readable by :func:`load_spectra`,
  ``.npy`` spectra only, ``.npz`` everything) and :func:`save_abundance_maps`
  (``.npy``, or a multi-page float32 TIFF, one page per material, written with
  Pillow; the material names are in the first page's ImageDescription as JSON).

Validation (every loader)
-------------------------
* NaN or infinite values: :class:`SpectraInputError` naming the file and the count.
* Negative reflectance: kept, with a warning in ``dataset.warnings`` (small
  negative values are common after dark-current subtraction).
* Abundances whose rows do not sum to one (tolerance 1e-3): a warning, or the rows
  are divided by their sums when ``renormalise=True``.  Negative abundances are an
  error.
"""
from __future__ import annotations

import csv
import io as _stdio
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from studio.engine.jobs import UserError

__all__ = [
    "SpectraInputError",
    "SpectralDataset",
    "SpectralCube",
    "check_compatible",
    "list_variables",
    "load_spectra",
    "load_cube",
    "load_endmembers",
    "save_spectra",
    "save_abundance_maps",
    "NAME_GUESSES",
]

#: Rows of abundances must sum to one within this tolerance (else warning).
SUM_TOLERANCE = 1e-3
#: Abundance vectors are grouped after rounding to this precision.
GROUP_DECIMALS = 6


class SpectraInputError(UserError):
    """Unusable spectral input; the message names the file (or source) and the problem."""

    def __init__(self, source: str, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}" if self.source else problem)


@dataclass
class SpectralDataset:
    """Spectra ``(N, L)`` at ``wavelengths (L,)``, with optional abundances ``(N, P)``."""

    spectra: np.ndarray
    wavelengths: np.ndarray
    abundances: np.ndarray | None
    materials: list[str]
    name: str
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spectra = np.asarray(self.spectra)
        self.wavelengths = np.asarray(self.wavelengths)
        src = self.source or self.name
        if self.spectra.ndim != 2:
            raise SpectraInputError(src, f"spectra must be a 2-D array (N, bands), got shape {self.spectra.shape}")
        if self.wavelengths.shape != (self.spectra.shape[1],):
            raise SpectraInputError(src, f"{self.wavelengths.size} wavelengths for {self.spectra.shape[1]} bands")
        if self.abundances is not None:
            self.abundances = np.asarray(self.abundances)
            if self.abundances.ndim != 2 or self.abundances.shape[0] != self.spectra.shape[0]:
                raise SpectraInputError(src, f"abundances of shape {self.abundances.shape} do not match "
                                             f"{self.spectra.shape[0]} spectra")
            if len(self.materials) != self.abundances.shape[1]:
                raise SpectraInputError(src, f"{len(self.materials)} material names for "
                                             f"{self.abundances.shape[1]} abundance columns")
        self.materials = [str(m) for m in self.materials]

    def __len__(self) -> int:
        return int(self.spectra.shape[0])

    @property
    def n_bands(self) -> int:
        return int(self.spectra.shape[1])

    @property
    def n_materials(self) -> int:
        return 0 if self.abundances is None else int(self.abundances.shape[1])

    def _need_labels(self) -> np.ndarray:
        if self.abundances is None:
            raise SpectraInputError(self.source or self.name, "the dataset has no abundance labels")
        return self.abundances

    def groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct abundance vectors ``(G, P)`` (rounded to 1e-6, sorted) and each spectrum's group ``(N,)``."""
        rounded = np.round(self._need_labels().astype(np.float64), GROUP_DECIMALS) + 0.0  # -0.0 -> 0.0
        vectors, index = np.unique(rounded, axis=0, return_inverse=True)
        return vectors, index.reshape(-1).astype(np.int64)

    def subset(self, mask_or_indices: np.ndarray | Sequence[int]) -> "SpectralDataset":
        """A new dataset with the selected spectra (boolean mask or integer indices)."""
        sel = np.asarray(mask_or_indices)
        if sel.dtype == bool and sel.shape != (len(self),):
            raise ValueError(f"mask of shape {sel.shape} for {len(self)} spectra")
        return SpectralDataset(
            spectra=self.spectra[sel],
            wavelengths=self.wavelengths.copy(),
            abundances=None if self.abundances is None else self.abundances[sel],
            materials=list(self.materials),
            name=self.name,
            source=self.source,
            warnings=list(self.warnings),
        )

    def pure_endmembers(self) -> np.ndarray:
        """Endmember matrix ``(L, P)``: per material, the mean of the spectra whose abundance is that unit vector."""
        a = self._need_labels()
        pure = np.abs(a - 1.0) <= 10.0 ** -GROUP_DECIMALS  # (N, P): a_p == 1 (so the others are 0)
        counts = pure.sum(axis=0)
        missing = [m for m, c in zip(self.materials, counts) if c == 0]
        if missing:
            raise SpectraInputError(self.source or self.name,
                                    f"no pure spectra (abundance 1) for {', '.join(missing)}; "
                                    "load the endmembers from a file instead")
        sums = pure.T.astype(np.float64) @ self.spectra.astype(np.float64)  # (P, L)
        return (sums / counts[:, None]).T


@dataclass
class SpectralCube:
    """A hyperspectral image ``(rows, cols, L)``."""

    data: np.ndarray
    wavelengths: np.ndarray
    name: str
    source: str = ""

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]

    def pixels(self) -> np.ndarray:
        """All pixels as spectra ``(rows*cols, L)`` (row-major)."""
        return self.data.reshape(-1, self.data.shape[-1])


def check_compatible(spectra_bands: int, endmembers: np.ndarray, source: str) -> None:
    """Raise :class:`SpectraInputError` unless the endmembers ``(L, P)`` have ``spectra_bands`` rows."""
    endmembers = np.asarray(endmembers)
    if endmembers.ndim != 2:
        raise SpectraInputError(source, f"endmembers must be a 2-D array (bands, materials), got {endmembers.shape}")
    if endmembers.shape[0] != int(spectra_bands):
        raise SpectraInputError(source, f"the spectra have {spectra_bands} bands but the endmembers have "
                                        f"{endmembers.shape[0]} (one row per band, one column per material"
                                        + (f"; this file has {spectra_bands} columns: are its materials in rows?)"
                                           if endmembers.shape[1] == int(spectra_bands) else ")"))


# --------------------------------------------------------------------------- containers
#: Variable names tried (case-insensitively) when no ``mapping`` is given.
NAME_GUESSES: dict[str, tuple[str, ...]] = {
    "spectra": ("spectra", "spectrum", "y", "x", "data", "reflectance", "refl", "r"),
    "wavelengths": ("wavelengths", "wavelength", "wavelengths_nm", "wl", "lambda", "lambdas", "wave", "bands_nm"),
    "abundances": ("abundances", "abundance", "a", "labels", "fractions", "a_gt", "abundances_gt"),
    "materials": ("materials", "material_names", "names", "endmember_names", "material"),
    "cube": ("cube", "data", "image", "img", "hsi", "y", "x", "spectra", "reflectance"),
    "endmembers": ("endmembers", "endmember", "m", "e", "em", "s"),
}
_CONTAINER_SUFFIXES = (".mat", ".npz", ".h5", ".hdf5", ".he5")


def _exists(path: Path) -> None:
    if not path.exists():
        raise SpectraInputError(str(path), "file not found")
    if path.is_dir():
        raise SpectraInputError(str(path), "is a folder, not a file")


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == b"\x89HDF\r\n\x1a\n":
        return True
    try:  # MATLAB v7.3: 512-byte user block, then the HDF5 signature
        import h5py

        return bool(h5py.is_hdf5(str(path)))
    except Exception:
        return False


def _h5_strings(obj, f) -> Any:
    """Decode MATLAB v7.3 char arrays and cell arrays of char arrays; else return the array."""
    import h5py

    data = obj[()]
    matlab_class = obj.attrs.get("MATLAB_class", b"")
    if isinstance(matlab_class, bytes):
        matlab_class = matlab_class.decode()
    if matlab_class == "char":
        return "".join(chr(c) for c in np.asarray(data).T.reshape(-1))
    if data.dtype == object and data.size and isinstance(data.flat[0], h5py.Reference):
        return [_h5_strings(f[ref], f) for ref in np.asarray(data).T.reshape(-1)]
    if data.dtype.kind in "SO":
        return [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(data).reshape(-1)]
    return data


def _read_container(path: Path) -> tuple[dict[str, Any], str]:
    """All variables of a .mat/.npz/.h5 file as ``{name: value}`` and the format's name."""
    _exists(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}, "npz"
        if suffix == ".mat" and not _is_hdf5(path):
            import scipy.io

            raw = scipy.io.loadmat(str(path), squeeze_me=False, chars_as_strings=True)
            out = {}
            for k, v in raw.items():
                if k.startswith("__"):
                    continue
                if isinstance(v, np.ndarray) and v.dtype == object:  # cell array of strings
                    out[k] = [str(np.asarray(x).reshape(-1)[0]) if np.asarray(x).size else "" for x in v.reshape(-1)]
                elif isinstance(v, np.ndarray) and v.dtype.kind == "U":
                    out[k] = [str(x).strip() for x in v.reshape(-1)]
                else:
                    out[k] = v
            return out, "MATLAB v5"
        import h5py

        out = {}
        with h5py.File(str(path), "r") as f:
            is_matlab = suffix == ".mat"

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset) and not name.startswith("#refs#"):
                    value = _h5_strings(obj, f)
                    if is_matlab and isinstance(value, np.ndarray):
                        value = value.T  # MATLAB is column-major
                    out[name] = value

            f.visititems(visit)
        return out, "MATLAB v7.3" if suffix == ".mat" else "HDF5"
    except SpectraInputError:
        raise
    except Exception as exc:  # any parser failure on a user's file (truncated, not that format...)
        raise SpectraInputError(str(path), f"cannot be read as a {suffix or 'data'} file "
                                           f"({type(exc).__name__}: {exc})") from None


def _shape_of(value: Any) -> tuple[int, ...]:
    return tuple(np.shape(value)) if not isinstance(value, str) else (len(value),)


def list_variables(path: str | os.PathLike) -> list[tuple[str, tuple[int, ...]]]:
    """Variables of a .mat/.npz/.h5/.hdf5 file with their shapes (MATLAB orientation for .mat)."""
    path = Path(path)
    if path.suffix.lower() not in _CONTAINER_SUFFIXES:
        raise SpectraInputError(str(path), f"has no named variables (not one of {', '.join(_CONTAINER_SUFFIXES)})")
    variables, _ = _read_container(path)
    return [(k, _shape_of(v)) for k, v in variables.items()]


def _describe(variables: dict[str, Any]) -> str:
    return ", ".join(f"{k} {'x'.join(map(str, _shape_of(v))) or 'scalar'}" for k, v in variables.items()) or "none"


def _pick(variables: dict[str, Any], role: str, mapping: dict | None, path: Path, required: bool) -> Any:
    if mapping and mapping.get(role):
        name = mapping[role]
        if name not in variables:
            raise SpectraInputError(str(path), f"has no variable {name!r} for the {role}; variables found: "
                                               f"{_describe(variables)}")
        return variables[name]
    lower = {k.lower().split("/")[-1]: k for k in variables}
    for guess in NAME_GUESSES[role]:
        if guess in lower:
            return variables[lower[guess]]
    if required:
        raise SpectraInputError(str(path), f"no variable recognisable as the {role}; variables found: "
                                           f"{_describe(variables)}. Name them with a mapping, e.g. "
                                           f"{{'{role}': '<variable>'}}")
    return None


# --------------------------------------------------------------------------- validation
def _validate(spectra, wavelengths, abundances, materials, *, path: Path, name: str | None = None,
              renormalise: bool = False, warnings: list[str] | None = None) -> SpectralDataset:
    src = str(path)
    warnings = list(warnings or [])
    Y = np.asarray(spectra)
    if Y.dtype.kind not in "biuf":
        raise SpectraInputError(src, f"the spectra are not numeric (dtype {Y.dtype})")
    if Y.ndim == 1:
        Y = Y[None, :]
    if Y.ndim == 3:
        raise SpectraInputError(src, f"holds a 3-D array {Y.shape} (an image cube): open it as a cube")
    if Y.ndim != 2 or Y.size == 0:
        raise SpectraInputError(src, f"the spectra must be a non-empty 2-D array (N, bands), got shape {Y.shape}")
    Y = Y.astype(np.float64 if Y.dtype == np.float64 else np.float32)
    A = None if abundances is None else np.asarray(abundances, dtype=np.float64)
    if wavelengths is None:
        if A is not None and A.shape[0] == Y.shape[1] != Y.shape[0]:
            Y = Y.T  # stored as (L, N): the labels give the number of spectra
        wl = np.arange(Y.shape[1], dtype=np.float64)
        warnings.append("no wavelengths found: bands are numbered 0..L-1")
    else:
        wl = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
        if wl.size != Y.shape[1] and wl.size == Y.shape[0] and (A is None or A.shape[0] != Y.shape[0] or
                                                                  A.shape[-1] == Y.shape[1]):
            Y = Y.T  # stored as (L, N)
            if A is not None and A.shape[0] != Y.shape[0] and A.shape[1] == Y.shape[0]:
                A = A.T
        if wl.size != Y.shape[1]:
            raise SpectraInputError(src, f"{wl.size} wavelengths for spectra of {Y.shape[1]} bands")
    bad = ~np.isfinite(Y)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise SpectraInputError(src, f"{int(bad.sum())} NaN or infinite values in the spectra "
                                     f"(in {rows.size} spectra, first row {int(rows[0])})")
    if not np.all(np.isfinite(wl)):
        raise SpectraInputError(src, "NaN or infinite wavelengths")
    negative = Y < 0
    if negative.any():
        warnings.append(f"{int(negative.sum())} negative reflectance values (min {float(Y.min()):.4g}) kept as they are")
    if A is not None:
        if A.ndim == 1:
            A = A[:, None]
        if A.shape[0] != Y.shape[0] and A.shape[1] == Y.shape[0]:
            A = A.T
        if A.ndim != 2 or A.shape[0] != Y.shape[0]:
            raise SpectraInputError(src, f"abundances of shape {A.shape} for {Y.shape[0]} spectra")
        if not np.all(np.isfinite(A)):
            raise SpectraInputError(src, f"{int((~np.isfinite(A)).sum())} NaN or infinite abundance values")
        if (A < -1e-6).any():
            raise SpectraInputError(src, f"{int((A < -1e-6).sum())} negative abundances (min {A.min():.4g})")
        A = np.maximum(A, 0.0)
        sums = A.sum(axis=1)
        off = np.abs(sums - 1.0) > SUM_TOLERANCE
        if off.any():
            if renormalise:
                if (sums <= 0).any():
                    raise SpectraInputError(src, f"{int((sums <= 0).sum())} abundance rows are all zero")
                A = A / sums[:, None]
                warnings.append(f"{int(off.sum())} abundance rows did not sum to one "
                                f"(sums {sums.min():.4g}..{sums.max():.4g}) and were renormalised")
            else:
                warnings.append(f"{int(off.sum())} abundance rows do not sum to one (sums {sums.min():.4g}.."
                                f"{sums.max():.4g}); load with renormalise=True to divide them by their sums")
        if materials is None or len(materials) != A.shape[1]:
            if materials is not None:
                warnings.append(f"{len(materials)} material names for {A.shape[1]} abundance columns: names ignored")
            materials = [f"material {i + 1}" for i in range(A.shape[1])]
        A = A.astype(np.float32)
        materials = [str(m) for m in materials]
    else:
        materials = []
    return SpectralDataset(spectra=Y, wavelengths=wl, abundances=A, materials=materials,
                           name=name or path.stem, source=src, warnings=warnings)


# --------------------------------------------------------------------------- CSV
def _number(text: str) -> float | None:
    t = text.strip().lower().removesuffix("nm").strip()
    try:
        return float(t)
    except ValueError:
        return None


def _read_csv_rows(path: Path) -> list[list[str]]:
    _exists(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SpectraInputError(str(path), "is not a text (UTF-8) CSV file") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise SpectraInputError(str(path), "is empty")
    sample = "\n".join(lines[:5])
    delimiter = max([",", ";", "\t"], key=sample.count) if any(d in sample for d in ",;\t") else None
    if delimiter is None:
        return [ln.split() for ln in lines]
    return [[c.strip() for c in row] for row in csv.reader(_stdio.StringIO("\n".join(lines)), delimiter=delimiter)]


def _is_wavelength_row(first: list[str], below: list[list[str]]) -> bool:
    """A first row of plain numbers that names wavelengths, e.g. ``450,454,...,810`` (our own export of spectra
    without abundances writes that): at least 3 numbers, strictly increasing, within 200 nm – 25 µm, and all
    larger than every value of the rows below it (reflectance, percent or radiance rows are smaller), so an
    increasing spectrum in the first row is not taken for a header."""
    wl = [_number(c) for c in first]
    if len(wl) < 3 or any(v is None for v in wl) or not below:
        return False
    wl = np.array(wl, dtype=np.float64)
    if not (np.all(np.diff(wl) > 0) and wl[0] >= 200.0 and wl[-1] <= 25000.0):
        return False
    values = [_number(c) for r in below[:50] for c in r]
    values = np.array([abs(v) for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    return values.size > 0 and float(values.max()) < float(wl[0])


def _load_csv(path: Path, renormalise: bool) -> SpectralDataset:
    rows = _read_csv_rows(path)
    warnings: list[str] = []
    header = None
    if any(_number(c) is None for c in rows[0] if c != "") or _is_wavelength_row(rows[0], rows[1:]):
        header, rows = rows[0], rows[1:]
    if not rows:
        raise SpectraInputError(str(path), "has a header but no data rows")
    width = len(header) if header is not None else max(len(r) for r in rows)
    good_rows, skipped = [], 0
    for r in rows:
        if len(r) != width:
            skipped += 1
            continue
        good_rows.append(r)
    if skipped:
        warnings.append(f"{skipped} rows with a wrong number of cells skipped")
    if not good_rows:
        raise SpectraInputError(str(path), f"no row has the {width} cells of the header")
    cells = np.array(good_rows, dtype=object)

    def column_numbers(j):
        vals = [_number(c) if c.lower() not in ("nan", "inf", "-inf") else float(c) for c in cells[:, j]]
        return vals

    wl_cols, ab_cols, materials, numeric = [], [], [], {}
    for j in range(width):
        vals = column_numbers(j)
        if any(v is None for v in vals):
            if header is not None and _number(header[j]) is None:
                warnings.append(f"column {header[j]!r} is not numeric: skipped")
                continue
            bad = sum(v is None for v in vals)
            raise SpectraInputError(str(path), f"{bad} non-numeric cells in column {j + 1}"
                                               f"{' (' + header[j] + ' nm)' if header else ''}")
        numeric[j] = np.array(vals, dtype=np.float64)
        if header is None or _number(header[j]) is not None:
            wl_cols.append(j)
        else:
            ab_cols.append(j)
            materials.append(header[j])
    if not wl_cols:
        raise SpectraInputError(str(path), "no spectral columns: the header needs wavelength numbers as column names")
    Y = np.stack([numeric[j] for j in wl_cols], axis=1)
    wl = np.array([_number(header[j]) for j in wl_cols]) if header is not None else None
    A = np.stack([numeric[j] for j in ab_cols], axis=1) if ab_cols else None
    return _validate(Y, wl, A, materials if ab_cols else None, path=path, renormalise=renormalise,
                     warnings=warnings)


# --------------------------------------------------------------------------- spectra
def load_spectra(path: str | os.PathLike, mapping: dict | None = None, renormalise: bool = False) -> SpectralDataset:
    """Load spectra (and abundance labels when present) from .csv, .npy, .npz, .mat or .h5/.hdf5."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return _load_csv(path, renormalise)
    if suffix == ".npy":
        _exists(path)
        try:
            Y = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise SpectraInputError(str(path), f"cannot be read as .npy ({exc})") from None
        return _validate(Y, None, None, None, path=path, renormalise=renormalise)
    if suffix in _CONTAINER_SUFFIXES:
        variables, fmt = _read_container(path)
        Y = _pick(variables, "spectra", mapping, path, required=True)
        wl = _pick(variables, "wavelengths", mapping, path, required=False)
        A = _pick(variables, "abundances", mapping, path, required=False)
        names = _pick(variables, "materials", mapping, path, required=False)
        if isinstance(names, np.ndarray):
            names = [str(x) for x in names.reshape(-1)]
        elif isinstance(names, str):
            names = [names]
        if isinstance(Y, (str, list)) or (A is not None and isinstance(A, (str, list))):
            raise SpectraInputError(str(path), f"the spectra/abundance variables are not numeric arrays; variables "
                                               f"found: {_describe(variables)}")
        ds = _validate(Y, wl, A, names, path=path, renormalise=renormalise)
        return ds
    raise SpectraInputError(str(path), f"unsupported spectra format {suffix or '(no extension)'}; use .csv, .npy, "
                                       ".npz, .mat, .h5 or .hdf5 (ENVI files are cubes: open them as a cube)")


# --------------------------------------------------------------------------- ENVI
ENVI_DTYPES = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 12: "u2", 13: "u4", 14: "i8", 15: "u8"}


def _parse_envi_header(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise SpectraInputError(str(path), f"cannot be read ({exc})") from None
    if not text.lstrip().startswith("ENVI"):
        raise SpectraInputError(str(path), "is not an ENVI header (it must start with 'ENVI')")
    fields: dict[str, str] = {}
    for match in re.finditer(r"^\s*([^=\n]+?)\s*=\s*(\{[^}]*\}|[^\n]*)", text, flags=re.M):
        fields[match.group(1).strip().lower()] = match.group(2).strip()
    return fields


def _envi_list(value: str) -> list[str]:
    return [v.strip() for v in value.strip("{}").split(",") if v.strip()]


def _envi_paths(path: Path) -> tuple[Path, Path]:
    if path.suffix.lower() == ".hdr":
        header = path
        candidates = [path.with_suffix(s) for s in ("", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip", ".bin")]
        candidates += [path.with_suffix(s.upper()) for s in (".img", ".dat", ".raw")]
        data = next((c for c in candidates if c != header and c.is_file()), None)
        if data is None:
            raise SpectraInputError(str(path), "the ENVI binary file next to the header was not found "
                                               "(tried the same name with no extension, .img, .dat, .raw, .bsq, .bil, .bip)")
        return header, data
    for header in (Path(str(path) + ".hdr"), path.with_suffix(".hdr")):
        if header.is_file():
            return header, path
    raise SpectraInputError(str(path), "no ENVI header (.hdr) found next to this file")


def _load_envi(path: Path) -> SpectralCube:
    _exists(path)
    header_path, data_path = _envi_paths(path)
    h = _parse_envi_header(header_path)
    try:
        samples, lines, bands = int(h["samples"]), int(h["lines"]), int(h["bands"])
        data_type = int(h.get("data type", "4"))
        offset = int(h.get("header offset", "0"))
        byte_order = int(h.get("byte order", "0"))
    except KeyError as exc:
        raise SpectraInputError(str(header_path), f"the ENVI header lacks the field {exc.args[0]!r}") from None
    except ValueError as exc:
        raise SpectraInputError(str(header_path), f"a numeric ENVI header field is not a number ({exc})") from None
    if data_type not in ENVI_DTYPES:
        raise SpectraInputError(str(header_path), f"ENVI data type {data_type} is not supported "
                                                  f"(supported: {sorted(ENVI_DTYPES)})")
    interleave = h.get("interleave", "bsq").strip().lower()
    if interleave not in ("bsq", "bil", "bip"):
        raise SpectraInputError(str(header_path), f"unknown interleave {interleave!r} (bsq, bil or bip)")
    dtype = np.dtype(ENVI_DTYPES[data_type]).newbyteorder(">" if byte_order == 1 else "<")
    count = samples * lines * bands
    expected = offset + count * dtype.itemsize
    actual = data_path.stat().st_size
    if actual < expected:
        raise SpectraInputError(str(data_path), f"the ENVI binary is truncated: the header ({header_path.name}) "
                                                f"announces {lines}x{samples}x{bands} {dtype.name} values = "
                                                f"{expected} bytes, the file has {actual} bytes")
    raw = np.fromfile(data_path, dtype=dtype, count=count, offset=offset)
    if interleave == "bsq":
        cube = raw.reshape(bands, lines, samples).transpose(1, 2, 0)
    elif interleave == "bil":
        cube = raw.reshape(lines, bands, samples).transpose(0, 2, 1)
    else:
        cube = raw.reshape(lines, samples, bands)
    cube = np.ascontiguousarray(cube).astype(np.float64 if data_type == 5 else np.float32)
    if "reflectance scale factor" in h:
        try:
            cube /= float(h["reflectance scale factor"])
        except (ValueError, ZeroDivisionError):
            pass
    wl = None
    if "wavelength" in h:
        try:
            wl = np.array([float(v) for v in _envi_list(h["wavelength"])])
        except ValueError:
            wl = None
        if wl is not None and wl.size != bands:
            wl = None
        units = h.get("wavelength units", "").lower()
        if wl is not None and (units.startswith("micro") or units == "um" or (not units and wl.max() < 30)):
            wl = wl * 1000.0
    return _finish_cube(cube, wl, data_path, name=header_path.stem)


def _finish_cube(cube: np.ndarray, wl, path: Path, name: str) -> SpectralCube:
    bad = ~np.isfinite(cube)
    if bad.any():
        raise SpectraInputError(str(path), f"{int(bad.sum())} NaN or infinite values in the cube")
    if wl is None:
        wl = np.arange(cube.shape[-1], dtype=np.float64)
    return SpectralCube(data=cube, wavelengths=np.asarray(wl, dtype=np.float64), name=name, source=str(path))


def load_cube(path: str | os.PathLike, axis_order: str | None = None) -> SpectralCube:
    """Load an image cube ``(rows, cols, bands)``: ENVI (.hdr + binary) or a 3-D array in .npy/.npz/.mat/.h5."""
    path = Path(path)
    suffix = path.suffix.lower()
    if axis_order is not None and axis_order not in ("rcb", "brc"):
        raise ValueError(f"axis_order must be 'rcb' or 'brc', not {axis_order!r}")
    if suffix == ".npy":
        _exists(path)
        try:
            arr, wl = np.load(path, allow_pickle=False), None
        except (OSError, ValueError, EOFError) as exc:
            raise SpectraInputError(str(path), f"cannot be read as .npy ({exc})") from None
    elif suffix in _CONTAINER_SUFFIXES:
        variables, _ = _read_container(path)
        arr = None
        for role in ("cube",):
            lower = {k.lower().split("/")[-1]: k for k in variables}
            for guess in NAME_GUESSES[role]:
                if guess in lower and np.ndim(variables[lower[guess]]) == 3:
                    arr = variables[lower[guess]]
                    break
        if arr is None:
            three_d = [k for k, v in variables.items() if not isinstance(v, (str, list)) and np.ndim(v) == 3]
            if len(three_d) != 1:
                raise SpectraInputError(str(path), f"no single 3-D variable to use as the cube; variables found: "
                                                   f"{_describe(variables)}")
            arr = variables[three_d[0]]
        wl = _pick(variables, "wavelengths", None, path, required=False)
    else:
        return _load_envi(path)
    arr = np.asarray(arr)
    if arr.ndim != 3 or arr.dtype.kind not in "biuf":
        raise SpectraInputError(str(path), f"a cube must be a numeric 3-D array, got {arr.dtype} {arr.shape}")
    wl = None if wl is None else np.asarray(wl, dtype=np.float64).reshape(-1)
    if axis_order is None:
        if wl is not None and (wl.size == arr.shape[0]) != (wl.size == arr.shape[2]):
            axis_order = "brc" if wl.size == arr.shape[0] else "rcb"
        else:
            axis_order = "brc" if arr.shape[0] < min(arr.shape[1], arr.shape[2]) else "rcb"
    if axis_order == "brc":
        arr = arr.transpose(1, 2, 0)
    if wl is not None and wl.size != arr.shape[2]:
        raise SpectraInputError(str(path), f"{wl.size} wavelengths for a cube of {arr.shape[2]} bands")
    cube = np.ascontiguousarray(arr).astype(np.float64 if arr.dtype == np.float64 else np.float32)
    return _finish_cube(cube, wl, path, name=path.stem)


# --------------------------------------------------------------------------- endmembers
def load_endmembers(path: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """Endmembers ``(L, P)`` and their names from a CSV (one column per material), .npy or a container file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        rows = _read_csv_rows(path)
        names = None
        per_row = False
        if any(_number(c) is None for c in rows[0] if c != ""):
            names, rows = rows[0], rows[1:]
        elif _is_wavelength_row(rows[0], rows[1:]):  # one endmember per row under a header of wavelengths
            rows, per_row = rows[1:], True
        try:
            M = np.array([[float(c) for c in r] for r in rows], dtype=np.float64)
        except ValueError:
            raise SpectraInputError(str(path), "non-numeric cells below the header row") from None
        if M.ndim != 2 or M.size == 0:
            raise SpectraInputError(str(path), "rows of different lengths or no data rows")
        if per_row:
            M = M.T
        if names is not None and names[0].strip().lower() in ("wavelength", "wavelengths", "wl", "lambda", "nm",
                                                               "wavelength_nm", "wavelength (nm)"):
            names, M = names[1:], M[:, 1:]
    elif suffix == ".npy":
        _exists(path)
        try:
            M = np.load(path, allow_pickle=False).astype(np.float64)
        except (OSError, ValueError, EOFError) as exc:
            raise SpectraInputError(str(path), f"cannot be read as .npy ({exc})") from None
        names = None
    elif suffix in _CONTAINER_SUFFIXES:
        variables, _ = _read_container(path)
        M = np.asarray(_pick(variables, "endmembers", None, path, required=True), dtype=np.float64)
        names = _pick(variables, "materials", None, path, required=False)
        names = None if names is None else [str(n) for n in np.asarray(names).reshape(-1)]
    else:
        raise SpectraInputError(str(path), f"unsupported endmember format {suffix or '(no extension)'} "
                                           "(use .csv, .npy, .npz, .mat or .h5)")
    if M.ndim != 2:
        raise SpectraInputError(str(path), f"endmembers must be a 2-D array (bands, materials), got {M.shape}")
    if not np.all(np.isfinite(M)):
        raise SpectraInputError(str(path), f"{int((~np.isfinite(M)).sum())} NaN or infinite values in the endmembers")
    if names is None or len(names) != M.shape[1]:
        names = [f"material {i + 1}" for i in range(M.shape[1])]
    return M, [str(n) for n in names]


# --------------------------------------------------------------------------- exports
def save_spectra(path: str | os.PathLike, spectra: np.ndarray, wavelengths: np.ndarray,
                 abundances: np.ndarray | None = None, materials: Sequence[str] | None = None) -> Path:
    """Write spectra (``.csv`` with abundance columns first, ``.npy`` spectra only, or ``.npz``)."""
    path = Path(path)
    Y = np.asarray(spectra)
    wl = np.asarray(wavelengths).reshape(-1)
    if Y.ndim != 2 or wl.size != Y.shape[1]:
        raise ValueError(f"spectra {Y.shape} and {wl.size} wavelengths do not match")
    if abundances is not None:
        abundances = np.asarray(abundances)
        materials = list(materials) if materials is not None else [f"material {i + 1}" for i in
                                                                  range(abundances.shape[1])]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        header = ([str(m) for m in materials] if abundances is not None else []) + [f"{w:g}" for w in wl]
        body = Y if abundances is None else np.concatenate([abundances, Y], axis=1)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows([[repr(float(v)) for v in row] for row in body])
    elif suffix == ".npy":
        np.save(path, Y)
    elif suffix == ".npz":
        extra = {} if abundances is None else {"abundances": abundances, "materials": np.array(materials, dtype=str)}
        np.savez(path, spectra=Y, wavelengths=wl, **extra)
    else:
        raise ValueError(f"{path}: spectra can be saved as .csv, .npy or .npz")
    return path


def save_abundance_maps(path: str | os.PathLike, maps: np.ndarray, materials: Sequence[str]) -> Path:
    """Write abundance maps ``(rows, cols, P)`` as .npy or as a multi-page float32 TIFF (one page per material)."""
    path = Path(path)
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3 or maps.shape[2] != len(materials):
        raise ValueError(f"maps {maps.shape} must be (rows, cols, {len(materials)})")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, maps)
    elif suffix in (".tif", ".tiff"):
        from PIL import Image

        pages = [Image.fromarray(np.ascontiguousarray(maps[:, :, p])) for p in range(maps.shape[2])]  # mode "F"
        description = json.dumps({"materials": [str(m) for m in materials]})
        pages[0].save(path, save_all=True, append_images=pages[1:], description=description)
    else:
        raise ValueError(f"{path}: abundance maps can be saved as .npy, .tif or .tiff")
    return path
