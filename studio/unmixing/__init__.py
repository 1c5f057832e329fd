"""Spectral Unmixing workbench, non-GUI part (paper 000, Anastasiadis & Heizmann).

Estimates the abundances of the materials in mixed spectra of powder mixtures with
the model-based methods of the paper's section 2 (FCLS, ELMM) and with a 1-D CNN
trained on datasets augmented by Gaussian-process-inspired networks (section 3)
that learn the mean and covariance of the spectra as functions of the abundances.

Modules (no Qt anywhere in this package):

- :mod:`studio.unmixing.io` -- spectra datasets and cubes: CSV, .npy/.npz, MATLAB
  .mat (v5 and v7.3), HDF5, ENVI cubes; endmember files; exports; validation.
- :mod:`studio.unmixing.synthetic` -- seeded generator of the sample datasets
  quartz-3, quartz-4 and colour-4 (section 4.1) with non-linear mixing and
  spectral variability; the paper's train/test split; simplex grids.
- :mod:`studio.unmixing.fcls` -- unconstrained LS, NNLS and FCLS (eqs. 1-4),
  exact and batched over all spectra.
- :mod:`studio.unmixing.elmm` -- the extended linear mixing model (eq. 5).
- :mod:`studio.unmixing.metrics` -- Delta_AMN, Delta_GAMN (eq. 12), Delta_RMSE
  (eq. 13) and the reconstruction error (numpy only).
- :mod:`studio.unmixing.models` -- the moment networks N_m / N_k (Fig. 2) and the
  unmixing CNN (section 4.3).
- :mod:`studio.unmixing.augmentation` -- per-mixture moments (eqs. 8, 9), training
  of N_m / N_k (eq. 11) and generation of augmented datasets (section 3.3).
- :mod:`studio.unmixing.jobs` -- the job functions the GUI and the CLI call.
"""
