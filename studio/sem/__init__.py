"""SEM Defects workbench, non-GUI part (paper 004, Ieracitano et al.).

Classifies scanning-electron-microscope images of electrospun nanofibre mats as
homogeneous (HNF) or non-homogeneous (NHNF: beads, dust specks, fused fibres) with
the small CNN of the paper's Table 2, applied to 128x128 patches cut from the
1024x1024 micrographs without resampling.

Modules (no Qt anywhere in this package):

- :mod:`studio.sem.io` -- image and dataset loaders (TIFF 8/16-bit, PNG, JPEG, BMP;
  folder-per-class or CSV), with per-file problems instead of crashes.
- :mod:`studio.sem.patches` -- the 128x128 patch grid, exact patch extraction,
  the stratified by-image train/test split and training patch sets.
- :mod:`studio.sem.synthetic` -- seeded generator of SEM-like fibre mats (the
  sample dataset: 75 HNF + 85 NHNF images of 1024x1024, as in the paper).
- :mod:`studio.sem.models` -- the CNN of Table 2 and the depth ablation of Table 3.
- :mod:`studio.sem.metrics` -- eqs. 1-4 of the paper, confusion matrix, ROC/AUC and
  the whole-image verdict from patch probabilities (numpy only).
"""
