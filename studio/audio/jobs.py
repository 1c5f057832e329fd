"""Audio Enhancement jobs: train, evaluate, inspect one clip, classify files.  The GUI and ``studio-cli audio`` call these.

Protocol (paper 003, section 4):

- data: UrbanSound8K's folds 1–8 train, 9 development, 10 test (or the seeded
  split of a folder-per-class dataset); each clip's first 4 s at 16 kHz, zero-padded,
  as normalised 40 × 249 log-mel spectra (:mod:`studio.audio.features`);
- the CNN-FC classifier is trained first (Adam, learning rate 1e-3, batch 64; the
  paper trains 100 epochs) and validated on the development fold; the checkpoint
  kept is the epoch with the best development accuracy;
- the enhancers (SFE, DFE, DCL, DSL) are then trained through the *frozen*
  classifier's cross-entropy on the same clean training folds (noise is never
  seen in training): an enhancer run either names a trained CNN-FC
  (``classifier=``) or first trains one itself (metrics ``classifier/...``, saved
  as ``classifier.safetensors`` in the run folder).  DCL trains its first
  generator (as DFE), then freezes it and trains the second one, which starts
  from a copy of the first (metrics ``stage2/...``); DSL trains its shared
  generator end to end through both passes;
- evaluation: accuracy on the clean development and test folds (Table 1) and on
  the test fold mixed with each noise at each SNR (Table 2; 20, 15, 10, 5, 0 dB),
  exact SNR by signal power over the clip's own samples (before zero padding);
  each test clip gets its own seeded excerpt of a 20 s noise recording; per-class
  accuracy and the confusion matrix on the clean test fold.

Checkpoints (engine/checkpoints.py: safetensors + JSON sidecar): ``model`` in
the run folder.  An enhancer checkpoint holds the enhancer *and* its frozen
classifier (keys ``enhancer.*`` and ``classifier.*``), so it is self-contained.
"""
from __future__ import annotations

import copy
import csv
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from studio.audio import metrics as M
from studio.audio.features import N_FRAMES, N_MELS, mel_features
from studio.audio.io import (SAMPLE_RATE, SEGMENT_SAMPLES, AudioClip, AudioDataset, AudioInputError, fit_segment,
                             iter_segments, load_dataset, read_clip)
from studio.audio.models import ENHANCER_KINDS, MODEL_KINDS, EnhancedClassifier, build_model
from studio.audio.noise import NOISE_TYPES, fit_noise, load_noise, make_noise, mix_at_snr
from studio.engine.checkpoints import CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
from studio.engine.jobs import UserError
from studio.engine.training import FitConfig, classification_validate, fit

__all__ = [
    "WORKBENCH", "PAPER_EPOCHS", "PAPER_SNRS", "MODEL_LABELS", "AudioTrainConfig", "AudioTrainResult",
    "AudioEvalConfig", "ClipInspection", "ClassifyConfig", "train_audio", "load_audio_model", "evaluate_audio",
    "inspect_clip", "classify_files", "grid_csv", "resolve_checkpoint", "EnhanceConfig", "enhance_clip",
    "read_segment", "write_features", "checkpoint_kind",
]

WORKBENCH = "audio"
PAPER_EPOCHS = 100
PAPER_SNRS = (20, 15, 10, 5, 0)
MODEL_LABELS = {"cnn": "CNN-FC", "sfe": "SFE", "dfe": "DFE", "dcl": "DCL", "dsl": "DSL"}
KIND_PREFIX = "audio-"
NOISE_BANK_SECONDS = 20.0
FEATURE_BATCH = 128
FEATURE_DESCRIPTION = {"sample_rate": SAMPLE_RATE, "segment_samples": SEGMENT_SAMPLES, "n_fft": 512, "hop": 256,
                       "window": "hamming", "n_mels": N_MELS, "n_frames": N_FRAMES,
                       "scaling": "10·log10(mel power), floored 80 dB below the clip maximum, min-max per clip"}


@dataclass
class AudioTrainConfig:
    data: str | None = None  # UrbanSound8K folder or folder per class; None: the sample dataset
    sample_preset: str = "small"
    model: str = "cnn"  # one of MODEL_KINDS
    epochs: int | None = None  # None: the paper's 100
    batch: int = 64
    lr: float = 1e-3
    classifier: str | None = None  # run folder / checkpoint of a trained CNN-FC (enhancers); None: train one first
    init_checkpoint: str | None = None  # fine-tune from this checkpoint (same kind; a DFE run starts DCL's stage 1)
    seed: int = 0
    width: float = 1.0  # channel multiplier; 1.0 = the paper's section 4 sizes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AudioTrainConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class AudioTrainResult:
    checkpoint: str
    metrics: dict
    classes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    history: dict = field(default_factory=dict)


@dataclass
class AudioEvalConfig:
    model: str  # run folder or checkpoint
    data: str | None = None  # None: the dataset the model was trained on
    noises: tuple = NOISE_TYPES  # noise kinds and/or paths of noise recordings
    snrs: tuple = PAPER_SNRS
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["noises"], d["snrs"] = list(self.noises), list(self.snrs)
        return d


@dataclass
class ClipInspection:
    clean_mel: np.ndarray  # (40, frames)
    noisy_mel: np.ndarray
    noisy_probs: np.ndarray  # (n_classes,) — the first model's classifier on the noisy features
    classes: list[str]
    per_model: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> mask, enhanced, probs, kind, path
    clean_wave: np.ndarray | None = None  # the 4 s waveform at 16 kHz
    noisy_wave: np.ndarray | None = None
    snr_db: float | None = None
    noise: str = ""


@dataclass
class ClassifyConfig:
    model: str
    files: list[str]


# ------------------------------------------------------------------- data
def _sample_root(preset: str, ctx=None) -> Path:
    from studio.audio.synthetic import sample_dataset

    def progress(done: int, total: int) -> None:
        if ctx is not None:
            ctx.check()
            ctx.progress(done, total, f"generating the sample dataset: {done}/{total} clips")

    return sample_dataset(preset, progress=progress)


def open_dataset(data: str | None, sample_preset: str = "small", ctx=None) -> AudioDataset:
    """The user's dataset, or the (cached) sample dataset; problems go to the job log."""
    root = Path(data) if data else _sample_root(sample_preset, ctx)

    def progress(done: int, total: int) -> None:
        if ctx is not None:
            ctx.check()
            ctx.progress(done, total, f"checking audio files: {done}/{total}")

    dataset = load_dataset(root, progress=progress)
    if ctx is not None:
        ctx.log(f"{root}: {dataset.summary()}")
        for problem in dataset.problems:
            ctx.log(f"skipped {problem}")
    return dataset


def _data_ref(cfg_data: str | None, preset: str) -> str:
    return str(Path(cfg_data).expanduser().resolve()) if cfg_data else f"sample:{preset}"


def _open_data_ref(ref: str, ctx=None) -> AudioDataset:
    if ref.startswith("sample:"):
        return open_dataset(None, ref.split(":", 1)[1], ctx)
    return open_dataset(ref, ctx=ctx)


@dataclass
class ClipSet:
    """Waveforms (N, 64000), valid lengths and labels of a list of clips; unreadable clips are dropped."""

    waves: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    paths: list[str]
    problems: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def load_clips(clips: list[AudioClip], ctx=None, what: str = "clips") -> ClipSet:
    waves = np.zeros((len(clips), SEGMENT_SAMPLES), np.float32)
    lengths, labels, paths, problems, keep = [], [], [], [], []
    for i, clip in enumerate(clips):
        if ctx is not None:
            ctx.check()
            ctx.progress(i, len(clips), f"reading {what}: {i}/{len(clips)}")
        try:
            waves[i], n = read_clip(clip.path)
        except AudioInputError as exc:
            problems.append(str(exc))
            if ctx is not None:
                ctx.log(f"skipped {exc}")
            continue
        keep.append(i)
        lengths.append(n)
        labels.append(clip.label)
        paths.append(str(clip.path))
    return ClipSet(waves[keep], np.asarray(lengths, np.int64), np.asarray(labels, np.int64), paths, problems)


def features_of(waves: np.ndarray, device, ctx=None, batch: int = FEATURE_BATCH):
    """Normalised mel spectra (N, 40, 249) of waveforms (N, 64000), computed in batches on ``device``."""
    import torch

    out = []
    for start in range(0, len(waves), batch):
        if ctx is not None:
            ctx.check()
        chunk = torch.from_numpy(np.ascontiguousarray(waves[start:start + batch])).to(device)
        out.append(mel_features(chunk))
    return torch.cat(out) if out else torch.zeros(0, N_MELS, N_FRAMES, device=device)


def _tensors(clipset: ClipSet, device, ctx=None):
    import torch

    return features_of(clipset.waves, device, ctx), torch.as_tensor(clipset.labels, device=device)


# ------------------------------------------------------------ checkpoints
def resolve_checkpoint(model: str | Path) -> Path:
    """A run folder (holding model.safetensors) or a checkpoint path (with or without suffix)."""
    path = Path(model).expanduser()
    return path / "model" if path.is_dir() else path


def _read_checkpoint(model: str | Path):
    try:
        tensors, meta = load_checkpoint(resolve_checkpoint(model))
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    kind = meta.model_kind[len(KIND_PREFIX):] if meta.model_kind.startswith(KIND_PREFIX) else ""
    if kind not in MODEL_KINDS:
        raise UserError(f"{model}: a {meta.model_kind!r} checkpoint, not an audio model "
                        f"({', '.join(KIND_PREFIX + k for k in MODEL_KINDS)})")
    return tensors, meta, kind


def checkpoint_kind(model: str | Path) -> str:
    """The model kind (cnn, sfe, dfe, dcl, dsl) of a run folder or checkpoint; UserError when it is none."""
    return _read_checkpoint(model)[2]


def _build(kind: str, hp: dict[str, Any]):
    return build_model(kind, n_classes=int(hp["n_classes"]), width=float(hp.get("width", 1.0)),
                       n_mels=int(hp.get("n_mels", N_MELS)), n_frames=int(hp.get("n_frames", N_FRAMES)))


def load_audio_model(path, device="cpu"):
    """(model, meta) in eval mode.

    A CNN-FC checkpoint gives the classifier (``model(x)`` → logits); an enhancer
    checkpoint gives an :class:`EnhancedClassifier` holding the enhancer and its
    frozen classifier (``model(x)`` → logits of the enhanced features,
    ``model.enhance(x)`` → (enhanced, mask)).  ``meta.hyperparameters["kind"]``
    names the kind.
    """
    tensors, meta, kind = _read_checkpoint(path)
    try:
        if kind == "cnn":
            net = _build("cnn", meta.hyperparameters)
        else:
            net = EnhancedClassifier(_build(kind, meta.hyperparameters),
                                     _build("cnn", meta.extra["classifier_hyperparameters"]))
        net.load_state_dict(tensors)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise UserError(f"{path}: the checkpoint does not match a {MODEL_LABELS[kind]} model ({exc})") from None
    meta.hyperparameters.setdefault("kind", kind)
    return net.to(device).eval(), meta


def _load_classifier(path, classes: list[str], device):
    net, meta = load_audio_model(path, device)
    if meta.hyperparameters["kind"] != "cnn":
        raise UserError(f"{path}: a {MODEL_LABELS[meta.hyperparameters['kind']]} model, not a trained CNN-FC "
                        "classifier; pass a CNN-FC run as the classifier")
    if meta.class_names != classes:
        raise UserError(f"{path}: its classes {meta.class_names} differ from the dataset's {classes}")
    return net, meta


# --------------------------------------------------------------- training
def _fit_config(cfg: AudioTrainConfig, epochs: int) -> FitConfig:
    """Section 4: Adam, learning rate 1e-3, batch 64; checkpoint on the best development accuracy."""
    return FitConfig(optimizer="adam", lr=cfg.lr, batch_size=cfg.batch, epochs=epochs, seed=cfg.seed,
                     monitor="val/accuracy", monitor_mode="max")


def _accuracy(model, x, y, batch: int = 256) -> tuple[float, np.ndarray]:
    """Accuracy and predictions of ``model`` (logits) on features ``x``."""
    import torch

    model.eval()
    preds = []
    with torch.no_grad():
        for s in range(0, len(x), batch):
            preds.append(model(x[s:s + batch]).argmax(1).cpu())
    pred = torch.cat(preds).numpy() if preds else np.zeros(0, np.int64)
    return M.accuracy(pred, y.cpu().numpy()), pred


def _train_stage(ctx, model, trainable, train, dev, cfg: AudioTrainConfig, epochs: int, stage: str,
                 on_best=None) -> dict[str, Any]:
    """One call of the engine's fit(); keeps the weights of the best development accuracy in ``model``."""
    import torch
    from torch.nn import functional as F

    best: dict[str, Any] = {}

    def loss_fn(m, batch):
        x, y = batch
        return F.cross_entropy(m(x), y)

    def on_checkpoint(m, info):
        if info["best"]:
            best["state"] = copy.deepcopy(m.state_dict())
            best["epoch"] = info["epoch"]
            best["metrics"] = dict(info["metrics"])
            if on_best is not None:
                on_best(m, info)

    train_set = torch.utils.data.TensorDataset(*train)
    dev_set = torch.utils.data.TensorDataset(*dev) if len(dev[1]) else None
    result = fit(ctx, model, train_set, _fit_config(cfg, epochs), loss_fn=loss_fn, val_data=dev_set,
                 validate=classification_validate, on_checkpoint=on_checkpoint, trainable=trainable, stage=stage)
    if "state" in best:
        model.load_state_dict(best["state"])
    return {"fit": result, "best_epoch": best.get("epoch"), "best_metrics": best.get("metrics", {})}


def _meta(kind: str, classes: list[str], cfg: AudioTrainConfig, extra: dict[str, Any]) -> CheckpointMeta:
    hp = {"kind": kind, "n_classes": len(classes), "width": cfg.width, "n_mels": N_MELS, "n_frames": N_FRAMES}
    return CheckpointMeta(model_kind=KIND_PREFIX + kind, hyperparameters=hp, class_names=list(classes),
                          normalisation=dict(FEATURE_DESCRIPTION), extra=dict(extra))


def train_audio(ctx, cfg: AudioTrainConfig) -> AudioTrainResult:
    """Train CNN-FC, or an enhancer through a frozen CNN-FC (see the module docstring)."""
    import torch

    if cfg.model not in MODEL_KINDS:
        raise UserError(f"unknown model {cfg.model!r}; choose one of {', '.join(MODEL_KINDS)}")
    if cfg.epochs is not None and cfg.epochs < 1:
        raise UserError("epochs must be at least 1")
    if not cfg.width > 0:
        raise UserError("width must be positive")
    epochs = cfg.epochs or PAPER_EPOCHS
    device = ctx.device
    dataset = open_dataset(cfg.data, cfg.sample_preset, ctx)
    classes = dataset.classes
    splits = {name: load_clips(dataset.split(name), ctx, f"{name} clips") for name in ("train", "dev", "test")}
    if len(splits["train"]) == 0:
        raise UserError(f"{dataset.root}: no readable clips in the training folds")
    ctx.log(f"train {len(splits['train'])}, dev {len(splits['dev'])}, test {len(splits['test'])} clips")
    ctx.progress(0, 1, "computing mel features")
    data = {name: _tensors(s, device, ctx) for name, s in splits.items()}
    problems = list(dataset.problems) + [p for s in splits.values() for p in s.problems]
    data_ref = _data_ref(cfg.data, cfg.sample_preset)
    run_dir = ctx.run.dir if ctx.run is not None else None
    extra_common = {"data": data_ref, "epochs": epochs, "seed": cfg.seed, "lr": cfg.lr, "batch": cfg.batch}
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    metrics: dict[str, Any] = {}

    def save(name: str, state: dict, meta: CheckpointMeta) -> str:
        if run_dir is None:
            return ""
        path = save_checkpoint(run_dir / name, state, meta)
        if name == "model":
            ctx.run.set_checkpoint(path)
        return str(path)

    # ---- the classifier: given, or trained here first
    classifier_source = cfg.classifier
    if cfg.model == "cnn" or not cfg.classifier:
        classifier = build_model("cnn", len(classes), width=cfg.width)
        if cfg.model == "cnn" and cfg.init_checkpoint:
            classifier, _ = _load_classifier(cfg.init_checkpoint, classes, "cpu")
            ctx.log(f"fine-tuning from {cfg.init_checkpoint}")
        name = "model" if cfg.model == "cnn" else "classifier"
        cmeta = _meta("cnn", classes, cfg, extra_common)
        if cfg.model != "cnn":
            ctx.log("no classifier given: training CNN-FC first (section 4.3), then freezing it")

        def on_best_cnn(m, info):
            cmeta.extra.update({"epoch": info["epoch"], "dev_accuracy": info["metrics"].get("val/accuracy")})
            save(name, m.state_dict(), cmeta)

        stage = "" if cfg.model == "cnn" else "classifier/"
        out = _train_stage(ctx, classifier, None, data["train"], data["dev"], cfg, epochs, stage, on_best_cnn)
        if run_dir is not None and out["best_epoch"] is None:  # no dev clips: keep the last weights
            save(name, classifier.state_dict(), cmeta)
        prefix = "" if cfg.model == "cnn" else "classifier/"
        metrics[prefix + "train/loss"] = out["fit"].metrics.get("train/loss", float("nan"))
        if cfg.model != "cnn":
            classifier_source = str(run_dir / "classifier") if run_dir is not None else "(trained in this run)"
        history = out["fit"].history
    else:
        classifier, _ = _load_classifier(cfg.classifier, classes, "cpu")
        history = {}
    classifier.to(device)
    c_dev, _ = _accuracy(classifier, *data["dev"])
    c_test, _ = _accuracy(classifier, *data["test"])
    if cfg.model == "cnn":
        metrics.update({"dev/accuracy": c_dev, "test/accuracy": c_test})
        return _finish(ctx, metrics, classes, problems, history, save_path=run_dir)
    metrics.update({"classifier/dev/accuracy": c_dev, "classifier/test/accuracy": c_test})

    # ---- the enhancer through the frozen classifier
    classifier_state = {k: v.detach().clone() for k, v in classifier.state_dict().items()}
    enhancer = build_model(cfg.model, len(classes), width=cfg.width)
    skip_stage1 = False
    if cfg.init_checkpoint:
        init_net, init_meta = load_audio_model(cfg.init_checkpoint, "cpu")
        init_kind = init_meta.hyperparameters["kind"]
        if init_meta.class_names != classes:
            raise UserError(f"{cfg.init_checkpoint}: its classes differ from the dataset's")
        if init_kind == cfg.model:
            enhancer.load_state_dict(init_net.enhancer.state_dict())
        elif cfg.model == "dcl" and init_kind == "dfe":
            enhancer.stage1.load_state_dict(init_net.enhancer.state_dict())
            skip_stage1 = True
            ctx.log(f"DCL stage 1 = the trained DFE of {cfg.init_checkpoint}")
        else:
            raise UserError(f"{cfg.init_checkpoint}: a {MODEL_LABELS[init_kind]} checkpoint cannot start a "
                            f"{MODEL_LABELS[cfg.model]} model")
    extra = {**extra_common, "classifier_source": classifier_source,
             "classifier_hyperparameters": {"kind": "cnn", "n_classes": len(classes), "width": cfg.width,
                                            "n_mels": N_MELS, "n_frames": N_FRAMES}}
    if cfg.classifier:
        extra["classifier_hyperparameters"] = _read_checkpoint(cfg.classifier)[1].hyperparameters
    meta = _meta(cfg.model, classes, cfg, extra)
    full = EnhancedClassifier(enhancer, classifier).to(device)

    def on_best(m, info):
        meta.extra.update({"epoch": info["epoch"], "dev_accuracy": info["metrics"].get("val/accuracy")})
        save("model", full.state_dict(), meta)

    if cfg.model == "dcl":
        if not skip_stage1:
            ctx.log("DCL stage 1: training filter generator 1")
            stage1 = EnhancedClassifier(enhancer.stage1, classifier)
            out = _train_stage(ctx, stage1, enhancer.stage1.parameters(), data["train"], data["dev"], cfg, epochs,
                               "")
            history.update(out["fit"].history)
        enhancer.second.load_state_dict(enhancer.stage1.state_dict())
        enhancer.freeze_stage1 = True
        for p in enhancer.stage1.parameters():
            p.requires_grad_(False)
        ctx.log("DCL stage 2: filter generator 1 frozen, training filter generator 2")
        out = _train_stage(ctx, full, enhancer.second.parameters(), data["train"], data["dev"], cfg, epochs,
                           "stage2/", on_best)
    else:
        out = _train_stage(ctx, full, enhancer.parameters(), data["train"], data["dev"], cfg, epochs, "", on_best)
    history.update(out["fit"].history)
    if run_dir is not None and out["best_epoch"] is None:
        save("model", full.state_dict(), meta)
    unchanged = all(torch.equal(classifier_state[k], v) for k, v in classifier.state_dict().items())
    if not unchanged:  # never expected: the classifier is frozen by construction
        raise RuntimeError("the classifier's weights changed while training the enhancer")
    dev_acc, _ = _accuracy(full, *data["dev"])
    test_acc, _ = _accuracy(full, *data["test"])
    metrics.update({"train/loss": out["fit"].metrics.get("train/loss", float("nan")), "dev/accuracy": dev_acc,
                    "test/accuracy": test_acc})
    return _finish(ctx, metrics, classes, problems, history, save_path=run_dir)


def _finish(ctx, metrics, classes, problems, history, save_path) -> AudioTrainResult:
    metrics = {k: float(v) for k, v in metrics.items()}
    ctx.set_final_metrics(metrics)
    checkpoint = ctx.run.checkpoint if ctx.run is not None and ctx.run.checkpoint else ""
    if save_path is not None:
        (save_path / "training.json").write_text(json.dumps({"metrics": metrics, "classes": classes,
                                                             "problems": problems}, indent=1))
    ctx.progress(1, 1, "done")
    return AudioTrainResult(checkpoint=checkpoint, metrics=metrics, classes=list(classes), problems=problems,
                            history=history)


# ------------------------------------------------------------- evaluation
def noise_label(noise: str) -> str:
    """The name a noise has in results: the kind, or a noise file's stem."""
    return noise if noise in NOISE_TYPES else Path(noise).stem


@lru_cache(maxsize=16)
def _noise_bank(noise: str, seed: int, stamp: int) -> np.ndarray:
    if noise in NOISE_TYPES:
        return make_noise(noise, int(NOISE_BANK_SECONDS * SAMPLE_RATE), seed=seed)
    return load_noise(noise)


def noise_bank(noise: str, seed: int = 0) -> np.ndarray:
    """A generated 20 s noise recording, or the user's noise file (16 kHz mono); cached per process."""
    if noise in NOISE_TYPES:
        return _noise_bank(noise, int(seed), 0)
    path = Path(noise)
    if not path.is_file():
        raise UserError(f"{noise}: neither a noise kind ({', '.join(NOISE_TYPES)}) nor an existing noise file")
    return _noise_bank(noise, int(seed), path.stat().st_mtime_ns)  # an edited file is read again


def noisy_waves(clips: ClipSet, noise: str, snr_db: float, seed: int = 0) -> np.ndarray:
    """Each clip mixed at ``snr_db`` with its own seeded excerpt of the noise (over the clip's own samples)."""
    bank = noise_bank(noise, seed)
    rng = np.random.default_rng([seed, 7919])
    offsets = rng.integers(0, bank.size, len(clips))
    out = np.zeros_like(clips.waves)
    for i, (n, off) in enumerate(zip(clips.lengths, offsets)):
        out[i, :n] = mix_at_snr(clips.waves[i, :n], fit_noise(bank, int(n), int(off)), snr_db)
    return out


def evaluate_audio(ctx, cfg: AudioEvalConfig) -> dict[str, Any]:
    """Tables 1 and 2 for one model; streams ``grid/<noise>/<snr>`` metrics as each cell is done."""
    device = ctx.device
    net, meta = load_audio_model(cfg.model, device)
    kind = meta.hyperparameters["kind"]
    for noise in cfg.noises:
        noise_bank(noise, cfg.seed)  # bad noise names / files fail before any work
    ref = cfg.data or meta.extra.get("data") or "sample:small"
    dataset = open_dataset(cfg.data, ctx=ctx) if cfg.data else _open_data_ref(ref, ctx)
    if dataset.classes != meta.class_names:
        raise UserError(f"{dataset.root}: its classes {dataset.classes} differ from the model's {meta.class_names}")
    dev = load_clips(dataset.split("dev"), ctx, "dev clips")
    test = load_clips(dataset.split("test"), ctx, "test clips")
    if len(test) == 0:
        raise UserError(f"{dataset.root}: no readable clips in the test fold")
    import torch

    y_test = torch.as_tensor(test.labels, device=device)
    dev_acc = _accuracy(net, features_of(dev.waves, device, ctx), torch.as_tensor(dev.labels, device=device))[0] \
        if len(dev) else float("nan")
    test_acc, pred = _accuracy(net, features_of(test.waves, device, ctx), y_test)
    n = len(meta.class_names)
    result: dict[str, Any] = {
        "model": kind, "model_label": MODEL_LABELS[kind], "checkpoint": str(resolve_checkpoint(cfg.model)),
        "classes": list(meta.class_names), "clean": {"dev": dev_acc, "test": test_acc},
        "per_class": [None if np.isnan(v) else float(v) for v in M.per_class_accuracy(pred, test.labels, n)],
        "confusion": M.confusion_matrix(pred, test.labels, n).tolist(), "grid": {},
        "snrs": list(cfg.snrs), "noises": [noise_label(x) for x in cfg.noises],
        "noise_files": {noise_label(x): x for x in cfg.noises if x not in NOISE_TYPES},
        "n_test": len(test), "n_dev": len(dev), "data": str(dataset.root),
        "problems": dataset.problems + dev.problems + test.problems,
    }
    ctx.metric("clean/dev", dev_acc, 0)
    ctx.metric("clean/test", test_acc, 0)
    cells = len(cfg.noises) * len(cfg.snrs)
    step = 0
    for noise in cfg.noises:
        label = noise_label(noise)
        row = result["grid"].setdefault(label, {})
        for snr in cfg.snrs:
            ctx.check()
            ctx.progress(step, cells, f"{label} at {snr} dB")
            acc, _ = _accuracy(net, features_of(noisy_waves(test, noise, float(snr), cfg.seed), device, ctx), y_test)
            row[snr] = acc
            ctx.metric(f"grid/{label}/{snr}", acc, step)
            step += 1
    ctx.progress(cells, cells, "done")
    final = {"clean/dev": dev_acc, "clean/test": test_acc}
    for label, row in result["grid"].items():
        final.update({f"grid/{label}/{snr}": acc for snr, acc in row.items()})
    ctx.set_final_metrics(final)
    if ctx.run is not None:
        ctx.run.dir.mkdir(parents=True, exist_ok=True)
        (ctx.run.dir / "evaluation.json").write_text(json.dumps(result, indent=1, default=str))
        grid_csv(result, ctx.run.dir / "grid.csv")
    return result


def grid_csv(result: dict[str, Any], target) -> int:
    """The Table 2 style grid (rows: SNR, columns: noises, accuracy in %) as CSV; returns the row count."""
    noises = list(result["grid"])
    snrs = result.get("snrs") or sorted({s for row in result["grid"].values() for s in row}, reverse=True)
    with open(target, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["model", "snr_db", *noises])
        w.writerow([result.get("model_label", ""), "clean", *[f"{100 * result['clean']['test']:.2f}"] * len(noises)])
        for snr in snrs:
            w.writerow([result.get("model_label", ""), snr,
                        *[f"{100 * result['grid'][n][snr]:.2f}" if snr in result["grid"][n] else "" for n in noises]])
    return len(snrs) + 1


# ----------------------------------------------------------- inspection
_MODEL_CACHE: dict[tuple[str, int], Any] = {}


def _cached_model(path: str):
    resolved = resolve_checkpoint(path)
    if resolved.suffix in (".safetensors", ".json"):
        resolved = resolved.with_suffix("")
    weights = resolved.with_name(resolved.name + ".safetensors")
    key = (str(resolved), weights.stat().st_mtime_ns if weights.exists() else 0)  # a retrained model reloads
    if key not in _MODEL_CACHE:
        if len(_MODEL_CACHE) > 8:
            _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = load_audio_model(path, "cpu")
    return _MODEL_CACHE[key]


def _probs(logits) -> np.ndarray:
    import torch

    return torch.softmax(logits, dim=1)[0].numpy()


def inspect_clip(models: list[str], waveform, noise: str, snr_db: float | None, seed: int = 0) -> ClipInspection:
    """Figure 3 for one clip: clean and noisy mel spectra, each model's mask, enhanced features and probabilities.

    ``waveform``: mono 16 kHz samples (its first 4 s are used); ``noise``: a noise
    kind, a noise file, or ``""``/``"none"`` (then ``snr_db`` is ignored and the
    "noisy" input is the clean clip).  Runs on the CPU, one clip: fast enough to
    call whenever the user moves the SNR slider.
    """
    import torch

    wave = np.asarray(waveform, dtype=np.float32).ravel()
    n = min(wave.size, SEGMENT_SAMPLES)
    if n == 0:
        raise UserError("the clip is empty")
    clean = fit_segment(wave[:n])
    noisy = clean.copy()
    if noise and noise != "none" and snr_db is not None:
        bank = noise_bank(noise, seed)
        offset = int(np.random.default_rng([seed, 7919]).integers(0, bank.size))
        noisy[:n] = mix_at_snr(clean[:n], fit_noise(bank, n, offset), float(snr_db))
    mels = mel_features(torch.from_numpy(np.stack([clean, noisy])))
    clean_mel, noisy_mel = mels[0], mels[1:2]
    out = ClipInspection(clean_mel=clean_mel.numpy(), noisy_mel=noisy_mel[0].numpy(), noisy_probs=np.zeros(0),
                         classes=[], clean_wave=clean, noisy_wave=noisy,
                         snr_db=None if noise in ("", "none") else snr_db, noise=noise or "none")
    labels: dict[str, int] = {}
    with torch.no_grad():
        for path in models:
            net, meta = _cached_model(path)
            kind = meta.hyperparameters["kind"]
            if not out.classes:
                out.classes = list(meta.class_names)
                classifier = net if kind == "cnn" else net.classifier
                out.noisy_probs = _probs(classifier(noisy_mel))
            if kind == "cnn":
                enhanced, mask = noisy_mel, torch.ones_like(noisy_mel)
                probs = _probs(net(noisy_mel))
            else:
                enhanced, mask = net.enhance(noisy_mel)
                probs = _probs(net.classifier(enhanced))
            label = f"{MODEL_LABELS[kind]} · {Path(path).name}"
            labels[label] = labels.get(label, 0) + 1
            if labels[label] > 1:
                label = f"{label} ({labels[label]})"
            out.per_model[label] = {"mask": mask[0].numpy(), "enhanced": enhanced[0].numpy(), "probs": probs,
                                    "kind": kind, "path": str(path), "classes": list(meta.class_names)}
    return out


# ---------------------------------------------------------- classification
def classify_files(ctx, cfg: ClassifyConfig) -> list[dict[str, Any]]:
    """Every 4 s window of every file: predicted class and probabilities; a bad file gets an ``error`` row."""
    import torch

    net, meta = load_audio_model(cfg.model, ctx.device)
    classes = meta.class_names
    rows: list[dict[str, Any]] = []
    for k, path in enumerate(cfg.files):
        ctx.check()
        ctx.progress(k, len(cfg.files), f"classifying {Path(path).name}")
        try:
            batch: list[np.ndarray] = []
            index = 0

            def flush():
                nonlocal index
                with torch.no_grad():
                    probs = torch.softmax(net(features_of(np.stack(batch), ctx.device)), 1).cpu().numpy()
                for p in probs:
                    rows.append({"file": str(path), "segment": index, "start_s": index * SEGMENT_SAMPLES / SAMPLE_RATE,
                                 "label": classes[int(p.argmax())], "probs": dict(zip(classes, map(float, p)))})
                    index += 1
                batch.clear()

            for segment in iter_segments(path):
                ctx.check()
                batch.append(segment)
                if len(batch) == 64:
                    flush()
            if batch:
                flush()
        except AudioInputError as exc:
            rows.append({"file": str(path), "segment": None, "label": None, "probs": {}, "error": str(exc)})
            ctx.log(str(exc))
    ctx.progress(len(cfg.files), len(cfg.files), "done")
    return rows


# ------------------------------------------------------- one clip, headless
@dataclass
class EnhanceConfig:
    """Fig. 3 of one recording without the GUI: the features its centre view shows, as .npy files."""

    models: list[str]  # run folders or checkpoints (a CNN-FC and/or enhancers)
    file: str  # a recording (WAV/FLAC/OGG)
    segment: int = 0  # which 4 s window of the file
    noise: str = "pink"  # a noise kind, a noise recording, or "none"
    snr: float = 5.0  # dB
    seed: int = 0
    out: str | None = None  # folder for clean.npy, noisy.npy and <model>-mask.npy / <model>-enhanced.npy
    overwrite: bool = False


def read_segment(path: str | Path, segment: int = 0) -> np.ndarray:
    """The ``segment``-th 4 s window (16 kHz mono) of a recording, read window by window."""
    import itertools

    window = next(itertools.islice(iter_segments(path), int(segment), None), None)
    if window is None:
        raise AudioInputError(path, "no audio in the file" if segment == 0 else f"there is no segment {segment + 1}")
    return np.asarray(window, dtype=np.float32)


def write_features(path: str | Path, features: np.ndarray) -> Path:
    """Mel features ``(40, frames)`` as float32 .npy (the GUI's Export and ``audio enhance --out``)."""
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, np.asarray(features, dtype=np.float32))
    return p


def _file_stem(label: str) -> str:
    import re

    return re.sub(r"[^\w.-]+", "_", label).strip("_") or "model"


def enhance_clip(ctx, cfg: EnhanceConfig) -> dict[str, Any]:
    """:func:`inspect_clip` on one window of a file; with ``out``, its features as .npy files.

    Returns the class probabilities of the noisy input and of each model (after its
    enhancement), and the files written.  Existing files are not replaced unless ``overwrite``.
    """
    if not cfg.models:
        raise UserError("give at least one trained model")
    ctx.progress(0, 3, f"reading {Path(cfg.file).name}")
    wave = read_segment(cfg.file, cfg.segment)
    ctx.check()
    ctx.progress(1, 3, "mel features and masks")
    insp = inspect_clip(list(cfg.models), wave, cfg.noise, None if cfg.noise in ("", "none") else cfg.snr, cfg.seed)
    ctx.check()
    arrays: dict[str, np.ndarray] = {"clean": insp.clean_mel, "noisy": insp.noisy_mel}
    for label, d in insp.per_model.items():
        if d["kind"] in ENHANCER_KINDS:
            arrays[f"{_file_stem(label)}-mask"] = d["mask"]
            arrays[f"{_file_stem(label)}-enhanced"] = d["enhanced"]
    written: list[str] = []
    if cfg.out:
        folder = Path(cfg.out).expanduser()
        targets = {name: folder / f"{name}.npy" for name in arrays}
        existing = [str(t) for t in targets.values() if t.exists()]
        if existing and not cfg.overwrite:
            raise UserError(f"{existing[0]}: exists already; choose another folder or allow overwriting "
                            "(--overwrite)")
        ctx.progress(2, 3, f"writing {folder}")
        written = [str(write_features(targets[name], a)) for name, a in arrays.items()]
    ctx.progress(3, 3, "done")
    return {"file": str(cfg.file), "segment": int(cfg.segment), "noise": insp.noise, "snr_db": insp.snr_db,
            "classes": insp.classes, "noisy_probs": dict(zip(insp.classes, map(float, insp.noisy_probs))),
            "models": {label: {"kind": d["kind"], "path": d["path"],
                               "probs": dict(zip(d["classes"], map(float, d["probs"])))}
                       for label, d in insp.per_model.items()},
            "outputs": written}

