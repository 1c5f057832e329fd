"""Metric helpers shared by every workbench, the GUI curves and the CLI.

No Qt and no torch here: these run in the GUI thread on plain Python floats.
"""
from __future__ import annotations

import math
from typing import Sequence


def debiased_ema(values: Sequence[float], weight: float = 0.6) -> list[float]:
    """Exponential moving average with TensorBoard's debiasing.

    s_t = w * s_{t-1} + (1 - w) * x_t, s_0 = 0, reported as s_t / (1 - w^t), so the
    first points are not pulled towards zero.  ``weight`` 0 returns the values
    unchanged; NaN or infinite points are passed through and do not poison the
    average (TensorBoard does the same).
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out: list[float] = []
    last = 0.0
    n = 0
    for x in values:
        x = float(x)
        if not math.isfinite(x):
            out.append(x)
            continue
        last = last * weight + (1.0 - weight) * x
        n += 1
        out.append(last / (1.0 - weight**n) if weight > 0 else x)
    return out
