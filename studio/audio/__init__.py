"""Audio Enhancement workbench, non-GUI part (paper 003, Kim et al., "Dual Stage
Learning Based Dynamic Time-Frequency Mask Generation for Audio Event Classification").

Classifies 4 s sound events (UrbanSound8K's ten classes) from 40-band mel spectra
with the CNN-FC of section 4.2, and enhances noisy inputs with time-frequency masks
made by a static network (SFE) or by dynamic filter networks (DFE, DCL, DSL;
sections 3.1-3.3) trained through the frozen classifier's cross-entropy.

Modules (no Qt anywhere in this package):

- :mod:`studio.audio.io` -- WAV/FLAC/OGG decoding with soundfile to mono 16 kHz,
  4 s segments, window-by-window reading of long files; UrbanSound8K and
  folder-per-class datasets with per-file problems instead of crashes.
- :mod:`studio.audio.noise` -- white/pink/brown/babble/factory noise, user noise
  files, mixing at an exact SNR.
- :mod:`studio.audio.features` -- the paper's features: STFT (512-point Hamming,
  hop 256), 40 mel bands, min-max per clip; batched in torch.
- :mod:`studio.audio.synthetic` -- seeded generator of the ten classes (the sample
  dataset, UrbanSound8K layout with ten folds).
- :mod:`studio.audio.models` -- CNN-FC, SFE, DFE, DCL, DSL (section 4).
- :mod:`studio.audio.metrics` -- accuracy, per-class accuracy, confusion matrix.
- :mod:`studio.audio.jobs` -- the job functions the GUI and the CLI call.
"""
