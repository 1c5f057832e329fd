"""Choose the section-4.3 CNN's training settings without looking at the test set.

The paper gives the CNN's layers and epochs but not its learning rate or input
scaling (:class:`studio.unmixing.jobs.CnnFitSettings`).  Picking them by the test
Δ_RMSE would tune on the test set, so this script holds out mixtures of the
*training* split that the CNN must interpolate to, as the paper's split asks of it:

- quartz-3: the training vectors whose largest abundance is 0.5 — (0.5, 0.5, 0) and
  (0.5, 0.25, 0.25) — 6 of 15;
- quartz-4 / colour-4: one orientation of every 0.4/0.6 binary — (0.6, 0.4, 0, 0)
  held out, (0.4, 0.6, 0, 0) kept — 6 of 16.

It trains the CNN on the rest for the paper's "original" epochs and prints the
held-out Δ_RMSE (eq. 13) per setting ("band" = per-band standardisation, "none" =
raw reflectance; learning rates of Adam; an optional third field sets the epochs).

``--protocol pairs`` asks more of the CNN, as quartz-4's test split does (its 16
training vectors are pure materials and 0.4/0.6 binaries, 28 of its 40 test vectors
have three or four components): for every pair of materials it holds out all
training vectors containing both and trains on the rest, so the CNN must unmix a
combination of materials it never saw together; the mean over the pairs is printed.

``--protocol draw`` is the paper's task itself on other spectra: it trains on the paper's
training split and scores on its test split of the sample generated with ``--data-seed``
(default 1; the figures of ``bench_unmixing_table.py`` use seed 0).  The test
*mixtures* are the paper's, as in a lab that measures a second, independent set of
calibration mixtures to choose settings on; the spectra are new draws.  FCLS on the
same draw is printed beside it.  With ``--augment-step S`` it also trains the augmenter
(N_m, N_k at the paper's epochs) on that training split and the CNN on the training
set augmented on the grid of step S ("normal" strategy, 400 spectra per new vector)
once per ``--generated-ratios`` value: the cap on generated spectra, as a multiple of
the measured training spectra (``studio.unmixing.jobs.generated_per_vector``; 0 = no
cap), at the paper's "normal" epochs with the first setting.

Usage: ``python bench/bench_unmixing_cnn_holdout.py [--datasets quartz-4] [--protocol orientation|pairs|draw]
[--data-seed 1] [--settings band:1e-3 none:3e-4 band:1e-3:7 ...] [--augment-step 0.05 --generated-ratios 5 20]``
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_unmixing_table import Ctx  # noqa: E402


def holdout_mask(name: str, A: np.ndarray) -> np.ndarray:
    if name == "quartz-3":
        return np.isclose(A.max(axis=1), 0.5)
    first = A[np.arange(len(A)), (A > 1e-6).argmax(axis=1)]
    return np.isclose(first, 0.6)


def parse_setting(setting: str, default_epochs: int) -> tuple[str, float, int]:
    """``NORMALISATION:LR[:EPOCHS]`` -> (normalisation, lr, epochs)."""
    mode, lr, *rest = setting.split(":")
    return mode, float(lr), int(rest[0]) if rest else default_epochs


def fit_and_score(J, fit_set, val, mode: str, lr: float, epochs: int) -> float:
    """Train the section-4.3 CNN on ``fit_set`` with these settings; Δ_RMSE (eq. 13) on ``val``."""
    from studio.unmixing.metrics import delta_rmse

    model, norm, _ = J.fit_cnn(Ctx(quiet=True), fit_set, epochs, J.CnnFitSettings(lr=lr, normalisation=mode))
    return delta_rmse(J.predict_abundances(model, val.spectra, norm), val.abundances)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["quartz-4"])
    ap.add_argument("--settings", nargs="+", default=["band:1e-3", "band:3e-4", "none:1e-3", "none:3e-4"],
                    help="NORMALISATION:LR[:EPOCHS]")
    ap.add_argument("--protocol", choices=("orientation", "pairs", "draw"), default="orientation")
    ap.add_argument("--data-seed", type=int, default=1, help="--protocol draw: seed of the generated sample")
    ap.add_argument("--augment-step", type=float, default=None,
                    help="--protocol draw: also train on the training set augmented on this grid step")
    ap.add_argument("--generated-ratios", type=float, nargs="+", default=[5.0, 10.0, 20.0],
                    help="--augment-step: caps on generated / measured training spectra (0: no cap)")
    args = ap.parse_args()
    from studio.unmixing import jobs as J

    for name in args.datasets:
        if args.protocol == "draw":
            score_draw(J, name, args.settings, args.data_seed, args.augment_step, args.generated_ratios)
            continue
        train, _test, rule = J.split_dataset(J.open_dataset(name))
        present = train.abundances > 1e-6
        if args.protocol == "pairs":
            folds = [present[:, i] & present[:, j] for i, j in itertools.combinations(range(present.shape[1]), 2)]
        else:
            folds = [holdout_mask(name, train.abundances)]
        paper_epochs = J.cnn_epochs(rule, "none")
        print(f"{name}: {len(folds)} fold(s), held out per fold "
              f"{[len(train.subset(h).groups()[0]) for h in folds]} of {len(train.groups()[0])} vectors, "
              f"paper epochs {paper_epochs}", flush=True)
        for setting in args.settings:
            mode, lr, epochs = parse_setting(setting, paper_epochs)
            errs = [fit_and_score(J, train.subset(~hold), train.subset(hold), mode, lr, epochs) for hold in folds]
            per_fold = f" (folds {', '.join(f'{e:.3f}' for e in errs)})" if len(errs) > 1 else ""
            print(f"  {mode:5s} lr {lr:g}, {epochs} epochs: held-out Δ_RMSE {np.mean(errs):.4f}{per_fold}",
                  flush=True)


def score_draw(J, name: str, settings: list[str], data_seed: int, augment_step: float | None = None,
               generated_ratios: list[float] = (5.0,)) -> None:
    """The paper's split of another generated draw: train on its training split, score its test split."""
    from studio.unmixing.fcls import fcls
    from studio.unmixing.metrics import delta_rmse

    if data_seed == 0:
        raise SystemExit("--data-seed 0 is the sample the reported figures use; choose another")
    train, test, rule = J.split_dataset(J.open_dataset(name, seed=data_seed))
    fcls_err = delta_rmse(fcls(test.spectra, train.pure_endmembers()), test.abundances)
    print(f"{name} (data seed {data_seed}): {len(train.groups()[0])} training / {len(test.groups()[0])} test "
          f"vectors, FCLS Δ_RMSE {fcls_err:.4f}", flush=True)
    for setting in settings:
        mode, lr, epochs = parse_setting(setting, J.cnn_epochs(rule, "none"))
        err = fit_and_score(J, train, test, mode, lr, epochs)
        print(f"  {mode:5s} lr {lr:g}, {epochs} epochs: test Δ_RMSE of this draw {err:.4f}", flush=True)
    if augment_step is None:
        return
    from studio.unmixing.augmentation import train_moment_nets

    mcfg = J.moment_config(rule)
    augmenter = train_moment_nets(Ctx(quiet=True), train, mcfg, None)
    mode, lr, epochs = parse_setting(settings[0], J.cnn_epochs(rule, "normal"))
    for ratio in generated_ratios:
        data, new, per_vector = J.augmented_training_set(train, augmenter, "normal", augment_step, 400,
                                                         seed=mcfg.seed + 2, max_generated_ratio=ratio)
        err = fit_and_score(J, data, test, mode, lr, epochs)
        print(f"  + normal s={augment_step:g}, generated ≤ {ratio:g}× measured ({new} new vectors × {per_vector}, "
              f"{len(data)} spectra), {mode} lr {lr:g}, {epochs} epochs: test Δ_RMSE of this draw {err:.4f}",
              flush=True)


if __name__ == "__main__":
    main()
