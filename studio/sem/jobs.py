"""SEM Defects jobs: train, evaluate and predict.  The GUI and ``studio-cli sem`` call these.

Protocol (paper 004, sections 2.1–2.3):
- images are split 70/30, stratified and seeded, *by image* (never by patch);
- each image is cut into the full grid of 128×128 patches without resampling
  (64 for 1024×1024); training uses all patches of the training images labelled by
  their image (default) or, as in the paper, one representative patch per image;
- the paper's CNN (Table 2) trained with SGD momentum 0.9, weight decay 1e-4,
  learning rate 1e-3, batch 32; the paper trains 300 iterations;
- metrics with the defect class (NHNF) as positive, eqs. (1)–(4), plus the confusion
  matrix and ROC/AUC on the test patches, and whole-image verdicts: an image is
  defective when the share of its patches with P(defect) ≥ 0.5 passes the share
  threshold (the whole-micrograph inspection the paper names as future work).
  Unless given, the share threshold is calibrated after training on the training
  images (:func:`training_share_threshold`); it is stored with the model.

Where the paper is silent we choose, by default (GUI and CLI alike; the published set-up is
``augment=False, blur_noise=False, shift=0, input_norm="dataset", average_from=None``): random rotations by
90° and mirroring of the training patches, a random defocus blur and noise on each (:class:`PatchTensors`),
in the representative-patch protocol random translations of the patch by up to ``shift`` pixels inside its
image, per-patch input standardisation (:func:`standardisation`), and ending with the mean of the weights of the last
quarter of the run instead of the last iterate (``average_from``, stochastic weight averaging,
Izmailov et al. 2018, who also start averaging at 75 % of the budget; see
:class:`studio.engine.training.FitConfig`): with SGD at a constant learning rate 1e-3 the last
iterate still jumps (per-batch loss 0.05–0.4 at the end), and the same split could come out 2 test
patches apart.  The fraction 0.75 was chosen over 0.5 on another draw of the sample
(``bench_sem.py --sample-seed 1``), not on the images the figures are reported on.

The paper has no validation split; the per-epoch ``val/*`` curves are computed on
the held-out 30 % for monitoring only (no model selection, early stopping off).

A "defect" probability is 1 − P(negative class), the negative class being the one
named HNF (any case) or else the first class, so datasets with several defect
classes still get one defect map.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.engine.checkpoints import CheckpointMeta, load_checkpoint, save_checkpoint
from studio.engine.jobs import UserError
from studio.engine.registry import studio_home
from studio.engine.training import FitConfig, classification_validate, fit
from studio.sem import metrics as M
from studio.sem.io import DatasetError, ImageLoadError, SemDataset, load_dataset, read_image
from studio.sem.models import MODEL_KIND, build_model
from studio.sem.patches import PATCH_SIZE, build_patch_set, extract_patches, stratified_split

WORKBENCH = "sem"
PAPER_ITERATIONS = 300
#: input normalisations of :func:`standardisation` (the paper does not say which it used)
INPUT_NORMALISATIONS = ("dataset", "patch")
PER_PATCH_MIN_STD = 0.01
#: ``blur_noise``: each training patch blurred by a Gaussian of sigma ~ U(0, BLUR_SIGMA_MAX) px and given
#: Gaussian noise of sigma ~ U(0, NOISE_SIGMA_MAX) of full scale (see :class:`PatchTensors`)
BLUR_SIGMA_MAX = 1.5
NOISE_SIGMA_MAX = 0.04


def paper_fit_config(**overrides: Any) -> FitConfig:
    """Section 2.3's learning set-up: SGD momentum 0.9, wd 1e-4, lr 1e-3, batch 32.

    Batch-norm statistics are recomputed over training batches before every
    validation, as MATLAB R2017b (the paper's tool) does after training; see
    :func:`studio.engine.training.recalibrate_batchnorm`.
    """
    base = dict(optimizer="momentum", lr=1e-3, momentum=0.9, weight_decay=1e-4, batch_size=32, epochs=4,
                recalibrate_bn=True)
    base.update(overrides)
    return FitConfig(**base)


@dataclass
class SemTrainConfig:
    data: str | None = None  # dataset folder or CSV; None means the sample dataset
    crop_bottom: int = 0
    patch_mode: str = "all"  # "all" or "representative" (the paper's one patch per image)
    representative: str = "annotated"  # the dataset's annotated patch when it has one, else the centre
    test_fraction: float = 0.3
    split_seed: int = 0
    depth: int = 5
    fc40: bool = True
    augment: bool = True  # random rotations by 90° and mirroring of training patches (not in the paper)
    blur_noise: bool = True  # random defocus blur and dose noise on each training patch (not in the paper)
    shift: int = 32  # representative protocol: random translation by up to ± shift px (not in the paper); 0 = off
    average_from: float | None = 0.75  # end with the mean weights of the last quarter of the run (not in the paper)
    input_norm: str = "patch"  # "patch" (each patch by its own mean/std) or "dataset" (two scalars); standardisation()
    fit: FitConfig = field(default_factory=paper_fit_config)
    init_checkpoint: str | None = None  # fine-tune from this checkpoint instead of N(0, 0.01²)
    share_threshold: float | None = None  # None: calibrated on the training images after training
    sample_images: tuple[int, int] = (75, 85)  # HNF, NHNF of the sample dataset (paper: 75 / 85)
    sample_size: int = 1024
    sample_seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fit"] = self.fit.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SemTrainConfig":
        known = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in data.items() if k in known}
        if isinstance(kw.get("fit"), dict):
            kw["fit"] = FitConfig.from_dict(kw["fit"])
        if "sample_images" in kw:
            kw["sample_images"] = tuple(kw["sample_images"])
        return cls(**kw)


@dataclass
class SemResult:
    """What training or evaluation produced; ``metrics`` go to the run registry."""

    metrics: dict[str, float]
    report: dict[str, Any]
    class_names: list[str]
    # per test image: path, label, predicted, defect_share, correct (the whole-image verdict) and, in the
    # representative protocol, "representative": row, col, predicted, defect_probability, correct of its one patch
    test_images: list[dict[str, Any]]
    roc: dict[str, list[float]]
    checkpoint: str | None = None
    problems: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------ data
def sample_dataset(cfg: SemTrainConfig, ctx=None) -> Path:
    """The synthetic sample (generated on first use, cached under the Studio home)."""
    from studio.sem.synthetic import sample_dataset_path

    n_hnf, n_nhnf = cfg.sample_images

    def progress(done: int, total: int) -> None:
        if ctx is not None:
            ctx.check()
            ctx.progress(done, total, f"generating the sample dataset: {done}/{total} images")

    return sample_dataset_path(studio_home() / "samples" / "sem", n_hnf=n_hnf, n_nhnf=n_nhnf,
                               size=cfg.sample_size, seed=cfg.sample_seed, progress=progress)


def open_dataset(cfg: SemTrainConfig, ctx=None) -> SemDataset:
    path = Path(cfg.data) if cfg.data else sample_dataset(cfg, ctx)

    def progress(done: int, total: int) -> None:
        if ctx is not None:
            ctx.check()
            ctx.progress(done, total, f"reading images: {done}/{total}")

    try:
        dataset = load_dataset(path, crop_bottom=cfg.crop_bottom, progress=progress)
    except (DatasetError, ImageLoadError, FileNotFoundError, NotADirectoryError) as exc:
        raise UserError(str(exc)) from None
    if ctx is not None:
        ctx.log(f"{path}: {dataset.summary()}")
        for problem in dataset.problems:
            ctx.log(f"skipped {problem.path}: {problem.message}")
    return dataset


def negative_class(class_names: list[str]) -> int:
    for i, name in enumerate(class_names):
        if name.strip().lower() in ("hnf", "homogeneous", "ok", "good", "normal"):
            return i
    return 0


def positive_class(class_names: list[str]) -> int:
    """The class treated as 'defective' in the binary metrics (NHNF when present)."""
    for i, name in enumerate(class_names):
        if name.strip().lower() in ("nhnf", "defect", "defective", "non-homogeneous", "nonhomogeneous"):
            return i
    neg = negative_class(class_names)
    return 1 if neg == 0 and len(class_names) > 1 else 0


def standardisation(patch_set, max_patches: int = 4096, seed: int = 0, mode: str = "dataset") -> dict[str, Any]:
    """The input normalisation of a training run, stored in the checkpoint.

    The paper does not say how inputs were normalised (MATLAB's image input layer
    subtracts the training mean by default).  ``mode="dataset"``: subtract the mean
    and divide by the standard deviation of the training patches' [0, 1] pixels
    (two scalars).  ``mode="patch"``: every patch is standardised by its own mean
    and standard deviation (``per_patch``), which removes what a micrograph's dose,
    brightness gradient, charging glow and contrast setting do to a patch's level
    and gain, so that the network sees shapes; the dataset's mean and std are still
    recorded.  See :func:`standardise_patches`.
    """
    if mode not in INPUT_NORMALISATIONS:
        raise ValueError(f"input normalisation must be one of {INPUT_NORMALISATIONS}, got {mode!r}")
    n = len(patch_set)
    idx = np.sort(np.random.default_rng(seed).choice(n, size=min(n, max_patches), replace=False))
    x = patch_set.as_float(idx)
    norm: dict[str, Any] = {"mean": float(x.mean()), "std": float(max(x.std(), 1e-6))}
    if mode == "patch":
        norm["per_patch"] = True
    return norm


def standardise_patches(x: np.ndarray, norm: dict[str, Any]) -> np.ndarray:
    """Network input from float patches (..., s, s) in [0, 1]: the training run's normalisation.

    With ``norm["per_patch"]`` each patch minus its own mean, divided by its own
    standard deviation (at least 0.01, so a flat patch stays flat rather than
    amplifying its noise); otherwise ``(x - mean) / std`` with the checkpoint's
    scalars (checkpoints made before the option have only those).  Training
    (:class:`PatchTensors`) and inference (:func:`patch_probabilities`) both call this.
    """
    x = np.asarray(x, np.float32)
    if norm.get("per_patch"):
        mean = x.mean(axis=(-2, -1), keepdims=True)
        std = np.maximum(x.std(axis=(-2, -1), keepdims=True), np.float32(PER_PATCH_MIN_STD))
        return ((x - mean) / std).astype(np.float32, copy=False)
    mean, std = np.float32(norm.get("mean", 0.0)), np.float32(norm.get("std", 1.0))
    return (x - mean) / std


class PatchTensors:
    """A torch ``Dataset`` over a :class:`PatchSet`: standardised float patches and labels.

    ``augment`` applies one of the 8 symmetries of the square (rotations by 90° and
    a mirror), drawn from torch's generator so seeded runs repeat.  A fibre mat has
    no preferred orientation, so these are label-preserving; they are not in the
    paper, which trains 112 patches without augmentation and over-fits (train
    accuracy 1.0) on our sample.  ``shift`` > 0 (needs a patch set built with
    ``margin >= shift``) first moves the patch by a uniform random (dy, dx) in
    [-shift, shift]², narrowed where the image's border is nearer (a border cell
    moves inwards only; ``PatchSet.room``): with one patch per image the network
    otherwise sees each bead at one place only, and the fully connected layers
    after the last pooling (4 × 4 cells) are position-specific.  A bead near the
    patch border can leave a shifted crop, so ``shift`` stays small (32 px = a
    quarter patch by default).

    ``blur_noise`` then blurs the patch by a Gaussian of sigma ~ U(0, :data:`BLUR_SIGMA_MAX`) px (a
    defocus; below 0.05 px it is left as it is) and adds Gaussian noise of sigma ~ U(0,
    :data:`NOISE_SIGMA_MAX`) of full scale (a lower dose), before the standardisation.  Neither adds or
    removes a bead, but without them the network goes partly by how smooth a patch is (beads are
    smooth, bright bodies): on the sample a 1 px defocus of the test patches moved P(defect) by 0.07 on
    average and cost up to 7 of 48 test patches; with them by 0.02, at the same accuracy on the
    undisturbed patches (``bench/bench_sem.py``, docs/sem.md).
    """

    def __init__(self, patch_set, norm: dict[str, Any], augment: bool = False, shift: int = 0,
                 blur_noise: bool = False):
        self.ps = patch_set
        self.norm = norm
        self.augment = augment
        self.blur_noise = blur_noise
        self.shift = int(shift)
        if self.shift and (patch_set.windows is None or patch_set.margin < self.shift):
            raise ValueError(f"shift {self.shift} needs a patch set built with margin >= {self.shift}")

    def __len__(self) -> int:
        return len(self.ps)

    def __getitem__(self, i: int):
        import torch

        if self.shift:
            up, down, left, right = (min(int(v), self.shift) for v in self.ps.room[i])
            dy = int(torch.randint(-up, down + 1, ()))
            dx = int(torch.randint(-left, right + 1, ()))
            raw = self.ps.shifted(i, dy, dx)
        else:
            raw = self.ps.as_float(np.array([i]))[0]
        if self.blur_noise:
            from scipy import ndimage

            sigma = float(torch.rand(())) * BLUR_SIGMA_MAX
            if sigma > 0.05:
                raw = ndimage.gaussian_filter(np.asarray(raw, np.float32), sigma, mode="reflect")
            raw = raw + float(torch.rand(())) * NOISE_SIGMA_MAX * torch.randn(raw.shape).numpy()
        x = standardise_patches(raw, self.norm)
        if self.augment:
            x = np.ascontiguousarray(dihedral_view(x, int(torch.randint(8, ()))))
        return torch.from_numpy(x), int(self.ps.labels[i])


def dihedral_view(patches: np.ndarray, k: int) -> np.ndarray:
    """Symmetry ``k`` (0–7) of the square patches' last two axes: rotation by k·90°, mirrored when k ≥ 4.

    The training augmentation (:class:`PatchTensors`) draws one of these eight; the
    evaluation's flip-averaged accuracy averages over all of them.
    """
    view = np.rot90(patches, k % 4, axes=(-2, -1))
    return view[..., ::-1] if k >= 4 else view


def patch_probabilities(model, patches: np.ndarray, scale: float, device, norm: dict[str, Any],
                        batch_size: int = 64, ctx=None):
    """Softmax probabilities (n, classes) of integer or float patches (n, s, s)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(patches), batch_size):
            if ctx is not None:
                ctx.check()
            chunk = patches[start:start + batch_size].astype(np.float32)
            if scale != 1.0:
                chunk *= np.float32(1.0 / scale)
            chunk = standardise_patches(chunk, norm)
            x = torch.from_numpy(chunk[:, None]).to(device)
            out.append(torch.softmax(model(x), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


# ---------------------------------------------------------------- evaluation
def evaluate_model(model, dataset: SemDataset, test_idx: np.ndarray, cfg: SemTrainConfig, device,
                   norm: dict[str, float], ctx=None) -> SemResult:
    """Patch-level and image-level test metrics (eqs. 1–4, confusion, ROC/AUC)."""
    names = dataset.class_names
    pos, neg = positive_class(names), negative_class(names)
    share_threshold = M.DEFAULT_SHARE_THRESHOLD if cfg.share_threshold is None else float(cfg.share_threshold)
    eval_set = build_patch_set(dataset, test_idx, mode="all")
    probs = patch_probabilities(model, eval_set.patches, eval_set.scale, device, norm, ctx=ctx)
    defect = 1.0 - probs[:, neg]
    images: list[dict[str, Any]] = []
    image_true, image_pred, image_share = [], [], []
    for i in test_idx:
        sel = eval_set.image_index == i
        is_def, share = M.image_verdict(defect[sel], share_threshold=share_threshold)
        true = int(dataset.labels[i])
        mean_probs = probs[sel].mean(axis=0)
        pred = int(np.argmax(mean_probs)) if len(names) > 2 else (pos if is_def else neg)
        images.append({"path": str(dataset.paths[i]), "label": names[true], "predicted": names[pred],
                       "defect_share": float(share), "correct": pred == true,
                       "probabilities": {n: float(p) for n, p in zip(names, mean_probs)}})
        image_true.append(true)
        image_pred.append(pred)
        image_share.append(share)
    if cfg.patch_mode == "representative":  # the paper's protocol: one patch per test image
        rep = build_patch_set(dataset, test_idx, mode="representative", representative=cfg.representative)
        rprobs = patch_probabilities(model, rep.patches, rep.scale, device, norm)
        p_true, p_pred, p_score = rep.labels, rprobs.argmax(1), 1.0 - rprobs[:, neg]
        # per test image, what its representative patch (the one the headline accuracy counts) was called
        by_image = {int(img): k for k, img in enumerate(rep.image_index)}
        for entry, i in zip(images, test_idx):
            k = by_image[int(i)]
            entry["representative"] = {"row": int(rep.rows[k]), "col": int(rep.cols[k]),
                                       "predicted": names[int(p_pred[k])], "defect_probability": float(p_score[k]),
                                       "correct": int(p_pred[k]) == int(p_true[k])}
        # diagnostic, not used for the verdicts: the mean over the 8 flips/rotations of each test patch
        fprobs = np.mean([patch_probabilities(model, np.ascontiguousarray(dihedral_view(rep.patches, k)), rep.scale,
                                              device, norm) for k in range(8)], axis=0)
        flip_accuracy = float(np.mean(fprobs.argmax(1) == np.asarray(rep.labels)))
    else:
        p_true, p_pred, p_score = eval_set.labels, probs.argmax(1), defect
    report = M.classification_report(p_true, p_pred, names, positive=pos)
    img_report = M.classification_report(image_true, image_pred, names, positive=pos)
    binary_true = (np.asarray(p_true) != neg).astype(int)
    fpr, tpr, _ = M.roc_curve(binary_true, p_score, positive=1) if 0 < binary_true.sum() < len(binary_true) \
        else (np.array([0.0, 1.0]), np.array([0.0, 1.0]), None)
    auc = M.auc(fpr, tpr) if 0 < binary_true.sum() < len(binary_true) else float("nan")
    metrics = {
        "test/accuracy": report["accuracy"],
        "test/precision": report["average"]["precision"],
        "test/recall": report["average"]["recall"],
        "test/f_score": report["average"]["f_score"],
        "test/auc": auc,
        "test/image_accuracy": img_report["accuracy"],
    }
    if cfg.patch_mode == "representative":
        metrics["test/accuracy_flip_average"] = flip_accuracy
    report = {"patch": _jsonable(report), "image": _jsonable(img_report), "positive": names[pos],
              "patch_mode": cfg.patch_mode, "share_threshold": share_threshold}
    return SemResult(metrics=metrics, report=report, class_names=names, test_images=images,
                     roc={"fpr": fpr.tolist(), "tpr": tpr.tolist()})


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def training_share_threshold(model, dataset: SemDataset, train_idx: np.ndarray, device, norm: dict[str, Any],
                             ctx=None) -> float:
    """The whole-image share threshold that best separates the *training* images (no test data).

    Every patch of every training image is classified, one image at a time, and
    :func:`studio.sem.metrics.calibrated_share_threshold` picks the threshold.  With
    representative patches the other 63 patches of a training image were never
    trained on; with all patches the network has seen them, so their shares can be
    more extreme than on new images (on the sample's all-patches default the
    calibrated threshold still raised the test images' accuracy from 0.71 to 0.85,
    see docs/sem.md).
    """
    neg = negative_class(dataset.class_names)
    ids = np.asarray(train_idx, dtype=np.int64)
    shares = np.empty(len(ids))
    for k, i in enumerate(ids):
        arr, scale = dataset.raw(int(i))
        probs = patch_probabilities(model, extract_patches(arr), scale, device, norm, ctx=ctx)
        shares[k] = M.image_verdict(1.0 - probs[:, neg])[1]
    labels = (np.asarray(dataset.labels)[ids] != neg).astype(int)
    return M.calibrated_share_threshold(shares, labels, positive=1)


# ------------------------------------------------------------------- training
def train_sem(ctx, cfg: SemTrainConfig) -> SemResult:
    """Train (or fine-tune) the SEM classifier; saves a checkpoint after every validation."""
    import torch
    from torch.nn import functional as F

    if not 0 <= int(cfg.shift) < PATCH_SIZE:
        raise UserError(f"shift must be between 0 and {PATCH_SIZE - 1} pixels, got {cfg.shift}")
    if cfg.average_from is not None and not 0.0 <= float(cfg.average_from) < 1.0:
        raise UserError(f"average from must be a fraction of the run in [0, 1), got {cfg.average_from}")
    if cfg.share_threshold is not None and not 0.0 < float(cfg.share_threshold) <= 1.0:
        raise UserError(f"the share threshold must be in (0, 1], got {cfg.share_threshold}")
    dataset = open_dataset(cfg, ctx)
    train_idx, test_idx = stratified_split(dataset.labels, cfg.test_fraction, cfg.split_seed)
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise UserError(f"{dataset.root}: {len(dataset)} images are too few for a {1 - cfg.test_fraction:.0%}/"
                        f"{cfg.test_fraction:.0%} split")
    ctx.log(f"split by image: {len(train_idx)} train, {len(test_idx)} test (seed {cfg.split_seed})")
    shift = int(cfg.shift) if cfg.patch_mode == "representative" else 0  # "all": neighbours are patches too
    train_set = build_patch_set(dataset, train_idx, mode=cfg.patch_mode, representative=cfg.representative,
                                seed=cfg.split_seed, margin=shift)
    val_set = build_patch_set(dataset, test_idx, mode=cfg.patch_mode, representative=cfg.representative,
                              seed=cfg.split_seed)
    ctx.log(f"{len(train_set)} training patches, {len(val_set)} held-out patches ({cfg.patch_mode})")
    names = dataset.class_names
    norm = standardisation(train_set, seed=cfg.split_seed, mode=cfg.input_norm)
    hparams = {"depth": cfg.depth, "fc40": cfg.fc40, "n_classes": len(names)}
    torch.manual_seed(cfg.fit.seed)
    model = build_model(hparams)
    if cfg.init_checkpoint:
        tensors, meta = _load_sem_checkpoint(cfg.init_checkpoint)
        if meta.class_names != names or build_model(meta.hyperparameters).state_dict().keys() != tensors.keys():
            raise UserError(f"{cfg.init_checkpoint}: its classes {meta.class_names} or layers do not match "
                            f"this dataset's classes {names} and the chosen model; train from scratch instead")
        model = build_model(meta.hyperparameters)
        model.load_state_dict(tensors)
        hparams = {k: meta.hyperparameters[k] for k in ("depth", "fc40", "n_classes")}
        ctx.log(f"fine-tuning from {cfg.init_checkpoint}")

    def loss_fn(m, batch):
        x, y = batch
        return F.cross_entropy(m(x), y)

    meta = CheckpointMeta(
        model_kind=MODEL_KIND, hyperparameters=hparams, class_names=names,
        normalisation={**norm, "input": "x = pixels / full scale of the bit depth; (x - mean(x)) / max(std(x), 0.01) "
                                         "per patch" if norm.get("per_patch") else
                                "(pixels / full scale of the bit depth - mean) / std",
                       "patch_size": PATCH_SIZE},
        extra={"crop_bottom": cfg.crop_bottom, "patch_mode": cfg.patch_mode, "share_threshold": cfg.share_threshold,
               "positive_class": names[positive_class(names)], "negative_class": names[negative_class(names)]},
    )
    split = {"root": str(dataset.root), "train": [dataset.relative_path(int(i)) for i in train_idx],
             "test": [dataset.relative_path(int(i)) for i in test_idx], "seed": cfg.split_seed}
    if ctx.run is not None:
        ctx.run.dir.mkdir(parents=True, exist_ok=True)
        (ctx.run.dir / "split.json").write_text(json.dumps(split, indent=1))

    def on_checkpoint(m, info):
        if ctx.run is None:
            return
        meta.extra.update({"epoch": info["epoch"], "step": info["step"]})
        ctx.run.set_checkpoint(save_checkpoint(ctx.run.checkpoint_path("model"), m.state_dict(), meta))

    fit_cfg = dataclasses.replace(cfg.fit, average_from=cfg.average_from)
    if fit_cfg.iterations and fit_cfg.val_every is None:
        # the representative-patch protocol has ~4 iterations an epoch: validating (and recalibrating
        # batch norm) every epoch doubled the training time; about 25 monitoring points are enough
        fit_cfg = dataclasses.replace(fit_cfg, val_every=max(1, fit_cfg.iterations // 25))
    train_data = PatchTensors(train_set, norm, augment=cfg.augment, shift=shift, blur_noise=cfg.blur_noise)
    result = fit(ctx, model, train_data, fit_cfg, loss_fn=loss_fn, val_data=PatchTensors(val_set, norm),
                 validate=classification_validate, on_checkpoint=on_checkpoint)
    if cfg.share_threshold is None:
        ctx.progress(0, 1, "calibrating the whole-image verdict on the training images")
        threshold = training_share_threshold(model, dataset, train_idx, ctx.device, norm, ctx)
        cfg = dataclasses.replace(cfg, share_threshold=threshold)
        ctx.log(f"whole-image verdict: defective from {100 * threshold:.1f} % defective patches "
                f"(calibrated on the {len(train_idx)} training images)")
        meta.extra["share_threshold"] = threshold
        meta.extra["share_threshold_source"] = "calibrated on the training images"
        if ctx.run is not None and ctx.run.checkpoint:
            ctx.run.set_checkpoint(save_checkpoint(ctx.run.checkpoint_path("model"), model.state_dict(), meta))
    ctx.progress(0, 1, "evaluating on the test images")
    evaluation = evaluate_model(model, dataset, test_idx, cfg, ctx.device, norm, ctx)
    evaluation.metrics["train/loss"] = result.metrics.get("train/loss", float("nan"))
    if cfg.patch_mode == "representative":
        # how well the model fits its own training patches (as they are: not shifted, flipped or rotated);
        # a patch wrong here is not learnt at all, which a test error alone does not tell
        tprobs = patch_probabilities(model, train_set.patches, train_set.scale, ctx.device, norm, ctx=ctx)
        right = tprobs.argmax(1) == np.asarray(train_set.labels)
        wrong = np.flatnonzero(~right)
        evaluation.metrics["train/accuracy"] = float(right.mean())  # the split leaves at least one training image
        neg = negative_class(names)
        ctx.log(f"training patches called wrong by the trained model: {len(wrong)} of {len(train_set)}" + "".join(
            f"\n  {dataset.relative_path(int(train_set.image_index[k]))}: P(defect) {1.0 - tprobs[k, neg]:.2f}"
            for k in wrong))
    evaluation.metrics["steps"] = result.steps
    evaluation.problems = [f"{p.path}: {p.message}" for p in dataset.problems]
    if ctx.run is not None:
        evaluation.checkpoint = ctx.run.checkpoint
        (ctx.run.dir / "evaluation.json").write_text(json.dumps(
            {"metrics": evaluation.metrics, "report": evaluation.report, "images": evaluation.test_images,
             "roc": evaluation.roc}, indent=1, default=float))
    ctx.set_final_metrics(evaluation.metrics)
    ctx.progress(1, 1, "done")
    return evaluation


# ---------------------------------------------------------------- prediction
@dataclass
class SemPredictConfig:
    model: str  # run folder, or checkpoint path (with or without suffix)
    images: list[str]
    crop_bottom: int | None = None  # None: the value the model was trained with
    patch_threshold: float = 0.5
    share_threshold: float | None = None  # None: the model's


@dataclass
class ImagePrediction:
    path: str
    verdict: str  # "defective" / "homogeneous"
    defective: bool
    defect_share: float
    probabilities: dict[str, float]
    patch_defect: list[list[float]]  # rows × cols grid of P(defect)
    patch_size: int = PATCH_SIZE
    image_size: tuple[int, int] = (0, 0)  # (height, width) after cropping
    error: str = ""


@dataclass
class SemPredictions:
    images: list[ImagePrediction]
    class_names: list[str]
    share_threshold: float

    @property
    def metrics(self) -> dict[str, float]:
        ok = [p for p in self.images if not p.error]
        return {"images": len(self.images), "defective": sum(p.defective for p in ok)}


def resolve_checkpoint(model: str | Path) -> Path:
    """A run folder (containing model.safetensors) or a checkpoint path."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path / "model"
    return path


def _load_sem_checkpoint(model: str | Path):
    from studio.engine.checkpoints import CheckpointError

    try:
        tensors, meta = load_checkpoint(resolve_checkpoint(model))
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    if meta.model_kind != MODEL_KIND:
        raise UserError(f"{model}: a {meta.model_kind!r} checkpoint, not an SEM classifier ({MODEL_KIND!r})")
    return tensors, meta


def load_model(model: str | Path, device="cpu"):
    tensors, meta = _load_sem_checkpoint(model)
    net = build_model(meta.hyperparameters)
    net.load_state_dict(tensors)
    return net.to(device).eval(), meta


def model_share_threshold(meta) -> float:
    """The share threshold stored with a model (a checkpoint saved before calibration has none: the default)."""
    value = (meta.extra or {}).get("share_threshold")
    return float(value) if value else M.DEFAULT_SHARE_THRESHOLD


def predict_image(net, meta, image: np.ndarray, device, patch_threshold: float = 0.5,
                  share_threshold: float | None = None, ctx=None) -> ImagePrediction:
    """Per-patch defect probabilities and the whole-image verdict of one float image."""
    names = meta.class_names
    neg = names.index(meta.extra.get("negative_class", names[negative_class(names)])) \
        if meta.extra.get("negative_class") in names else negative_class(names)
    share_threshold = model_share_threshold(meta) if share_threshold is None else share_threshold
    patches = extract_patches(image, PATCH_SIZE)
    probs = patch_probabilities(net, patches, 1.0, device, meta.normalisation, ctx=ctx)
    defect = 1.0 - probs[:, neg]
    rows, cols = image.shape[0] // PATCH_SIZE, image.shape[1] // PATCH_SIZE
    is_def, share = M.image_verdict(defect, patch_threshold=patch_threshold, share_threshold=share_threshold)
    return ImagePrediction(path="", verdict="defective" if is_def else "homogeneous", defective=bool(is_def),
                           defect_share=float(share),
                           probabilities={n: float(p) for n, p in zip(names, probs.mean(axis=0))},
                           patch_defect=defect.reshape(rows, cols).tolist(), image_size=tuple(image.shape[:2]))


def predict_sem(ctx, cfg: SemPredictConfig) -> SemPredictions:
    """Classify images one by one; a bad file gets its error, the others still run."""
    net, meta = load_model(cfg.model, ctx.device)
    crop = meta.extra.get("crop_bottom", 0) if cfg.crop_bottom is None else cfg.crop_bottom
    share = model_share_threshold(meta) if cfg.share_threshold is None else cfg.share_threshold
    out: list[ImagePrediction] = []
    for k, path in enumerate(cfg.images):
        ctx.check()
        ctx.progress(k, len(cfg.images), f"classifying {Path(path).name}")
        try:
            arr, scale = read_image(path, crop)
            image = arr.astype(np.float32) / np.float32(scale) if scale != 1.0 else arr.astype(np.float32)
        except (ImageLoadError, OSError) as exc:
            out.append(ImagePrediction(path=str(path), verdict="error", defective=False, defect_share=float("nan"),
                                       probabilities={}, patch_defect=[], error=str(exc)))
            ctx.log(str(exc))
            continue
        pred = predict_image(net, meta, image, ctx.device, cfg.patch_threshold, share, ctx)
        pred.path = str(path)
        out.append(pred)
    ctx.progress(len(cfg.images), len(cfg.images), "done")
    return SemPredictions(images=out, class_names=meta.class_names, share_threshold=share)


def predictions_csv(predictions: SemPredictions, target) -> int:
    """Per-image predictions as CSV: path, verdict, defect share, class probabilities, error."""
    import csv

    names = predictions.class_names
    with open(target, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "verdict", "defect_share", *[f"p_{n}" for n in names], "error"])
        for p in predictions.images:
            w.writerow([p.path, p.verdict, "" if p.error else f"{p.defect_share:.4f}",
                        *["" if p.error else f"{p.probabilities.get(n, float('nan')):.4f}" for n in names], p.error])
    return len(predictions.images)
