"""The two network kinds of paper 000 (Anastasiadis & Heizmann, "Gaussian Process
Inspired Neural Networks for Spectral Unmixing Dataset Augmentation").

:class:`MomentNet` -- the networks N_m and N_k of section 3.2 / Fig. 2 that learn the
mean function m_Y(λ|a) (eq. 6) and the covariance function k_Y(λ, λ*|a) (eq. 7) of
the Gaussian process the spectra of one abundance vector are modelled as::

    input (P+1: a, λ  |  P+2: a, λ'1, λ'2)
    4 × [ Linear(32) → BatchNorm1d → ReLU ]      "batch normalisation prior to the ReLU" [19]
    Linear(1) → logistic function f_log (eq. 10)

"The number of neurons was determined to be 32 for all layers" (section 4).  The
loss is the logistic loss of eq. 11 with continuous targets in (0, 1); for numerical
stability training uses :meth:`MomentNet.logits` with
``binary_cross_entropy_with_logits``, which is eq. 11 applied to σ(logits).

:class:`UnmixingCNN1D` -- the spectral unmixing CNN of section 4.3 ("the same CNN as
in [8]"): three 1-D convolutions of kernel length 3 with 16, 32 and 64 feature maps,
then two fully connected layers (64 and P neurons) and a softmax output, which
enforces the non-negativity (eq. 2) and sum-to-one (eq. 3) constraints by design
(section 1).  The paper leaves open padding, pooling and activations; we choose
(documented, configurable): no padding ("valid", MATLAB's default), ReLU after each
convolution and after the first fully connected layer, no pooling, no batch norm.
With L = 91 bands the flattened feature vector has 64 × (91 − 6) = 5440 entries.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["MOMENT_NET_KIND", "CNN_KIND", "MomentNet", "UnmixingCNN1D", "count_parameters"]

MOMENT_NET_KIND = "unmixing-moment-net"
CNN_KIND = "unmixing-cnn1d"
CNN_CHANNELS = (16, 32, 64)
CNN_HIDDEN = 64


class MomentNet(nn.Module):
    """N_m or N_k of Fig. 2: ``blocks`` × [Linear(hidden) → BN → ReLU] → Linear(1) → σ.

    ``forward(x (B, in_features)) -> (B,)`` values in (0, 1) (eq. 10);
    :meth:`logits` gives the pre-sigmoid values for the loss.
    """

    def __init__(self, in_features: int, hidden: int = 32, blocks: int = 4):
        super().__init__()
        if in_features < 1 or hidden < 1 or blocks < 1:
            raise ValueError(f"in_features, hidden and blocks must be positive (got {in_features}, {hidden}, {blocks})")
        self.in_features, self.hidden, self.blocks = int(in_features), int(hidden), int(blocks)
        layers: list[nn.Module] = []
        width = self.in_features
        for _ in range(self.blocks):
            layers += [nn.Linear(width, self.hidden), nn.BatchNorm1d(self.hidden), nn.ReLU()]
            width = self.hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(-1)

    def forward(self, x: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """The moment in (0, 1); ``logits=True`` gives the pre-sigmoid value (for eq. 11's loss, through
        the model's own call so that a DistributedDataParallel wrapper synchronises its gradients)."""
        z = self.logits(x)
        return z if logits else torch.sigmoid(z)

    @property
    def hparams(self) -> dict:
        return {"in_features": self.in_features, "hidden": self.hidden, "blocks": self.blocks}


class UnmixingCNN1D(nn.Module):
    """Section 4.3's CNN: Conv1d(1→16→32→64, k=3) → FC 64 → FC P → softmax.

    ``forward(y (B, L)) -> (B, P)``: abundances on the probability simplex.
    :meth:`logits` gives the pre-softmax values.
    """

    def __init__(self, bands: int, materials: int, channels: tuple[int, ...] = CNN_CHANNELS,
                 hidden: int = CNN_HIDDEN, kernel_size: int = 3, padding: int = 0):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        length = int(bands)
        for _ in channels:
            length = length + 2 * padding - kernel_size + 1
        if materials < 2:
            raise ValueError(f"unmixing needs at least 2 materials, got {materials}")
        if length < 1:
            raise ValueError(f"{bands} bands are too few for {len(channels)} convolutions of kernel {kernel_size}")
        self.bands, self.materials = int(bands), int(materials)
        self.channels, self.hidden = channels, int(hidden)
        self.kernel_size, self.padding = int(kernel_size), int(padding)
        convs: list[nn.Module] = []
        c_in = 1
        for c_out in channels:
            convs += [nn.Conv1d(c_in, c_out, kernel_size, padding=padding), nn.ReLU()]
            c_in = c_out
        self.features = nn.Sequential(*convs)
        self.n_flat = c_in * length
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(self.n_flat, self.hidden), nn.ReLU(),
                                        nn.Linear(self.hidden, self.materials))

    def logits(self, y: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(y.unsqueeze(1)))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(y), dim=-1)

    @property
    def hparams(self) -> dict:
        return {"bands": self.bands, "materials": self.materials, "channels": list(self.channels),
                "hidden": self.hidden, "kernel_size": self.kernel_size, "padding": self.padding}

    @classmethod
    def from_hparams(cls, hp: dict) -> "UnmixingCNN1D":
        return cls(int(hp["bands"]), int(hp["materials"]), tuple(hp.get("channels", CNN_CHANNELS)),
                   int(hp.get("hidden", CNN_HIDDEN)), int(hp.get("kernel_size", 3)), int(hp.get("padding", 0)))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (batch-norm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
