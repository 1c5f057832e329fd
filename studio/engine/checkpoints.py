"""Checkpoints: safetensors weights plus a JSON sidecar, written atomically.

``NAME.safetensors`` holds only tensors; ``NAME.json`` holds the model kind,
hyperparameters, class names, normalisation statistics and the versions that
wrote it.  Loading uses ``safetensors`` and ``json`` only, so opening somebody
else's checkpoint can never run their code (no pickle anywhere).

Both files are written to a temporary name in the same folder and renamed over
the target, so a crash mid-write leaves the previous checkpoint intact.  The
sidecar is renamed last: a sidecar always describes complete weights.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
WEIGHTS_SUFFIX = ".safetensors"
SIDECAR_SUFFIX = ".json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message names the file."""


@dataclass
class CheckpointMeta:
    model_kind: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    normalisation: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "model_kind": self.model_kind,
            "hyperparameters": self.hyperparameters,
            "class_names": list(self.class_names),
            "normalisation": self.normalisation,
            "extra": self.extra,
            "versions": self.versions,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CheckpointMeta":
        return cls(
            model_kind=str(data["model_kind"]),
            hyperparameters=dict(data.get("hyperparameters", {})),
            class_names=list(data.get("class_names", [])),
            normalisation=dict(data.get("normalisation", {})),
            extra=dict(data.get("extra", {})),
            versions=dict(data.get("versions", {})),
            format_version=int(data.get("format_version", FORMAT_VERSION)),
        )


def _versions() -> dict[str, str]:
    import torch

    from studio import __version__

    return {"studio": __version__, "torch": torch.__version__, "python": platform.python_version()}


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix in (WEIGHTS_SUFFIX, SIDECAR_SUFFIX):
        p = p.with_suffix("")
    return p.with_name(p.name + WEIGHTS_SUFFIX), p.with_name(p.name + SIDECAR_SUFFIX)


def _atomic_write(target: Path, write) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_checkpoint(path: str | os.PathLike, state_dict: dict, meta: CheckpointMeta) -> Path:
    """Write ``path.safetensors`` and ``path.json`` atomically; returns the weights path."""
    from safetensors.torch import save_file

    weights, sidecar = _paths(path)
    # Tied weights share storage, which safetensors refuses: clone every tensor.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    meta.versions = {**_versions(), **meta.versions}
    _atomic_write(weights, lambda tmp: save_file(tensors, tmp, metadata={"model_kind": meta.model_kind}))
    text = json.dumps(meta.to_json(), indent=2, sort_keys=True)
    _atomic_write(sidecar, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return weights


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[dict, CheckpointMeta]:
    """Read weights and sidecar; never unpickles.  Raises :class:`CheckpointError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, sidecar = _paths(path)
    if not weights.is_file():
        raise CheckpointError(f"{weights}: checkpoint weights not found")
    if not sidecar.is_file():
        raise CheckpointError(f"{sidecar}: checkpoint description (JSON sidecar) not found")
    try:
        meta = CheckpointMeta.from_json(json.loads(sidecar.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{sidecar}: not a valid checkpoint description ({exc})") from None
    if meta.format_version > FORMAT_VERSION:
        raise CheckpointError(
            f"{sidecar}: written by a newer Studio (format {meta.format_version}, this one reads {FORMAT_VERSION})"
        )
    try:
        tensors = load_file(str(weights), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{weights}: not a safetensors file ({exc})") from None
    return tensors, meta
