"""The networks of paper 003 (Kim et al.): CNN-FC, SFE, DFE, DCL and DSL.

All take normalised mel spectra (B, 40, frames) or (B, 1, 40, frames)
(:mod:`studio.audio.features`).  The classifier returns logits; an enhancer
returns ``(enhanced, mask)`` with ``enhanced = x ⊙ mask`` (eq. 3), shaped like
its input, to be fed to the frozen classifier.

CNN-FC (section 4.2) — the pre-trained classifier of every enhancer::

    conv 3×3, 12  ─ max-pool 3×3 / stride 2×2
    conv 3×3, 36
    conv 3×3, 72  ─ max-pool 3×4 / stride 2×3
    conv 3×3, 96
    conv 3×3, 96  ─ max-pool 3×4 / stride 2×3
    FC → n_classes (softmax in the loss)

Stride 1, "same" zero padding, ReLU after every convolution; pools without
padding.  For 40 × 249 inputs the maps are 40×249 → 19×124 → 9×41 → 4×13, so the
FC layer sees 96·4·13 = 4992 values.  The paper names no normalisation or dropout
for CNN-FC and we add none.

Filter generator (sections 3.1 and 4.1, eq. 1): three 3×3 dilated convolutions
with 12, 72, 256 channels and dilations 6, 4, 1, each followed by batch norm,
max-pool (3×3/2×2 first, then 3×4/2×3) and ReLU; averaging over frequency and
time ("feature averaging") gives a 256-d vector v, time independent.  Ten FC
heads read v: FC1–FC5 give the weights of the five dynamic convolutions
(output size = the filter size, e.g. 96·96·3·3 for the middle layers), FC6–FC10
give the scale and bias (2·C values) of the per-instance normalisation after each
of them (section 3.2).

Dynamic filter layer (sections 3.1, 3.2, 4.1, eq. 2): five 3×3 dilated
convolutions with 24, 96, 96, 96, 1 channels and dilations 1, 2, 4, 8, 1 whose
weights are the generator's outputs for *this* input.  After each one: a zero-mean
unit-variance normalisation per instance over (channels, frequency, time) — Layer
Normalization, as section 3.2 prescribes instead of batch norm — with the
generated scale and bias per channel, then ReLU; after the last one a sigmoid
gives the mask m_t.  The per-sample convolutions run as one grouped convolution
over the batch (groups = batch size), with no Python loop over samples
(:func:`batched_conv2d`).

Initialisation (the paper gives none): an FC head computes ``A·v + b``; ``b``
starts as a standard (Kaiming-uniform) static filter and ``A`` small, so the
initial dynamic filter is a reasonable static filter plus an input-dependent
part of about half its size; the scale heads start at 1, the biases at 0.

SFE (section 4.2, after Shon et al. [13]): the dynamic filter layer's structure
with ordinary learned (static) weights and per-instance normalisation with learned
affine parameters (``GroupNorm(1, C)``).

DFE (3.1): generator + dynamic filter layer, one pass.  DCL (3.3a, Fig. 2a): two
DFE stages in cascade, ``x1 = x ⊙ m1(x)``, ``x2 = x1 ⊙ m2(x1)``, each with its own
generator; stage 1 is trained first, then frozen while stage 2 trains.  DSL (3.3b,
Fig. 2b): the same two-stage pipeline with one shared generator, trained end to
end.  For the two-stage models the returned mask is the overall ``m1 ⊙ m2``
(``enhanced = x ⊙ mask``); :meth:`TwoStageEnhancer.stages` gives each stage.

``width`` scales every channel count except the final 1 (1.0 = the paper's
sizes; the tests use small widths).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "MODEL_KINDS", "ENHANCER_KINDS", "CNN_CHANNELS", "GENERATOR_CHANNELS", "GENERATOR_DILATIONS",
    "DYNAMIC_CHANNELS", "DYNAMIC_DILATIONS", "CNNFC", "FilterGenerator", "DynamicFilterLayer", "DFE", "SFE",
    "TwoStageEnhancer", "EnhancedClassifier", "batched_conv2d", "build_model", "count_parameters",
]

MODEL_KINDS = ("cnn", "sfe", "dfe", "dcl", "dsl")
ENHANCER_KINDS = ("sfe", "dfe", "dcl", "dsl")
CNN_CHANNELS = (12, 36, 72, 96, 96)
GENERATOR_CHANNELS = (12, 72, 256)
GENERATOR_DILATIONS = (6, 4, 1)
DYNAMIC_CHANNELS = (24, 96, 96, 96, 1)
DYNAMIC_DILATIONS = (1, 2, 4, 8, 1)
FIRST_POOL = dict(kernel_size=(3, 3), stride=(2, 2))
LATER_POOL = dict(kernel_size=(3, 4), stride=(2, 3))
N_MELS, N_FRAMES = 40, 249


def _scaled(channels, width: float, keep_last: bool = False) -> tuple[int, ...]:
    out = [max(1, int(round(c * width))) for c in channels]
    if keep_last:
        out[-1] = channels[-1]
    return tuple(out)


def _as_image(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """(B, F, T) -> (B, 1, F, T); remembers whether a channel axis was added."""
    if x.dim() == 3:
        return x.unsqueeze(1), True
    if x.dim() == 4 and x.shape[1] == 1:
        return x, False
    raise ValueError(f"expected features (B, 40, frames) or (B, 1, 40, frames), got {tuple(x.shape)}")


def _pool_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


class CNNFC(nn.Module):
    """CNN-FC classifier of section 4.2 (see the module docstring)."""

    def __init__(self, n_classes: int = 10, n_mels: int = N_MELS, n_frames: int = N_FRAMES,
                 channels=CNN_CHANNELS):
        super().__init__()
        c = tuple(channels)
        self.convs = nn.ModuleList()
        c_in = 1
        for c_out in c:
            self.convs.append(nn.Conv2d(c_in, c_out, 3, padding=1))
            c_in = c_out
        self.pools = nn.ModuleDict({"0": nn.MaxPool2d(**FIRST_POOL), "2": nn.MaxPool2d(**LATER_POOL),
                                    "4": nn.MaxPool2d(**LATER_POOL)})
        h, w = n_mels, n_frames
        for pool in (FIRST_POOL, LATER_POOL, LATER_POOL):
            h, w = _pool_out(h, pool["kernel_size"][0], pool["stride"][0]), \
                _pool_out(w, pool["kernel_size"][1], pool["stride"][1])
        if h < 1 or w < 1:
            raise ValueError(f"{n_mels}×{n_frames} features are too small for CNN-FC's three pools")
        self.fc = nn.Linear(c[-1] * h * w, n_classes)
        self.n_classes = n_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = _as_image(x)
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x))
            if str(i) in self.pools:
                x = self.pools[str(i)](x)
        return self.fc(x.flatten(1))


class FilterGenerator(nn.Module):
    """Eq. (1), section 4.1: dilated convs + BN + max-pool + ReLU, averaged to a vector."""

    def __init__(self, channels=GENERATOR_CHANNELS, dilations=GENERATOR_DILATIONS):
        super().__init__()
        layers = []
        c_in = 1
        for i, (c_out, d) in enumerate(zip(channels, dilations)):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=d, dilation=d), nn.BatchNorm2d(c_out),
                       nn.MaxPool2d(**(FIRST_POOL if i == 0 else LATER_POOL)), nn.ReLU()]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.out_features = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = _as_image(x)
        return self.body(x).mean(dim=(2, 3))


def batched_conv2d(x: torch.Tensor, weight: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """Convolve sample b of ``x`` (B, Cin, H, W) with its own filters ``weight[b]`` (B, Cout, Cin, k, k).

    One grouped convolution: the batch is folded into the channel axis and
    ``groups = B``, so every sample meets only its own filters ("same" padding).
    """
    b, c_in, h, w = x.shape
    _, c_out, _, k, _ = weight.shape
    pad = dilation * (k // 2)
    y = F.conv2d(x.reshape(1, b * c_in, h, w), weight.reshape(b * c_out, c_in, k, k), padding=pad,
                 dilation=dilation, groups=b)
    return y.view(b, c_out, h, w)


def instance_layer_norm(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5):
    """Section 3.2: zero mean, unit variance per instance over (C, H, W), then per-channel scale and bias."""
    x = F.group_norm(x, 1, eps=eps)
    return x * scale[:, :, None, None] + bias[:, :, None, None]


class DynamicFilterLayer(nn.Module):
    """Eq. (2): the mask network run with per-input weights (no parameters of its own)."""

    def __init__(self, channels=DYNAMIC_CHANNELS, dilations=DYNAMIC_DILATIONS, in_channels: int = 1):
        super().__init__()
        self.channels, self.dilations = tuple(channels), tuple(dilations)
        self.shapes = []
        c_in = in_channels
        for c_out in self.channels:
            self.shapes.append((c_out, c_in, 3, 3))
            c_in = c_out

    def forward(self, x: torch.Tensor, weights, scales, biases) -> torch.Tensor:
        """Mask (B, 1, F, T) of ``x`` (B, 1, F, T) under the given per-sample parameters."""
        h = x
        last = len(self.channels) - 1
        for i, (w, s, b, d) in enumerate(zip(weights, scales, biases, self.dilations)):
            h = instance_layer_norm(batched_conv2d(h, w, d), s, b)
            h = torch.sigmoid(h) if i == last else F.relu(h)
        return h


class FilterHeads(nn.Module):
    """FC1–FC5 (dynamic conv weights) and FC6–FC10 (normalisation scale and bias) of section 4.1."""

    def __init__(self, in_features: int, shapes, dynamic_fraction: float = 0.5):
        super().__init__()
        self.shapes = [tuple(s) for s in shapes]
        self.weight_heads = nn.ModuleList(nn.Linear(in_features, math.prod(s)) for s in self.shapes)
        self.norm_heads = nn.ModuleList(nn.Linear(in_features, 2 * s[0]) for s in self.shapes)
        with torch.no_grad():
            for head, shape in zip(self.weight_heads, self.shapes):
                fan_in = shape[1] * shape[2] * shape[3]
                bound = 1.0 / math.sqrt(fan_in) * math.sqrt(3.0)  # Kaiming-uniform-like static part
                head.bias.uniform_(-bound, bound)
                head.weight.normal_(0.0, dynamic_fraction * bound / math.sqrt(3.0) / math.sqrt(in_features))
            for head, shape in zip(self.norm_heads, self.shapes):
                head.weight.normal_(0.0, 0.1 / math.sqrt(in_features))
                head.bias.zero_()
                head.bias[: shape[0]] = 1.0

    def forward(self, v: torch.Tensor):
        b = v.shape[0]
        weights = [head(v).view(b, *shape) for head, shape in zip(self.weight_heads, self.shapes)]
        norms = [head(v) for head in self.norm_heads]
        scales = [n[:, : s[0]] for n, s in zip(norms, self.shapes)]
        biases = [n[:, s[0]:] for n, s in zip(norms, self.shapes)]
        return weights, scales, biases


class DFE(nn.Module):
    """Dynamic Feature Enhancement (section 3.1): generator → dynamic filters → mask → x ⊙ m (eq. 3)."""

    def __init__(self, generator_channels=GENERATOR_CHANNELS, generator_dilations=GENERATOR_DILATIONS,
                 dynamic_channels=DYNAMIC_CHANNELS, dynamic_dilations=DYNAMIC_DILATIONS):
        super().__init__()
        self.generator = FilterGenerator(generator_channels, generator_dilations)
        self.dynamic = DynamicFilterLayer(dynamic_channels, dynamic_dilations)
        self.heads = FilterHeads(self.generator.out_features, self.dynamic.shapes)

    def filters(self, x: torch.Tensor):
        """The generated (weights, scales, biases) for each input: lists over the five layers."""
        return self.heads(self.generator(x))

    def forward(self, x: torch.Tensor):
        img, squeezed = _as_image(x)
        mask = self.dynamic(img, *self.filters(img))
        enhanced = img * mask
        return (enhanced.squeeze(1), mask.squeeze(1)) if squeezed else (enhanced, mask)


class SFE(nn.Module):
    """Static Feature Enhancement (section 4.2): the dynamic filter layer's structure with fixed weights."""

    def __init__(self, channels=DYNAMIC_CHANNELS, dilations=DYNAMIC_DILATIONS):
        super().__init__()
        layers = []
        c_in = 1
        for i, (c_out, d) in enumerate(zip(channels, dilations)):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=d, dilation=d, bias=False), nn.GroupNorm(1, c_out),
                       nn.Sigmoid() if i == len(channels) - 1 else nn.ReLU()]
            c_in = c_out
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor):
        img, squeezed = _as_image(x)
        mask = self.body(img)
        enhanced = img * mask
        return (enhanced.squeeze(1), mask.squeeze(1)) if squeezed else (enhanced, mask)


class TwoStageEnhancer(nn.Module):
    """DCL (section 3.3a, two generators in cascade) or DSL (3.3b, one shared generator)."""

    def __init__(self, shared: bool, **dfe_kwargs):
        super().__init__()
        self.shared = bool(shared)
        self.stage1 = DFE(**dfe_kwargs)
        self.second = None if self.shared else DFE(**dfe_kwargs)
        # DCL's second training stage (3.3a): stage 1 is frozen, its batch-norm statistics included
        self.freeze_stage1 = False

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_stage1:
            self.stage1.eval()
        return self

    @property
    def stage2(self) -> DFE:
        """The second stage's generator: stage 1's own (DSL) or a second one (DCL)."""
        return self.stage1 if self.second is None else self.second

    def stages(self, x: torch.Tensor):
        """[(x1, m1), (x2, m2)]: each stage's enhanced features and mask."""
        x1, m1 = self.stage1(x)
        x2, m2 = self.stage2(x1)
        return [(x1, m1), (x2, m2)]

    def forward(self, x: torch.Tensor):
        (_, m1), (x2, m2) = self.stages(x)
        return x2, m1 * m2


class EnhancedClassifier(nn.Module):
    """An enhancer in front of a frozen pre-trained classifier (section 4.3): logits of classifier(x ⊙ m).

    The classifier's parameters have ``requires_grad`` off and it stays in eval
    mode even when this module is put in training mode, so training the enhancer
    through the classifier's cross-entropy never changes it.
    """

    def __init__(self, enhancer: nn.Module, classifier: nn.Module):
        super().__init__()
        self.enhancer = enhancer
        self.classifier = classifier
        for p in self.classifier.parameters():
            p.requires_grad_(False)
        self.classifier.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.classifier.eval()
        return self

    def enhance(self, x: torch.Tensor):
        return self.enhancer(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enhanced, _ = self.enhancer(x)
        return self.classifier(enhanced)


def build_model(kind: str, n_classes: int = 10, width: float = 1.0, n_mels: int = N_MELS,
                n_frames: int = N_FRAMES) -> nn.Module:
    """``cnn`` → :class:`CNNFC` (logits); ``sfe``/``dfe``/``dcl``/``dsl`` → enhancer returning (enhanced, mask)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    if kind == "cnn":
        return CNNFC(n_classes, n_mels, n_frames, _scaled(CNN_CHANNELS, width))
    dyn = _scaled(DYNAMIC_CHANNELS, width, keep_last=True)
    if kind == "sfe":
        return SFE(dyn)
    kw = dict(generator_channels=_scaled(GENERATOR_CHANNELS, width), dynamic_channels=dyn)
    if kind == "dfe":
        return DFE(**kw)
    return TwoStageEnhancer(shared=kind == "dsl", **kw)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
