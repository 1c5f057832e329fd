"""Building Segmentation workbench, non-GUI part (paper 002, Qi & Zhao, "Weight mechanism").

Segments buildings in aerial images with the residual U-Net of the paper's Fig. 2
and its weight mechanism (a constant α on the series-connection feature of each
skip concatenation, eqs. 4–7; β on the parallel position, eq. 10).

Modules (no Qt anywhere in this package):

- :mod:`studio.segmentation.io` -- GeoTIFF/TIFF (8/16-bit, 1–4 bands), PNG and JPEG
  images; masks in three encodings; Massachusetts-layout and images/+masks/ datasets;
  mask export as PNG and GeoTIFF keeping the input's georeferencing tags.
- :mod:`studio.segmentation.synthetic` -- seeded generator of aerial-like scenes at
  1 m/px (the sample dataset, 137/4/10 images of 1500×1500 as the paper, or small).
- :mod:`studio.segmentation.models` -- residual U-Net and its variants (Table I).
- :mod:`studio.segmentation.metrics` -- confusion matrix, IoU, mIoU, pixel and mean
  accuracy (Table I), outcome maps and box-plot statistics (Figs. 4, 6, 9).
- :mod:`studio.segmentation.tiling` -- sliding-window inference with blending over
  images of any size in bounded memory.
- :mod:`studio.segmentation.jobs` -- train / predict / evaluate / repeated runs, the
  job functions that the GUI and ``studio-cli seg`` call.
"""
