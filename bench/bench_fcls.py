"""FCLS throughput and exactness: studio.unmixing.fcls against pysptools' FCLS, in one run.

pysptools (0.15) is the common Python FCLS: one cvxopt QP (``solvers.qp``) per
pixel.  Both solve min ||y - M a||^2 s.t. a >= 0, sum(a) = 1 on the same data:
91 bands (450-810 nm), the 4 colour-4 pigment spectra of the sample generator as
endmembers, 100,000 pixels whose abundances are sparse (Dirichlet(0.3), a third
of the pixels with one material removed) and perturbed (brightness +-10 %, noise)
so that non-negativity constraints are active in most pixels.

The reference is slow, so it is timed on a subset (default 2,000 pixels, median of
3 runs) and its throughput extrapolated per pixel; ours is timed on all pixels
(median of 5).  On the common subset the script prints the mean objective of
both solutions (ours must not be larger), the pixels where ours is larger (the
reference returns float32 and misses sum-to-one by ~1e-8, which can lower its
objective by ~1e-8), the same comparison after projecting the reference onto the
simplex, and the largest constraint violation.

``pysptools.abundance_maps`` imports matplotlib for its plotting wrappers; when
that is missing, the module holding the FCLS function (``amaps.py``, numpy and
cvxopt only) is loaded from the installed package directly: the same code.
When pysptools cannot be loaded at all, a reference written the way pysptools
does it (one ``cvxopt.solvers.qp`` per pixel) is used, and the output says so.

Usage: ``python bench/bench_fcls.py [--pixels 100000] [--ref-pixels 2000] [--seed 0]``
(needs the ``bench`` extra: ``pip install -e .[bench]``).
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import time

import numpy as np

from studio.unmixing.fcls import fcls, objective, project_simplex
from studio.unmixing.synthetic import RECIPES, WAVELENGTHS, pure_spectrum


def load_reference():
    """(function(Y (N, L), E (P, L)) -> A (N, P), description)."""
    try:
        from pysptools.abundance_maps.amaps import FCLS

        return FCLS, "pysptools.abundance_maps.amaps.FCLS (one cvxopt QP per pixel)"
    except ImportError as exc:
        spec = importlib.util.find_spec("pysptools")
        if spec is not None and spec.submodule_search_locations:
            import os

            path = os.path.join(list(spec.submodule_search_locations)[0], "abundance_maps", "amaps.py")
            if os.path.exists(path):
                module_spec = importlib.util.spec_from_file_location("pysptools_amaps", path)
                module = importlib.util.module_from_spec(module_spec)
                module_spec.loader.exec_module(module)
                return module.FCLS, (f"pysptools FCLS loaded from {path} (one cvxopt QP per pixel; the package "
                                     f"import failed: {exc})")
        reason = str(exc)
    try:
        from cvxopt import matrix, solvers
    except ImportError:
        raise SystemExit("neither pysptools nor cvxopt is installed: pip install -e .[bench]") from None

    def fcls_cvxopt(Y, E):
        solvers.options["show_progress"] = False
        P = E.shape[0]
        C = matrix(np.ascontiguousarray(E.T, dtype=np.float64))
        Q = C.T * C
        G, h = matrix(-np.eye(P)), matrix(np.zeros(P))
        A_eq, b_eq = matrix(np.ones((1, P))), matrix(np.ones(1))
        out = np.zeros((Y.shape[0], P))
        for n, y in enumerate(np.asarray(Y, dtype=np.float64)):
            q = -(matrix(y, (y.size, 1), "d").T * C)
            out[n] = np.array(solvers.qp(Q, q.T, G, h, A_eq, b_eq)["x"]).ravel()
        return out

    return fcls_cvxopt, f"re-implementation of pysptools' FCLS (cvxopt.solvers.qp per pixel); pysptools: {reason}"


def make_problem(pixels: int, seed: int):
    rng = np.random.default_rng(seed)
    M = np.stack([pure_spectrum(m, WAVELENGTHS) for m in RECIPES["colour-4"].materials], axis=1)  # (91, 4)
    P = M.shape[1]
    A = rng.dirichlet(np.full(P, 0.3), pixels)
    drop = rng.random(pixels) < 1 / 3
    A[drop, rng.integers(0, P, drop.sum())] = 0.0
    A /= A.sum(axis=1, keepdims=True)
    Y = (A @ M.T) * rng.uniform(0.9, 1.1, (pixels, 1)) + 0.01 * rng.standard_normal((pixels, M.shape[0]))
    return Y, M


def violation(A):
    return max(float(np.maximum(-A, 0).max()), float(np.abs(A.sum(axis=1) - 1).max()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pixels", type=int, default=100_000)
    parser.add_argument("--ref-pixels", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ref-repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    reference, description = load_reference()
    Y, M = make_problem(args.pixels, args.seed)
    print(f"data: {Y.shape[0]} pixels x {Y.shape[1]} bands, {M.shape[1]} endmembers (colour-4 pigments)")
    print(f"reference: {description}")

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        A = fcls(Y, M)
        times.append(time.perf_counter() - t0)
    ours_s = statistics.median(times)
    ours_rate = Y.shape[0] / ours_s

    sub = slice(0, min(args.ref_pixels, Y.shape[0]))
    ref_times = []
    for _ in range(args.ref_repeats):
        t0 = time.perf_counter()
        A_ref = np.asarray(reference(Y[sub], M.T), dtype=np.float64)
        ref_times.append(time.perf_counter() - t0)
    ref_s = statistics.median(ref_times)
    ref_rate = A_ref.shape[0] / ref_s

    active = float(np.mean((A == 0).any(axis=1)))
    print(f"active non-negativity constraints: in {100 * active:.1f} % of the pixels (ours)")
    print(f"ours      : {ours_rate:12,.0f} pixels/s  (median of {args.repeats}: {ours_s:.3f} s for {Y.shape[0]} px)")
    print(f"reference : {ref_rate:12,.0f} pixels/s  (median of {args.ref_repeats}: {ref_s:.3f} s for "
          f"{A_ref.shape[0]} px; {Y.shape[0] / ref_rate:.0f} s extrapolated to {Y.shape[0]} px)")
    print(f"speed-up  : {ours_rate / ref_rate:,.0f}x")
    f_ours = objective(Y[sub], M, A[sub])
    f_ref = objective(Y[sub], M, A_ref)
    print(f"mean objective ||y - Ma||^2 on the {A_ref.shape[0]} common pixels: ours {f_ours.mean():.10f}, "
          f"reference {f_ref.mean():.10f}  (ours <= reference: {f_ours.mean() <= f_ref.mean()}; "
          f"pixels where ours is larger by > 1e-9: {int((f_ours > f_ref + 1e-9).sum())})")
    f_feasible = objective(Y[sub], M, project_simplex(A_ref))
    print(f"reference projected onto the simplex (its float32 output misses the constraints slightly): mean "
          f"{f_feasible.mean():.10f}; pixels where ours is larger by > 1e-12: {int((f_ours > f_feasible + 1e-12).sum())}, "
          f"largest excess {float((f_ours - f_feasible).max()):.1e}")
    print(f"largest constraint violation (max of -a and |sum a - 1|): ours {violation(A):.2e} (all pixels), "
          f"reference {violation(A_ref):.2e}")
    print(f"largest abundance difference ours vs reference: {np.abs(A[sub] - A_ref).max():.2e}")


if __name__ == "__main__":
    main()
