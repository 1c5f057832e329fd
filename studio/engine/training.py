"""The one training loop of every workbench: :func:`fit`.

Optimizers by name with the defaults of the deep-learning lecture (paper 001,
"Gradient Descent Updates" and "More Variants of Updates" slides):

- ``sgd``       W ← W − α∇L
- ``momentum``  V ← μV − α∇L, W ← W + V, μ = 0.9 (torch's ``SGD(momentum=μ)`` keeps
  V' = μV' + ∇L and steps by αV'; for a constant α the two are the same sequence)
- ``adagrad``   W ← W − α∇L / √(Σ∇L²)
- ``rmsprop``   R ← γR + (1−γ)∇L², W ← W − α∇L/√R.  The lecture gives no γ; we use
  0.9 (Hinton's value), configurable as ``rmsprop_gamma``
- ``adam``      β1 = 0.9, β2 = 0.999, ε = 1e-8 (the lecture's "typical choice")

Schedules: constant, step (×``step_gamma`` every ``step_size`` epochs or
iterations), cosine (to zero over the run), and poly: lr·(1 − t/T)^0.9, paper 002's
"poly" policy.  Training length is epochs or iterations; validation runs at every
epoch end (every ``val_every`` iterations in iteration mode); optional early
stopping on a monitored validation metric; seeded, deterministic on the CPU;
optional mixed precision (autocast + GradScaler) on CUDA only.

Under ``torchrun`` (``WORLD_SIZE`` > 1, see :mod:`studio.engine.distributed`) the same
loop trains with DistributedDataParallel: ``batch_size`` stays the *global* batch
(each of the N processes takes its ``batch_size / N`` share of the very global batch a
single process would draw, see :class:`GlobalBatchShards`, and DDP averages the
gradients, so a step is the step of one process with the whole batch); batch norm
becomes SyncBatchNorm on CUDA (``sync_batchnorm``); logged training losses are
averaged over all processes; rank 0 alone validates, and its metrics (hence early
stopping) are broadcast; the checkpoint callback runs on rank 0 only.  A single
process runs exactly the code path it always ran.

``ctx.check()`` is called every batch, so Cancel stops a run within one batch; the
checkpoint callback runs after every validation, so a cancelled run keeps its last
complete checkpoint.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
SCHEDULES = ("constant", "step", "cosine", "poly")


@dataclass
class FitConfig:
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    rmsprop_gamma: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    step_size: int = 10
    step_gamma: float = 0.1
    poly_power: float = 0.9
    epochs: int | None = 10
    iterations: int | None = None  # when set, the run is this many iterations and epochs is ignored
    batch_size: int = 32
    shuffle: bool = True
    drop_last: bool = False
    val_every: int | None = None
    early_stopping_patience: int | None = None
    monitor: str = "val/loss"
    monitor_mode: str = "min"
    seed: int = 0
    deterministic: bool = True
    amp: bool = False
    grad_clip: float | None = None
    num_workers: int = 0
    recalibrate_bn: bool = False  # recompute batch-norm statistics before each validation
    recalibrate_batches: int = 50
    sync_batchnorm: bool | None = None  # multi-process only; None: on where supported (CUDA)
    # Average the weights of every iterate after this fraction of the run and end with that average
    # (stochastic weight averaging, Izmailov et al. 2018), batch-norm statistics recomputed for it;
    # None: end with the last iterate.
    average_from: float | None = None

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.epochs is None and self.iterations is None:
            raise ValueError("give a number of epochs or of iterations")
        if (self.epochs is not None and self.epochs < 1) or (self.iterations is not None and self.iterations < 1):
            raise ValueError("epochs / iterations must be at least 1")
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")
        if not self.lr > 0:
            raise ValueError("learning rate must be positive")
        if self.monitor_mode not in ("min", "max"):
            raise ValueError("monitor_mode must be 'min' or 'max'")
        if self.average_from is not None and not 0.0 <= self.average_from < 1.0:
            raise ValueError(f"average_from must be in [0, 1) (a fraction of the run), got {self.average_from}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FitConfig":
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in data.items() if k in known}
        if "betas" in kw:
            kw["betas"] = tuple(kw["betas"])
        return cls(**kw)


@dataclass
class FitResult:
    steps: int
    epochs: float
    stopped_early: bool
    best_epoch: int | None
    metrics: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0


def make_optimizer(name: str, params, cfg: FitConfig):
    import torch

    wd = cfg.weight_decay
    if name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.0, weight_decay=wd)
    if name == "momentum":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.rmsprop_gamma, eps=cfg.eps, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}")


def lr_factor(schedule: str, t: int, total: int, cfg: FitConfig) -> float:
    """Multiplier of the base learning rate at schedule time ``t`` of ``total``."""
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return cfg.step_gamma ** (t // max(1, cfg.step_size))
    frac = min(1.0, t / max(1, total))
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    if schedule == "poly":
        return (1.0 - frac) ** cfg.poly_power
    raise ValueError(f"unknown schedule {schedule!r}")


def seed_everything(seed: int, deterministic: bool = True) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def move_to(batch: Any, device) -> Any:
    """Move tensors in a (nested) batch to ``device``."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    return batch


def _batch_size(batch: Any) -> int:
    import torch

    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0])
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size(batch[0])
    if isinstance(batch, dict) and batch:
        return _batch_size(next(iter(batch.values())))
    return 1


LossFn = Callable[[Any, Any], Any]
ValidateFn = Callable[[Any, Any], dict[str, float]]


def default_validate(loss_fn: LossFn) -> ValidateFn:
    """Validation that reports the mean loss as ``loss``."""

    def validate(model, loader) -> dict[str, float]:
        import torch

        total, n = 0.0, 0
        device = next(model.parameters()).device
        with torch.no_grad():
            for batch in loader:
                batch = move_to(batch, device)
                size = _batch_size(batch)
                total += float(loss_fn(model, batch)) * size
                n += size
        return {"loss": total / max(1, n)}

    return validate


def recalibrate_batchnorm(model, loader, max_batches: int = 50) -> int:
    """Recompute batch-norm running statistics as plain averages over training batches.

    MATLAB's trainNetwork (R2017b, the paper-004 tool) finalises batch-norm statistics
    over the training data after training; PyTorch keeps an exponential running
    average (momentum 0.1) that starts at mean 0 / variance 1.  When the activations'
    scale is far from 1 (e.g. with N(0, 0.01²) initial weights) that average lags far
    behind for hundreds of steps and eval-mode predictions collapse to one class.
    Returns the number of batches used (0 when the model has no batch norm).

    It leaves every random stream as it found it (torch's and numpy's global
    generators, which augmentations draw from, and the loader's shuffling
    generator): the batches it draws would otherwise shift the training batches and
    augmentations that follow, so that how often a run validates (``val_every``)
    would change the trained model.
    """
    import numpy as np
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    device = next(model.parameters()).device
    saved = [(m, m.momentum) for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    used = 0
    generators = [g for g in (getattr(loader, "generator", None),
                              getattr(getattr(loader, "batch_sampler", None), "generator", None)) if g is not None]
    generator_states = [g.get_state() for g in generators]
    numpy_state, python_state = np.random.get_state(), random.getstate()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        for batch in loader:
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            model(move_to(x, device))
            used += 1
            if used >= max_batches:
                break
    for g, state in zip(generators, generator_states):
        g.set_state(state)
    np.random.set_state(numpy_state)
    random.setstate(python_state)
    for m, momentum in saved:
        m.momentum = momentum
    model.train(was_training)
    return used


def classification_validate(model, loader) -> dict[str, float]:
    """Mean cross-entropy and accuracy of a classifier over ``(x, y)`` batches."""
    import torch
    from torch.nn import functional as F

    device = next(model.parameters()).device
    correct = total = 0
    loss = 0.0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            total += len(y)
    return {"loss": loss / max(1, total), "accuracy": correct / max(1, total)}


class GlobalBatchShards:
    """Batch sampler of one process: its share of each *global* batch of a single-process run.

    The global batches are drawn exactly as ``fit`` draws them in one process (a
    ``DataLoader`` with the same seeded generator, batch size, shuffle and drop_last),
    and process ``rank`` of ``n_proc`` takes the ``rank``-th contiguous part of each.
    So the N processes together see, step by step, the very batches of the
    single-process run, and DDP's gradient average over equal parts is that run's
    gradient: the result equals the single-process result up to float rounding.
    (torch's ``DistributedSampler`` reshuffles with ``seed + epoch`` and strides
    through the permutation, so its sample order differs from a single process.)
    The last, smaller global batch is split as evenly as possible; a process whose
    part would be empty repeats one sample, since every process must step.
    """

    def __init__(self, n: int, batch_size: int, n_proc: int, rank: int, *, shuffle: bool, drop_last: bool,
                 seed: int):
        import torch
        from torch.utils.data import DataLoader

        self.n_proc, self.rank = n_proc, rank
        self._global = DataLoader(range(n), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                                  generator=torch.Generator().manual_seed(seed), collate_fn=list)

    @property
    def generator(self):
        """The seeded generator that draws the global batches."""
        return self._global.generator

    def __len__(self) -> int:
        return len(self._global)

    def __iter__(self):
        for batch in self._global:
            lo = round(self.rank * len(batch) / self.n_proc)
            hi = round((self.rank + 1) * len(batch) / self.n_proc)
            yield batch[lo:hi] if hi > lo else [batch[self.rank % len(batch)]]


def _distributed_setup(ctx, model, train_data, cfg: FitConfig, device, n_proc: int):
    """DDP wrapper and per-process batch sampler for :func:`fit` (batch norm synchronised on CUDA)."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    from studio.engine import distributed as D

    if cfg.batch_size % n_proc:
        raise ValueError(f"the batch size {cfg.batch_size} is the global batch and must be divisible by the "
                         f"{n_proc} processes")
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    want_sync = cfg.sync_batchnorm if cfg.sync_batchnorm is not None else device.type == "cuda"
    if has_bn and want_sync:
        if device.type == "cuda":
            # Converts the children in place, so the caller's ``model`` holds the synchronised layers.
            converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            if converted is not model:
                raise ValueError("a model that is a single batch-norm layer cannot be synchronised")
        elif D.is_main_process():
            ctx.log("SyncBatchNorm needs CUDA; batch norm uses per-process statistics on the CPU")
    ddp = DistributedDataParallel(model, device_ids=[device.index or 0] if device.type == "cuda" else None)
    sampler = GlobalBatchShards(len(train_data), cfg.batch_size, n_proc, D.rank(), shuffle=cfg.shuffle,
                                drop_last=cfg.drop_last, seed=cfg.seed)
    if D.is_main_process():
        ctx.log(f"distributed training: {n_proc} processes, {cfg.batch_size // n_proc} samples each per step "
                f"(global batch {cfg.batch_size}), backend {torch.distributed.get_backend()}")
    return ddp, sampler


def fit(
    ctx,
    model,
    train_data,
    cfg: FitConfig,
    *,
    loss_fn: LossFn,
    val_data=None,
    validate: ValidateFn | None = None,
    on_checkpoint: Callable[[Any, dict[str, Any]], None] | None = None,
    collate_fn=None,
    trainable: Sequence | None = None,
    stage: str = "",
) -> FitResult:
    """Train ``model`` on ``train_data`` (a torch ``Dataset``) and stream metrics to ``ctx``.

    ``loss_fn(model, batch)`` returns the scalar loss of a batch already on the device.
    ``validate(model, loader)`` returns named validation metrics (reported as
    ``val/<name>``); by default the mean loss.  ``on_checkpoint(model, info)`` is
    called after each validation with ``{"epoch", "step", "metrics", "best"}`` so the
    job saves its checkpoint.  ``trainable`` limits the optimised parameters (for
    frozen parts).  ``stage`` prefixes metric names (e.g. ``"stage2/"``).
    """
    import torch
    from torch.utils.data import DataLoader

    from studio.engine import distributed as D

    cfg.validate()
    device = ctx.device
    distributed = D.init_from_env(str(device))
    n_proc = D.world_size() if distributed else 1
    seed_everything(cfg.seed + (D.rank() if distributed else 0), cfg.deterministic)
    model.to(device)
    params = [p for p in (trainable if trainable is not None else model.parameters()) if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    train_model = model  # what loss_fn sees: the DDP wrapper when distributed
    if distributed:
        train_model, shards = _distributed_setup(ctx, model, train_data, cfg, device, n_proc)
        loader = DataLoader(train_data, batch_sampler=shards, collate_fn=collate_fn, num_workers=cfg.num_workers,
                            generator=torch.Generator().manual_seed(cfg.seed), pin_memory=device.type == "cuda")
    else:
        generator = torch.Generator().manual_seed(cfg.seed)
        loader = DataLoader(train_data, batch_size=cfg.batch_size, shuffle=cfg.shuffle, drop_last=cfg.drop_last,
                            generator=generator, collate_fn=collate_fn, num_workers=cfg.num_workers,
                            pin_memory=device.type == "cuda")
    optimizer = make_optimizer(cfg.optimizer, params, cfg)
    if len(loader) == 0:
        raise ValueError(f"the training set is empty or smaller than one batch ({len(train_data)} samples)")
    val_loader = None
    if val_data is not None and len(val_data) > 0:
        # its own generator: a DataLoader without one draws a seed from torch's global generator for every
        # pass, which would shift the training's augmentations after each validation
        val_loader = DataLoader(val_data, batch_size=cfg.batch_size, shuffle=False, collate_fn=collate_fn,
                                num_workers=cfg.num_workers, generator=torch.Generator().manual_seed(cfg.seed))
    validate = validate or default_validate(loss_fn)

    per_epoch = len(loader)
    total_steps = cfg.iterations if cfg.iterations is not None else cfg.epochs * per_epoch
    val_every = cfg.val_every or per_epoch
    # Schedules run per iteration (poly, cosine) or per epoch (step in epoch mode).
    if cfg.iterations is not None:
        cfg = FitConfig.from_dict({**cfg.to_dict(), "epochs": None})
    step_per_epoch = cfg.schedule == "step" and cfg.iterations is None
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    use_amp = bool(cfg.amp) and device.type == "cuda"
    if cfg.amp and not use_amp:
        ctx.log("mixed precision is only used on CUDA; training in float32")
    scaler = torch.amp.GradScaler("cuda") if use_amp else None

    history: dict[str, list[float]] = {}
    best_value: float | None = None
    best_epoch: int | None = None
    bad_validations = 0
    stopped_early = False
    last_metrics: dict[str, float] = {}
    step = 0
    t0 = time.time()
    p = stage

    def record(name: str, value: float, epoch: float) -> None:
        history.setdefault(name, []).append(value)
        ctx.metric(p + name, value, step, epoch)

    def run_validation(epoch_float: float) -> bool:
        nonlocal best_value, best_epoch, bad_validations
        if cfg.recalibrate_bn:
            recalibrate_batchnorm(model, loader, cfg.recalibrate_batches)
            D.average_batchnorm_buffers(model)
        metrics: dict[str, float] = {}
        if val_loader and D.is_main_process():
            model.eval()
            metrics = {f"val/{k}": float(v) for k, v in validate(model, val_loader).items()}
            model.train()
        if distributed:
            metrics = D.broadcast_object(metrics)
        for name, value in metrics.items():
            record(name, value, epoch_float)
        last_metrics.update(metrics)
        monitored = metrics.get(cfg.monitor)
        improved = False
        if monitored is not None and math.isfinite(monitored):
            better = best_value is None or (monitored < best_value if cfg.monitor_mode == "min" else monitored > best_value)
            if better:
                best_value, best_epoch, bad_validations, improved = monitored, int(round(epoch_float)), 0, True
            else:
                bad_validations += 1
        if on_checkpoint is not None and D.is_main_process():
            on_checkpoint(model, {"epoch": epoch_float, "step": step, "metrics": dict(last_metrics),
                                  "best": improved or monitored is None})
        patience = cfg.early_stopping_patience
        return bool(patience) and monitored is not None and bad_validations >= patience

    average_after = None if cfg.average_from is None else int(cfg.average_from * total_steps)
    averaged = None  # torch.optim.swa_utils.AveragedModel: running mean of the weights after step average_after
    model.train()
    epoch = 0
    running_loss = 0.0
    seen = 0
    while step < total_steps:
        if step_per_epoch:
            for g, base in zip(optimizer.param_groups, base_lrs):
                g["lr"] = base * lr_factor("step", epoch, cfg.epochs or 1, cfg)
        for batch in loader:
            ctx.check()
            if not step_per_epoch:
                factor = lr_factor(cfg.schedule, step, total_steps, cfg)
                for g, base in zip(optimizer.param_groups, base_lrs):
                    g["lr"] = base * factor
            batch = move_to(batch, device)
            optimizer.zero_grad(set_to_none=True)
            if use_amp:
                with torch.autocast(device_type="cuda", dtype=torch.float16):
                    loss = loss_fn(train_model, batch)
                scaler.scale(loss).backward()
                if cfg.grad_clip:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss = loss_fn(train_model, batch)
                finite = bool(torch.isfinite(loss))
                where = ""
                if distributed:  # every process stops together when any one diverges
                    bad = D.all_reduce_sum([0.0 if finite else 1.0], device)[0]
                    if finite and bad:
                        where = f" in {int(bad)} of the {n_proc} processes"
                    finite = bad == 0.0
                if not finite:
                    value = "not finite" if where else f"{float(loss.detach())}"
                    raise FloatingPointError(
                        f"the training loss became {value}{where} at step {step}; lower the learning rate"
                    )
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                optimizer.step()
            step += 1
            if average_after is not None and step > average_after:
                if averaged is None:
                    averaged = torch.optim.swa_utils.AveragedModel(model)
                averaged.update_parameters(model)
            loss_value = float(loss.detach())
            size = _batch_size(batch)
            if distributed:  # the loss of the global batch: size-weighted mean over the processes
                weighted, size_total = D.all_reduce_sum([loss_value * size, float(size)], device)
                loss_value, size = weighted / max(1.0, size_total), int(size_total)
            running_loss += loss_value * size
            seen += size
            epoch_float = epoch + (step - epoch * per_epoch) / per_epoch if cfg.iterations is None else step / per_epoch
            record("train/loss", loss_value, epoch_float)
            ctx.metric(p + "lr", optimizer.param_groups[0]["lr"], step, epoch_float)
            ctx.progress(step, total_steps, f"{p}step {step}/{total_steps} · loss {loss_value:.4g}")
            end_of_epoch = cfg.iterations is None and step % per_epoch == 0
            if end_of_epoch or (cfg.iterations is not None and (step % val_every == 0 or step == total_steps)):
                train_mean = running_loss / max(1, seen)
                record("train/epoch_loss", train_mean, epoch_float)
                last_metrics["train/loss"] = train_mean
                running_loss, seen = 0.0, 0
                if run_validation(epoch_float):
                    stopped_early = True
                    ctx.log(f"early stopping at epoch {epoch_float:.2f}: {cfg.monitor} has not improved "
                            f"for {cfg.early_stopping_patience} validations")
                    break
            if step >= total_steps:
                break
        if stopped_early:
            break
        epoch += 1

    if averaged is not None:
        with torch.no_grad():
            for q, a in zip(model.parameters(), averaged.module.parameters()):
                q.copy_(a)
        if not cfg.recalibrate_bn:  # run_validation does it otherwise
            recalibrate_batchnorm(model, loader, cfg.recalibrate_batches)
            D.average_batchnorm_buffers(model)
        ctx.log(f"{p}weights averaged over the last {int(averaged.n_averaged)} of {step} iterations")
        run_validation(step / per_epoch)  # the averaged model's validation and checkpoint

    final = dict(last_metrics)
    return FitResult(steps=step, epochs=step / per_epoch, stopped_early=stopped_early, best_epoch=best_epoch,
                     metrics=final, history=history, seconds=time.time() - t0)
