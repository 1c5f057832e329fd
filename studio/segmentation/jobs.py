"""Building Segmentation jobs: train, predict, evaluate, repeated runs.  The GUI and ``studio-cli seg`` call these.

Training protocol (paper 002, section IV.A):

- images are cut into 250 × 250 tiles ("considering the computer burden"; images
  smaller than a tile are one tile, padded with the ignore label); every training
  sample is one tile, randomly scaled by s ∈ [0.5, 2], randomly cropped to
  125 × 125 and randomly flipped horizontally (the crop is taken as a
  125/s window of the tile and resized to 125, which equals scaling the tile and
  cropping 125 but costs less; s ≥ 0.5 keeps the window inside the tile);
- cross-entropy loss, SGD momentum 0.9, weight decay 5e-4, learning rate 1e-3 with
  the poly policy (1 − iter/max_iter)^0.9, batch 16, through the engine's one
  ``fit()``; the paper trains 180 K iterations (preset ``"paper"``);
- preset ``"quick"`` is for a CPU: 500 iterations with learning rate 1e-2 on the
  half-width network (widths 16…256, 1.28 M parameters) — the architecture and its
  weight mechanism are the same, the size is not Table I's (``"paper"`` uses widths
  32…512, 5.10 M parameters).  500 iterations take about 10 minutes on 2 CPU cores
  (1.05 s per iteration, bench/bench_segmentation.py); 400 left α = 0.5, whose
  halved series skip learns more slowly, under 0.80 test mIoU on the small sample.  ``iters``, ``batch``, ``lr`` and ``base_width``
  override a preset;
- inputs: 8-bit bands / 255 (other depths: the image's 0.5–99.5 % percentiles), then
  standardised with the per-band mean and standard deviation of the training
  images (stored in the checkpoint);
- validation mIoU on the validation images' 250 × 250 tiles every ``val_every``
  iterations (streamed as ``val/miou``); the checkpoint written after each
  validation is the run's model;
- the final model is tested on the test images with tiled inference over the
  whole images (:func:`studio.segmentation.tiling.predict_tiled`); dataset metrics
  come from the summed confusion matrix (Table I's mIoU, pixel and mean accuracy).

A dataset in the images/ + masks/ layout has no split; it is split by image with
the training seed into about 85 % train, 5 % validation and 10 % test.

``extra_samples`` are (image, corrected mask) pairs from the mask-correction tool;
they replace the same image's original mask if it is a training image, and their
tiles are added to the training set four times over so that a few corrected
images weigh in.  ``init_checkpoint`` fine-tunes an existing model (its
architecture and normalisation are kept).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.engine.checkpoints import CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
from studio.engine.distributed import is_main_process
from studio.engine.jobs import StageContext, UserError
from studio.engine.training import FitConfig, fit
from studio.segmentation import metrics as M
from studio.segmentation.io import SegDataset, SegInputError, SegSample, load_dataset, open_image, read_image, \
    read_mask, write_mask_geotiff, write_mask_png, geo_tags
from studio.segmentation.models import MODEL_KIND, VARIANTS, build_model, default_weights, model_complexity
from studio.segmentation.tiling import input_range, predict_tiled, prepare_input

WORKBENCH = "segmentation"
CLASS_NAMES = ["background", "building"]
TILE = 250
CROP = 125
SCALE_RANGE = (0.5, 2.0)
IGNORE = 255
EXTRA_REPEAT = 4
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"iters": 500, "lr": 1e-2, "base_width": 16, "val_every": 100},
    "paper": {"iters": 180_000, "lr": 1e-3, "base_width": 32, "val_every": 5000},
}


@dataclass
class SegTrainConfig:
    data: str | None = None  # dataset folder; None: the sample dataset
    sample_preset: str = "small"
    variant: str = "baseline"
    alphas: list[float] | None = None  # α_1..α_4 (None: the variant's)
    betas: list[float] | None = None
    bn_init: str = "normal"  # "normal" N(0,1) (Table I) or "constant" 1 (Table II)
    preset: str = "quick"
    iters: int | None = None  # None: the preset's
    batch: int = 16
    lr: float | None = None  # None: the preset's
    momentum: float = 0.9
    weight_decay: float = 5e-4
    init_checkpoint: str | None = None
    extra_samples: list[tuple[str, str]] = field(default_factory=list)  # (image path, corrected mask PNG)
    seed: int = 0
    base_width: int | None = None  # None: the preset's (32 = Table I's network)
    val_every: int | None = None
    out_dir: str | None = None  # where the checkpoint goes when the job has no registry run

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["extra_samples"] = [list(p) for p in self.extra_samples]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SegTrainConfig":
        known = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in data.items() if k in known}
        if "extra_samples" in kw:
            kw["extra_samples"] = [tuple(p) for p in kw["extra_samples"]]
        return cls(**kw)

    def resolved(self) -> dict[str, Any]:
        """Iterations, learning rate, width and validation interval after the preset."""
        if self.preset not in PRESETS:
            raise UserError(f"unknown training preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        p = PRESETS[self.preset]
        iters = int(self.iters or p["iters"])
        return {"iters": iters, "lr": float(self.lr or p["lr"]), "base_width": int(self.base_width or p["base_width"]),
                "val_every": int(self.val_every or min(p["val_every"], max(1, iters)))}


@dataclass
class SegTrainResult:
    checkpoint: str
    metrics: dict
    variant: str
    params: int
    gflops: float
    per_image: list[dict] = field(default_factory=list)
    run_dir: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class SegPredictConfig:
    model: str  # run folder or checkpoint
    images: list[str]
    out_dir: str | None = None  # write <stem>_mask.png (+ <stem>_mask.tif for GeoTIFF inputs) here
    masks: list[str | None] | None = None  # ground truth per image, for per-image metrics
    tile: int = TILE
    overlap: int = 32
    batch: int = 8
    threshold: float = 0.5
    overwrite: bool = False


@dataclass
class SegPrediction:
    image: str
    prob: np.ndarray
    mask: np.ndarray
    metrics: dict | None = None
    outputs: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class SegEvalConfig:
    model: str
    data: str | None = None  # None: the dataset the model was trained on (or the sample)
    split: str = "test"
    tile: int = TILE
    overlap: int = 32
    batch: int = 8


@dataclass
class RepeatConfig:
    train: SegTrainConfig
    runs: int = 10


# ------------------------------------------------------------------ datasets
def open_dataset(data: str | None, sample_preset: str = "small", ctx=None) -> SegDataset:
    """The user's dataset, or the sample (generated on first use)."""
    if data:
        dataset = load_dataset(data)
    else:
        from studio.segmentation.synthetic import sample_dataset

        def progress(done: int, total: int) -> None:
            if ctx is not None:
                ctx.check()
                ctx.progress(done, total, f"generating the sample dataset: {done}/{total} scenes")

        try:
            root = sample_dataset(sample_preset, progress=progress)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        dataset = load_dataset(root)
    if ctx is not None:
        ctx.log(f"{dataset.root}: {dataset.summary()}")
        for problem in dataset.problems:
            ctx.log(f"skipped: {problem}")
    return dataset


def dataset_splits(dataset: SegDataset, seed: int = 0) -> dict[str, list[SegSample]]:
    """train/val/test lists: the dataset's own, or a seeded by-image split of the single split."""
    if any(k in dataset.splits for k in ("train", "val", "test")):
        return {k: [s for s in dataset.splits.get(k, []) if s.mask is not None] for k in ("train", "val", "test")}
    samples = [s for s in dataset.samples() if s.mask is not None]
    order = np.random.default_rng(seed).permutation(len(samples))
    n = len(samples)
    n_test = max(1, round(0.10 * n)) if n >= 3 else 0
    n_val = max(1, round(0.05 * n)) if n >= 3 else 0
    test = [samples[i] for i in order[:n_test]]
    val = [samples[i] for i in order[n_test:n_test + n_val]]
    train = [samples[i] for i in order[n_test + n_val:]]
    return {"train": train, "val": val, "test": test}


@dataclass
class LoadedImage:
    name: str
    pixels: np.ndarray  # H×W×C, file dtype
    mask: np.ndarray  # bool H×W
    lo: np.ndarray
    hi: np.ndarray


def load_pairs(pairs: list[tuple[str, Path, Path]], ctx=None, what: str = "images") -> tuple[list[LoadedImage], list[str]]:
    """Read (name, image, mask) pairs; a bad pair becomes a problem line, the rest load."""
    out, problems = [], []
    for k, (name, image, mask) in enumerate(pairs):
        if ctx is not None:
            ctx.check()
            ctx.progress(k, len(pairs), f"reading {what}: {k}/{len(pairs)}")
        try:
            pixels = read_image(image)
            m = read_mask(mask, pixels.shape)
        except (SegInputError, OSError) as exc:
            problems.append(str(exc))
            if ctx is not None:
                ctx.log(f"skipped: {exc}")
            continue
        lo, hi = input_range(pixels)
        out.append(LoadedImage(name, pixels, m, lo, hi))
    return out, problems


def tile_grid(length: int, tile: int = TILE) -> list[int]:
    """Starts of a grid of tiles covering ``length``; the last one is aligned to the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, tile))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def channel_stats(images: list[LoadedImage], max_pixels: int = 2_000_000) -> dict[str, list[float]]:
    """Per-band mean and std of the training images after scaling to [0, 1] (3 bands)."""
    per = max(1, max_pixels // max(1, len(images)))
    xs = []
    for im in images:
        h, w = im.pixels.shape[:2]
        step = max(1, int(np.sqrt(h * w / per)))
        x = prepare_input(im.pixels[::step, ::step], im.lo, im.hi, [0, 0, 0], [1, 1, 1])[0]
        xs.append(x.reshape(3, -1))
    x = np.concatenate(xs, axis=1)
    return {"mean": [float(v) for v in x.mean(axis=1)], "std": [float(max(v, 1e-3)) for v in x.std(axis=1)]}


class TileSet:
    """torch Dataset of 250 × 250 tiles: (float32 3×h×w input, int64 h×w labels with 255 = ignore).

    ``augment``: random scale in [0.5, 2], random 125 × 125 crop, random horizontal
    flip (section IV.A), drawn from torch's global generator (seeded by ``fit``).
    Without ``augment`` the whole tile is returned (validation).
    """

    def __init__(self, images: list[LoadedImage], norm: dict, augment: bool, repeats: list[int] | None = None):
        self.images = images
        self.mean = np.asarray(norm["mean"], np.float32)
        self.std = np.asarray(norm["std"], np.float32)
        self.augment = augment
        self.index = []
        for k, im in enumerate(images):
            h, w = im.pixels.shape[:2]
            for _ in range(repeats[k] if repeats else 1):
                self.index.extend((k, y, x) for y in tile_grid(h) for x in tile_grid(w))

    def __len__(self) -> int:
        return len(self.index)

    def _tile(self, i: int):
        k, y, x = self.index[i]
        im = self.images[k]
        pix = im.pixels[y:y + TILE, x:x + TILE]
        lab = im.mask[y:y + TILE, x:x + TILE].astype(np.int64)
        x_in = prepare_input(pix, im.lo, im.hi, self.mean, self.std)[0]
        th, tw = lab.shape
        if th < TILE or tw < TILE:  # an image smaller than a tile: pad with the ignore label
            x_pad = np.zeros((3, max(th, TILE), max(tw, TILE)), np.float32)
            l_pad = np.full((max(th, TILE), max(tw, TILE)), IGNORE, np.int64)
            x_pad[:, :th, :tw], l_pad[:th, :tw] = x_in, lab
            x_in, lab = x_pad, l_pad
        return x_in, lab

    def __getitem__(self, i: int):
        import torch
        from torch.nn import functional as F

        x_in, lab = self._tile(i)
        x_t = torch.from_numpy(x_in)
        y_t = torch.from_numpy(lab)
        if not self.augment:
            return x_t, y_t
        lo_s, hi_s = SCALE_RANGE
        s = float(torch.empty(()).uniform_(lo_s, hi_s))
        src = int(round(CROP / s))
        src = max(1, min(src, x_t.shape[1], x_t.shape[2]))
        y0 = int(torch.randint(0, x_t.shape[1] - src + 1, ()))
        x0 = int(torch.randint(0, x_t.shape[2] - src + 1, ()))
        xc = x_t[:, y0:y0 + src, x0:x0 + src][None]
        yc = y_t[y0:y0 + src, x0:x0 + src][None, None].float()
        xc = F.interpolate(xc, size=(CROP, CROP), mode="bilinear", align_corners=False)[0]
        yc = F.interpolate(yc, size=(CROP, CROP), mode="nearest")[0, 0].long()
        if bool(torch.rand(()) < 0.5):
            xc, yc = xc.flip(-1), yc.flip(-1)
        return xc.contiguous(), yc.contiguous()


def confusion_validate(model, loader) -> dict[str, float]:
    """mIoU, pixel accuracy and mean accuracy over validation tiles (summed confusion)."""
    import torch

    device = next(model.parameters()).device
    conf = np.zeros((2, 2), np.int64)
    with torch.no_grad():
        for x, y in loader:
            pred = model(x.to(device)).argmax(1).cpu().numpy()
            conf += M.confusion_matrix(pred, y.numpy(), 2, ignore_index=IGNORE)
    m = M.segmentation_metrics(conf)
    return {"miou": m["miou"], "pixel_acc": m["pixel_acc"], "mean_acc": m["mean_acc"]}


# ------------------------------------------------------------------ models
def resolve_checkpoint(model: str | Path) -> Path:
    """A run folder (holding model.safetensors) or a checkpoint path."""
    path = Path(model).expanduser()
    return path / "model" if path.is_dir() else path


def load_segmenter(path, device="cpu"):
    """(model in eval mode, CheckpointMeta) from a run folder or checkpoint file.

    ``meta.hyperparameters``: variant, alphas, betas, bn_init, widths, blocks;
    ``meta.normalisation``: mean/std per band; ``meta.extra``: params, gflops,
    steps, dataset, preset and the test metrics of the training run.
    """
    try:
        tensors, meta = load_checkpoint(resolve_checkpoint(path))
    except CheckpointError as exc:
        raise SegInputError(str(exc)) from None
    if meta.model_kind != MODEL_KIND:
        raise SegInputError(f"{path}: a {meta.model_kind!r} checkpoint, not a building segmenter ({MODEL_KIND!r})")
    model = model_from_hyperparameters(meta.hyperparameters)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise SegInputError(f"{path}: the weights do not fit the described network ({str(exc)[:200]})") from None
    return model.to(device).eval(), meta


def model_from_hyperparameters(hp: dict[str, Any]):
    return build_model(hp["variant"], hp.get("num_classes", 2), alphas=hp.get("alphas"), betas=hp.get("betas"),
                       bn_init=hp.get("bn_init", "normal"), widths=tuple(hp["widths"]),
                       encoder_blocks=tuple(hp["encoder_blocks"]), decoder_blocks=tuple(hp["decoder_blocks"]))


def _widths(base: int) -> tuple[int, ...]:
    return tuple(base * 2 ** i for i in range(5))


# ------------------------------------------------------------------ training
def segmentation_loss(logits, labels):
    """Cross-entropy averaged over the labelled pixels (``IGNORE`` excluded).

    A batch with no labelled pixel -- crops of padding only, which images smaller than a
    tile give, likelier with the small per-process batches under torchrun -- gives 0 (no
    gradient) instead of the NaN of ``F.cross_entropy(..., ignore_index=...)``'s mean.
    """
    from torch.nn import functional as F

    total = F.cross_entropy(logits, labels, ignore_index=IGNORE, reduction="sum")
    return total / (labels != IGNORE).sum().clamp(min=1)


def _train(ctx, cfg: SegTrainConfig, out_dir: Path | None, stage: str = "") -> SegTrainResult:
    import torch

    from studio.segmentation.models import DECODER_BLOCKS, ENCODER_BLOCKS

    if cfg.variant not in VARIANTS:
        raise UserError(f"unknown variant {cfg.variant!r}; choose one of {', '.join(VARIANTS)}")
    r = cfg.resolved()
    dataset = open_dataset(cfg.data, cfg.sample_preset, ctx)
    splits = dataset_splits(dataset, cfg.seed)
    corrected = {Path(img).resolve() for img, _mask in cfg.extra_samples}
    train_pairs = [(s.name, s.image, s.mask) for s in splits["train"] if s.image.resolve() not in corrected]
    extra_pairs = [(Path(img).stem + " (corrected)", Path(img), Path(mask)) for img, mask in cfg.extra_samples]
    train_images, problems = load_pairs(train_pairs + extra_pairs, ctx, "training images")
    problems = list(dataset.problems) + problems
    n_extra_loaded = sum(1 for im in train_images if im.name.endswith(" (corrected)"))
    if not train_images:
        raise UserError(f"{dataset.root}: no usable training image with a mask"
                        + (f" ({problems[0]})" if problems else ""))
    val_images, p = load_pairs([(s.name, s.image, s.mask) for s in splits["val"]], ctx, "validation images")
    problems += p

    meta_init = None
    if cfg.init_checkpoint:
        model, meta_init = load_segmenter(cfg.init_checkpoint)
        model.train()
        hp = dict(meta_init.hyperparameters)
        norm = {k: meta_init.normalisation[k] for k in ("mean", "std")}
        ctx.log(f"fine-tuning the {hp['variant']} model of {cfg.init_checkpoint}")
    else:
        a, b = default_weights(cfg.variant)
        hp = {"variant": cfg.variant, "num_classes": 2, "alphas": [float(v) for v in (cfg.alphas or a)],
              "betas": [float(v) for v in (cfg.betas or b)], "bn_init": cfg.bn_init,
              "widths": list(_widths(r["base_width"])), "encoder_blocks": list(ENCODER_BLOCKS),
              "decoder_blocks": list(DECODER_BLOCKS)}
        torch.manual_seed(cfg.seed)
        try:
            model = model_from_hyperparameters(hp)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        norm = channel_stats([im for im in train_images])
    params, gflops = model_complexity(model, TILE)
    ctx.log(f"{hp['variant']}: α {hp['alphas']}, β {hp['betas']}, {params:,} parameters, "
            f"{gflops:.2f} GFLOPs at {TILE}×{TILE}")
    repeats = [EXTRA_REPEAT if im.name.endswith(" (corrected)") else 1 for im in train_images]
    train_set = TileSet(train_images, norm, augment=True, repeats=repeats)
    val_set = TileSet(val_images, norm, augment=False) if val_images else None
    ctx.log(f"{len(train_images)} training images ({n_extra_loaded} corrected) → {len(train_set)} tiles; "
            f"{len(val_images)} validation images")

    fit_cfg = FitConfig(optimizer="momentum", lr=r["lr"], momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                        schedule="poly", poly_power=0.9, epochs=None, iterations=r["iters"],
                        batch_size=int(cfg.batch), val_every=r["val_every"], monitor="val/miou", monitor_mode="max",
                        seed=cfg.seed)
    try:
        fit_cfg.validate()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if out_dir is None and is_main_process():  # ranks > 0 of a torchrun launch write nothing
        from studio.engine.registry import studio_home

        out_dir = studio_home() / "segmentation" / "models" / time.strftime("%Y%m%d-%H%M%S")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "model" if out_dir is not None else None
    meta = CheckpointMeta(
        model_kind=MODEL_KIND, hyperparameters=hp, class_names=list(CLASS_NAMES),
        normalisation={**norm, "input": "8-bit / 255, other depths: per-image 0.5–99.5 % percentiles; "
                                        "then (x - mean) / std per band", "tile": TILE},
        extra={"params": params, "gflops": gflops, "dataset": str(dataset.root), "preset": cfg.preset,
               "iters": r["iters"], "lr": r["lr"], "batch": int(cfg.batch), "seed": cfg.seed,
               "init_checkpoint": cfg.init_checkpoint, "extra_samples": len(cfg.extra_samples)},
    )
    saved: dict[str, str] = {}

    def on_checkpoint(m, info):
        if ckpt_path is None:
            return
        meta.extra.update({"step": info["step"], "val": info["metrics"]})
        saved["path"] = str(save_checkpoint(ckpt_path, m.state_dict(), meta))
        if ctx.run is not None and not stage:
            ctx.run.set_checkpoint(saved["path"])

    def loss_fn(m, batch):
        x, y = batch
        return segmentation_loss(m(x), y)

    result = fit(ctx, model, train_set, fit_cfg, loss_fn=loss_fn, val_data=val_set, validate=confusion_validate,
                 on_checkpoint=on_checkpoint, stage=stage)

    test_images, p = load_pairs([(s.name, s.image, s.mask) for s in splits["test"]], ctx, "test images")
    problems += p
    conf = np.zeros((2, 2), np.int64)
    per_image = []
    model.eval()
    for k, im in enumerate(test_images):
        ctx.check()
        ctx.progress(k, len(test_images), f"testing on {im.name}")
        prob = predict_tiled(model, im.pixels, TILE, 32, 8, ctx.device, check=ctx.check, normalisation=norm,
                             value_range=(im.lo, im.hi))
        c = M.confusion_matrix(prob >= 0.5, im.mask)
        conf += c
        per_image.append({"name": im.name, **M.segmentation_metrics(c)})
    metrics: dict[str, float] = {}
    if test_images:
        test = M.segmentation_metrics(conf)
        metrics.update({f"test/{k}": v for k, v in test.items()})
        for k in ("miou", "pixel_acc", "mean_acc"):
            ctx.metric(f"{stage}test/{k}", test[k], result.steps)
    metrics.update({k: v for k, v in result.metrics.items() if k.startswith("val/")})
    metrics["train/loss"] = result.metrics.get("train/loss", float("nan"))
    metrics["steps"] = result.steps
    metrics["seconds"] = round(result.seconds, 1)
    meta.extra.update({"test": {k: v for k, v in metrics.items() if k.startswith("test/")}, "steps": result.steps,
                       "trained": True})
    if out_dir is not None:
        saved["path"] = str(save_checkpoint(ckpt_path, model.state_dict(), meta))
        if ctx.run is not None and not stage:
            ctx.run.set_checkpoint(saved["path"])
        (out_dir / "evaluation.json").write_text(json.dumps(
            {"metrics": metrics, "per_image": per_image, "confusion": conf.tolist(), "problems": problems,
             "split": {k: [s.name for s in v] for k, v in splits.items()}}, indent=1, default=float))
    ctx.progress(1, 1, "done")
    return SegTrainResult(checkpoint=saved.get("path", ""), metrics=metrics, variant=hp["variant"], params=params,
                          gflops=gflops, per_image=per_image, run_dir=str(out_dir or ""), problems=problems)


def train_segmentation(ctx, cfg: SegTrainConfig) -> SegTrainResult:
    """Train (or fine-tune) a variant; streams ``train/loss`` and ``val/miou``; tests on the test split."""
    out_dir = ctx.run.dir if ctx.run is not None else (Path(cfg.out_dir) if cfg.out_dir else None)
    result = _train(ctx, cfg, out_dir)
    ctx.set_final_metrics(result.metrics)
    return result


def repeat_runs(ctx, cfg: RepeatConfig) -> list[dict]:
    """Train the same variant ``runs`` times with seeds seed, seed+1, … (Figs. 4, 6, 9); test metrics per run."""
    if cfg.runs < 1:
        raise UserError("the number of runs must be at least 1")
    base = ctx.run.dir if ctx.run is not None else (Path(cfg.train.out_dir) if cfg.train.out_dir else None)
    if base is None and is_main_process():  # ranks > 0 of a torchrun launch write nothing
        from studio.engine.registry import studio_home

        base = studio_home() / "segmentation" / "repeats" / time.strftime("%Y%m%d-%H%M%S")
    out = []
    for k in range(cfg.runs):
        ctx.log(f"run {k + 1}/{cfg.runs} (seed {cfg.train.seed + k})")
        run_cfg = SegTrainConfig.from_dict({**cfg.train.to_dict(), "seed": cfg.train.seed + k})
        res = _train(StageContext(ctx, k / cfg.runs, (k + 1) / cfg.runs, f"run {k + 1}/{cfg.runs}"), run_cfg,
                     Path(base) / f"run{k + 1:02d}" if base is not None else None, stage=f"run{k + 1}/")
        row = {key.split("/", 1)[1]: v for key, v in res.metrics.items() if key.startswith("test/")}
        row.update({"run": k + 1, "seed": run_cfg.seed, "checkpoint": res.checkpoint})
        out.append(row)
        if "miou" in row:
            ctx.metric("repeat/miou", row["miou"], k + 1)
    stats = M.box_plot_stats([r.get("miou", float("nan")) for r in out])
    ctx.set_final_metrics({"repeat/median_miou": stats["median"], "repeat/runs": len(out)})
    if base is not None:
        (Path(base) / "repeats.json").write_text(json.dumps({"runs": out, "box": stats}, indent=1, default=float))
    return out


def complexity_job(ctx, variant: str) -> tuple[int, float]:
    """Parameters and GFLOPs at 250 × 250 of one variant's Table I network (the table's last two columns)."""
    if variant not in VARIANTS:
        raise UserError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    from studio.segmentation import models  # looked up at call time (tests replace the counter)

    ctx.progress(0, 1, f"counting {variant}")
    params, gflops = models.model_complexity(models.build_model(variant), size=TILE)
    ctx.progress(1, 1, "done")
    return int(params), float(gflops)


# ---------------------------------------------------------------- inference
def _outputs_for(image: Path, out_dir: Path) -> tuple[Path, Path | None]:
    png = out_dir / f"{image.stem}_mask.png"
    tif = out_dir / f"{image.stem}_mask.tif" if geo_tags(image) else None
    return png, tif


def predict_segmentation(ctx, cfg: SegPredictConfig) -> list[SegPrediction]:
    """Tiled building probabilities and masks of each image; optional masks → per-image metrics.

    A bad image gets its ``error`` and the others still run (a single image that
    fails raises).  With ``out_dir``, masks are written as ``<stem>_mask.png`` and,
    for GeoTIFF inputs, ``<stem>_mask.tif`` with the input's georeferencing; an
    existing file is not replaced unless ``overwrite``.
    """
    model, meta = load_segmenter(cfg.model, ctx.device)
    norm = meta.normalisation
    if cfg.masks is not None and len(cfg.masks) != len(cfg.images):
        raise UserError(f"{len(cfg.masks)} masks for {len(cfg.images)} images")
    out_dir = Path(cfg.out_dir) if cfg.out_dir else None
    if out_dir is not None and not cfg.overwrite:
        for img in cfg.images:
            for target in _outputs_for(Path(img), out_dir):
                if target is not None and target.exists():
                    raise SegInputError(f"{target}: exists already; choose another folder or allow overwriting")
    results: list[SegPrediction] = []
    n = len(cfg.images)
    for k, img in enumerate(cfg.images):
        ctx.check()
        ctx.progress(k, n, f"segmenting {Path(img).name}")
        try:
            pixels = open_image(img)
            truth = read_mask(cfg.masks[k], pixels.shape) if cfg.masks is not None and cfg.masks[k] else None
        except (SegInputError, OSError) as exc:
            if n == 1:
                raise
            ctx.log(str(exc))
            results.append(SegPrediction(str(img), np.zeros((0, 0), np.float32), np.zeros((0, 0), bool),
                                         error=str(exc)))
            continue

        def tile_progress(done: int, total: int, k=k, name=Path(img).name) -> None:
            ctx.progress(k + done / max(1, total), n, f"segmenting {name}: tile {done}/{total}")

        prob = predict_tiled(model, pixels, cfg.tile, cfg.overlap, cfg.batch, ctx.device, check=ctx.check,
                             progress=tile_progress, normalisation=norm)
        mask = prob >= cfg.threshold
        pred = SegPrediction(str(img), prob, mask)
        if truth is not None:
            pred.metrics = M.segmentation_metrics(M.confusion_matrix(mask, truth))
        if out_dir is not None:
            png, tif = _outputs_for(Path(img), out_dir)
            write_mask_png(png, mask)
            pred.outputs.append(str(png))
            if tif is not None:
                write_mask_geotiff(tif, mask, like=str(img))
                pred.outputs.append(str(tif))
        results.append(pred)
    ctx.progress(n, n, "done")
    return results


def evaluate_segmentation(ctx, cfg: SegEvalConfig) -> dict[str, Any]:
    """Dataset metrics (summed confusion) and per-image metrics of a model on one split."""
    model, meta = load_segmenter(cfg.model, ctx.device)
    data = cfg.data or None
    if data is None and meta.extra.get("dataset") and Path(meta.extra["dataset"]).is_dir():
        data = meta.extra["dataset"]
    dataset = open_dataset(data, "small", ctx)
    splits = dataset_splits(dataset, int(meta.extra.get("seed", 0)))
    if cfg.split not in splits:
        raise UserError(f"unknown split {cfg.split!r}; choose train, val or test")
    samples = splits[cfg.split]
    if not samples:
        raise UserError(f"{dataset.root}: the {cfg.split} split has no image with a mask")
    conf = np.zeros((2, 2), np.int64)
    per_image, problems = [], list(dataset.problems)
    for k, s in enumerate(samples):
        ctx.check()
        ctx.progress(k, len(samples), f"evaluating {s.name}")
        try:
            pixels = open_image(s.image)
            truth = read_mask(s.mask, pixels.shape)
        except (SegInputError, OSError) as exc:
            problems.append(str(exc))
            ctx.log(f"skipped: {exc}")
            continue
        prob = predict_tiled(model, pixels, cfg.tile, cfg.overlap, cfg.batch, ctx.device, check=ctx.check,
                             normalisation=meta.normalisation)
        c = M.confusion_matrix(prob >= 0.5, truth)
        conf += c
        per_image.append({"name": s.name, "image": str(s.image), **M.segmentation_metrics(c)})
    if not per_image:
        raise UserError(f"{dataset.root}: no image of the {cfg.split} split could be read"
                        + (f" ({problems[0]})" if problems else ""))
    out: dict[str, Any] = dict(M.segmentation_metrics(conf))
    out.update({"per_image": per_image, "split": cfg.split, "images": len(per_image), "dataset": str(dataset.root),
                "confusion": conf.tolist(), "problems": problems, "variant": meta.hyperparameters.get("variant")})
    ctx.set_final_metrics({k: out[k] for k in M.METRIC_KEYS})
    ctx.progress(1, 1, "done")
    return out
