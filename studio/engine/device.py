"""Device choice for every job: CUDA, then MPS, then CPU, unless the user says.

torch is imported inside the functions so that importing the engine (and so the
GUI) never waits for torch.
"""
from __future__ import annotations

import os

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


class DeviceUnavailable(ValueError):
    """The user asked for a device this machine does not have."""


def available_devices() -> list[str]:
    """Every device jobs can run on here, e.g. ``["cuda:0", "cuda:1", "cpu"]``."""
    import torch

    found = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def resolve_device(preference: str | None = "auto") -> str:
    """Turn a user preference into a concrete device string.

    ``auto`` picks CUDA, then MPS, then CPU.  An explicit device that is not there
    raises :class:`DeviceUnavailable` with a message fit for the user.
    """
    pref = (preference or "auto").strip().lower()
    if pref == "gpu":
        pref = "cuda"
    have = available_devices()
    if pref == "auto":
        return have[0]
    if pref == "cuda":
        pref = "cuda:0"
    if pref in have:
        return pref
    base = pref.split(":")[0]
    if base not in DEVICE_CHOICES:
        raise DeviceUnavailable(f"unknown device {preference!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    raise DeviceUnavailable(
        f"device {preference!r} is not available on this machine (available: {', '.join(have)})"
    )


def describe_device(device: str) -> str:
    """A short human label for the status bar, e.g. ``cuda:0 (NVIDIA H100)``."""
    import torch

    if device.startswith("cuda"):
        index = int(device.split(":")[1]) if ":" in device else 0
        return f"{device} ({torch.cuda.get_device_name(index)})"
    if device == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'' if n == 1 else 's'})"
    return device


def gui_friendly_thread_count(cores: int | None = None) -> int:
    """torch's CPU thread count that leaves one core to the GUI (at least 1)."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores - 1)


def configure_cpu_threads(cores: int | None = None) -> int:
    """Set torch's intra-op threads so one core stays free for the GUI."""
    import torch

    n = gui_friendly_thread_count(cores)
    torch.set_num_threads(n)
    return n
