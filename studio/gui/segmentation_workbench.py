"""Building Segmentation workbench (paper 002, Qi & Zhao: the weight mechanism of U-Net skips).

Layout (DESIGN.md): inputs on the left, the image in the centre, curves and results
on the right.

* Left -- the dataset (a Massachusetts-layout folder or images/ + masks/, the
  generated sample "small" or "paper", or single images dropped here), the image
  list with each image's split and per-image metrics, and the problems found while
  loading (bad masks, unreadable files); the model (variant of Table I, α_i and β_i
  per skip level, batch-norm initialisation of Tables I/II, training preset,
  iterations, batch); Train, Retrain (fine-tune the current checkpoint or start
  from scratch, with the corrected masks added), Predict, Evaluate, Repeat runs and
  Stop; the correction box ("Add to training set", exports).
* Centre -- :class:`~studio.gui.mask_view.MaskView`: the image with the predicted
  mask (opacity, toggle), the comparison with the ground truth (true positives,
  false positives, false negatives), brush/eraser/undo to correct the mask.
* Right -- live curves (training loss, validation mIoU), the comparison table of
  the variants (mIoU, pixel accuracy, mean accuracy, parameters and GFLOPs at
  250 × 250 as Table I; parameters and GFLOPs are computed for every variant as soon
  as torch has loaded) and the box plot of mIoU over repeated runs (Figs. 4, 6, 9).

Every slow step is a job of the shared pool: opening a dataset and reading an image
(kind "task"), the complexity table, training, repeated runs (kind "train",
recorded as runs), prediction and evaluation.  The job functions are those of
``studio.segmentation.jobs`` (the CLI calls the same ones), or thin wrappers here
that call ``studio.segmentation.io``/``synthetic``/``models``.  Those modules are
imported inside functions only, so the window shows before torch is imported.

Corrected masks are written as PNG under the Studio home
(``segmentation/corrections/<dataset>/``), never over the dataset's own masks;
Retrain passes them to the training job as ``extra_samples``.

Run ``python -m studio.gui.segmentation_workbench [PATH…]`` to open just this workbench.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from studio.engine import Job, RunRecord, RunSpec
from studio.engine.registry import studio_home
from studio.gui.box_plot import BoxPlot
from studio.gui.jobs import Services
from studio.gui.live_curve import LiveCurvePlot
from studio.gui.mask_view import MaskView
from studio.gui.workbench import Workbench, breakable, preview_main

__all__ = ["SegmentationWorkbench", "load_dataset_job", "load_view_job", "main"]

PAPER = "Qi & Zhao (paper 002)"
SAMPLE_PRESETS = ("small", "paper")
TRAIN_PRESETS = ("quick", "paper")
CURVE_KEYS = ("train/loss", "val/miou")
LEVELS = 4  # skip concatenations of the residual U-Net (Fig. 2)
IMAGE_EXTENSIONS = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
IMAGE_FILTER = "Aerial images (*.tif *.tiff *.png *.jpg *.jpeg);;All files (*)"
#: Live metrics of the corrected mask are recomputed after each stroke up to this many pixels.
LIVE_METRICS_MAX_PIXELS = 4_000_000
ROLE_PATH = QtCore.Qt.ItemDataRole.UserRole
COL_NAME, COL_SPLIT, COL_MIOU, COL_ACC = range(4)
TABLE_COLUMNS = ("Variant", "mIoU", "Pixel acc.", "Mean acc.", "Params", "GFLOPs")


# ------------------------------------------------------------------------ job functions
def load_dataset_job(ctx, options: dict[str, Any]):
    """Open a dataset folder, or generate/reuse the sample preset (``options``: root | sample)."""
    from studio.segmentation import io, synthetic

    if options.get("sample"):
        ctx.progress(0, 1, f"preparing the {options['sample']} sample dataset")
        root = synthetic.sample_dataset(options["sample"],
                                        progress=lambda done, total: ctx.progress(done, total, "generating scenes"))
    else:
        root = options["root"]
    ctx.check()
    ctx.progress(0, 1, "reading the dataset")
    ds = io.load_dataset(root)
    ctx.progress(1, 1, "dataset read")
    return ds


def load_view_job(ctx, options: dict[str, Any]) -> dict[str, Any]:
    """Read one image for display and its ground-truth mask; a bad mask is a problem, not a failure."""
    from studio.segmentation import io

    image = io.read_image(options["image"])
    ctx.check()
    rgb = io.to_display_rgb(image)
    truth, problem = None, ""
    if options.get("mask"):
        try:
            truth = io.read_mask(options["mask"], shape=image.shape[:2])
        except io.SegInputError as exc:
            problem = str(exc)
    return {"image": options["image"], "rgb": rgb, "truth": truth, "problem": problem,
            "shape": tuple(image.shape), "dtype": str(image.dtype)}


def models_signature() -> str:
    """A digest of the model module's source: cached complexity counts are valid while it is unchanged."""
    import hashlib

    from studio.segmentation import models

    return hashlib.sha1(Path(models.__file__).read_bytes()).hexdigest()[:16]


def complexity_cache_path() -> Path:
    return studio_home() / "segmentation" / "complexity.json"


def checkpoint_info(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON sidecar of a checkpoint (run folder, ``model`` base path or ``.safetensors`` file), no torch.

    Raises OSError when it is missing and ValueError when it is not a segmentation model.
    """
    import json

    p = Path(path)
    if p.is_dir():
        p = p / "model"
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    sidecar = p.with_name(p.name + ".json")
    from studio.segmentation.models import MODEL_KIND

    data = json.loads(sidecar.read_text(encoding="utf-8"))
    if data.get("model_kind") != MODEL_KIND:
        raise ValueError(f"{sidecar}: a {data.get('model_kind')!r} checkpoint, not a building segmentation model")
    return data


# ------------------------------------------------------------------------ helpers
def is_curve_metric(name: str) -> bool:
    """Training loss and validation mIoU, also per repeated run (``run3/train/loss``)."""
    return name in CURVE_KEYS or name.endswith(tuple("/" + k for k in CURVE_KEYS))


def metric_of(metrics: dict[str, Any] | None, key: str) -> float | None:
    """``key`` of a metrics dict whether it is stored bare or as ``test/key`` / ``val/key``."""
    if not metrics:
        return None
    for k in (key, f"test/{key}", f"val/{key}"):
        v = metrics.get(k)
        if isinstance(v, (int, float)) and math.isfinite(float(v)):
            return float(v)
    return None


def variant_label(variant: str, bn_init: str | None = "normal", alphas=None, betas=None) -> str:
    """A row/box name: the variant, plus "BN 1" for constant batch-norm init (Table II, Fig. 6) and α/β when they
    differ from the variant's own (needs torch: called once it has loaded)."""
    parts = [variant]
    if bn_init == "constant":
        parts.append("BN 1")
    try:
        from studio.segmentation.models import default_weights

        own_a, own_b = default_weights(variant)
    except ValueError:
        own_a = own_b = None
    for sym, given, own in (("α", alphas, own_a), ("β", betas, own_b)):
        if given is not None and own is not None and [float(v) for v in given] != [float(v) for v in own]:
            parts.append(f"{sym} " + "/".join(f"{float(v):g}" for v in given))
    return " · ".join(parts)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _variant_weights(variant: str) -> tuple[float, float]:
    """The α and β a variant's name states (Table I): alpha0.1 → α = 0.1, beta0.1 → β = 0.1, else 1."""
    m = re.fullmatch(r"(alpha|beta)([0-9.]+)", variant)
    if not m:
        return 1.0, 1.0
    return (float(m.group(2)), 1.0) if m.group(1) == "alpha" else (1.0, float(m.group(2)))


def _pack(mask: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """A bool mask in 1 bit per pixel (151 predicted 1500² masks take 42 MB, not 340 MB)."""
    return np.packbits(mask, axis=None), mask.shape


def _unpack(packed: tuple[np.ndarray, tuple[int, int]]) -> np.ndarray:
    bits, shape = packed
    return np.unpackbits(bits, count=shape[0] * shape[1]).reshape(shape).astype(bool)


def _new_file(folder: Path, stem: str, suffix: str) -> Path:
    """A file name in ``folder`` that does not exist yet (``stem.png``, ``stem_2.png`` …)."""
    path, k = folder / f"{stem}{suffix}", 2
    while path.exists():
        path, k = folder / f"{stem}_{k}{suffix}", k + 1
    return path


def _is_image(path: str) -> bool:
    return os.path.isfile(path) and Path(path).suffix.lower() in IMAGE_EXTENSIONS


@dataclasses.dataclass
class Entry:
    """One image of the list: from the dataset (with its split and mask) or opened on its own."""

    path: str
    name: str
    split: str
    mask: str | None = None


# ------------------------------------------------------------------------ workbench
class SegmentationWorkbench(Workbench):
    key = "segmentation"
    title = "Building Segmentation"
    quiet_roles = ("view", "complexity")

    #: Compute every variant's parameters and GFLOPs once torch has loaded (tests turn it off).
    count_complexity = True
    #: Iterations and batch the "Quick" button sets (a CPU finishes them in minutes); tests shrink them.
    quick_settings: dict[str, int] = {"iters": 0, "batch": 16}

    def __init__(self, services: Services, parent: QtWidgets.QWidget | None = None):
        super().__init__(services, parent)
        self.dataset = None  # studio.segmentation.io.SegDataset
        self.dataset_root: str | None = None
        self.sample_preset: str | None = None
        self.entries: dict[str, Entry] = {}
        self.items: dict[str, QtWidgets.QTreeWidgetItem] = {}
        self.shown_path: str | None = None
        self.shown_problem = ""
        self.predictions: dict[str, tuple[np.ndarray, tuple[int, int]]] = {}  # path -> packed mask
        self.edited: set[str] = set()  # paths whose stored mask was corrected by hand
        self.image_metrics: dict[str, dict[str, float]] = {}
        self.extra_samples: list[tuple[str, str]] = []  # (image, corrected mask PNG)
        self.model_checkpoint: str | None = None
        self.model_variant: str | None = None
        self.model_run: RunRecord | None = None
        self.results: dict[str, dict[str, Any]] = {}  # variant -> metrics and run
        self.complexity: dict[str, tuple[int, float]] = {}  # variant -> Table I network's (params, GFLOPs)
        self._complexity_cache_read = False
        self.model_size: tuple[int, float] | None = None
        self.model_tag: str | None = None  # variant_label of the current model
        self.variants: tuple[str, ...] = ("baseline",)
        self.train_job: Job | None = None
        self.view_job: Job | None = None
        self.load_job: Job | None = None

        left = self._build_left()
        centre = self._build_centre()
        right = self._build_right()
        self.lay_out_panels(left, centre, right, sizes=(330, 640, 420))
        self.add_shortcuts((("Ctrl+T", self._train_clicked), ("F5", self._evaluate_clicked), ("Ctrl+.", self.stop)))
        services.bridge.metric.connect(self._on_metric)
        self._fill_table()
        self._update_model_label()
        self._update_corrections_label()
        self.show_initial_state()
        if services.is_torch_ready:
            QtCore.QTimer.singleShot(0, self.on_torch_ready)

    # =================================================================== building
    def _build_left(self) -> QtWidgets.QWidget:
        data_box = QtWidgets.QGroupBox("Dataset")
        dl = QtWidgets.QVBoxLayout(data_box)
        row = QtWidgets.QHBoxLayout()
        self.folder_button = QtWidgets.QPushButton("Folder…")
        self.folder_button.setToolTip("Open a dataset: Massachusetts layout (train/, val/, test/ with *_labels/ "
                                      "masks) or an images/ and a masks/ folder matched by file stem")
        self.folder_button.clicked.connect(self._open_folder_dialog)
        self.image_button = QtWidgets.QPushButton("Images…")
        self.image_button.setToolTip("Open aerial images without masks to segment (GeoTIFF/TIFF, PNG, JPEG)")
        self.image_button.clicked.connect(self._open_images_dialog)
        self.sample_combo = QtWidgets.QComboBox()
        self.sample_combo.addItems(SAMPLE_PRESETS)
        self.sample_combo.setToolTip("small: a few 500² scenes for quick work; paper: 137/4/10 scenes of 1500² "
                                     "at 1 m/px like the Massachusetts Buildings split (generated once, then cached)")
        self.sample_button = QtWidgets.QPushButton("Open sample")
        self.sample_button.setToolTip("Open the generated sample dataset of the chosen size")
        self.sample_button.clicked.connect(self.open_sample)
        row.addWidget(self.folder_button)
        row.addWidget(self.image_button)
        dl.addLayout(row)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Sample"))
        row.addWidget(self.sample_combo, 1)
        row.addWidget(self.sample_button)
        dl.addLayout(row)
        self.summary_label = QtWidgets.QLabel("No dataset. Open a folder, images or the sample.")
        self.summary_label.setWordWrap(True)
        dl.addWidget(self.summary_label)
        self.problems_label = QtWidgets.QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #f39c12;")
        self.problems_label.setVisible(False)
        self.problems_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        dl.addWidget(self.problems_label)
        filt = QtWidgets.QHBoxLayout()
        filt.addWidget(QtWidgets.QLabel("Show"))
        self.split_combo = QtWidgets.QComboBox()
        self.split_combo.addItem("all images", "")
        self.split_combo.currentIndexChanged.connect(self._apply_filter)
        filt.addWidget(self.split_combo, 1)
        dl.addLayout(filt)
        self.image_list = QtWidgets.QTreeWidget()
        self.image_list.setColumnCount(4)
        self.image_list.setHeaderLabels(["Image", "Split", "mIoU", "Acc."])
        self.image_list.setRootIsDecorated(False)
        self.image_list.setUniformRowHeights(True)
        self.image_list.setAlternatingRowColors(True)
        self.image_list.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.image_list.setMinimumHeight(150)
        self.image_list.setToolTip("Click an image to show it; select several and press Predict to segment them. "
                                   "mIoU and pixel accuracy against the image's mask, after Predict or Evaluate.")
        header = self.image_list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for col in (COL_SPLIT, COL_MIOU, COL_ACC):
            header.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.image_list.currentItemChanged.connect(self._current_item_changed)
        self.image_list.itemSelectionChanged.connect(self.update_buttons)
        dl.addWidget(self.image_list, 1)

        model_box = QtWidgets.QGroupBox("Model (Table I)")
        ml = QtWidgets.QGridLayout(model_box)
        self.variant_combo = QtWidgets.QComboBox()
        self.variant_combo.addItem("baseline")
        self.variant_combo.setToolTip("baseline (α = β = 1), α = 0.1, α = 0.5, β = 0.1, dynamic weight, gating "
                                      "(eqs. 2–3), fused U-Net (Fig. 8)")
        self.variant_combo.currentTextChanged.connect(self._variant_changed)
        ml.addWidget(QtWidgets.QLabel("Variant"), 0, 0)
        ml.addWidget(self.variant_combo, 0, 1, 1, 4)
        self.custom_weights_check = QtWidgets.QCheckBox("Own α/β per level")
        self.custom_weights_check.setToolTip("Unticked: the variant's own weights. Ticked: α_i multiplies the "
                                             "series-connection feature, β_i the parallel one, at skip level i = 1 "
                                             "(full resolution) … 4 (eqs. 4, 7, 10)")
        self.custom_weights_check.toggled.connect(self._weights_toggled)
        ml.addWidget(self.custom_weights_check, 1, 0, 1, 5)
        self.alpha_spins: list[QtWidgets.QDoubleSpinBox] = []
        self.beta_spins: list[QtWidgets.QDoubleSpinBox] = []
        for r, (name, spins) in enumerate((("α", self.alpha_spins), ("β", self.beta_spins))):
            ml.addWidget(QtWidgets.QLabel(name), 2 + r, 0)
            for i in range(LEVELS):
                s = QtWidgets.QDoubleSpinBox()
                s.setDecimals(2)
                s.setRange(0.0, 10.0)
                s.setSingleStep(0.1)
                s.setValue(1.0)
                s.setButtonSymbols(QtWidgets.QAbstractSpinBox.ButtonSymbols.NoButtons)
                s.setMinimumWidth(42)  # "0.50" fits; the default hint makes room for "10.00" and buttons
                s.setToolTip(f"{name}_{i + 1}: weight at skip level {i + 1}")
                s.setEnabled(False)
                spins.append(s)
                ml.addWidget(s, 2 + r, 1 + i)
        self.bn_combo = QtWidgets.QComboBox()
        self.bn_combo.addItem("N(0, 1)", "normal")
        self.bn_combo.addItem("constant 1", "constant")
        self.bn_combo.setToolTip("Initial batch-norm weights: N(0, 1) as Table I or constant 1 as Table II")
        ml.addWidget(QtWidgets.QLabel("BN init"), 4, 0)
        ml.addWidget(self.bn_combo, 4, 1, 1, 2)
        self.preset_combo = QtWidgets.QComboBox()
        self.preset_combo.addItems(TRAIN_PRESETS)
        self.preset_combo.setToolTip("quick: a schedule a CPU finishes in about 10 minutes; paper: the paper's "
                                     "(SGD momentum 0.9, lr 1e-3, weight decay 5e-4, poly 0.9)")
        ml.addWidget(QtWidgets.QLabel("Preset"), 4, 3)
        ml.addWidget(self.preset_combo, 4, 4)
        self.iters_spin = QtWidgets.QSpinBox()
        self.iters_spin.setRange(0, 1_000_000)
        self.iters_spin.setSpecialValueText("preset")
        self.iters_spin.setToolTip("Training iterations (0: the preset's)")
        self.batch_spin = QtWidgets.QSpinBox()
        self.batch_spin.setRange(1, 256)
        self.batch_spin.setValue(16)
        self.batch_spin.setToolTip("Batch size (paper: 16 tiles of 125 × 125 cropped from 250 × 250)")
        ml.addWidget(QtWidgets.QLabel("Iterations"), 5, 0)
        ml.addWidget(self.iters_spin, 5, 1, 1, 2)
        ml.addWidget(QtWidgets.QLabel("Batch"), 5, 3)
        ml.addWidget(self.batch_spin, 5, 4)
        self.quick_button = QtWidgets.QPushButton("Quick")
        self.quick_button.setToolTip("The quick preset: its iterations and batch 16")
        self.quick_button.clicked.connect(self.apply_quick_preset)
        ml.addWidget(self.quick_button, 6, 0, 1, 2)

        run_box = QtWidgets.QGroupBox("Run")
        rl = QtWidgets.QGridLayout(run_box)
        self.train_button = QtWidgets.QPushButton("Train")
        self.train_button.setToolTip("Train the chosen variant on the dataset's training split (Ctrl+T)")
        self.train_button.clicked.connect(self._train_clicked)
        self.retrain_button = QtWidgets.QPushButton("Retrain")
        self.retrain_button.setToolTip("Train again with the corrected masks added to the training set: fine-tune "
                                       "the current model's checkpoint, or start from scratch")
        self.retrain_button.clicked.connect(lambda: self.retrain(self.retrain_combo.currentData() == "checkpoint"))
        self.retrain_combo = QtWidgets.QComboBox()
        self.retrain_combo.addItem("fine-tune", "checkpoint")
        self.retrain_combo.addItem("from scratch", "scratch")
        self.retrain_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.retrain_combo.setMinimumContentsLength(7)
        self.retrain_combo.currentIndexChanged.connect(lambda _i: self.update_buttons())
        self.predict_button = QtWidgets.QPushButton("Predict")
        self.predict_button.setToolTip("Segment the selected images (or the shown one) with the current model, "
                                       "tile by tile")
        self.predict_button.clicked.connect(lambda: self.predict())
        self.evaluate_button = QtWidgets.QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Metrics of the current model on the dataset's test split, per image and "
                                        "over the split (F5)")
        self.evaluate_button.clicked.connect(self._evaluate_clicked)
        self.repeat_button = QtWidgets.QPushButton("Repeat runs")
        self.repeat_button.setToolTip("Train the chosen variant several times with different seeds; the test mIoU "
                                      "of each run goes into the box plot (the paper trains every model 10 times)")
        self.repeat_button.clicked.connect(lambda: self.repeat_runs())
        self.runs_spin = QtWidgets.QSpinBox()
        self.runs_spin.setRange(2, 100)
        self.runs_spin.setValue(10)
        self.runs_spin.setSuffix(" runs")
        self.runs_spin.setToolTip("How many times Repeat runs trains the variant (the paper: 10)")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("Cancel this workbench's running jobs (a training keeps its last checkpoint) "
                                    "(Ctrl+.)")
        self.stop_button.clicked.connect(self.stop)
        for r, pair in enumerate(((self.train_button, self.predict_button),
                                  (self.retrain_button, self.retrain_combo),
                                  (self.evaluate_button, self.stop_button),
                                  (self.repeat_button, self.runs_spin))):
            for c, w in enumerate(pair):
                rl.addWidget(w, r, c)
        self.model_label = QtWidgets.QLabel()
        self.model_label.setWordWrap(True)
        rl.addWidget(self.model_label, 4, 0, 1, 2)
        rl.addWidget(self.status_widgets(), 5, 0, 1, 2)

        fix_box = QtWidgets.QGroupBox("Correction")
        fl = QtWidgets.QGridLayout(fix_box)
        self.add_button = QtWidgets.QPushButton("Add to training set")
        self.add_button.setToolTip("Save the shown (corrected) mask as a PNG in the Studio's data folder (never over "
                                   "the dataset's masks); Retrain then trains on it too")
        self.add_button.clicked.connect(lambda: self.add_to_training_set())
        self.export_png_button = QtWidgets.QPushButton("Mask PNG…")
        self.export_png_button.setToolTip("Export the shown mask as a PNG (0/255)")
        self.export_png_button.clicked.connect(lambda: self._export_dialog("png"))
        self.export_tif_button = QtWidgets.QPushButton("GeoTIFF…")
        self.export_tif_button.setToolTip("Export the shown mask as a GeoTIFF with the image's georeferencing tags "
                                          "when it had any")
        self.export_tif_button.clicked.connect(lambda: self._export_dialog("geotiff"))
        fl.addWidget(self.add_button, 0, 0, 1, 2)
        fl.addWidget(self.export_png_button, 1, 0)
        fl.addWidget(self.export_tif_button, 1, 1)
        self.corrections_label = QtWidgets.QLabel()
        self.corrections_label.setWordWrap(True)
        fl.addWidget(self.corrections_label, 2, 0, 1, 2)
        self.clear_corrections_button = QtWidgets.QPushButton("Clear corrections")
        self.clear_corrections_button.setToolTip("Take the corrected masks out of the training set (their PNG files "
                                                 "are kept)")
        self.clear_corrections_button.clicked.connect(lambda: self.clear_corrections())
        fl.addWidget(self.clear_corrections_button, 3, 0, 1, 2)

        panel = QtWidgets.QWidget()
        pl = QtWidgets.QVBoxLayout(panel)
        pl.setContentsMargins(0, 0, 4, 0)
        pl.addWidget(data_box, 1)
        for w in (model_box, run_box, fix_box):
            pl.addWidget(w)
        self.left_panel = self.scroll_panel(panel, 230)
        return self.left_panel

    def _build_centre(self) -> QtWidgets.QWidget:
        w = QtWidgets.QWidget()
        cl = QtWidgets.QVBoxLayout(w)
        cl.setContentsMargins(0, 0, 0, 0)
        self.title_label = QtWidgets.QLabel("No image. Open a dataset, images or the sample.")
        self.title_label.setWordWrap(True)
        self.title_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        cl.addWidget(self.title_label)
        self.view = MaskView(shortcut_parent=self)
        self.view.mask_edited.connect(self._mask_edited)
        cl.addWidget(self.view, 1)
        return w

    def _build_right(self) -> QtWidgets.QWidget:
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        self.curve = LiveCurvePlot(title="Training loss and validation mIoU")
        self.curve.setMinimumHeight(170)
        split.addWidget(self.curve)
        table_box = QtWidgets.QWidget()
        tl = QtWidgets.QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        caption = QtWidgets.QLabel(f"<b>Variants</b> (test split; params and GFLOPs at 250 × 250 as Table I of "
                                   f"{PAPER})")
        caption.setWordWrap(True)
        tl.addWidget(caption)
        self.table = QtWidgets.QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(120)
        tl.addWidget(self.table, 1)
        split.addWidget(table_box)
        self.box_plot = BoxPlot(title="mIoU over repeated runs (Figs. 4, 6, 9)")
        self.box_plot.setMinimumHeight(150)
        split.addWidget(self.box_plot)
        split.setSizes([260, 220, 220])
        self.right_panel = self.scroll_panel(split, 230)
        return self.right_panel

    # ================================================================ Workbench hooks
    def on_torch_ready(self) -> None:
        from studio.segmentation.models import VARIANTS

        if tuple(VARIANTS) != self.variants:
            current = self.variant_combo.currentText()
            self.variants = tuple(VARIANTS)
            self.variant_combo.blockSignals(True)
            self.variant_combo.clear()
            self.variant_combo.addItems(self.variants)
            self.variant_combo.setCurrentText(current if current in self.variants else self.variants[0])
            self.variant_combo.blockSignals(False)
            self._fill_table()
        if not self.custom_weights_check.isChecked():
            self._show_variant_weights(self.variant_combo.currentText())
        self._describe_presets()
        super().on_torch_ready()
        if self.isVisible():
            self.count_variants()

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        if self.services.is_torch_ready:
            QtCore.QTimer.singleShot(0, self.count_variants)

    def count_variants(self) -> Job | None:
        """Fill the table's parameters and GFLOPs of every variant's Table I network, before any training.

        Counted once per install (a forward pass of each network at 250 × 250) and cached under the
        Studio home with a digest of the model module; one job per variant, so the table fills as they end.
        """
        if not self.count_complexity or not self.services.is_torch_ready or self.job_running("complexity"):
            return None
        if not self._complexity_cache_read:
            self._complexity_cache_read = True
            self.complexity.update(self._read_complexity_cache())
            self._fill_table()
        missing = [v for v in self.variants if v not in self.complexity]
        if not missing:
            return None
        from studio.segmentation.jobs import complexity_job

        variant = missing[0]
        return self.submit(complexity_job, variant, name=f"Segmentation: parameters and GFLOPs of {variant}",
                           kind="task", role="complexity",
                           on_done=lambda j, v=variant: self._complexity_done(j, v))

    def _read_complexity_cache(self) -> dict[str, tuple[int, float]]:
        import json

        try:
            data = json.loads(complexity_cache_path().read_text(encoding="utf-8"))
            rows = data.get(models_signature(), {})
            return {v: (int(p), float(g)) for v, (p, g) in rows.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def _write_complexity_cache(self) -> None:
        import json

        path = complexity_cache_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({models_signature(): {v: list(c) for v, c in self.complexity.items()}}),
                           encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a cache only: counted again next time

    def open_paths(self, paths: list[str]) -> None:
        folders = [p for p in paths if os.path.isdir(p)]
        images = [p for p in paths if _is_image(p)]
        other = [p for p in paths if p not in folders and p not in images]
        if folders:
            self.open_dataset(folders[0])
        if images:
            self.open_images(images)
        notes = []
        if len(folders) > 1:
            notes.append(f"Several folders given; opened {folders[0]} only.")
        if other:
            notes.append("Not opened (neither a dataset folder nor a TIFF/PNG/JPEG image): " + ", ".join(other))
        if notes:
            self.show_message(" ".join(notes), "warning")

    def open_dialog(self) -> None:
        menu = QtWidgets.QMenu(self)
        menu.addAction("Dataset folder…", self._open_folder_dialog)
        menu.addAction("Images to segment…", self._open_images_dialog)
        menu.exec(QtGui.QCursor.pos())

    def open_sample(self) -> None:
        preset = self.sample_combo.currentText()
        self._load({"sample": preset}, label=f"the {preset} sample dataset")

    def export(self) -> None:
        menu = QtWidgets.QMenu(self)
        has_mask = self.view.has_mask()
        menu.addAction("Mask as PNG…", lambda: self._export_dialog("png")).setEnabled(has_mask)
        menu.addAction("Mask as GeoTIFF…", lambda: self._export_dialog("geotiff")).setEnabled(has_mask)
        menu.addAction("Image with overlay as PNG…", self._export_overlay_dialog).setEnabled(
            self.view.image() is not None)
        menu.addAction("Curves as PNG…", lambda: self._export_plot(self.curve.export_png, "curves.png"))
        menu.addAction("Box plot as PNG…", lambda: self._export_plot(self.box_plot.export_png, "box_plot.png"))
        menu.exec(QtGui.QCursor.pos())

    def reopen_run(self, run: RunRecord) -> None:
        """Load a run's model, settings, curves and test metrics."""
        if run.workbench != self.key:
            self.show_message(f"Run #{run.id} belongs to the {run.workbench} workbench.", "warning")
            return
        config = run.config or {}
        train_cfg = config.get("train", config)  # repeated runs store {"train": ..., "runs": n}
        self.restore_config(train_cfg)
        self.curve.clear()
        for name in self.services.registry.metric_names(run.id):
            if is_curve_metric(name):
                s = self.services.registry.metric_series(run.id, name)
                if s["step"]:
                    self.curve.set_series(name, s["step"], s["value"], s["epoch"], s["wall"])
        self.curve.flush()
        variant = train_cfg.get("variant") or run.model
        label = variant_label(variant, train_cfg.get("bn_init"), train_cfg.get("alphas"), train_cfg.get("betas"))
        note = "; it has no checkpoint"
        if run.checkpoint:
            if not self._set_model(run.checkpoint, None, run):
                return
            variant, label, note = self.model_variant or variant, self.model_tag or label, ""
        if run.final_metrics and metric_of(run.final_metrics, "miou") is not None:
            self._add_result(label, variant, run.final_metrics, run, self.model_size if run.checkpoint else None)
        self._load_run_files(Path(run.dir), label)
        self.show_message(f"Reopened run #{run.id} ({run.model}, {run.status}){note}.", "info")

    def _load_run_files(self, folder: Path, label: str) -> None:
        """A run's per-image test metrics (evaluation.json) and repeated-run mIoUs (repeats.json)."""
        import json

        for name in ("evaluation.json", "repeats.json"):
            path = folder / name
            if not path.is_file():
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.show_message(f"{path}: cannot read it ({exc})", "warning")
                continue
            if name == "evaluation.json":
                self._set_image_metrics(data.get("per_image", []))
            else:
                values = [metric_of(r, "miou") for r in data.get("runs", [])]
                self.box_plot.set_group(label, [v for v in values if v is not None])

    def _set_image_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Per-image metrics rows (``name`` and/or ``image`` plus metric keys) onto the list."""
        by_path = {os.path.abspath(p): p for p in self.entries}
        by_name: dict[str, str] = {}
        for p, e in self.entries.items():
            if e.split == "test" or e.name not in by_name:
                by_name[e.name] = p
        for row in rows:
            path = by_path.get(os.path.abspath(row["image"])) if row.get("image") else None
            path = path or by_name.get(row.get("name", ""))
            if path is not None and path not in self.edited:
                self.image_metrics[path] = {k: v for k, v in row.items() if k not in ("name", "image")}
                self._refresh_item(path)
        self._update_title()

    # ===================================================================== dataset
    def _open_folder_dialog(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open segmentation dataset", self._start_folder())
        if path:
            self.open_dataset(path)

    def _open_images_dialog(self) -> None:
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Aerial images to segment", self._start_folder(),
                                                          IMAGE_FILTER)
        if paths:
            self.open_images(paths)

    def open_dataset(self, root: str) -> Job:
        root = os.path.abspath(os.path.expanduser(root))
        self._remember_folder(root)
        return self._load({"root": root}, label=Path(root).name)

    def _load(self, options: dict[str, Any], *, label: str) -> Job:
        if self.load_job is not None and self.load_job.status in ("queued", "running"):
            self.load_job.cancel()
        self.show_message("")
        job = self.submit(load_dataset_job, options, name=f"Open segmentation dataset: {label}", kind="task",
                          role="load", on_done=lambda j, o=options: self._dataset_loaded(j, o))
        self.load_job = job
        self.set_status(f"Opening {label}…")
        return job

    def _dataset_loaded(self, job: Job, options: dict[str, Any]) -> None:
        if job is not self.load_job:
            return  # superseded by a later load
        ds = job.result
        self.dataset = ds
        self.dataset_root = str(ds.root)
        self.sample_preset = options.get("sample")
        loose = [e for e in self.entries.values() if e.split == "opened"]
        self.entries = {}
        for split, samples in ds.splits.items():
            for s in samples:
                path = str(s.image)
                self.entries[path] = Entry(path, s.name, split, None if s.mask is None else str(s.mask))
        for e in loose:
            self.entries.setdefault(e.path, e)
        self.predictions = {p: v for p, v in self.predictions.items() if p in self.entries}
        self.image_metrics = {p: v for p, v in self.image_metrics.items() if p in self.entries}
        self._rebuild_list()
        kind = f"Sample ({self.sample_preset}, generated)" if self.sample_preset else "Folder"
        counts = " · ".join(f"{split} {len(samples)}" for split, samples in ds.splits.items())
        self.summary_label.setText(f"{kind}: <b>{breakable(Path(ds.root).name)}</b><br>{counts}"
                                   f"<br><small>{breakable(ds.summary())}</small>")
        self.summary_label.setToolTip(str(ds.root))
        self._show_problems(list(ds.problems) + self._restore_corrections())
        self.set_status(f"Opened {ds.root}.")
        if self.shown_path not in self.items:
            first = next((self.items[p] for p, e in self.entries.items() if e.split in ("test", "val")), None)
            first = first or (self.image_list.topLevelItem(0) if self.image_list.topLevelItemCount() else None)
            if first is not None:
                self.image_list.setCurrentItem(first)
        self.update_buttons()

    def _show_problems(self, problems: list[str]) -> None:
        self.problems_label.setVisible(bool(problems))
        if problems:
            shown = problems[:6]
            more = f"<br>… and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
            self.problems_label.setText(f"{len(problems)} problem(s), skipped:<br>"
                                        + "<br>".join(breakable(p) for p in shown) + more)
            self.problems_label.setToolTip("\n".join(problems))

    def open_images(self, paths: list[str]) -> list[str]:
        """Add single images (no mask) to the list to segment them; shows the first."""
        added = []
        for p in paths:
            p = os.path.abspath(p)
            if p not in self.entries:
                self.entries[p] = Entry(p, Path(p).stem, "opened")
                added.append(p)
        if paths:
            self._remember_folder(paths[0])
        self._rebuild_list()
        target = os.path.abspath(paths[0]) if paths else None
        if target in self.items:
            self.image_list.setCurrentItem(self.items[target])
        self.update_buttons()
        return added

    # ================================================================ image list
    def _rebuild_list(self) -> None:
        self.image_list.blockSignals(True)
        self.image_list.clear()
        self.items = {}
        for path, e in self.entries.items():
            item = QtWidgets.QTreeWidgetItem([e.name, e.split, "", ""])
            item.setData(COL_NAME, ROLE_PATH, path)
            item.setToolTip(COL_NAME, path + ("" if e.mask else "\n(no ground-truth mask)"))
            self.image_list.addTopLevelItem(item)
            self.items[path] = item
            self._refresh_item(path)
        self.image_list.blockSignals(False)
        splits = sorted({e.split for e in self.entries.values()}, key=lambda s: ("train", "val", "test").index(s)
                        if s in ("train", "val", "test") else 9)
        current = self.split_combo.currentData()
        self.split_combo.blockSignals(True)
        self.split_combo.clear()
        self.split_combo.addItem("all images", "")
        for s in splits:
            self.split_combo.addItem(s, s)
        i = self.split_combo.findData(current)
        self.split_combo.setCurrentIndex(max(i, 0))
        self.split_combo.blockSignals(False)
        self._apply_filter()
        if self.shown_path in self.items:
            self.image_list.setCurrentItem(self.items[self.shown_path])

    def _refresh_item(self, path: str) -> None:
        item = self.items.get(path)
        if item is None:
            return
        m = self.image_metrics.get(path)
        item.setText(COL_MIOU, "" if m is None else f"{metric_of(m, 'miou') or 0:.3f}")
        item.setText(COL_ACC, "" if m is None else f"{metric_of(m, 'pixel_acc') or 0:.3f}")
        edited = " ✎" if path in self.edited else ""
        item.setText(COL_NAME, self.entries[path].name + edited)

    def _apply_filter(self, *_args) -> None:
        split = self.split_combo.currentData() or ""
        for path, item in self.items.items():
            item.setHidden(bool(split) and self.entries[path].split != split)

    def _current_item_changed(self, current, _previous=None) -> None:
        if current is not None:
            self.show_image(current.data(COL_NAME, ROLE_PATH))

    def selected_paths(self) -> list[str]:
        return [it.data(COL_NAME, ROLE_PATH) for it in self.image_list.selectedItems() if not it.isHidden()]

    # ================================================================ image view
    def show_image(self, path: str) -> Job | None:
        """Read ``path`` (and its mask) in a job, then show it with its stored prediction."""
        entry = self.entries.get(path)
        if entry is None:
            return None
        self._store_shown_mask()
        if self.view_job is not None and self.view_job.status in ("queued", "running"):
            self.view_job.cancel()
        self.title_label.setText(f"Reading {breakable(Path(path).name)}…")
        job = self.submit(load_view_job, {"image": path, "mask": entry.mask}, name=f"Read {Path(path).name}",
                          kind="task", role="view", on_done=self._view_loaded)
        self.view_job = job
        return job

    def _view_loaded(self, job: Job) -> None:
        if job is not self.view_job:
            return
        r = job.result
        path = r["image"]
        self.shown_path = path
        self.shown_problem = r["problem"]
        self.view.set_image(r["rgb"])
        if r["truth"] is not None:
            self.view.set_truth(r["truth"])
        if path in self.predictions:
            self.view.set_mask(_unpack(self.predictions[path]))
            if r["truth"] is not None:
                self.view.set_mode("compare")
        elif r["truth"] is not None:
            self.view.set_mode("truth")  # nothing predicted yet: show what the buildings are
        if r["problem"]:
            self.show_message(r["problem"], "warning")
        self._update_title()
        self.update_buttons()

    def _update_title(self) -> None:
        path = self.shown_path
        if path is None:
            return
        h, w = self.view.image_shape()
        e = self.entries.get(path)
        parts = [f"<b>{breakable(Path(path).name)}</b> · {w} × {h} px"]
        if e is not None:
            parts.append(e.split)
        if self.view.stride > 1:
            parts.append(f"drawn at 1/{self.view.stride}")
        if self.view.truth() is None:
            parts.append("no ground truth" + (" (mask unusable)" if self.shown_problem else ""))
        m = self.image_metrics.get(path)
        if m is not None:
            corrected = " (corrected mask)" if path in self.edited else ""
            parts.append(f"mIoU {metric_of(m, 'miou') or 0:.3f}, IoU building {metric_of(m, 'iou_building') or 0:.3f}"
                         f", pixel acc. {_pct(metric_of(m, 'pixel_acc'))}, mean acc. "
                         f"{_pct(metric_of(m, 'mean_acc'))}{corrected}")
        elif path not in self.predictions:
            parts.append("not segmented yet")
        self.title_label.setText(" · ".join(parts))

    def _store_shown_mask(self) -> None:
        """Keep the shown image's corrected mask when another image is shown."""
        if self.shown_path is not None and self.shown_path in self.edited:
            mask = self.view.mask()
            if mask is not None:
                self.predictions[self.shown_path] = _pack(mask)

    def _mask_edited(self, mask: np.ndarray) -> None:
        path = self.shown_path
        if path is None:
            return
        self.edited.add(path)
        truth = self.view.truth()
        if truth is not None and mask.size <= LIVE_METRICS_MAX_PIXELS:
            from studio.segmentation.metrics import confusion_matrix, segmentation_metrics

            self.image_metrics[path] = segmentation_metrics(confusion_matrix(mask, truth))
        self._refresh_item(path)
        self._update_title()
        self.update_buttons()

    # =================================================================== model
    def _variant_changed(self, variant: str) -> None:
        if not self.custom_weights_check.isChecked():
            self._show_variant_weights(variant)

    def _show_variant_weights(self, variant: str) -> None:
        """The variant's own α_i/β_i (from the model module once torch is loaded, else from its name)."""
        alphas, betas = [_variant_weights(variant)[0]] * LEVELS, [_variant_weights(variant)[1]] * LEVELS
        if self.services.is_torch_ready:
            from studio.segmentation.models import default_weights

            try:
                alphas, betas = default_weights(variant)
            except ValueError:
                pass
        for s, v in zip(self.alpha_spins, alphas):
            s.setValue(float(v))
        for s, v in zip(self.beta_spins, betas):
            s.setValue(float(v))

    def _weights_toggled(self, on: bool) -> None:
        for s in self.alpha_spins + self.beta_spins:
            s.setEnabled(on)
        if not on:
            self._show_variant_weights(self.variant_combo.currentText())

    def _describe_presets(self) -> None:
        """Tool tips with what each training preset means (``studio.segmentation.jobs.PRESETS``)."""
        from studio.segmentation import jobs

        presets = getattr(jobs, "PRESETS", {})
        lines = [f"{name}: {p.get('iters', '?'):,} iterations, lr {p.get('lr', '?')}, base width "
                 f"{p.get('base_width', '?')}" for name, p in presets.items()]
        if lines:
            self.preset_combo.setToolTip("\n".join(["Training preset (SGD momentum 0.9, weight decay 5e-4, poly 0.9):"]
                                                   + lines))
            self.iters_spin.setToolTip("Training iterations (preset: the preset's)\n" + "\n".join(lines))

    def apply_quick_preset(self) -> None:
        self.preset_combo.setCurrentText("quick")
        self.iters_spin.setValue(int(self.quick_settings.get("iters", 0)))
        self.batch_spin.setValue(int(self.quick_settings.get("batch", 16)))

    def train_config(self, *, init_checkpoint: str | None = None, extra: bool = False, seed: int = 0):
        """The :class:`studio.segmentation.jobs.SegTrainConfig` the controls describe."""
        from studio.segmentation.jobs import SegTrainConfig

        custom = self.custom_weights_check.isChecked()
        return SegTrainConfig(
            data=None if self.sample_preset else self.dataset_root,
            sample_preset=self.sample_preset or "small",
            variant=self.variant_combo.currentText(),
            alphas=[s.value() for s in self.alpha_spins] if custom else None,
            betas=[s.value() for s in self.beta_spins] if custom else None,
            bn_init=self.bn_combo.currentData(),
            preset=self.preset_combo.currentText(),
            iters=self.iters_spin.value() or None,
            batch=self.batch_spin.value(),
            init_checkpoint=init_checkpoint,
            extra_samples=[tuple(s) for s in self.extra_samples] if extra else [],
            seed=seed,
        )

    def restore_config(self, config: dict[str, Any]) -> None:
        """Set the controls from a SegTrainConfig dict (a run's config)."""
        variant = config.get("variant")
        if variant:
            if self.variant_combo.findText(variant) < 0:
                self.variant_combo.addItem(variant)
            self.variant_combo.setCurrentText(variant)
        alphas, betas = config.get("alphas"), config.get("betas")
        self.custom_weights_check.setChecked(bool(alphas or betas))
        for spins, values in ((self.alpha_spins, alphas), (self.beta_spins, betas)):
            for s, v in zip(spins, values or []):
                s.setValue(float(v))
        i = self.bn_combo.findData(config.get("bn_init"))
        if i >= 0:
            self.bn_combo.setCurrentIndex(i)
        if config.get("preset") in TRAIN_PRESETS:
            self.preset_combo.setCurrentText(config["preset"])
        self.iters_spin.setValue(int(config.get("iters") or 0))
        if config.get("batch"):
            self.batch_spin.setValue(int(config["batch"]))

    def _ready_to_train(self) -> bool:
        if not self.services.is_torch_ready:
            self.show_message("Torch is still loading; try again in a moment.", "warning")
            return False
        if self.dataset is None:
            self.show_message("Open a dataset first (a folder or the sample).", "warning")
            return False
        if self.job_running("train"):
            self.show_message("A training is already running; Stop it first.", "warning")
            return False
        return True

    def _train_clicked(self) -> None:
        if self.train_button.isEnabled():
            self.train()

    def train(self, *, init_checkpoint: str | None = None, extra: bool = False,
              parent_id: int | None = None) -> Job | None:
        """Train the chosen variant (a new run); ``extra`` adds the corrected masks."""
        if not self._ready_to_train():
            return None
        from studio.segmentation.jobs import train_segmentation

        cfg = self.train_config(init_checkpoint=init_checkpoint, extra=extra)
        self.show_message("")
        self.curve.clear()
        what = "Fine-tune" if init_checkpoint else "Train"
        extra_note = f" + {len(cfg.extra_samples)} corrected" if cfg.extra_samples else ""
        job = self.submit(train_segmentation, cfg, name=f"{what} segmentation {cfg.variant}{extra_note}",
                          kind="train", role="train", on_done=lambda j, c=cfg: self._training_done(j, c),
                          run=RunSpec(self.key, cfg.variant, cfg.to_dict(), parent_id=parent_id))
        self.train_job = job
        run = f" as run #{job.run.id}" if job.run is not None else ""
        self.set_status(f"{what}ing {cfg.variant} on {job.device}{run}…")
        return job

    def retrain(self, from_checkpoint: bool = True) -> Job | None:
        """Train again with the corrected masks (``extra_samples``): fine-tune the current model or from scratch."""
        parent = self.model_run.id if self.model_run is not None else None
        init = None
        if from_checkpoint:
            if self.model_checkpoint is None:
                self.show_message("There is no current model to fine-tune; train one first.", "warning")
                return None
            if self.model_variant and self.variant_combo.findText(self.model_variant) >= 0:
                self.variant_combo.setCurrentText(self.model_variant)
            init = self.model_checkpoint
        return self.train(init_checkpoint=init, extra=True, parent_id=parent)

    def _training_done(self, job: Job, cfg) -> None:
        result = job.result
        run = job.run
        checkpoint = result.checkpoint or (run.checkpoint if run is not None else None)
        size = (int(result.params), float(result.gflops)) if result.params else None
        label = variant_label(result.variant, cfg.bn_init, cfg.alphas, cfg.betas)
        if not checkpoint or not self._set_model(checkpoint, result.variant, run):
            self._add_result(label, result.variant, result.metrics, run, size)
            if not checkpoint:
                self.show_message("The training finished without a checkpoint; the model cannot be used.", "error")
            return
        self._add_result(self.model_tag or label, result.variant, result.metrics, run, size)
        self._set_image_metrics(getattr(result, "per_image", []) or [])
        rid = f"Run #{run.id}" if run is not None else "Training"
        self.set_status(f"{rid} done in {job.elapsed():.1f} s on {job.device}: mIoU "
                        f"{metric_of(result.metrics, 'miou') or float('nan'):.3f}, pixel acc. "
                        f"{_pct(metric_of(result.metrics, 'pixel_acc'))}.")
        if self.shown_path is not None and self.shown_path not in self.edited:
            self.predict([self.shown_path])

    def _set_model(self, checkpoint: str, variant: str | None, run: RunRecord | None) -> bool:
        """Make ``checkpoint`` the current model (after checking its description); False if it cannot be used."""
        try:
            info = checkpoint_info(checkpoint)
        except (OSError, ValueError) as exc:
            self.show_message(f"Cannot use the checkpoint {checkpoint}: {exc}", "error")
            return False
        hp, extra = info.get("hyperparameters") or {}, info.get("extra") or {}
        self.model_checkpoint = str(checkpoint)
        self.model_variant = hp.get("variant") or variant
        self.model_size = (int(extra["params"]), float(extra["gflops"])) if extra.get("params") else None
        self.model_tag = variant_label(self.model_variant or "?", hp.get("bn_init"), hp.get("alphas"),
                                       hp.get("betas")) if self.model_variant else None
        self.model_run = run
        # Predictions of an earlier model no longer describe this one; hand corrections stay.
        self.predictions = {p: v for p, v in self.predictions.items() if p in self.edited}
        self.image_metrics = {p: v for p, v in self.image_metrics.items() if p in self.edited}
        for p in self.items:
            self._refresh_item(p)
        self._update_model_label()
        self.update_buttons()
        return True

    def _update_model_label(self) -> None:
        if self.model_checkpoint is None:
            self.model_label.setText("<b>Model:</b> none (untrained) — train one, or reopen a run.")
            self.model_label.setToolTip("")
            return
        run = f"run #{self.model_run.id}" if self.model_run is not None else Path(self.model_checkpoint).name
        parent = (f" (from #{self.model_run.parent_id})" if self.model_run is not None and self.model_run.parent_id
                  else "")
        self.model_label.setText(f"<b>Model:</b> {self.model_variant or '?'} · {run}{parent}")
        self.model_label.setToolTip(self.model_checkpoint)

    # ================================================================ inference
    def predict(self, paths: list[str] | None = None) -> Job | None:
        """Segment images with the current model (default: the selection, else the shown image)."""
        if self.model_checkpoint is None:
            self.show_message("No model yet: train one or reopen a run (an untrained model is never used).",
                              "warning")
            return None
        if paths is None:
            selected = self.selected_paths()
            paths = selected if len(selected) > 1 else ([self.shown_path] if self.shown_path else selected)
        paths = [p for p in paths if p in self.entries]
        if not paths:
            self.show_message("Nothing to predict: show or select an image.", "warning")
            return None
        edited = [p for p in paths if p in self.edited]
        if edited and not self.confirm("Replace corrected masks",
                                       f"{len(edited)} of these images have hand-corrected masks. Replace them with "
                                       "new predictions?"):
            paths = [p for p in paths if p not in self.edited]
            if not paths:
                return None
        from studio.segmentation.jobs import SegPredictConfig, predict_segmentation

        cfg = SegPredictConfig(model=self.model_checkpoint, images=list(paths),
                               masks=[self.entries[p].mask for p in paths])
        self.show_message("")
        what = Path(paths[0]).name if len(paths) == 1 else f"{len(paths)} images"
        return self.submit(predict_segmentation, cfg, name=f"Segment {what}", kind="task", role="predict",
                           on_done=self._predicted)

    def _predicted(self, job: Job) -> None:
        for pred in job.result:
            path = str(pred.image)
            mask = np.asarray(pred.mask).astype(bool)
            self.predictions[path] = _pack(mask)
            pred.prob = pred.mask = None  # the finished job keeps its result: drop the full-size arrays
            self.edited.discard(path)
            if pred.metrics:
                self.image_metrics[path] = dict(pred.metrics)
            else:
                self.image_metrics.pop(path, None)
            self._refresh_item(path)
            if path == self.shown_path and mask.shape == self.view.image_shape():
                self.view.set_mask(mask)
                if self.view.truth() is not None:
                    self.view.set_mode("compare")
        self._update_title()
        self.set_status(f"Segmented {len(job.result)} image(s) in {job.elapsed():.1f} s.")
        self.update_buttons()

    def _evaluate_clicked(self) -> None:
        if self.evaluate_button.isEnabled():
            self.evaluate()

    def evaluate(self, split: str = "test") -> Job | None:
        """Metrics of the current model over a split of the dataset, and per image.

        A dataset without splits (images/ + masks/) is split by the training job's seed, as in training.
        """
        if self.model_checkpoint is None or self.dataset is None:
            self.show_message("Evaluate needs a dataset and a trained model.", "warning")
            return None
        from studio.segmentation.jobs import SegEvalConfig, evaluate_segmentation

        cfg = SegEvalConfig(model=self.model_checkpoint, data=self.dataset_root, split=split)
        self.show_message("")
        return self.submit(evaluate_segmentation, cfg, name=f"Evaluate segmentation on {split}", kind="task",
                           role="evaluate", on_done=lambda j, s=split: self._evaluated(j, s))

    def _evaluated(self, job: Job, split: str) -> None:
        ev = job.result
        self._set_image_metrics(ev.get("per_image", []))
        if self.model_variant:
            self._add_result(self.model_tag or self.model_variant, self.model_variant, ev, self.model_run,
                             self.model_size)
        self._update_title()
        self.set_status(f"{split}: mIoU {metric_of(ev, 'miou') or float('nan'):.3f}, pixel acc. "
                        f"{_pct(metric_of(ev, 'pixel_acc'))}, mean acc. {_pct(metric_of(ev, 'mean_acc'))} over "
                        f"{len(ev.get('per_image', []))} images.")

    def repeat_runs(self, runs: int | None = None) -> Job | None:
        """Train the chosen variant ``runs`` times (seeds 0…); the test mIoU of each goes into the box plot."""
        if not self._ready_to_train():
            return None
        from studio.segmentation.jobs import RepeatConfig
        from studio.segmentation.jobs import repeat_runs as repeat_job

        cfg = RepeatConfig(train=self.train_config(), runs=int(runs or self.runs_spin.value()))
        self.show_message("")
        self.curve.clear()
        variant = cfg.train.variant
        label = variant_label(variant, cfg.train.bn_init, cfg.train.alphas, cfg.train.betas)
        job = self.submit(repeat_job, cfg, name=f"Repeat segmentation {label} × {cfg.runs}", kind="train",
                          role="train", on_done=lambda j, v=label: self._repeated(j, v),
                          run=RunSpec(self.key, f"{variant}-repeat", dataclasses.asdict(cfg)))
        self.train_job = job
        return job

    def _repeated(self, job: Job, variant: str) -> None:
        values = [metric_of(r, "miou") for r in job.result]
        values = [v for v in values if v is not None]
        self.box_plot.set_group(variant, values)
        if values:
            st = self.box_plot.stats(variant)
            self.set_status(f"{variant}: {len(values)} runs, median mIoU {st['median']:.3f} "
                            f"(IQR {st['q1']:.3f}–{st['q3']:.3f}).")

    # ============================================================ results table
    def _complexity_done(self, job: Job, variant: str) -> None:
        self.complexity[variant] = job.result
        self._write_complexity_cache()
        self._fill_table()
        QtCore.QTimer.singleShot(0, self.count_variants)  # the next variant

    def _add_result(self, label: str, variant: str, metrics: dict[str, Any], run: RunRecord | None,
                    size: tuple[int, float] | None = None) -> None:
        """A row of measured metrics named ``label`` (variant, BN init, own α/β); ``size`` = (parameters,
        GFLOPs) of the network that was measured."""
        if metric_of(metrics, "miou") is None:
            return
        self.results[label] = {"miou": metric_of(metrics, "miou"), "pixel_acc": metric_of(metrics, "pixel_acc"),
                               "mean_acc": metric_of(metrics, "mean_acc"), "run": run.id if run else None,
                               "size": size, "variant": variant}
        self._fill_table()

    def _fill_table(self) -> None:
        names = list(self.variants) + [v for v in self.results if v not in self.variants]
        t = self.table
        t.setRowCount(len(names))
        for r, name in enumerate(names):
            res = self.results.get(name, {})
            table_size = self.complexity.get(res.get("variant", name))
            # A row with results shows the size of the network that gave them (the quick preset trains a
            # half-width network); without results, the Table I network's.
            params, gflops = res.get("size") or table_size or (None, None)
            cells = [name,
                     "" if res.get("miou") is None else f"{res['miou']:.4f}",
                     "" if res.get("pixel_acc") is None else f"{res['pixel_acc']:.4f}",
                     "" if res.get("mean_acc") is None else f"{res['mean_acc']:.4f}",
                     "" if params is None else f"{params / 1e6:.2f} M",
                     "" if gflops is None else f"{gflops:.2f}"]
            for c, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                if c == 0 and res.get("run"):
                    item.setToolTip(f"run #{res['run']}")
                if c in (4, 5) and res.get("size") and table_size and res["size"] != table_size:
                    item.setToolTip(f"the trained network; Table I's {res['variant']}: {table_size[0] / 1e6:.2f} M "
                                    f"parameters, {table_size[1]:.2f} GFLOPs")
                    item.setText(item.text() + " *")
                t.setItem(r, c, item)

    def table_row(self, variant: str) -> dict[str, str]:
        """The comparison table's cells of ``variant`` by column title (for tests and export)."""
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).text() == variant:
                return {TABLE_COLUMNS[c]: self.table.item(r, c).text() for c in range(self.table.columnCount())}
        raise KeyError(variant)

    # =============================================================== corrections
    def corrections_folder(self) -> Path:
        name = self.sample_preset and f"sample-{self.sample_preset}" or Path(self.dataset_root or "images").name
        return studio_home() / "segmentation" / "corrections" / re.sub(r"[^A-Za-z0-9._-]+", "_", name)

    def add_to_training_set(self) -> Path | None:
        """Save the shown mask as a PNG in the Studio's data folder and list it for Retrain."""
        mask = self.view.mask()
        if self.shown_path is None or mask is None:
            self.show_message("Nothing to add: predict or paint a mask on an image first.", "warning")
            return None
        from studio.segmentation import io

        folder = self.corrections_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = _new_file(folder, f"{Path(self.shown_path).stem}_corrected", ".png")
            io.write_mask_png(target, mask)
        except (OSError, ValueError) as exc:
            self.show_message(f"Could not save the corrected mask in {folder}: {exc}", "error")
            return None
        self.extra_samples = [s for s in self.extra_samples if s[0] != self.shown_path]
        self.extra_samples.append((self.shown_path, str(target)))
        self._save_corrections_list()
        self.predictions[self.shown_path] = _pack(mask)
        self._update_corrections_label()
        self.show_message(f"Saved {target}. Retrain to train on {len(self.extra_samples)} corrected mask(s).", "info")
        self.update_buttons()
        return target

    def _save_corrections_list(self) -> None:
        from studio.segmentation import io

        try:
            io.write_corrections(self.corrections_folder(), self.extra_samples)
        except OSError as exc:
            self.show_message(f"Could not record the corrections list in {self.corrections_folder()}: {exc}", "error")

    def _restore_corrections(self) -> list[str]:
        """The corrections recorded for this dataset in an earlier session (their files must still exist)."""
        from studio.segmentation import io

        pairs, problems = io.read_corrections(self.corrections_folder())
        self.extra_samples = [p for p in pairs if p[0] in self.entries]
        self._update_corrections_label()
        return problems

    def clear_corrections(self) -> None:
        """Take every corrected mask out of the training set (the PNG files stay in the corrections folder)."""
        n = len(self.extra_samples)
        self.extra_samples = []
        self._save_corrections_list()
        self._update_corrections_label()
        self.update_buttons()
        if n:
            self.show_message(f"{n} corrected mask(s) taken out of the training set; their PNGs stay in "
                              f"{self.corrections_folder()}.", "info")

    def _update_corrections_label(self) -> None:
        self.clear_corrections_button.setEnabled(bool(self.extra_samples))
        n = len(self.extra_samples)
        self.corrections_label.setText(
            "Brush/eraser in the view (Ctrl+Z undoes), then Add to training set." if not n else
            f"{n} corrected mask(s) in the training set: Retrain uses them.")
        self.corrections_label.setToolTip("\n".join(m for _, m in self.extra_samples))

    # ==================================================================== export
    def export_mask(self, path: str | os.PathLike, fmt: str = "png") -> None:
        """Write the shown mask as PNG (0/255) or GeoTIFF (with the image's georeferencing when it had any)."""
        mask = self.view.mask()
        if mask is None or self.shown_path is None:
            raise ValueError("no mask to export: predict or paint one first")
        from studio.segmentation import io

        if fmt == "geotiff":
            like = self.shown_path if Path(self.shown_path).suffix.lower() in (".tif", ".tiff") else None
            io.write_mask_geotiff(path, mask, like=like)
        else:
            io.write_mask_png(path, mask)

    def _export_dialog(self, fmt: str) -> None:
        if not self.view.has_mask() or self.shown_path is None:
            self.show_message("Nothing to export yet: predict or paint a mask.", "warning")
            return
        suffix, filt = (".tif", "GeoTIFF (*.tif *.tiff)") if fmt == "geotiff" else (".png", "PNG image (*.png)")
        start = os.path.join(self._start_folder(), f"{Path(self.shown_path).stem}_mask{suffix}")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export mask", start, filt)
        if not path:
            return
        if not path.lower().endswith((suffix, ".tiff") if fmt == "geotiff" else suffix):
            path += suffix
        if self.entries.get(self.shown_path) and os.path.abspath(path) == os.path.abspath(
                self.entries[self.shown_path].mask or ""):
            self.show_message("That is the dataset's own mask; choose another file name.", "error")
            return
        self._export_guarded(path, lambda p: self.export_mask(p, fmt))

    def _export_overlay_dialog(self) -> None:
        stem = Path(self.shown_path or "image").stem
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export image with overlay",
                                                        os.path.join(self._start_folder(), f"{stem}_overlay.png"),
                                                        "PNG image (*.png)")
        if path:
            self._export_guarded(path, lambda p: self.view.export_png(p, Path(self.shown_path or "").name))

    def _export_plot(self, exporter, default: str) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export plot", os.path.join(self._start_folder(),
                                                                                          default), "PNG (*.png)")
        if path:
            self._export_guarded(path, exporter)

    def _export_guarded(self, path: str, exporter) -> bool:
        try:
            exporter(path)
        except (OSError, ValueError) as exc:
            self.show_message(f"Could not write {path}: {exc}", "error")
            return False
        self._remember_folder(path)
        self.set_status(f"Exported {path}")
        return True

    # ====================================================================== misc
    def _on_metric(self, job, name, value, step, epoch, wall) -> None:
        if job is self.train_job and is_curve_metric(name):
            self.curve.add_point(name, step, value, epoch, wall)

    def job_ended(self, job: Job, role: str) -> None:
        if role == "train":
            self.curve.flush()
        if role == "view" and job is self.view_job and job.status == "failed":
            self.title_label.setText("Could not read the image (see the message).")

    def update_buttons(self) -> None:
        ready = self.services.is_torch_ready
        training = self.job_running("train")
        loading = self.job_running("load")
        has_model = self.model_checkpoint is not None
        has_data = self.dataset is not None
        self.train_button.setEnabled(ready and has_data and not training and not loading)
        self.repeat_button.setEnabled(ready and has_data and not training and not loading)
        self.retrain_button.setEnabled(ready and has_data and not training and not loading
                                       and (has_model or self.retrain_combo.currentData() == "scratch"))
        self.predict_button.setEnabled(ready and has_model and not self.job_running("predict")
                                       and bool(self.shown_path or self.selected_paths()))
        self.evaluate_button.setEnabled(ready and has_model and has_data and not self.job_running("evaluate"))
        self.stop_button.setEnabled(bool(self._active))
        has_mask = self.view.has_mask()
        self.add_button.setEnabled(has_mask and self.shown_path is not None)
        self.export_png_button.setEnabled(has_mask)
        self.export_tif_button.setEnabled(has_mask)


# ------------------------------------------------------------------------ preview
def main(argv: list[str] | None = None) -> int:
    """``python -m studio.gui.segmentation_workbench [PATH…]``: just this workbench in a window."""
    return preview_main(SegmentationWorkbench, argv)


if __name__ == "__main__":
    raise SystemExit(main())
