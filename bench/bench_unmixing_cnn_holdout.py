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
raw reflectance; learning rates of Adam).

Usage: ``python bench/bench_unmixing_cnn_holdout.py [--datasets quartz-4] [--settings band:1e-3 none:3e-4 ...]``
"""
from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["quartz-4"])
    ap.add_argument("--settings", nargs="+", default=["band:1e-3", "band:3e-4", "none:1e-3", "none:3e-4"],
                    help="NORMALISATION:LR pairs")
    args = ap.parse_args()
    from studio.unmixing import jobs as J
    from studio.unmixing.metrics import delta_rmse

    for name in args.datasets:
        train, _test, rule = J.split_dataset(J.open_dataset(name))
        hold = holdout_mask(name, train.abundances)
        fit_set, val = train.subset(~hold), train.subset(hold)
        epochs = J.cnn_epochs(rule, "none")
        print(f"{name}: {len(fit_set.groups()[0])} vectors to fit, {len(val.groups()[0])} held out, {epochs} epochs",
              flush=True)
        for setting in args.settings:
            mode, lr = setting.split(":")
            model, norm, _ = J.fit_cnn(Ctx(), fit_set, epochs, J.CnnFitSettings(lr=float(lr), normalisation=mode))
            err = delta_rmse(J.predict_abundances(model, val.spectra, norm), val.abundances)
            print(f"  {mode:5s} lr {float(lr):g}: held-out Δ_RMSE {err:.4f}", flush=True)


if __name__ == "__main__":
    main()
