"""Multi-process training under ``torchrun``: process group, ranks, collectives.

``torchrun --nproc_per_node N -m studio.cli <workbench> train ...`` starts N copies
of the CLI with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` set.  :func:`init_from_env` joins them into one process group
(NCCL when the job runs on CUDA, gloo on the CPU); :func:`studio.engine.training.fit`
then wraps the model in ``DistributedDataParallel`` and gives each process its
share of every global batch (:class:`studio.engine.training.GlobalBatchShards`, not
torch's ``DistributedSampler``: it keeps the single-process batch order, so the
result equals a single-process run).  Without those variables (or with ``WORLD_SIZE=1``) every
function here is a no-op and the process is rank 0 of 1, so single-process runs
behave exactly as before.

Only rank 0 writes: the CLI gives the other ranks no run registry (so ``ctx.run``
is ``None`` there and jobs write nothing to a run folder), passes every output path
it hands a job through :func:`main_process_output` (``None`` on the other ranks), and
``fit`` calls the checkpoint callback on rank 0 only.  See docs/distributed.md for multi-node launches.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Iterator


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (1 when unset), as torchrun sets it."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def launched_distributed() -> bool:
    """True when this process was started by torchrun (or similar) with more than one process."""
    return env_world_size() > 1


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() else None


def is_distributed() -> bool:
    """True when a process group with more than one process is initialised."""
    dist = _dist()
    return bool(dist and dist.is_initialized() and dist.get_world_size() > 1)


def rank() -> int:
    dist = _dist()
    if dist and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0") or 0) if launched_distributed() else 0


def world_size() -> int:
    dist = _dist()
    if dist and dist.is_initialized():
        return dist.get_world_size()
    return env_world_size()


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0) if launched_distributed() else 0


def is_main_process() -> bool:
    """Rank 0 (also the only process of a single-process run): the one that writes."""
    return rank() == 0


def main_process_output(path):
    """``path`` on the process that writes (rank 0, or the only process); ``None`` on ranks > 0.

    The CLI passes every output path it gives a job (``--out``, ``--csv`` …) through
    this, so under torchrun the other ranks run the same job but write no file.
    """
    return path if is_main_process() else None


def device_for_rank(device: str) -> str:
    """On CUDA each local process takes its own GPU: ``cuda`` → ``cuda:LOCAL_RANK``.

    With ``CUDA_VISIBLE_DEVICES`` set per process (one GPU each) ``cuda:0`` stays.
    """
    if not launched_distributed() or not device.startswith("cuda"):
        return device
    import torch

    count = torch.cuda.device_count()
    if count <= 1:
        return "cuda:0"
    return f"cuda:{local_rank() % count}"


def init_from_env(device: str = "cpu") -> bool:
    """Join the process group torchrun describes; True when training is distributed.

    Idempotent.  Backend: NCCL for a CUDA device, gloo otherwise (``STUDIO_DIST_BACKEND``
    overrides).  The collective timeout is ``STUDIO_DIST_TIMEOUT_MIN`` minutes (default
    60: rank 0 validates alone while the others wait).
    """
    if not launched_distributed():
        return False
    dist = _dist()
    if dist is None:
        raise RuntimeError("this PyTorch build has no torch.distributed; run a single process")
    if dist.is_initialized():
        return dist.get_world_size() > 1
    backend = os.environ.get("STUDIO_DIST_BACKEND") or ("nccl" if device.startswith("cuda") else "gloo")
    timeout = timedelta(minutes=float(os.environ.get("STUDIO_DIST_TIMEOUT_MIN", "60")))
    kwargs: dict[str, Any] = {"backend": backend, "timeout": timeout}
    if backend == "nccl":
        import torch

        torch.cuda.set_device(torch.device(device))
        kwargs["device_id"] = torch.device(device)
    dist.init_process_group(**kwargs)
    return dist.get_world_size() > 1


def shutdown() -> None:
    """Leave the process group (at the end of the CLI command); never imports torch itself."""
    if "torch.distributed" not in sys.modules:
        return
    dist = _dist()
    if dist and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        _dist().barrier()


@contextmanager
def main_process_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. generating a cached sample), then the others."""
    if is_distributed() and not is_main_process():
        barrier()
    try:
        yield
    finally:
        if is_distributed() and is_main_process():
            barrier()


def all_reduce_sum(values: list[float], device) -> list[float]:
    """Sum each value over all processes (returns the inputs unchanged when not distributed)."""
    if not is_distributed():
        return list(values)
    import torch

    t = torch.tensor(values, dtype=torch.float64, device=device)
    _dist().all_reduce(t)
    return t.tolist()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every process (picklable objects, e.g. a metrics dict)."""
    if not is_distributed():
        return obj
    box = [obj]
    _dist().broadcast_object_list(box, src=src)
    return box[0]


def average_batchnorm_buffers(model) -> None:
    """Average running mean/variance of every batch norm over the processes.

    After batch-norm recalibration each rank has statistics of its own data shard;
    the average is the statistic over the global data (for the variance: the mean
    within-shard variance, which ignores the small spread of shard means).
    """
    if not is_distributed():
        return
    import torch

    n = _dist().get_world_size()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            for buf in (m.running_mean, m.running_var):
                _dist().all_reduce(buf)
                buf.div_(n)
