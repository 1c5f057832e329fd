"""Residual U-Net with the weight mechanism (paper 002, Qi & Zhao, Fig. 2, eqs. 1–10, Table I).

Architecture (Fig. 2 is missing from the text we have; this follows section III.C):

- **Encoder**, 5 levels of widths 32, 64, 128, 256, 512.  Level 0 is a 3×3 conv
  (3→32) + BN + ReLU at full resolution followed by bottleneck residual blocks;
  each deeper level starts with a *stride-2* 3×3 conv + BN + ReLU ("we replace max
  pooling with convolution layers that the stride is 2") followed by bottleneck
  blocks (He et al. [5]: 1×1 reduce to c/4, 3×3, 1×1 expand, identity shortcut).
- **Decoder**, 4 levels: the deeper decoder feature is upsampled ×2 by *bilinear
  interpolation*, concatenated with the encoder feature of the same level, reduced
  by a 1×1 conv + BN + ReLU and refined by bottleneck blocks; a 1×1 conv gives the
  two class scores (background, building).
- Blocks per level (encoder 2, 2, 3, 3, 4; decoder 2 each) were chosen so that the
  baseline has 5.10 M parameters, close to Table I's 5.11 M (5,096,226 here).
  ``model_complexity`` reports FLOPs as torch's ``FlopCounterMode`` counts them
  (2 per multiply-add): 7.96 GFLOPs at 250×250, i.e. 3.98 G multiply-adds, against
  the table's 5.62 "GFLOPs" (Fig. 2's exact layer sizes are not in the text).

The weight mechanism sits in the 4 skip concatenations (:class:`SkipFusion`).  At
level i the encoder feature ``E_i`` is ``X1`` and the upsampled decoder feature ``U_i``
is computed from it (through the deeper encoder and decoder), so ``U_i`` is ``X2`` of a
*series* connection (Fig. 1(a)):

- eq. (4)/(7):  ``concat(α_i · E_i, β_i · U_i)`` with α on the series-connection
  feature X1 (``E_i``);
- eq. (10): β_i multiplies the other input ``U_i``.  Fig. 1's caption: "if multiplying
  α with X2 rather than X1 … it becomes a parallel connection"; a constant on ``U_i``
  is absorbed by the weights (and batch-norm weight and bias) of the layers that
  computed ``U_i``, which is the effect of β the paper analyses (Figs. 5, 7).

α_i and β_i are fixed constants (buffers, saved with the weights), i = 1 (full
resolution) … 4 (deepest concatenation).  Variants (Table I):

=============  ================================================================
baseline       α_i = β_i = 1 (plain concatenation, eq. 1)
alpha0.1/0.5   α_i = 0.1 / 0.5, β_i = 1
beta0.1        α_i = 1, β_i = 0.1
dynamic        a learnable per-channel weight on E_i, initialised to 1 (+480
               parameters = 32+64+128+256, as the table's "+480"); "a gate without
               its activation function"
gating         eqs. (2)–(3) with L = 1 for each input (Fig. 3):
               concat((1+G_1)⊙E_i, (1+G_2)⊙U_i), G_k = sigmoid(w_k * X_k), w_k a 1×1
               conv with as many outputs as inputs (+0.44 M parameters here, +0.34 M
               in the table)
fused          our reading of the fused U-Net of Fig. 8 (the figure is missing): each
               decoder level also concatenates the *neighbouring* encoder levels,
               E_{i-1} (average-pooled ×½) and E_{i+1} (bilinear ×2), like the
               neighbour exchange of Zhou et al. [15] the paper cites; all three
               encoder features are series-connection features (U_i is computed from
               each of them), so all get the weight α_i (default 0.5, section IV.C's
               better setting; pass ``alphas=[1]*4`` for the unweighted fused U-Net)
=============  ================================================================

``bn_init`` sets the initial batch-norm weights: ``"normal"`` N(0, 1) (Table I) or
``"constant"`` 1 (Table II); biases start at 0.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

VARIANTS = ("baseline", "alpha0.1", "alpha0.5", "beta0.1", "dynamic", "gating", "fused")
MODEL_KIND = "seg-residual-unet"
WIDTHS = (32, 64, 128, 256, 512)
ENCODER_BLOCKS = (2, 2, 3, 3, 10)
DECODER_BLOCKS = (2, 2, 2, 2)
LEVELS = 4  # concatenations
BN_INITS = ("normal", "constant")
FUSION_MODES = ("weight", "dynamic", "gating")

_DEFAULT_WEIGHTS = {
    "baseline": (1.0, 1.0), "alpha0.1": (0.1, 1.0), "alpha0.5": (0.5, 1.0), "beta0.1": (1.0, 0.1),
    "dynamic": (1.0, 1.0), "gating": (1.0, 1.0), "fused": (0.5, 1.0),
}


def conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class Bottleneck(nn.Module):
    """He et al.'s bottleneck residual block [5]: 1×1 (c→c/4), 3×3, 1×1 (c/4→c), identity shortcut."""

    def __init__(self, c: int):
        super().__init__()
        m = max(1, c // 4)
        self.body = nn.Sequential(
            nn.Conv2d(c, m, 1, bias=False), nn.BatchNorm2d(m), nn.ReLU(inplace=True),
            nn.Conv2d(m, m, 3, padding=1, bias=False), nn.BatchNorm2d(m), nn.ReLU(inplace=True),
            nn.Conv2d(m, c, 1, bias=False), nn.BatchNorm2d(c),
        )

    def forward(self, x):
        return F.relu(x + self.body(x))


class SkipFusion(nn.Module):
    """The concatenation of one skip connection, with the weight mechanism.

    ``forward(series, parallel)``: ``series`` are the encoder features (X1 of Fig. 1(a);
    the first is the same-level one, more for the fused U-Net), ``parallel`` is the
    upsampled decoder feature computed from them (X2).  Returns
    ``concat(α·X1…, β·X2)`` (eqs. 4, 7, 10), or the dynamic / gated forms.
    """

    def __init__(self, series_channels: list[int], parallel_channels: int, alpha: float = 1.0,
                 beta: float = 1.0, mode: str = "weight"):
        super().__init__()
        if mode not in FUSION_MODES:
            raise ValueError(f"unknown fusion mode {mode!r}")
        self.mode = mode
        self.register_buffer("alpha", torch.tensor(float(alpha)))
        self.register_buffer("beta", torch.tensor(float(beta)))
        if mode == "dynamic":  # one learnable weight per channel of the same-level series feature
            self.channel_weight = nn.Parameter(torch.ones(series_channels[0]))
        if mode == "gating":  # G = sigmoid(1×1 conv), eq. (2), one gate per input
            self.gates = nn.ModuleList([nn.Conv2d(c, c, 1) for c in (*series_channels, parallel_channels)])
        self.out_channels = sum(series_channels) + parallel_channels

    def forward(self, series: list[torch.Tensor], parallel: torch.Tensor) -> torch.Tensor:
        if self.mode == "gating":
            inputs = [*series, parallel]
            return torch.cat([(1 + torch.sigmoid(g(x))) * x for g, x in zip(self.gates, inputs)], dim=1)
        scaled = [self.alpha * x for x in series]
        if self.mode == "dynamic":
            scaled[0] = scaled[0] * self.channel_weight.view(1, -1, 1, 1)
        return torch.cat([*scaled, self.beta * parallel], dim=1)


def upsample_to(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear ×2 (fixed scale, so tiles and whole images share one sampling grid), cropped to ``size``."""
    y = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False, recompute_scale_factor=False)
    return y[..., : size[0], : size[1]]


def downsample_to(x: torch.Tensor, size) -> torch.Tensor:
    y = F.avg_pool2d(x, 2, ceil_mode=True)
    return y[..., : size[0], : size[1]]


class ResidualUNet(nn.Module):
    """The residual U-Net of Fig. 2; see the module docstring for the variants."""

    def __init__(self, num_classes: int = 2, alphas=(1.0,) * LEVELS, betas=(1.0,) * LEVELS, mode: str = "weight",
                 fused: bool = False, in_channels: int = 3, widths=WIDTHS, encoder_blocks=ENCODER_BLOCKS,
                 decoder_blocks=DECODER_BLOCKS):
        super().__init__()
        self.fused = fused
        w = list(widths)
        self.encoder = nn.ModuleList()
        for i, c in enumerate(w):
            first = conv_bn_relu(in_channels if i == 0 else w[i - 1], c, 3, stride=1 if i == 0 else 2)
            self.encoder.append(nn.Sequential(first, *[Bottleneck(c) for _ in range(encoder_blocks[i])]))
        self.fusions = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for i in range(LEVELS):  # i = 0 is the full-resolution concatenation (α_1 of the paper)
            series = [w[i]]
            if fused:
                if i > 0:
                    series.append(w[i - 1])
                if i + 1 < LEVELS:
                    series.append(w[i + 1])
            fusion = SkipFusion(series, w[i + 1], alphas[i], betas[i], mode)
            self.fusions.append(fusion)
            self.decoder.append(nn.Sequential(conv_bn_relu(fusion.out_channels, w[i], 1),
                                              *[Bottleneck(w[i]) for _ in range(decoder_blocks[i])]))
        self.head = nn.Conv2d(w[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        d = skips[-1]
        for i in reversed(range(LEVELS)):
            e = skips[i]
            size = e.shape[-2:]
            series = [e]
            if self.fused:
                if i > 0:
                    series.append(downsample_to(skips[i - 1], size))
                if i + 1 < LEVELS:
                    series.append(upsample_to(skips[i + 1], size))
            d = self.decoder[i](self.fusions[i](series, upsample_to(d, size)))
        return self.head(d)

    def weight_mechanism(self) -> dict[str, list[float]]:
        return {"alphas": [float(f.alpha) for f in self.fusions], "betas": [float(f.beta) for f in self.fusions]}


def default_weights(variant: str) -> tuple[list[float], list[float]]:
    """α_i and β_i of a variant (Table I); four levels each."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    a, b = _DEFAULT_WEIGHTS[variant]
    return [a] * LEVELS, [b] * LEVELS


def _four(values, name: str) -> list[float]:
    values = [float(v) for v in (values if isinstance(values, (list, tuple)) else [values] * LEVELS)]
    if len(values) != LEVELS:
        raise ValueError(f"{name} needs {LEVELS} values (one per concatenation level), got {len(values)}")
    return values


def init_batchnorm(model: nn.Module, bn_init: str = "normal", seed: int | None = None) -> None:
    """Batch-norm weights N(0, 1) (Table I) or 1 (Table II); biases 0."""
    if bn_init not in BN_INITS:
        raise ValueError(f"bn_init must be one of {', '.join(BN_INITS)}, not {bn_init!r}")
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                if bn_init == "normal":
                    m.weight.normal_(0.0, 1.0)
                else:
                    m.weight.fill_(1.0)
                m.bias.zero_()


def build_model(variant: str = "baseline", num_classes: int = 2, alphas=None, betas=None,
                bn_init: str = "normal", **size) -> ResidualUNet:
    """A variant of Table I; ``alphas``/``betas`` (four values or one) override the variant's weights.

    ``size`` may pass ``widths``/``encoder_blocks``/``decoder_blocks`` for tiny test models.
    """
    a, b = default_weights(variant)
    a = _four(alphas, "alphas") if alphas is not None else a
    b = _four(betas, "betas") if betas is not None else b
    mode = {"dynamic": "dynamic", "gating": "gating"}.get(variant, "weight")
    model = ResidualUNet(num_classes, a, b, mode=mode, fused=variant == "fused", **size)
    init_batchnorm(model, bn_init)
    return model


def count_parameters(model: nn.Module) -> int:
    """Trainable weights plus the weight-mechanism constants that differ from 1 (Table I's "+4")."""
    params = sum(p.numel() for p in model.parameters())
    for f in model.modules():
        if isinstance(f, SkipFusion) and f.mode == "weight":
            params += int(float(f.alpha) != 1.0) + int(float(f.beta) != 1.0)
    return int(params)


def model_complexity(model: nn.Module, size: int = 250) -> tuple[int, float]:
    """(parameters, GFLOPs of one size×size RGB image) as Table I reports them.

    Parameters are the trainable weights plus the weight-mechanism constants that
    differ from 1 (the table's "+4" for α_i / β_i).  FLOPs are counted by
    ``torch.utils.flop_counter.FlopCounterMode`` (2 per multiply-add; the paper's
    5.62 "GFLOPs" for the baseline is the multiply-add count, half of ours).
    """
    from torch.utils.flop_counter import FlopCounterMode

    params = count_parameters(model)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, size, size, device=device))
    model.train(was_training)
    return int(params), counter.get_total_flops() / 1e9
