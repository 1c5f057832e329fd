"""The CNN of Ieracitano et al. (paper 004), Table 2, and the depth ablation of Table 3.

Table 2 (input 1 x 128 x 128 greyscale patch)::

    conv1 3x3/1 pad 1, 16  -> 128x128   pool1 2x2/2 -> 64x64
    conv2 3x3/1 pad 1, 32  ->  64x64    pool2 2x2/2 -> 32x32
    conv3 3x3/1 pad 1, 64  ->  32x32    pool3 2x2/2 -> 16x16
    conv4 3x3/1 pad 1, 96  ->  16x16    pool4 2x2/2 ->  8x8
    conv5 3x3/1 pad 1, 128 ->   8x8     pool5 2x2/2 ->  4x4
    FC1  2048 -> 40 (ReLU)              FC2  40 -> 2, softmax

Each convolution is followed by batch normalisation ("applied to the hidden
layers", Sect. 2.2) and ReLU, then max pooling.  Weights are drawn from
N(0, 0.01^2) as in the paper; biases are zero, batch-norm gamma 1 and beta 0.
The convolutions keep their bias (MATLAB's ``convolution2dLayer``, which the
authors used, has one) although batch norm makes it redundant.  The paper gives
no parameter count; counted from Table 2 it is 272,122 trainable parameters
(189,408 conv + 672 batch-norm + 81,960 FC1 + 82 FC2).

Table 3 (ablation): CNN_d has the first d conv/ReLU/pool modules followed
directly by the softmax layer (``fc40=False``); CNN_5* adds the 40-neuron FC
layer (``SemCNN(depth=5, fc40=True)``, the default and the paper's best, 80 %
accuracy).  ``forward`` returns logits; :meth:`SemCNN.predict_proba` applies
the softmax.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

__all__ = ["MODEL_KIND", "FILTERS", "FC_HIDDEN", "INPUT_SIZE", "DEFAULT_HPARAMS", "SemCNN", "build_model",
           "count_parameters"]

MODEL_KIND = "sem-cnn"
FILTERS = (16, 32, 64, 96, 128)
FC_HIDDEN = 40
INPUT_SIZE = 128
DEFAULT_HPARAMS = {"depth": 5, "fc40": True, "n_classes": 2, "in_channels": 1, "input_size": INPUT_SIZE}


class SemCNN(nn.Module):
    """CNN_depth (+ FC 40 when ``fc40``) of the paper's Tables 2 and 3."""

    def __init__(self, depth: int = 5, fc40: bool = True, n_classes: int = 2, in_channels: int = 1,
                 input_size: int = INPUT_SIZE):
        super().__init__()
        if not 1 <= int(depth) <= len(FILTERS):
            raise ValueError(f"depth must be 1..{len(FILTERS)}, got {depth}")
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        if input_size >> depth < 1:
            raise ValueError(f"input size {input_size} is too small for {depth} pooling layers")
        self.depth, self.fc40, self.n_classes = int(depth), bool(fc40), int(n_classes)
        self.in_channels, self.input_size = int(in_channels), int(input_size)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        c_in, side = self.in_channels, self.input_size
        for i, c_out in enumerate(FILTERS[: self.depth], start=1):
            layers[f"conv{i}"] = nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1)
            layers[f"bn{i}"] = nn.BatchNorm2d(c_out)
            layers[f"relu{i}"] = nn.ReLU(inplace=True)
            layers[f"pool{i}"] = nn.MaxPool2d(kernel_size=2, stride=2)
            c_in, side = c_out, side // 2
        self.features = nn.Sequential(layers)
        self.n_flat = c_in * side * side
        head: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        if self.fc40:
            head["fc1"] = nn.Linear(self.n_flat, FC_HIDDEN)
            head["relu_fc1"] = nn.ReLU(inplace=True)
            head["fc2"] = nn.Linear(FC_HIDDEN, self.n_classes)
        else:
            head["fc"] = nn.Linear(self.n_flat, self.n_classes)
        self.classifier = nn.Sequential(head)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, 0.01^2) weights, zero biases, batch norm gamma 1 / beta 0 (Sect. 2.2)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
                m.reset_running_stats()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, n_classes), for input (batch, in_channels, H, W)."""
        return self.classifier(self.features(x))

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax class probabilities, computed in eval mode (the mode is restored)."""
        was_training = self.training
        self.eval()
        try:
            return torch.softmax(self.forward(x), dim=1)
        finally:
            self.train(was_training)

    @property
    def hparams(self) -> dict:
        """The constructor arguments, for checkpoint sidecars (see :func:`build_model`)."""
        return {"depth": self.depth, "fc40": self.fc40, "n_classes": self.n_classes,
                "in_channels": self.in_channels, "input_size": self.input_size}


def build_model(hparams: dict) -> nn.Module:
    """A :class:`SemCNN` from a dict of its constructor arguments (missing keys: defaults).

    Keys that are not model arguments (e.g. training settings stored alongside)
    are ignored.
    """
    hp = {**DEFAULT_HPARAMS, **{k: v for k, v in (hparams or {}).items() if k in DEFAULT_HPARAMS}}
    return SemCNN(depth=int(hp["depth"]), fc40=bool(hp["fc40"]), n_classes=int(hp["n_classes"]),
                  in_channels=int(hp["in_channels"]), input_size=int(hp["input_size"]))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (batch-norm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
