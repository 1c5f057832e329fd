"""CNN-FC, SFE, DFE, DCL, DSL of paper 003 (skeleton)."""
from __future__ import annotations

from torch import nn

MODEL_KINDS = ("cnn", "sfe", "dfe", "dcl", "dsl")


def build_model(kind: str, n_classes: int = 10) -> nn.Module:
    raise NotImplementedError
