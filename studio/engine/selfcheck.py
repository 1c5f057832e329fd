"""Engine self-check job: a small MLP learns two interleaved spirals.

This is the foundation's own real training job, used by the start page ("Engine
check"), ``studio-cli selfcheck``, the tests and ``bench/``.  It exercises the
whole path (pool, device lane, ``fit()``, metrics streaming, registry, checkpoint)
without any workbench.  The network is the lecture's multilayer perceptron (paper
001: fully connected hidden layers with rectified-linear activations, a softmax
output and the cross-entropy loss).  The data: two spirals of points with Gaussian
jitter, which no linear model separates, so the accuracy climbing from 0.5 towards
1.0 shows real learning.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from studio.engine.checkpoints import CheckpointMeta, save_checkpoint
from studio.engine.training import FitConfig, FitResult, classification_validate, fit

MODEL_KIND = "selfcheck-mlp"


@dataclass
class SelfCheckConfig:
    n_points: int = 2000
    noise: float = 0.15
    hidden: int = 64
    layers: int = 3
    fit: FitConfig = field(default_factory=lambda: FitConfig(optimizer="adam", lr=1e-2, epochs=20, batch_size=64))
    batch_delay_s: float = 0.0  # lets tests and benches stretch a run without a bigger model

    def to_dict(self) -> dict:
        return {"n_points": self.n_points, "noise": self.noise, "hidden": self.hidden, "layers": self.layers,
                "fit": self.fit.to_dict()}


def make_spirals(n_points: int, noise: float, seed: int):
    """Two interleaved spirals in 2-D, labels 0/1, as float32/int64 tensors."""
    import torch

    g = torch.Generator().manual_seed(seed)
    n = n_points // 2
    t = torch.sqrt(torch.rand(n, generator=g)) * 3 * math.pi
    arm = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / (3 * math.pi)
    x = torch.cat([arm, -arm]) + noise * torch.randn(2 * n, 2, generator=g) / 3
    y = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    return x.float(), y


def build_mlp(hidden: int = 64, layers: int = 3):
    from torch import nn

    mods: list = []
    width = 2
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    mods.append(nn.Linear(width, 2))
    return nn.Sequential(*mods)


def train_selfcheck(ctx, cfg: SelfCheckConfig) -> FitResult:
    import time

    import torch
    from torch.nn import functional as F
    from torch.utils.data import TensorDataset

    x, y = make_spirals(cfg.n_points, cfg.noise, cfg.fit.seed)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.fit.seed + 1))
    n_val = len(x) // 5
    val = TensorDataset(x[perm[:n_val]], y[perm[:n_val]])
    train = TensorDataset(x[perm[n_val:]], y[perm[n_val:]])
    torch.manual_seed(cfg.fit.seed)
    model = build_mlp(cfg.hidden, cfg.layers)

    def loss_fn(m, batch):
        if cfg.batch_delay_s:
            time.sleep(cfg.batch_delay_s)
        xb, yb = batch
        return F.cross_entropy(m(xb), yb)

    def on_checkpoint(m, info):
        if ctx.run is None:
            return
        path = save_checkpoint(
            ctx.run.checkpoint_path("model"), m.state_dict(),
            CheckpointMeta(model_kind=MODEL_KIND, hyperparameters={"hidden": cfg.hidden, "layers": cfg.layers},
                           class_names=["spiral A", "spiral B"], extra={"epoch": info["epoch"], "step": info["step"]}),
        )
        ctx.run.set_checkpoint(path)

    result = fit(ctx, model, train, cfg.fit, loss_fn=loss_fn, val_data=val, validate=classification_validate,
                 on_checkpoint=on_checkpoint)
    ctx.set_final_metrics(result.metrics)
    return result
