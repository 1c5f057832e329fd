"""Gaussian-process-inspired dataset augmentation (paper 000, section 3).

The spectra measured for one abundance vector **a** are modelled as one Gaussian
process Y(λ|a) over the wavelength index λ, defined by a mean function m_Y(λ|a)
(eq. 6) and a covariance function k_Y(λ, λ*|a) (eq. 7).  Two small networks learn
them (:class:`studio.unmixing.models.MomentNet`, Fig. 2):

1. *Data preparation* (section 3.1, :func:`group_moments`): per training abundance
   vector the mean vector m_a (eq. 8) and the covariance matrix K_a (eq. 9, with the
   N_a − 1 denominator).  A vector with a single spectrum gets a zero covariance.
2. *Inputs* (:func:`mean_net_inputs`, :func:`cov_net_inputs`): N_m sees (a, λ);
   N_k sees (a, λ'1, λ'2) with λ'1 = λ + λ* and λ'2 = max λ − |λ − λ*|
   (:func:`transformed_indices`; λ'1 and λ'2 are symmetric in (λ, λ*) and λ'2 is
   largest on the main diagonal, Fig. 1).  The paper's λ ∈ {1..L}; the networks get
   the indices scaled to [0, 1]: λ̃ = (λ−1)/(L−1), λ̃'1 = (λ'1−2)/(2L−2),
   λ̃'2 = (λ'2−1)/(L−1) (our choice; the paper does not say how it scales them).
3. *Targets* (:class:`TargetMapping`): the logistic output (eq. 10) and the logistic
   loss (eq. 11) need targets in (0, 1).  Reflectances mostly are, covariance entries
   are not (they can be negative and are ~1e-4).  Both kinds are mapped by an affine
   map fitted on the *training* targets: t = margin + (1 − 2·margin)·(v − v_min)/(v_max − v_min),
   margin 0.05 by default, so the training targets fill [0.05, 0.95] and unseen
   abundances may go a little beyond the training range before the logistic
   function saturates.  v_min, v_max and margin are stored in the checkpoint sidecar;
   the inverse map turns network outputs back into reflectances / covariances.
4. *Training* (:func:`train_moment_nets`): the engine's ``fit`` with Adam (β 0.9,
   0.999, ε 1e-8), learning rate 0.01 (section 4), loss eq. 11 as binary
   cross-entropy with soft targets, 2000 epochs (quartz) or 3000 (N_m) / 4000 (N_k)
   (colour).  *One epoch is one pass over all training points*: G·L points for N_m
   and G·L(L+1)/2 for N_k (see next point), in batches of ``mean_batch_size`` /
   ``cov_batch_size`` (default: 128 for N_m, 16384 for N_k; the paper does not give
   its batch size; for N_m mini-batches of 128 generalised to unseen abundances
   better than one full batch: mean error 0.011 against 0.015 on the quartz-3 test
   vectors after 300 epochs).  ``epochs_scale`` multiplies both epoch counts.
   Since λ'1 and λ'2 (and K_a) are symmetric, the entries (λ, λ*) and (λ*, λ) are the
   same training point; by default N_k trains on the upper triangle including the
   diagonal only (``cov_triangle``), which halves the work; relative to the full
   matrix the diagonal then weighs twice as much as before.
5. *Generation* (section 3.3, :class:`GPAugmenter`): for new abundance vectors the
   networks give m̂ and K̂; K̂ is symmetrised and projected onto the positive
   semi-definite cone by clipping negative eigenvalues to zero.  Strategy "normal"
   draws spectra from N(m̂, K̂) (m̂ + V·diag(√w)·z, z ~ N(0, I)); strategy "mean"
   ("mean only") uses m̂ alone.
6. *Augmentation grid* (section 4.3, :func:`augmentation_grid`): every simplex
   vector on the grid of step s that is not already a training vector.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.engine.jobs import StageContext  # noqa: F401  (re-exported: the unmixing jobs import it from here)

__all__ = [
    "AUGMENTER_KIND", "STRATEGIES", "group_moments", "transformed_indices", "cov_index_pairs", "mean_net_inputs",
    "cov_net_inputs", "TargetMapping", "nearest_psd", "StageContext", "TensorBatches", "MomentTrainConfig",
    "train_moment_nets",
    "GPAugmenter", "augmentation_grid",
]

AUGMENTER_KIND = "unmixing-gp-augmenter"
STRATEGIES = ("normal", "mean")


# ------------------------------------------------------------ data preparation
def group_moments(dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eqs. 8 and 9 per distinct abundance vector: ``(A_groups (G,P), means (G,L), covs (G,L,L))``."""
    if dataset.abundances is None:
        from studio.unmixing.io import SpectraInputError

        raise SpectraInputError(dataset.source or dataset.name, "the spectra have no abundances; "
                                "the augmentation networks need labelled spectra")
    A_groups, index = dataset.groups()
    Y = np.asarray(dataset.spectra, dtype=np.float64)
    G, L = len(A_groups), Y.shape[1]
    counts = np.bincount(index, minlength=G).astype(np.float64)
    onehot = np.zeros((G, len(Y)))
    onehot[index, np.arange(len(Y))] = 1.0
    means = onehot @ Y / np.maximum(counts, 1.0)[:, None]
    centred = Y - means[index]
    covs = np.zeros((G, L, L))
    for g in range(G):  # one matrix product per abundance vector (G is small), not per spectrum
        if counts[g] >= 2:
            c = centred[index == g]
            covs[g] = c.T @ c / (counts[g] - 1.0)
    return np.asarray(A_groups, dtype=np.float64), means, covs


def transformed_indices(L: int) -> tuple[np.ndarray, np.ndarray]:
    """λ'1 = λ + λ* and λ'2 = max λ − |λ − λ*| as (L, L) integer matrices, λ, λ* ∈ {1..L} (section 3.1)."""
    lam = np.arange(1, L + 1)
    lam_row, lam_col = lam[:, None], lam[None, :]
    return lam_row + lam_col, lam.max() - np.abs(lam_row - lam_col)


def cov_index_pairs(L: int, triangle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """0-based (λ, λ*) index pairs N_k is evaluated at: the upper triangle with diagonal, or all L²."""
    if triangle:
        return np.triu_indices(L)
    i, j = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    return i.ravel(), j.ravel()


def mean_net_inputs(A_groups: np.ndarray, L: int) -> np.ndarray:
    """(G·L, P+1) rows [a, λ̃] group-major, λ̃ = (λ−1)/(L−1) ∈ [0, 1]."""
    A = np.asarray(A_groups, dtype=np.float32)
    lam = np.linspace(0.0, 1.0, L, dtype=np.float32) if L > 1 else np.zeros(1, np.float32)
    G = len(A)
    return np.concatenate([np.repeat(A, L, axis=0), np.tile(lam, G)[:, None]], axis=1)


def cov_net_inputs(A_groups: np.ndarray, L: int, triangle: bool = False) -> np.ndarray:
    """(G·n_pairs, P+2) rows [a, λ̃'1, λ̃'2] group-major; n_pairs = L² or L(L+1)/2 (``triangle``)."""
    A = np.asarray(A_groups, dtype=np.float32)
    i, j = cov_index_pairs(L, triangle)
    lam1, lam2 = transformed_indices(L)
    scale1, scale2 = max(1, 2 * L - 2), max(1, L - 1)
    l1 = ((lam1[i, j] - 2) / scale1).astype(np.float32)
    l2 = ((lam2[i, j] - 1) / scale2).astype(np.float32)
    G = len(A)
    return np.concatenate([np.repeat(A, len(i), axis=0), np.tile(l1, G)[:, None], np.tile(l2, G)[:, None]],
                          axis=1)


@dataclass
class TargetMapping:
    """Affine map of moment values into (0, 1) for the logistic output, and back (see module doc, 3)."""

    v_min: float
    v_max: float
    margin: float = 0.05

    @classmethod
    def fit(cls, values: np.ndarray, margin: float = 0.05) -> "TargetMapping":
        if not 0.0 <= margin < 0.5:
            raise ValueError(f"the target margin must be in [0, 0.5), got {margin}")
        v = np.asarray(values, dtype=np.float64)
        return cls(float(v.min()), float(v.max()), float(margin))

    @property
    def _span(self) -> float:
        span = self.v_max - self.v_min
        return span if span > 0 else 1.0

    def forward(self, v: np.ndarray) -> np.ndarray:
        return self.margin + (1.0 - 2.0 * self.margin) * (np.asarray(v, dtype=np.float64) - self.v_min) / self._span

    def inverse(self, t: np.ndarray) -> np.ndarray:
        return self.v_min + (np.asarray(t, dtype=np.float64) - self.margin) / (1.0 - 2.0 * self.margin) * self._span

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TargetMapping":
        return cls(float(d["v_min"]), float(d["v_max"]), float(d.get("margin", 0.05)))


def nearest_psd(covs: np.ndarray, return_eig: bool = False):
    """Symmetrise (K, L, L) matrices and clip negative eigenvalues to 0 (batched eigh, no Python loop)."""
    sym = 0.5 * (covs + np.swapaxes(covs, -1, -2))
    w, V = np.linalg.eigh(sym)
    w = np.clip(w, 0.0, None)
    psd = (V * w[..., None, :]) @ np.swapaxes(V, -1, -2)
    psd = 0.5 * (psd + np.swapaxes(psd, -1, -2))
    return (psd, w, V) if return_eig else psd


class TensorBatches:
    """A torch ``Dataset`` over in-memory tensors that hands the DataLoader whole batches.

    ``__getitems__`` (torch ≥ 2.1) lets the loader fetch a batch with one fancy-index
    instead of collating one sample at a time, which made an epoch over the ~67k
    N_k points cost ~0.3 s of Python; use it with ``collate_fn=TensorBatches.collate``.
    """

    def __init__(self, *tensors):
        import torch

        self.tensors = tuple(torch.as_tensor(t) for t in tensors)
        n = {len(t) for t in self.tensors}
        if len(n) != 1:
            raise ValueError("all tensors need the same length")

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, i):
        return tuple(t[i] for t in self.tensors)

    def __getitems__(self, indices):
        import torch

        idx = torch.as_tensor(indices, dtype=torch.long)
        return tuple(t[idx] for t in self.tensors)

    @staticmethod
    def collate(batch):
        return batch


# ------------------------------------------------------------------- training
@dataclass
class MomentTrainConfig:
    """Section 4's set-up of N_m and N_k; epochs per dataset are in :mod:`studio.unmixing.jobs`."""

    mean_epochs: int = 2000
    cov_epochs: int = 2000
    epochs_scale: float = 1.0
    lr: float = 0.01
    hidden: int = 32
    blocks: int = 4
    mean_batch_size: int | None = 128  # None: all G·L points in one batch
    cov_batch_size: int | None = 16384  # None: all points in one batch
    margin: float = 0.05
    cov_triangle: bool = True
    checkpoint_every: int = 100  # epochs between the per-network checkpoints
    seed: int = 0

    def scaled_epochs(self) -> tuple[int, int]:
        s = float(self.epochs_scale)
        if not s > 0:
            raise ValueError(f"epochs_scale must be positive, got {self.epochs_scale}")
        return max(1, int(round(self.mean_epochs * s))), max(1, int(round(self.cov_epochs * s)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MomentTrainConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _fit_moment_net(ctx, X: np.ndarray, targets: np.ndarray, epochs: int, batch_size: int | None,
                    cfg: MomentTrainConfig, stage: str, save_path: Path | None, meta_extra: dict[str, Any]):
    import torch
    from torch.nn import functional as F

    from studio.engine.checkpoints import CheckpointMeta, save_checkpoint
    from studio.engine.training import FitConfig, fit
    from studio.unmixing.models import MOMENT_NET_KIND, MomentNet

    torch.manual_seed(cfg.seed)
    net = MomentNet(X.shape[1], cfg.hidden, cfg.blocks)
    n = len(X)
    bs = n if batch_size is None else min(int(batch_size), n)
    fcfg = FitConfig(optimizer="adam", lr=cfg.lr, epochs=epochs, batch_size=bs, shuffle=True,
                     drop_last=n > bs and n % bs == 1, seed=cfg.seed)
    data = TensorBatches(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)),
                         torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32)))

    def loss_fn(model, batch):  # eq. 11: logistic loss with continuous targets
        x, t = batch
        return F.binary_cross_entropy_with_logits(model(x, logits=True), t)

    def on_checkpoint(model, info):
        epoch = int(round(info["epoch"]))
        if save_path is None or (epoch % max(1, cfg.checkpoint_every) and epoch != epochs):
            return
        meta = CheckpointMeta(model_kind=MOMENT_NET_KIND, hyperparameters=model.hparams,
                              extra={**meta_extra, "epoch": epoch, "epochs": epochs,
                                     "train_loss": info["metrics"].get("train/loss")})
        save_checkpoint(save_path, model.state_dict(), meta)

    result = fit(ctx, net, data, fcfg, loss_fn=loss_fn, on_checkpoint=on_checkpoint,
                 collate_fn=TensorBatches.collate, stage=stage)
    net.eval()
    losses = result.history.get("train/epoch_loss", [])
    info = {"epochs": epochs, "steps": result.steps, "batch_size": bs, "points": n, "seconds": result.seconds,
            "first_epoch_loss": losses[0] if losses else float("nan"),
            "final_epoch_loss": losses[-1] if losses else float("nan")}
    return net, info, result


def train_moment_nets(ctx, dataset_train, cfg: MomentTrainConfig | None = None,
                      checkpoint_dir: str | Path | None = None, stage: str = "") -> "GPAugmenter":
    """Train N_m then N_k on the moments of ``dataset_train`` (section 3.2) with the engine's ``fit``.

    ``checkpoint_dir``: where ``mean_net``/``cov_net`` checkpoints are written every
    ``checkpoint_every`` epochs during training (the complete augmenter is saved by
    the caller with :meth:`GPAugmenter.save` once both networks are trained).
    Losses are streamed as ``{stage}N_m/train/loss`` and ``{stage}N_k/train/loss``.
    """
    cfg = cfg or MomentTrainConfig()
    mean_epochs, cov_epochs = cfg.scaled_epochs()
    A_groups, means, covs = group_moments(dataset_train)
    G, L = means.shape
    if G < 2:
        from studio.unmixing.io import SpectraInputError

        raise SpectraInputError(dataset_train.source or dataset_train.name,
                                f"{G} distinct abundance vector(s); the augmentation networks need several")
    ctx.log(f"moments of {G} training abundance vectors × {L} bands (eqs. 8, 9)")
    mean_map = TargetMapping.fit(means, cfg.margin)
    i, j = cov_index_pairs(L, cfg.cov_triangle)
    cov_values = covs[:, i, j].reshape(-1)
    cov_map = TargetMapping.fit(cov_values, cfg.margin)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None

    work_m, work_k = G * L * mean_epochs, len(cov_values) * cov_epochs
    split = work_m / (work_m + work_k)  # progress: N_m then N_k, by points × epochs
    ctx.log(f"N_m: {G * L} points, {mean_epochs} epochs")
    mean_net, mean_info, _ = _fit_moment_net(
        StageContext(ctx, 0.0, split, ""), mean_net_inputs(A_groups, L), mean_map.forward(means.reshape(-1)),
        mean_epochs, cfg.mean_batch_size, cfg, stage + "N_m/", folder / "mean_net" if folder else None, {"role": "mean", "mapping": mean_map.to_dict()})
    ctx.log(f"N_k: {len(cov_values)} points, {cov_epochs} epochs")
    cov_net, cov_info, _ = _fit_moment_net(
        StageContext(ctx, split, 1.0, ""), cov_net_inputs(A_groups, L, cfg.cov_triangle),
        cov_map.forward(cov_values), cov_epochs, cfg.cov_batch_size, cfg, stage + "N_k/", folder / "cov_net" if folder else None,
        {"role": "cov", "mapping": cov_map.to_dict(), "triangle": cfg.cov_triangle})
    return GPAugmenter(mean_net, cov_net, mean_map, cov_map, bands=L,
                       materials=list(dataset_train.materials),
                       wavelengths=np.asarray(dataset_train.wavelengths, dtype=np.float64),
                       train_abundances=A_groups,
                       info={"mean": mean_info, "cov": cov_info, "config": cfg.to_dict()})


# ----------------------------------------------------------------- generation
class GPAugmenter:
    """Trained N_m and N_k with their target mappings: moments and spectra for new abundances."""

    def __init__(self, mean_net, cov_net, mean_map: TargetMapping, cov_map: TargetMapping, *, bands: int,
                 materials: list[str], wavelengths: np.ndarray, train_abundances: np.ndarray,
                 info: dict[str, Any] | None = None):
        self.mean_net, self.cov_net = mean_net.eval(), cov_net.eval()
        self.mean_map, self.cov_map = mean_map, cov_map
        self.bands = int(bands)
        self.materials = list(materials)
        self.wavelengths = np.asarray(wavelengths, dtype=np.float64)
        self.train_abundances = np.asarray(train_abundances, dtype=np.float64)
        self.info = dict(info or {})

    @property
    def n_materials(self) -> int:
        return self.train_abundances.shape[1]

    def _check_abundances(self, A) -> np.ndarray:
        A = np.atleast_2d(np.asarray(A, dtype=np.float64))
        if A.shape[1] != self.n_materials:
            raise ValueError(f"abundance vectors have {A.shape[1]} entries; this augmenter was trained on "
                             f"{self.n_materials} materials ({', '.join(self.materials)})")
        return A

    def _run(self, net, X: np.ndarray, chunk: int = 262144) -> np.ndarray:
        import torch

        device = next(net.parameters()).device
        out = []
        with torch.no_grad():
            for s in range(0, len(X), chunk):
                out.append(net(torch.from_numpy(X[s:s + chunk]).to(device)).cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def predict_means(self, A) -> np.ndarray:
        A = self._check_abundances(A)
        L = self.bands
        return self.mean_map.inverse(self._run(self.mean_net, mean_net_inputs(A, L))).reshape(len(A), L)

    def predict_moments(self, A, *, vectors_per_chunk: int = 64, return_eig: bool = False):
        """``(means (K,L), covs (K,L,L))``: N_m, N_k outputs mapped back; covs symmetric PSD."""
        A = self._check_abundances(A)
        L = self.bands
        means = self.predict_means(A)
        i, j = cov_index_pairs(L, triangle=True)
        covs = np.empty((len(A), L, L))
        for s in range(0, len(A), vectors_per_chunk):
            chunk = A[s:s + vectors_per_chunk]
            values = self.cov_map.inverse(self._run(self.cov_net, cov_net_inputs(chunk, L, triangle=True)))
            values = values.reshape(len(chunk), len(i))
            covs[s:s + len(chunk), i, j] = values
            covs[s:s + len(chunk), j, i] = values
        psd, w, V = nearest_psd(covs, return_eig=True)
        return (means, psd, w, V) if return_eig else (means, psd)

    def generate(self, A, n_per_vector: int = 400, strategy: str = "normal", seed: int = 0):
        """Spectra for abundance vectors A (section 3.3) as a ``SpectralDataset``.

        "normal": ``n_per_vector`` draws from N(m̂, K̂) per vector; "mean": the mean
        spectrum m̂ repeated ``n_per_vector`` times (copies only weigh the mean in a
        training set; pass 1 for one spectrum per vector).
        """
        from studio.unmixing.io import SpectralDataset

        if strategy not in STRATEGIES:
            raise ValueError(f"unknown generation strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if n_per_vector < 1:
            raise ValueError("n_per_vector must be at least 1")
        A = self._check_abundances(A)
        K, L, n = len(A), self.bands, int(n_per_vector)
        if strategy == "mean":
            spectra = np.repeat(self.predict_means(A), n, axis=0)
        else:
            means, _, w, V = self.predict_moments(A, return_eig=True)
            factor = V * np.sqrt(w)[:, None, :]  # K̂ = F Fᵀ
            rng = np.random.default_rng(seed)
            spectra = np.empty((K * n, L))
            for s in range(0, K, 64):  # bounded memory for large grids
                e = min(K, s + 64)
                z = rng.standard_normal((e - s, n, L))
                spectra[s * n:e * n] = (means[s:e, None, :] + z @ np.swapaxes(factor[s:e], 1, 2)).reshape(-1, L)
        return SpectralDataset(spectra=spectra.astype(np.float32), wavelengths=self.wavelengths.copy(),
                               abundances=np.repeat(A, n, axis=0), materials=list(self.materials),
                               name=f"generated ({strategy})", source="GP augmentation (paper 000, section 3.3)",
                               warnings=[])

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """One checkpoint ``path.safetensors`` + ``path.json`` with both networks and the mappings."""
        from studio.engine.checkpoints import CheckpointMeta, save_checkpoint

        state = {f"mean_net.{k}": v for k, v in self.mean_net.state_dict().items()}
        state.update({f"cov_net.{k}": v for k, v in self.cov_net.state_dict().items()})
        meta = CheckpointMeta(
            model_kind=AUGMENTER_KIND,
            hyperparameters={"mean_net": self.mean_net.hparams, "cov_net": self.cov_net.hparams, "bands": self.bands},
            class_names=list(self.materials),
            normalisation={"mean_targets": self.mean_map.to_dict(), "cov_targets": self.cov_map.to_dict(),
                           "inputs": "a, then indices scaled to [0, 1]: (λ-1)/(L-1) for N_m; "
                                     "(λ'1-2)/(2L-2), (λ'2-1)/(L-1) for N_k",
                           "targets": "t = margin + (1-2 margin)(v - v_min)/(v_max - v_min)"},
            extra={"wavelengths": self.wavelengths.tolist(), "train_abundances": self.train_abundances.tolist(),
                   "training": _jsonable(self.info)},
        )
        return save_checkpoint(path, state, meta)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> "GPAugmenter":
        """From ``path`` (with or without suffix) or a run folder holding ``augmenter.*``."""
        from studio.engine.checkpoints import CheckpointError, load_checkpoint
        from studio.engine.jobs import UserError
        from studio.unmixing.models import MomentNet

        p = Path(path).expanduser()
        if p.is_dir():
            p = p / "augmenter"
        try:
            tensors, meta = load_checkpoint(p, device=device)
        except CheckpointError as exc:
            raise UserError(str(exc)) from None
        if meta.model_kind != AUGMENTER_KIND:
            raise UserError(f"{path}: a {meta.model_kind!r} checkpoint, not a GP augmenter ({AUGMENTER_KIND!r})")
        nets = {}
        for role in ("mean_net", "cov_net"):
            net = MomentNet(**meta.hyperparameters[role])
            net.load_state_dict({k[len(role) + 1:]: v for k, v in tensors.items() if k.startswith(role + ".")})
            nets[role] = net
        extra = meta.extra
        return cls(nets["mean_net"], nets["cov_net"], TargetMapping.from_dict(meta.normalisation["mean_targets"]),
                   TargetMapping.from_dict(meta.normalisation["cov_targets"]),
                   bands=int(meta.hyperparameters["bands"]), materials=meta.class_names,
                   wavelengths=np.asarray(extra["wavelengths"]), train_abundances=np.asarray(extra["train_abundances"]),
                   info=dict(extra.get("training", {})))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ------------------------------------------------------------------ the grid
def augmentation_grid(train_A: np.ndarray, step: float, max_components: int | None = None) -> np.ndarray:
    """Every simplex vector on grid ``step`` that is not a training vector (section 4.3)."""
    from studio.unmixing.synthetic import simplex_grid

    train_A = np.atleast_2d(np.asarray(train_A, dtype=np.float64))
    grid = np.asarray(simplex_grid(train_A.shape[1], step, max_components), dtype=np.float64)
    if len(grid) == 0:
        return grid
    dist = np.abs(grid[:, None, :] - train_A[None, :, :]).max(axis=2)
    return grid[(dist > 1e-6).all(axis=1)]
