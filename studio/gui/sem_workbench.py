"""SEM Defects workbench (paper 004, Ieracitano et al.): classify SEM micrographs of
electrospun nanofibre mats as homogeneous (HNF) or defective (NHNF: beads, specks).

Layout (DESIGN.md): inputs on the left, the image in the centre, results on the right.

* Left -- the dataset (a folder with one sub-folder per class, a ``path,label`` CSV,
  or the synthetic sample), its class counts, thumbnails and skipped files; the
  "Crop bottom N rows" that removes the instrument's info bar; the model (depth of
  the Table 3 ablation, the FC 40 layer, optimizer, learning rate, weight decay,
  batch, epochs or iterations, patch mode, and a "Paper protocol" button); Train,
  Evaluate, Retrain (from the current checkpoint or from scratch) and Stop.
* Centre -- the shown image with its 128x128 patch grid and, once the model has
  seen it, each patch's defect probability as a red overlay (alpha ∝ P); above it
  the whole-image verdict.  The share threshold re-decides the verdict from the
  stored patch probabilities, without running the model again.
* Right -- live loss/accuracy curves of the training job, the test metrics of the
  paper's eqs. (1)–(4) per class and averaged, AUC and the whole-image accuracy,
  the confusion matrix, the ROC curve and the misclassified test images.

Everything slow runs as a job of the shared pool (``studio.sem.jobs``): loading a
dataset (``open_dataset``, kind "task"), training (``train_sem``, kind "train",
recorded as a run) and inference (``predict_sem``, kind "task").  A failing job's
message is shown in red in the workbench; nothing here opens a traceback dialog.
Thumbnails are made in the GUI thread in small time-boxed batches (a zero-timer,
~12 ms per batch, mostly from the dataset's in-memory pixel cache), so 160 images
of 1024² never freeze the window.

``studio.sem.jobs`` imports torch, so this module imports it only inside methods
that run after torch has loaded (or inside job functions on worker threads):
the window still shows before torch is imported.

Run ``python -m studio.gui.sem_workbench`` to open just this workbench.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from studio.engine import Job, RunRecord, RunSpec
from studio.engine.registry import studio_home
from studio.engine.training import OPTIMIZERS
from studio.gui.image_view import ImageOverlayView, to_uint8
from studio.gui.jobs import Services
from studio.gui.live_curve import LiveCurvePlot
from studio.gui.settings_dialog import data_folder
from studio.gui.workbench import ERROR_COLOUR, Workbench, breakable, preview_main
from studio.sem import metrics as M
from studio.sem.io import SUPPORTED_EXTENSIONS, ImageLoadError, LoadProblem, SemDataset, read_image
from studio.sem.patches import PATCH_SIZE

__all__ = ["SemWorkbench", "thumbnail_array", "load_dataset_job", "main"]

PAPER = "Ieracitano et al. (paper 004)"
#: Section 2.3 trains 300 iterations (equal to studio.sem.jobs.PAPER_ITERATIONS; a test checks).
PAPER_ITERATIONS = 300
#: Default random shift of representative training patches (equal to studio.sem.jobs.SemTrainConfig.shift).
DEFAULT_SHIFT = 32
#: "Blur/noise": the largest random defocus (px) and noise (of full scale) of a training patch
#: (equal to studio.sem.jobs.BLUR_SIGMA_MAX and NOISE_SIGMA_MAX; a test checks).
BLUR_SIGMA_MAX = 1.5
NOISE_SIGMA_MAX = 0.04
#: "Average weights" averages the last quarter of the run (equal to studio.sem.jobs.SemTrainConfig.average_from).
AVERAGE_FROM = 0.75
#: A patch counts as defective at P(defect) >= 0.5 (the softmax decision of the paper's CNN).
PATCH_THRESHOLD = 0.5
CURVE_KEYS = ("train/loss", "val/loss", "val/accuracy")
THUMB_SIZE = 76
THUMB_BUDGET_S = 0.012
ROLE_PATH = QtCore.Qt.ItemDataRole.UserRole
ROLE_KIND = QtCore.Qt.ItemDataRole.UserRole + 1
UNLABELLED = "Unlabelled"
CLASS_COLOURS = ("#43a047", "#fb8c00", "#1e88e5", "#8e24aa", "#00897b", "#6d4c41", "#d81b60")
UNLABELLED_COLOUR = "#9e9e9e"
DEFECT_RGB = (198, 40, 40)
OK_RGB = (46, 125, 50)


# ------------------------------------------------------------------------ helpers
def load_dataset_job(ctx, options: dict[str, Any]) -> SemDataset:
    """Job function: ``studio.sem.jobs.open_dataset`` with a config built from ``options``.

    The config is built here, on the worker thread, because ``studio.sem.jobs``
    imports torch and the GUI thread must not wait for that import.
    """
    from studio.sem.jobs import SemTrainConfig, open_dataset

    return open_dataset(SemTrainConfig(**options), ctx)


def thumbnail_array(arr: np.ndarray, scale: float = 255.0, size: int = THUMB_SIZE) -> np.ndarray:
    """A small uint8 preview: block mean by an integer factor (no aliasing), then contrast stretch."""
    a = np.asarray(arr)
    h, w = a.shape[:2]
    f = max(1, int(math.ceil(max(h, w) / size)))
    hh, ww = (h // f) * f, (w // f) * f
    if f > 1 and hh and ww:
        small = a[:hh, :ww].reshape(hh // f, f, ww // f, f).mean(axis=(1, 3), dtype=np.float32)
    else:
        small = a.astype(np.float32)
    return to_uint8(small)


def _unique_path(path: Path) -> Path:
    """``path`` or, when it exists, ``stem_2.ext``, ``stem_3.ext``… (never overwrite)."""
    if not path.exists():
        return path
    k = 2
    while True:
        candidate = path.with_name(f"{path.stem}_{k}{path.suffix}")
        if not candidate.exists():
            return candidate
        k += 1


def _is_image_file(path: str) -> bool:
    return os.path.isfile(path) and Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


def _pct(value: Any, digits: int = 1) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(v) else f"{100 * v:.{digits}f} %"


def _share_percent(fraction: float) -> str:
    """A share threshold as the user reads it: 12.5 %, 10.94 % (7 of 64 patches is 10.9375 %)."""
    return f"{100 * float(fraction):.4g} %"


def misclassification_text(entry: dict) -> str:
    """What was wrong about one test image of an evaluation ("" when nothing was).

    The whole-image verdict and, for a representative-patch model, its one representative patch,
    which is what the headline accuracy counts (so a model at 95.8 % lists its 2 wrong patches of 48
    even when every whole-image verdict was right).
    """
    parts = []
    rep = entry.get("representative")
    if rep and not rep.get("correct", True):
        parts.append(f"representative patch ({int(rep['row'])}, {int(rep['col'])}) "  # (row, col) as the hover
                     f"{entry.get('label')} → {rep.get('predicted')}, "
                     f"P(defect) {_pct(rep.get('defect_probability'), 0)}")
    if not entry.get("correct", True):
        parts.append(f"image {entry.get('label')} → {entry.get('predicted')} "
                     f"({_pct(entry.get('defect_share'), 0)} of patches defective)")
    return "; ".join(parts)


def _qimage_gray(u8: np.ndarray) -> QtGui.QImage:
    h, w = u8.shape
    return QtGui.QImage(np.ascontiguousarray(u8).data, w, h, w, QtGui.QImage.Format.Format_Grayscale8).copy()


class _ThumbList(QtWidgets.QListWidget):
    """Thumbnail list that accepts files dropped from outside (images, folders, CSVs)."""

    files_dropped = QtCore.Signal(list)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QtWidgets.QAbstractItemView.DragDropMode.DropOnly)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QtGui.QDragMoveEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)


# ---------------------------------------------------------------------- workbench
class SemWorkbench(Workbench):
    key = "sem"
    title = "SEM Defects"
    quiet_roles = ("predict",)

    #: What "Open sample" generates (the paper's 75 HNF + 85 NHNF images of 1024²);
    #: tests shrink it.
    sample_options: dict[str, Any] = {"sample_images": (75, 85), "sample_size": 1024, "sample_seed": 0}

    def __init__(self, services: Services, parent: QtWidgets.QWidget | None = None):
        super().__init__(services, parent)
        self.dataset: SemDataset | None = None
        self.dataset_source: str | None = None  # the folder or CSV given to load_dataset
        self.dataset_is_sample = False
        self._index: dict[str, int] = {}
        self.loose: list[str] = []
        self.loose_problems: list[str] = []
        self.thumbs: dict[str, QtGui.QImage] = {}
        self.items: dict[str, QtWidgets.QListWidgetItem] = {}
        self._thumb_queue: list[str] = []
        self._thumb_errors: dict[str, str] = {}
        self.shown_path: str | None = None
        self.predictions: dict[str, Any] = {}  # path -> studio.sem.jobs.ImagePrediction
        self.model_checkpoint: str | None = None
        self.model_meta = None  # studio.engine.checkpoints.CheckpointMeta
        self.model_run: RunRecord | None = None
        self.evaluation: dict[str, Any] | None = None
        self.train_job: Job | None = None
        self.load_job: Job | None = None
        self.predict_job: Job | None = None
        self._pending_auto: str | None = None
        self._misclassified: set[str] = set()
        self._relocated: dict[str, str] = {}  # old -> new paths after the sample was copied
        self._copy_note = ""
        self._length = {"epochs": 4, "iterations": PAPER_ITERATIONS}

        self._thumb_timer = QtCore.QTimer(self)
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(0)
        self._thumb_timer.timeout.connect(self._thumb_tick)
        self._crop_timer = QtCore.QTimer(self)
        self._crop_timer.setSingleShot(True)
        self._crop_timer.setInterval(700)
        self._crop_timer.timeout.connect(self._crop_changed)

        left = self._build_left()
        centre = self._build_centre()
        right = self._build_right()
        self.lay_out_panels(left, centre, right, sizes=(340, 640, 400))

        self.add_shortcuts((("Ctrl+T", self._train_clicked), ("F5", self._evaluate_clicked), ("Ctrl+.", self.stop)))

        services.bridge.metric.connect(self._on_metric)
        self._update_model_label()
        self._update_verdict()
        self.show_initial_state()

    # =================================================================== building
    def _build_left(self) -> QtWidgets.QWidget:
        # ---- dataset
        data_box = QtWidgets.QGroupBox("Dataset")
        dl = QtWidgets.QVBoxLayout(data_box)
        row = QtWidgets.QHBoxLayout()
        self.open_folder_button = QtWidgets.QPushButton("Folder…")
        self.open_folder_button.setToolTip("Open a dataset folder with one sub-folder per class (e.g. HNF/ and NHNF/)")
        self.open_folder_button.clicked.connect(self._open_folder_dialog)
        self.open_csv_button = QtWidgets.QPushButton("CSV…")
        self.open_csv_button.setToolTip("Open a CSV of path,label rows (relative paths are resolved against the CSV)")
        self.open_csv_button.clicked.connect(self._open_csv_dialog)
        self.open_sample_button = QtWidgets.QPushButton("Sample")
        self.open_sample_button.setToolTip(
            "Open the synthetic sample: 75 homogeneous and 85 defective SEM-like micrographs of 1024×1024 px, the "
            f"class sizes of {PAPER} (generated on first use, then cached)")
        self.open_sample_button.clicked.connect(self.open_sample)
        for b in (self.open_folder_button, self.open_csv_button, self.open_sample_button):
            row.addWidget(b)
        dl.addLayout(row)
        self.summary_label = QtWidgets.QLabel("No dataset. Open a folder, a CSV or the sample; drop images here "
                                              "to classify them.")
        self.summary_label.setWordWrap(True)
        dl.addWidget(self.summary_label)

        crop_row = QtWidgets.QHBoxLayout()
        crop_label = QtWidgets.QLabel("Crop bottom")
        self.crop_spin = QtWidgets.QSpinBox()
        self.crop_spin.setRange(0, 4096)
        self.crop_spin.setSuffix(" rows")
        self.crop_spin.setToolTip("Remove this many rows at the bottom of every image (the SEM's info bar) before "
                                  "cutting 128×128 patches. Changing it reloads the dataset.")
        crop_label.setToolTip(self.crop_spin.toolTip())
        self.crop_spin.valueChanged.connect(lambda _v: self._crop_timer.start())
        self.filter_combo = QtWidgets.QComboBox()
        self.filter_combo.setToolTip("Which thumbnails to show")
        self.filter_combo.addItem("All", "all")
        self.filter_combo.currentIndexChanged.connect(self._apply_filter)
        crop_row.addWidget(crop_label)
        crop_row.addWidget(self.crop_spin)
        crop_row.addStretch(1)
        crop_row.addWidget(QtWidgets.QLabel("Show"))
        crop_row.addWidget(self.filter_combo)
        dl.addLayout(crop_row)

        self.thumb_list = _ThumbList()
        self.thumb_list.setViewMode(QtWidgets.QListView.ViewMode.IconMode)
        self.thumb_list.setIconSize(QtCore.QSize(THUMB_SIZE, THUMB_SIZE))
        self.thumb_list.setGridSize(QtCore.QSize(THUMB_SIZE + 14, THUMB_SIZE + 26))
        self.thumb_list.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.thumb_list.setMovement(QtWidgets.QListView.Movement.Static)
        self.thumb_list.setUniformItemSizes(True)
        self.thumb_list.setWordWrap(False)
        self.thumb_list.setTextElideMode(QtCore.Qt.TextElideMode.ElideLeft)  # names share prefixes
        self.thumb_list.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.thumb_list.setMinimumHeight(150)
        self.thumb_list.setToolTip("Click to show an image; select several and press Evaluate to classify them. "
                                   "Right-click to move an image to another class; drop images here to add them.")
        self.thumb_list.currentItemChanged.connect(self._current_item_changed)
        self.thumb_list.itemSelectionChanged.connect(self.update_buttons)
        self.thumb_list.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        self.thumb_list.customContextMenuRequested.connect(self._thumb_menu)
        self.thumb_list.files_dropped.connect(self._on_files_dropped)
        dl.addWidget(self.thumb_list, 1)

        self.problems_button = QtWidgets.QToolButton()
        self.problems_button.setCheckable(True)
        self.problems_button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.problems_button.setArrowType(QtCore.Qt.ArrowType.RightArrow)
        self.problems_button.setAutoRaise(True)
        self.problems_button.toggled.connect(self._toggle_problems)
        self.problems_list = QtWidgets.QListWidget()
        self.problems_list.setMaximumHeight(110)
        self.problems_list.setWordWrap(True)
        self.problems_list.setVisible(False)
        self.add_button = QtWidgets.QPushButton("Add images to class…")
        self.add_button.setToolTip("Copy image files into one class folder of this (folder) dataset; existing files "
                                   "are never overwritten. Dropping images on the thumbnails does the same.")
        self.add_button.clicked.connect(self._add_images_dialog)
        prow = QtWidgets.QHBoxLayout()
        prow.addWidget(self.problems_button)
        prow.addStretch(1)
        prow.addWidget(self.add_button)
        dl.addLayout(prow)
        dl.addWidget(self.problems_list)
        self._update_problems()

        # ---- model
        model_box = QtWidgets.QGroupBox("Model")
        g = QtWidgets.QGridLayout(model_box)
        g.setHorizontalSpacing(6)
        self.depth_spin = QtWidgets.QSpinBox()
        self.depth_spin.setRange(1, 5)
        self.depth_spin.setValue(5)
        self.depth_spin.setToolTip(f"Number of conv/BN/ReLU/pool modules: CNN_1 … CNN_5, the depth ablation of "
                                   f"Table 3 of {PAPER}. The paper's best is 5 with the FC 40 layer.")
        self.fc40_check = QtWidgets.QCheckBox("FC 40")
        self.fc40_check.setChecked(True)
        self.fc40_check.setToolTip(f"Add the 40-neuron fully connected layer before the softmax (CNN_5* of "
                                   f"Table 3, {PAPER}: 80 % accuracy)")
        self.optimizer_combo = QtWidgets.QComboBox()
        self.optimizer_combo.addItems(list(OPTIMIZERS))
        self.optimizer_combo.setCurrentText("momentum")
        self.optimizer_combo.setToolTip(f"SGD with momentum 0.9, as in Sect. 2.3 of {PAPER}")
        self.lr_spin = pg.SpinBox(value=1e-3, dec=True, step=0.5, minStep=1e-7, bounds=(1e-7, 10.0), decimals=3)
        self.lr_spin.setToolTip(f"Learning rate; {PAPER} uses 1e-3")
        self.wd_spin = pg.SpinBox(value=1e-4, dec=True, step=0.5, minStep=1e-8, bounds=(0.0, 1.0), decimals=3)
        self.wd_spin.setToolTip(f"L2 weight decay; {PAPER} uses 1e-4")
        for spin in (self.lr_spin, self.wd_spin):  # pg.SpinBox is shorter than Qt's own spin boxes
            spin.setMinimumHeight(self.depth_spin.sizeHint().height())
        self.batch_spin = QtWidgets.QSpinBox()
        self.batch_spin.setRange(1, 4096)
        self.batch_spin.setValue(32)
        self.batch_spin.setToolTip(f"Mini-batch size; {PAPER} uses 32")
        self.epochs_radio = QtWidgets.QRadioButton("Epochs")
        self.iterations_radio = QtWidgets.QRadioButton("Iterations")
        self.epochs_radio.setChecked(True)
        self.epochs_radio.setToolTip("Train for a number of passes over the training patches")
        self.iterations_radio.setToolTip(f"Train for a number of mini-batches; {PAPER} trains 300 iterations")
        self.length_group = QtWidgets.QButtonGroup(self)
        self.length_group.addButton(self.epochs_radio)
        self.length_group.addButton(self.iterations_radio)
        self.length_spin = QtWidgets.QSpinBox()
        self.length_spin.setRange(1, 1_000_000)
        self.length_spin.setValue(self._length["epochs"])
        self.length_spin.valueChanged.connect(self._length_changed)
        self.iterations_radio.toggled.connect(self._length_mode_changed)
        self.patch_mode_combo = QtWidgets.QComboBox()
        self.patch_mode_combo.addItem("all patches", "all")
        self.patch_mode_combo.addItem("representative", "representative")
        self.patch_mode_combo.setToolTip(
            "all: every 128×128 patch of a training image, labelled with its image's class.\n"
            f"representative: one patch per image (the annotated one when the dataset has annotations, else the "
            f"centre patch), the protocol of {PAPER}.")
        self.augment_check = QtWidgets.QCheckBox("Flips/rotations")
        self.augment_check.setChecked(True)
        self.augment_check.setToolTip("Train on randomly rotated (90°) and mirrored patches. A fibre mat has no "
                                      f"preferred orientation; not in {PAPER}, whose 112 training patches over-fit "
                                      "without it.")
        self.blur_noise_check = QtWidgets.QCheckBox("Blur/noise")
        self.blur_noise_check.setChecked(True)
        self.blur_noise_check.setToolTip(
            f"Train on patches blurred by a random defocus (Gaussian, up to {BLUR_SIGMA_MAX:g} px) and given random "
            f"noise (up to {NOISE_SIGMA_MAX:g} of full scale), so that the calls do not depend on the focus or the "
            f"dose of a micrograph; not in {PAPER}. Without it a 1 px defocus changed the calls on the sample "
            "(docs/sem.md).")
        self.shift_spin = QtWidgets.QSpinBox()
        self.shift_spin.setRange(0, PATCH_SIZE - 1)
        self.shift_spin.setSuffix(" px")
        self.shift_spin.setValue(DEFAULT_SHIFT)
        self.shift_spin.setToolTip(
            "Representative patches: move each training patch by a random offset of up to ± this many pixels "
            "inside its image, so that the network sees a bead at more than one place (0 = off; not in "
            f"{PAPER}). With all patches the neighbouring patches are training patches already.")
        self.patch_mode_combo.currentIndexChanged.connect(
            lambda _i: self.shift_spin.setEnabled(self.patch_mode_combo.currentData() == "representative"))
        self.shift_spin.setEnabled(self.patch_mode_combo.currentData() == "representative")
        self.average_check = QtWidgets.QCheckBox("Average weights")
        self.average_check.setChecked(True)
        self.average_check.setToolTip(
            "End training with the mean of the network's weights over the last quarter of the run (stochastic "
            "weight averaging) instead of the last step's, batch-norm statistics recomputed for it. With SGD at a "
            "constant learning rate the last step's weights still jump from batch to batch; not in "
            f"{PAPER}.")
        self.input_norm_combo = QtWidgets.QComboBox()
        self.input_norm_combo.addItem("per patch", "patch")
        self.input_norm_combo.addItem("dataset", "dataset")
        self.input_norm_combo.setToolTip(
            f"Input normalisation ({PAPER} does not say which it used).\n"
            "per patch: each 128×128 patch minus its own mean, divided by its own standard deviation, so that a "
            "micrograph's brightness, contrast, gradient or charging glow does not reach the network.\n"
            "dataset: minus the training patches' mean, divided by their standard deviation.")
        self.paper_button = QtWidgets.QPushButton("Paper protocol")
        self.paper_button.setToolTip(f"Set the learning set-up of Sect. 2.3 of {PAPER}: CNN_5 + FC 40, SGD momentum "
                                     "0.9, lr 1e-3, weight decay 1e-4, batch 32, one representative patch per "
                                     "image, 300 iterations")
        self.paper_button.clicked.connect(self.apply_paper_protocol)

        def lab(text: str, buddy: QtWidgets.QWidget) -> QtWidgets.QLabel:
            label = QtWidgets.QLabel(text)
            label.setToolTip(buddy.toolTip())
            return label

        g.addWidget(lab("Depth", self.depth_spin), 0, 0)
        g.addWidget(self.depth_spin, 0, 1)
        g.addWidget(self.fc40_check, 0, 2, 1, 2)
        g.addWidget(lab("Optimizer", self.optimizer_combo), 1, 0)
        g.addWidget(self.optimizer_combo, 1, 1)
        g.addWidget(lab("Batch", self.batch_spin), 1, 2)
        g.addWidget(self.batch_spin, 1, 3)
        g.addWidget(lab("LR", self.lr_spin), 2, 0)
        g.addWidget(self.lr_spin, 2, 1)
        g.addWidget(lab("Decay", self.wd_spin), 2, 2)
        g.addWidget(self.wd_spin, 2, 3)
        g.addWidget(self.epochs_radio, 3, 0)
        g.addWidget(self.iterations_radio, 3, 1)
        g.addWidget(self.length_spin, 3, 2, 1, 2)
        g.addWidget(lab("Patches", self.patch_mode_combo), 4, 0)
        g.addWidget(self.patch_mode_combo, 4, 1)
        g.addWidget(self.paper_button, 4, 2, 1, 2)
        g.addWidget(self.augment_check, 5, 0, 1, 2)
        g.addWidget(self.blur_noise_check, 5, 2, 1, 2)
        g.addWidget(lab("Shift", self.shift_spin), 6, 0)
        g.addWidget(self.shift_spin, 6, 1)
        g.addWidget(self.average_check, 6, 2, 1, 2)
        g.addWidget(lab("Input", self.input_norm_combo), 7, 0)
        g.addWidget(self.input_norm_combo, 7, 1)
        g.setColumnStretch(1, 1)
        g.setColumnStretch(3, 1)

        # ---- actions
        actions = QtWidgets.QWidget()
        al = QtWidgets.QVBoxLayout(actions)
        al.setContentsMargins(0, 0, 0, 0)
        brow = QtWidgets.QHBoxLayout()
        self.train_button = QtWidgets.QPushButton("Train")
        self.train_button.setToolTip("Train a new model on the dataset (70/30 split by image) (Ctrl+T)")
        self.train_button.clicked.connect(self._train_clicked)
        self.evaluate_button = QtWidgets.QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Classify the selected images (or the shown one) with the current model (F5)")
        self.evaluate_button.clicked.connect(self._evaluate_clicked)
        self.retrain_button = QtWidgets.QToolButton()
        self.retrain_button.setText("Retrain")
        self.retrain_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.retrain_button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.retrain_button.setToolTip("Train again on the dataset as it is now (e.g. after relabelling); the new "
                                       "run is recorded as a child of the current model's run")
        menu = QtWidgets.QMenu(self.retrain_button)
        self.retrain_checkpoint_action = menu.addAction("From current checkpoint (fine-tune)",
                                                        lambda: self.retrain(from_checkpoint=True))
        self.retrain_scratch_action = menu.addAction("From scratch", lambda: self.retrain(from_checkpoint=False))
        self.retrain_button.setMenu(menu)
        self.retrain_button.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred,
                                          QtWidgets.QSizePolicy.Policy.Preferred)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("Cancel this workbench's running job (a training keeps its last checkpoint) "
                                    "(Ctrl+.)")
        self.stop_button.clicked.connect(self.stop)
        for b in (self.train_button, self.evaluate_button, self.retrain_button, self.stop_button):
            brow.addWidget(b)
        al.addLayout(brow)
        al.addWidget(self.status_widgets())

        panel = QtWidgets.QWidget()
        pl = QtWidgets.QVBoxLayout(panel)
        pl.setContentsMargins(0, 0, 4, 0)
        pl.addWidget(data_box, 1)
        pl.addWidget(model_box)
        pl.addWidget(actions)
        self.left_panel = self.scroll_panel(panel, 240)
        return self.left_panel

    def _build_centre(self) -> QtWidgets.QWidget:
        w = QtWidgets.QWidget()
        cl = QtWidgets.QVBoxLayout(w)
        cl.setContentsMargins(0, 0, 0, 0)
        self.title_label = QtWidgets.QLabel("No image")
        self.title_label.setWordWrap(True)
        self.title_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict_label = QtWidgets.QLabel()
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setMargin(6)
        font = self.verdict_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.verdict_label.setFont(font)
        cl.addWidget(self.title_label)
        cl.addWidget(self.verdict_label)
        self.view = ImageOverlayView(cell_size=PATCH_SIZE)
        self.view.cell_hovered.connect(self._on_hover)
        cl.addWidget(self.view, 1)

        row = QtWidgets.QHBoxLayout()
        share_label = QtWidgets.QLabel("Defective if share ≥")
        self.share_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.share_slider.setRange(1, 200)  # half-percent steps (12.5 % = 8 of 64 patches)
        self.share_spin = QtWidgets.QDoubleSpinBox()
        self.share_spin.setDecimals(2)  # a calibrated 7 of 64 patches is 10.94 %
        self.share_spin.setRange(0.5, 100.0)
        self.share_spin.setSingleStep(0.5)
        self.share_spin.setSuffix(" %")
        default = M.DEFAULT_SHARE_THRESHOLD
        tip = ("Share threshold of the whole-image verdict: an image is defective when at least this share of its "
               f"128×128 patches has P(defect) ≥ {PATCH_THRESHOLD}. Default {100 * default:g} % ({64 * default:g} of "
               "the 64 patches of a 1024² image): beads are local, so a majority vote misses sparsely beaded images, "
               "while a single patch is too sensitive (see studio.sem.metrics). Changing it re-decides the verdict "
               "from the stored patch probabilities; the model is not run again.")
        for wdg in (share_label, self.share_slider, self.share_spin):
            wdg.setToolTip(tip)
        self._share_exact: float | None = None  # see share_threshold
        self.share_spin.setValue(100 * default)
        self.share_slider.setValue(round(200 * default))
        self.share_slider.valueChanged.connect(lambda v: self.share_spin.setValue(v / 2.0))
        self.share_spin.valueChanged.connect(self._sync_share_slider)
        self.share_spin.valueChanged.connect(self._share_changed)
        row.addWidget(share_label)
        row.addWidget(self.share_slider, 1)
        row.addWidget(self.share_spin)
        cl.addLayout(row)

        row2 = QtWidgets.QHBoxLayout()
        self.auto_check = QtWidgets.QCheckBox("Auto-classify")
        self.auto_check.setChecked(True)
        self.auto_check.setToolTip("Classify each image with the current model as it is shown (a quick inference job)")
        self.hover_label = QtWidgets.QLabel()
        self.hover_label.setMinimumWidth(10)
        self.export_button = QtWidgets.QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        export_menu = QtWidgets.QMenu(self.export_button)
        export_menu.addAction("Predictions as CSV…", self._export_csv_dialog)
        export_menu.addAction("Image with overlay as PNG…", self._export_png_dialog)
        self.export_button.setMenu(export_menu)
        self.export_button.setToolTip("Export the per-image predictions (CSV) or the shown image with its overlay "
                                      "(PNG)")
        row2.addWidget(self.auto_check)
        row2.addWidget(self.hover_label, 1)
        row2.addWidget(self.export_button)
        cl.addLayout(row2)
        return w

    def _build_right(self) -> QtWidgets.QWidget:
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        top = QtWidgets.QWidget()
        tl = QtWidgets.QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        self.model_label = QtWidgets.QLabel()
        self.model_label.setWordWrap(True)
        tl.addWidget(self.model_label)
        self.curve = LiveCurvePlot(title="Training: loss and accuracy")
        self.curve.setMinimumHeight(180)
        tl.addWidget(self.curve, 1)
        split.addWidget(top)

        bottom = QtWidgets.QWidget()
        bl = QtWidgets.QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        self.eval_caption = QtWidgets.QLabel("No evaluation yet: train a model or reopen a run.")
        self.eval_caption.setWordWrap(True)
        bl.addWidget(self.eval_caption)
        self.result_tabs = QtWidgets.QTabWidget()
        self.result_tabs.setDocumentMode(True)

        self.metrics_table = QtWidgets.QTableWidget(0, 4)
        self.metrics_table.setHorizontalHeaderLabels(["Precision", "Recall", "F-score", "Support"])
        self.metrics_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics_table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.metrics_table.setToolTip(f"Test metrics, eqs. (1)–(4) of {PAPER}, defect class positive; the average "
                                      "is the unweighted mean over classes (as in Table 4)")
        self.result_tabs.addTab(self.metrics_table, "Metrics")

        conf = QtWidgets.QWidget()
        cfl = QtWidgets.QVBoxLayout(conf)
        cfl.setContentsMargins(0, 2, 0, 0)
        self.confusion_combo = QtWidgets.QComboBox()
        self.confusion_combo.addItem("Patches", "patch")
        self.confusion_combo.addItem("Whole images", "image")
        self.confusion_combo.currentIndexChanged.connect(self._fill_confusion)
        self.confusion_table = QtWidgets.QTableWidget(0, 0)
        self.confusion_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion_table.setToolTip("Rows: true class; columns: predicted class")
        self.confusion_table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        cfl.addWidget(self.confusion_combo)
        cfl.addWidget(self.confusion_table, 1)
        self.result_tabs.addTab(conf, "Confusion")

        self.roc_plot = pg.PlotWidget()
        self.roc_plot.setLabel("bottom", "False positive rate")
        self.roc_plot.setLabel("left", "True positive rate")
        self.roc_plot.setXRange(0, 1, padding=0.02)
        self.roc_plot.setYRange(0, 1, padding=0.02)
        self.roc_plot.getPlotItem().setAspectLocked(False)
        self.roc_plot.showGrid(x=True, y=True, alpha=0.25)
        self.roc_plot.setMinimumHeight(120)
        self.result_tabs.addTab(self.roc_plot, "ROC")

        self.misclassified_list = QtWidgets.QListWidget()
        self.misclassified_list.setToolTip(
            "Test images whose whole-image verdict was wrong or, for a model trained on representative patches, "
            "whose representative patch (the one the accuracy counts) was classified wrong; click to show one")
        self.misclassified_list.itemClicked.connect(self._misclassified_clicked)
        self.misclassified_list.itemActivated.connect(self._misclassified_clicked)
        self.result_tabs.addTab(self.misclassified_list, "Misclassified")
        bl.addWidget(self.result_tabs, 1)
        split.addWidget(bottom)
        split.setSizes([330, 330])
        self.right_panel = self.scroll_panel(split, 250)
        return self.right_panel

    # ================================================================ Workbench hooks
    def on_torch_ready(self) -> None:
        super().on_torch_ready()
        if self.model_checkpoint and self.shown_path:
            self._maybe_auto_classify()

    def open_paths(self, paths: list[str]) -> None:
        datasets = [p for p in paths if os.path.isdir(p) or p.lower().endswith(".csv")]
        images = [p for p in paths if _is_image_file(p)]
        other = [p for p in paths if p not in datasets and p not in images]
        if datasets:
            self.open_dataset_path(datasets[0])
        if images:
            self.open_images(images)
        notes = []
        if len(datasets) > 1:
            notes.append(f"Several datasets given; opened {datasets[0]} only.")
        if other:
            notes.append("Not opened (neither a dataset folder, a .csv nor a " + "/".join(SUPPORTED_EXTENSIONS)
                         + " image): " + ", ".join(other))
        if notes:
            self.show_message(" ".join(notes), "warning")

    def open_dialog(self) -> None:
        menu = QtWidgets.QMenu(self)
        menu.addAction("Dataset folder…", self._open_folder_dialog)
        menu.addAction("Dataset CSV…", self._open_csv_dialog)
        menu.addAction("Images to classify…", self._open_images_dialog)
        menu.exec(QtGui.QCursor.pos())

    def open_sample(self) -> None:
        options = {"data": None, "crop_bottom": self.crop_spin.value(), **self.sample_options}
        self._load(options, is_sample=True, label="the sample dataset")

    def export(self) -> None:
        menu = QtWidgets.QMenu(self)
        csv_action = menu.addAction("Predictions as CSV…", self._export_csv_dialog)
        png_action = menu.addAction("Image with overlay as PNG…", self._export_png_dialog)
        csv_action.setEnabled(bool(self.predictions))
        png_action.setEnabled(self.view.image() is not None)
        menu.exec(QtGui.QCursor.pos())

    def reopen_run(self, run: RunRecord) -> None:
        if run.workbench != self.key:
            self.show_message(f"Run #{run.id} belongs to the {run.workbench} workbench.", "warning")
            return
        checkpoint = run.checkpoint or str(Path(run.dir) / "model")
        try:
            meta = self._load_meta(checkpoint)
        except (ValueError, OSError) as exc:
            self.show_message(f"Run #{run.id} has no usable checkpoint: {exc}", "error")
            return
        self.restore_config(run.config or {})
        evaluation = None
        ev_path = Path(run.dir) / "evaluation.json"
        if ev_path.is_file():
            try:
                evaluation = json.loads(ev_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.show_message(f"{ev_path}: cannot read the evaluation ({exc})", "warning")
        self._set_model(checkpoint, run, meta, evaluation)
        self.curve.clear()
        for name in CURVE_KEYS:
            series = self.services.registry.metric_series(run.id, name)
            if series["step"]:
                self.curve.set_series(name, series["step"], series["value"], series["epoch"], series["wall"])
        self.curve.flush()
        self.show_message(f"Reopened run #{run.id} ({run.model}, {run.status}).", "info")
        self._maybe_auto_classify()

    # ===================================================================== dataset
    def _open_folder_dialog(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open SEM dataset folder", self._start_folder())
        if path:
            self.open_dataset_path(path)

    def _open_csv_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open SEM dataset CSV", self._start_folder(),
                                                        "CSV of path,label (*.csv);;All files (*)")
        if path:
            self.open_dataset_path(path)

    def _open_images_dialog(self) -> None:
        pattern = " ".join(f"*{e}" for e in SUPPORTED_EXTENSIONS)
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Images to classify", self._start_folder(),
                                                          f"SEM images ({pattern});;All files (*)")
        if paths:
            self.open_images(paths)

    def open_dataset_path(self, path: str) -> Job:
        path = os.path.abspath(os.path.expanduser(path))
        self._remember_folder(path)
        return self._load({"data": path, "crop_bottom": self.crop_spin.value()}, is_sample=False,
                          label=Path(path).name)

    def _load(self, options: dict[str, Any], *, is_sample: bool, label: str) -> Job:
        if self.load_job is not None and self.load_job.status in ("queued", "running"):
            self.load_job.cancel()
        self.show_message("")
        job = self.submit(load_dataset_job, options, name=f"Open SEM dataset: {label}", kind="task",
                           role="load", on_done=lambda j, s=is_sample, o=options: self._dataset_loaded(j, s, o))
        self.load_job = job
        self.set_status(f"Opening {label}…")
        return job

    def _dataset_loaded(self, job: Job, is_sample: bool, options: dict[str, Any]) -> None:
        if job is not self.load_job:
            return  # superseded by a later load
        ds: SemDataset = job.result
        self.dataset = ds
        self.dataset_is_sample = is_sample
        self.dataset_source = str(ds.root) if options.get("data") is None else str(options["data"])
        if self.crop_spin.value() != ds.crop_bottom:
            self.crop_spin.blockSignals(True)
            self.crop_spin.setValue(ds.crop_bottom)
            self.crop_spin.blockSignals(False)
        self._reindex()
        self._fill_filter()
        self._rebuild_list()
        self._update_summary()
        self._update_problems()
        if self.shown_path is None or self.shown_path not in self.items:
            first = self.thumb_list.item(0)
            if first is not None:
                self.thumb_list.setCurrentItem(first)
        self.set_status(f"Opened {self.dataset_source}.")
        if self.model_meta is not None and list(self.model_meta.class_names) != list(ds.class_names):
            self.show_message(f"The current model knows the classes {self.model_meta.class_names}; this dataset has "
                              f"{ds.class_names}. Train a new model (Retrain ▸ from scratch).", "warning")

    def _reindex(self) -> None:
        self._index = {} if self.dataset is None else {str(p): i for i, p in enumerate(self.dataset.paths)}

    def _update_summary(self) -> None:
        ds = self.dataset
        if ds is None:
            self.summary_label.setText(f"No dataset · {len(self.loose)} unlabelled image(s) to classify" if self.loose
                                       else "No dataset.")
            return
        kind = "Sample (synthetic, cached)" if self.dataset_is_sample else ("CSV" if ds.source == "csv" else "Folder")
        counts = " · ".join(f"<b>{name}</b> {n}" for name, n in ds.class_counts().items())
        loose = f" · <b>{UNLABELLED}</b> {len(self.loose)}" if self.loose else ""
        self.summary_label.setText(f"{kind}: {breakable(Path(self.dataset_source or ds.root).name)}<br>"
                                   f"{counts}{loose}<br><small>{ds.summary()}</small>")
        self.summary_label.setToolTip(f"{self.dataset_source}\n{ds.summary()}")

    def _crop_changed(self) -> None:
        crop = self.crop_spin.value()
        self.thumbs.clear()
        self._drop_predictions()
        if self.dataset is not None and crop != self.dataset.crop_bottom and self.dataset_source:
            if self.dataset_is_sample:
                self._load({"data": None, "crop_bottom": crop, **self.sample_options}, is_sample=True,
                           label="the sample dataset")
            else:
                self._load({"data": self.dataset_source, "crop_bottom": crop}, is_sample=False,
                           label=Path(self.dataset_source).name)
        else:
            self._rebuild_list()
            if self.shown_path:
                self.show_image(self.shown_path)

    # ---------------------------------------------------------------- loose images
    def open_images(self, paths: list[str]) -> list[str]:
        """Open image files for inference only ("Unlabelled"); returns the ones added."""
        added = []
        for p in paths:
            p = os.path.abspath(p)
            if p in self.items or p in self.loose:
                continue
            self.loose.append(p)
            added.append(p)
            self._add_item(p)
        if paths:
            self._remember_folder(os.path.abspath(paths[0]))
        self._fill_filter()
        self._update_summary()
        self._queue_thumbs(added)
        if added:
            self.thumb_list.setCurrentItem(self.items[added[0]])
            self.set_status(f"Opened {len(added)} image(s) to classify.")
        return added

    # -------------------------------------------------------------------- thumbnails
    def _kind(self, path: str) -> str:
        return "dataset" if path in self._index else "loose"

    def _class_of(self, path: str) -> str:
        if self.dataset is not None and path in self._index:
            return self.dataset.class_names[int(self.dataset.labels[self._index[path]])]
        return UNLABELLED

    def _colour_of(self, path: str) -> str:
        if path in self._thumb_errors:
            return ERROR_COLOUR
        if self.dataset is not None and path in self._index:
            return CLASS_COLOURS[int(self.dataset.labels[self._index[path]]) % len(CLASS_COLOURS)]
        return UNLABELLED_COLOUR

    def _rebuild_list(self) -> None:
        current = self.shown_path
        self.thumb_list.blockSignals(True)
        self.thumb_list.clear()
        self.items.clear()
        self._thumb_queue.clear()
        paths = ([str(p) for p in self.dataset.paths] if self.dataset is not None else []) + \
                [p for p in self.loose if p not in self._index]
        self.loose = [p for p in self.loose if p not in self._index]
        for p in paths:
            self._add_item(p)
        self.thumb_list.blockSignals(False)
        self._queue_thumbs([p for p in paths if p not in self.thumbs])
        self._apply_filter()
        if current in self.items:
            self.thumb_list.blockSignals(True)
            self.thumb_list.setCurrentItem(self.items[current])
            self.thumb_list.blockSignals(False)

    def _add_item(self, path: str) -> QtWidgets.QListWidgetItem:
        item = QtWidgets.QListWidgetItem(Path(path).name)
        item.setData(ROLE_PATH, path)
        item.setData(ROLE_KIND, self._kind(path))
        self.thumb_list.addItem(item)
        self.items[path] = item
        self._refresh_item(path)
        return item

    def _queue_thumbs(self, paths: list[str]) -> None:
        self._thumb_queue.extend(paths)
        if self._thumb_queue and not self._thumb_timer.isActive():
            self._thumb_timer.start()

    def thumbnails_pending(self) -> int:
        return len(self._thumb_queue)

    def _thumb_tick(self) -> None:
        t0 = time.perf_counter()
        while self._thumb_queue and time.perf_counter() - t0 < THUMB_BUDGET_S:
            path = self._thumb_queue.pop(0)
            if path not in self.items or path in self.thumbs:
                continue
            try:
                arr, scale = self._raw(path)
                self.thumbs[path] = _qimage_gray(thumbnail_array(arr, scale))
                self._thumb_errors.pop(path, None)
            except (ImageLoadError, OSError, ValueError) as exc:
                self._thumb_errors[path] = str(exc)
                if path in self.loose:
                    msg = f"{exc}"
                    if msg not in self.loose_problems:
                        self.loose_problems.append(msg)
                        self._update_problems()
            self._refresh_item(path)
        if self._thumb_queue:
            self._thumb_timer.start()

    def _icon(self, path: str) -> QtGui.QIcon:
        size = THUMB_SIZE
        pix = QtGui.QPixmap(size, size)
        pix.fill(QtGui.QColor("#303030"))
        painter = QtGui.QPainter(pix)
        try:
            thumb = self.thumbs.get(path)
            if thumb is not None:
                scaled = thumb.scaled(size - 6, size - 6, QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                                      QtCore.Qt.TransformationMode.SmoothTransformation)
                painter.drawImage((size - scaled.width()) // 2, (size - scaled.height()) // 2, scaled)
            elif path in self._thumb_errors:
                painter.setPen(QtGui.QColor(ERROR_COLOUR))
                painter.drawText(pix.rect(), int(QtCore.Qt.AlignmentFlag.AlignCenter), "unreadable")
            pen = QtGui.QPen(QtGui.QColor(self._colour_of(path)))
            pen.setWidth(3)
            painter.setPen(pen)
            painter.drawRect(1, 1, size - 3, size - 3)
            verdict = self._verdict_of(path)
            if verdict is not None:
                painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
                painter.setPen(QtGui.QPen(QtGui.QColor("white"), 1.5))
                painter.setBrush(QtGui.QColor(*(DEFECT_RGB if verdict[0] else OK_RGB)))
                painter.drawEllipse(QtCore.QRectF(size - 20, 4, 15, 15))
        finally:
            painter.end()
        return QtGui.QIcon(pix)

    def _refresh_item(self, path: str) -> None:
        item = self.items.get(path)
        if item is None:
            return
        item.setIcon(self._icon(path))
        tip = f"{path}\nclass: {self._class_of(path)}"
        if path in self._thumb_errors:
            tip += f"\nproblem: {self._thumb_errors[path]}"
        verdict = self._verdict_of(path)
        if verdict is not None:
            tip += f"\nmodel: {self._verdict_sentence(*verdict)}"
        item.setToolTip(tip)

    def _refresh_all_items(self) -> None:
        for path in list(self.items):
            self._refresh_item(path)

    def _fill_filter(self) -> None:
        current = self.filter_combo.currentData()
        self.filter_combo.blockSignals(True)
        self.filter_combo.clear()
        self.filter_combo.addItem("All", "all")
        if self.dataset is not None:
            for name in self.dataset.class_names:
                self.filter_combo.addItem(name, f"class:{name}")
        if self.loose:
            self.filter_combo.addItem(UNLABELLED, "loose")
        if self._misclassified:
            self.filter_combo.addItem("Misclassified (test)", "wrong")
        i = self.filter_combo.findData(current)
        self.filter_combo.setCurrentIndex(max(0, i))
        self.filter_combo.blockSignals(False)
        self._apply_filter()

    def _apply_filter(self, *_args) -> None:
        what = self.filter_combo.currentData() or "all"
        for path, item in self.items.items():
            if what == "all":
                show = True
            elif what == "loose":
                show = path not in self._index
            elif what == "wrong":
                show = path in self._misclassified
            else:
                show = self._class_of(path) == what.partition(":")[2]
            item.setHidden(not show)

    def _update_problems(self) -> None:
        problems = [str(p) for p in (self.dataset.problems if self.dataset is not None else [])] + self.loose_problems
        self.problems_list.clear()
        for text in problems:
            item = QtWidgets.QListWidgetItem(text)
            item.setToolTip(text)
            self.problems_list.addItem(item)
        self.problems_button.setText(f"{len(problems)} skipped file(s)" if problems else "No problems")
        self.problems_button.setEnabled(bool(problems))
        self.problems_button.setToolTip("Files that were skipped, and why" if problems else "")
        if not problems:
            self.problems_button.setChecked(False)

    def _toggle_problems(self, on: bool) -> None:
        self.problems_button.setArrowType(QtCore.Qt.ArrowType.DownArrow if on else QtCore.Qt.ArrowType.RightArrow)
        self.problems_list.setVisible(on)

    # ================================================================ centre view
    def _raw(self, path: str) -> tuple[np.ndarray, float]:
        if self.dataset is not None and path in self._index:
            return self.dataset.raw(self._index[path])
        return read_image(path, self.crop_spin.value())

    def _current_item_changed(self, current: QtWidgets.QListWidgetItem | None, _previous=None) -> None:
        if current is not None:
            self.show_image(current.data(ROLE_PATH))

    def show_image(self, path: str) -> bool:
        """Show one image (a dataset image, an unlabelled one or any file) in the centre."""
        path = str(path)
        try:
            arr, scale = self._raw(path)
        except (ImageLoadError, OSError, ValueError) as exc:
            self.show_message(str(exc), "error")
            return False
        image = arr.astype(np.float32)
        if scale != 1.0:
            image *= np.float32(1.0 / scale)
        self.shown_path = path
        self.view.set_image(image)
        h, w = image.shape
        rows, cols = h // PATCH_SIZE, w // PATCH_SIZE
        counted = self._counted_cell(path)
        self.view.set_marked_cell(counted)
        self.title_label.setText(f"<b>{breakable(Path(path).name)}</b> — {self._class_of(path)} · {w}×{h} px · "
                                 f"{rows}×{cols} patches of {PATCH_SIZE}²"
                                 + (f" · dashed: the representative patch {counted} the test accuracy counts"
                                    if self.view.marked_cell() else ""))
        self.title_label.setToolTip(path)
        if path in self.items and self.thumb_list.currentItem() is not self.items[path]:
            self.thumb_list.blockSignals(True)
            self.thumb_list.setCurrentItem(self.items[path])
            self.thumb_list.blockSignals(False)
        self._apply_prediction()
        self.update_buttons()
        self._maybe_auto_classify()
        return True

    def _apply_prediction(self) -> None:
        pred = self.predictions.get(self.shown_path or "")
        values = None
        if pred is not None and not pred.error and pred.patch_defect:
            values = np.asarray(pred.patch_defect, dtype=np.float32)
            if values.shape != self.view.grid_shape():
                values = None  # made with another crop
        self.view.set_cell_values(values, PATCH_THRESHOLD)
        self._update_verdict()

    def _on_hover(self, r: int, c: int) -> None:
        if r < 0:
            self.hover_label.setText("")
            return
        values = self.view.cell_values()
        text = f"Patch ({r}, {c})"
        if values is not None:
            text += f": P(defect) {values[r, c]:.2f}"
        self.hover_label.setText(text)

    # ------------------------------------------------------------------- verdict
    @property
    def share_threshold(self) -> float:
        """The verdict's share threshold: the exact value given to :meth:`set_share_threshold` (a
        model's calibrated 7/64 = 10.9375 %) while the spin box shows it (to 0.01 %), else what the
        user set.  The rounded value would give a different verdict than the training's evaluation
        and ``sem predict`` for images right at the threshold."""
        shown = self.share_spin.value() / 100.0
        if self._share_exact is not None and abs(self._share_exact - shown) <= 0.00005 + 1e-12:
            return self._share_exact
        return shown

    def set_share_threshold(self, fraction: float) -> None:
        self._share_exact = min(max(float(fraction), 0.005), 1.0)
        self.share_spin.setValue(round(self._share_exact * 100, 2))
        self._share_changed(self.share_spin.value())  # also when the shown value did not change

    def _sync_share_slider(self, percent: float) -> None:
        self.share_slider.blockSignals(True)
        self.share_slider.setValue(round(2 * percent))
        self.share_slider.blockSignals(False)

    def _verdict_of(self, path: str) -> tuple[bool, int, int, float] | None:
        """(defective, patches above 0.5, patches, share) from the stored probabilities."""
        pred = self.predictions.get(path)
        if pred is None or pred.error or not pred.patch_defect:
            return None
        v = np.asarray(pred.patch_defect, dtype=np.float64).ravel()
        defective, share = M.image_verdict(v, PATCH_THRESHOLD, self.share_threshold)
        return defective, int(np.sum(v >= PATCH_THRESHOLD)), int(v.size), share

    def _verdict_sentence(self, defective: bool, k: int, n: int, share: float) -> str:
        word = "Defective" if defective else "Homogeneous"
        return (f"{word} — {k} of {n} patches ({share:.0%}) above {PATCH_THRESHOLD}; "
                f"defective from {_share_percent(self.share_threshold)}")

    def verdict_text(self) -> str:
        return self.verdict_label.text()

    def _update_verdict(self) -> None:
        path = self.shown_path
        pred = self.predictions.get(path or "")
        if path is None:
            text, bg, fg = "Open a dataset or images; the model's verdict appears here.", None, None
        elif pred is not None and pred.error:
            text, bg, fg = f"Could not classify: {pred.error}", None, ERROR_COLOUR
        else:
            verdict = self._verdict_of(path)
            if verdict is not None and self.view.cell_values() is not None:
                text = self._verdict_sentence(*verdict)
                bg, fg = ("#%02x%02x%02x" % (DEFECT_RGB if verdict[0] else OK_RGB)), "white"
            elif self.model_checkpoint is None:
                text, bg, fg = "No model yet: train one (Train) or reopen a run from the Runs dock.", None, None
            elif self.job_running("predict"):
                text, bg, fg = "Classifying…", None, None
            else:
                text, bg, fg = "Not classified yet: press Evaluate.", None, None
        self.verdict_label.setText(text)
        style = ""
        if bg:
            style += f"background-color: {bg}; border-radius: 4px;"
        if fg:
            style += f"color: {fg};"
        self.verdict_label.setStyleSheet(style)

    def _share_changed(self, _value: float) -> None:
        self._update_verdict()
        for path in list(self.predictions):  # only their verdict dots change
            self._refresh_item(path)

    # ===================================================================== model
    def apply_paper_protocol(self) -> None:
        """Sect. 2.3 of the paper: CNN_5 + FC 40, momentum 0.9, lr 1e-3, wd 1e-4, batch 32,
        one representative patch per image, 300 iterations; where the paper is silent, what it
        most likely did: no augmentation, the training mean subtracted (here with the std)."""
        self.depth_spin.setValue(5)
        self.fc40_check.setChecked(True)
        self.optimizer_combo.setCurrentText("momentum")
        self.lr_spin.setValue(1e-3)
        self.wd_spin.setValue(1e-4)
        self.batch_spin.setValue(32)
        self.patch_mode_combo.setCurrentIndex(self.patch_mode_combo.findData("representative"))
        self.iterations_radio.setChecked(True)
        self.length_spin.setValue(PAPER_ITERATIONS)
        self.augment_check.setChecked(False)
        self.blur_noise_check.setChecked(False)
        self.shift_spin.setValue(0)
        self.average_check.setChecked(False)
        self.input_norm_combo.setCurrentIndex(self.input_norm_combo.findData("dataset"))
        self.set_status("Paper protocol set: representative patch, 300 iterations of SGD with momentum ending "
                         "with the last step's weights, no augmentation, blur/noise or shifts, inputs normalised by the training patches' mean and std.")

    def _length_mode_changed(self, iterations: bool) -> None:
        self.length_spin.blockSignals(True)
        self.length_spin.setValue(self._length["iterations" if iterations else "epochs"])
        self.length_spin.blockSignals(False)

    def _length_changed(self, value: int) -> None:
        self._length["iterations" if self.iterations_radio.isChecked() else "epochs"] = value

    def set_length(self, value: int, iterations: bool) -> None:
        (self.iterations_radio if iterations else self.epochs_radio).setChecked(True)
        self.length_spin.setValue(int(value))

    def model_name(self) -> str:
        return f"cnn{self.depth_spin.value()}" + ("-fc40" if self.fc40_check.isChecked() else "")

    def train_config(self, init_checkpoint: str | None = None):
        """The :class:`studio.sem.jobs.SemTrainConfig` the controls describe."""
        from studio.sem.jobs import SemTrainConfig, paper_fit_config

        n = self.length_spin.value()
        iterations = self.iterations_radio.isChecked()
        fit = paper_fit_config(optimizer=self.optimizer_combo.currentText(), lr=float(self.lr_spin.value()),
                               weight_decay=float(self.wd_spin.value()), batch_size=self.batch_spin.value(),
                               epochs=None if iterations else n, iterations=n if iterations else None)
        return SemTrainConfig(data=self.dataset_source, crop_bottom=self.crop_spin.value(),
                              patch_mode=self.patch_mode_combo.currentData(), depth=self.depth_spin.value(),
                              fc40=self.fc40_check.isChecked(), augment=self.augment_check.isChecked(),
                              blur_noise=self.blur_noise_check.isChecked(),
                              shift=self.shift_spin.value(),
                              average_from=AVERAGE_FROM if self.average_check.isChecked() else None,
                              input_norm=self.input_norm_combo.currentData(), fit=fit,
                              init_checkpoint=init_checkpoint,
                              **self.sample_options)  # share threshold: calibrated by the training

    def restore_config(self, config: dict[str, Any]) -> None:
        """Set the controls from a run's config (a SemTrainConfig dict)."""
        fit = config.get("fit") or {}
        if "depth" in config:
            self.depth_spin.setValue(int(config["depth"]))
        if "fc40" in config:
            self.fc40_check.setChecked(bool(config["fc40"]))
        if "augment" in config:
            self.augment_check.setChecked(bool(config["augment"]))
        if "patch_mode" in config:  # a SemTrainConfig; runs made before an option did without it
            index = self.input_norm_combo.findData(config.get("input_norm", "dataset"))
            self.input_norm_combo.setCurrentIndex(max(0, index))
            self.shift_spin.setValue(int(config.get("shift", 0)))
            self.blur_noise_check.setChecked(bool(config.get("blur_noise", False)))
            self.average_check.setChecked(config.get("average_from") is not None)
        if fit.get("optimizer") in OPTIMIZERS:
            self.optimizer_combo.setCurrentText(fit["optimizer"])
        if fit.get("lr"):
            self.lr_spin.setValue(float(fit["lr"]))
        if fit.get("weight_decay") is not None:
            self.wd_spin.setValue(float(fit["weight_decay"]))
        if fit.get("batch_size"):
            self.batch_spin.setValue(int(fit["batch_size"]))
        if fit.get("iterations"):
            self.set_length(int(fit["iterations"]), iterations=True)
        elif fit.get("epochs"):
            self.set_length(int(fit["epochs"]), iterations=False)
        i = self.patch_mode_combo.findData(config.get("patch_mode"))
        if i >= 0:
            self.patch_mode_combo.setCurrentIndex(i)
        if config.get("share_threshold"):
            self.set_share_threshold(float(config["share_threshold"]))
        if "crop_bottom" in config:
            self.crop_spin.blockSignals(True)
            self.crop_spin.setValue(int(config["crop_bottom"]))
            self.crop_spin.blockSignals(False)
            if self.dataset is not None and self.dataset.crop_bottom != self.crop_spin.value():
                self._crop_timer.start()

    # -------------------------------------------------------------------- training
    def _train_clicked(self) -> None:
        if self.train_button.isEnabled():
            self.start_training()

    def start_training(self, *, init_checkpoint: str | None = None, parent_id: int | None = None) -> Job | None:
        """Train on the open dataset with the settings of the controls (a new run)."""
        if not self.services.is_torch_ready:
            self.show_message("Torch is still loading; try again in a moment.", "warning")
            return None
        if self.dataset is None or not self.dataset_source:
            self.show_message("Open a dataset first (a folder, a CSV or the sample).", "warning")
            return None
        if self.job_running("train"):
            self.show_message("A training is already running; Stop it first.", "warning")
            return None
        try:
            cfg = self.train_config(init_checkpoint)
            cfg.fit.validate()
        except ValueError as exc:
            self.show_message(str(exc), "error")
            return None
        self.show_message("")
        name = self.model_name()
        what = "Fine-tune" if init_checkpoint else "Train"
        self.curve.clear()
        from studio.sem.jobs import train_sem

        job = self.submit(train_sem, cfg,
                           name=f"{what} SEM {name}", kind="train", role="train", on_done=self._training_done,
                           run=RunSpec(self.key, name, cfg.to_dict(), parent_id=parent_id))
        self.train_job = job
        run = f" as run #{job.run.id}" if job.run is not None else ""
        self.set_status(f"{what}ing {name} on {job.device}{run}…")
        return job

    def retrain(self, from_checkpoint: bool = True) -> Job | None:
        """Train again on the dataset as it is now; the run's parent is the current model's run."""
        parent = self.model_run.id if self.model_run is not None else None
        if from_checkpoint:
            if self.model_checkpoint is None:
                self.show_message("There is no current model to fine-tune; train one first.", "warning")
                return None
            hp = (self.model_meta.hyperparameters if self.model_meta is not None else {}) or {}
            if "depth" in hp:
                self.depth_spin.setValue(int(hp["depth"]))
            if "fc40" in hp:
                self.fc40_check.setChecked(bool(hp["fc40"]))
            return self.start_training(init_checkpoint=self.model_checkpoint, parent_id=parent)
        return self.start_training(parent_id=parent)

    def _training_done(self, job: Job) -> None:
        result = job.result
        run = job.run
        checkpoint = result.checkpoint or (run.checkpoint if run is not None else None)
        evaluation = {"metrics": result.metrics, "report": result.report, "images": result.test_images,
                      "roc": result.roc, "class_names": result.class_names}
        if checkpoint is None:
            self.show_message("The training finished without a checkpoint; the model cannot be used.", "error")
            self._show_evaluation(evaluation)
            return
        self._set_model(checkpoint, run, None, evaluation)
        m = result.metrics
        rid = f"Run #{run.id}" if run is not None else "Training"
        self.set_status(f"{rid} done in {job.elapsed():.1f} s on {job.device}: test accuracy "
                         f"{_pct(m.get('test/accuracy'))}, AUC {m.get('test/auc', float('nan')):.3f}, image "
                         f"accuracy {_pct(m.get('test/image_accuracy'))} (defective from "
                         f"{_share_percent(self.share_threshold)} of patches, calibrated on the training images).")
        self._maybe_auto_classify()

    # ------------------------------------------------------------------ the model
    @staticmethod
    def _load_meta(checkpoint: str):
        """The checkpoint's description; with torch loaded, also checks that the weights load."""
        from studio.engine.checkpoints import CheckpointMeta

        if "torch" in sys.modules:
            from studio.sem.jobs import load_model

            _net, meta = load_model(checkpoint)
            return meta
        p = Path(checkpoint)
        if p.is_dir():
            p = p / "model"
        if p.suffix in (".safetensors", ".json"):
            p = p.with_suffix("")
        sidecar = p.with_name(p.name + ".json")
        if not sidecar.is_file() or not p.with_name(p.name + ".safetensors").is_file():
            raise FileNotFoundError(f"{p}.safetensors / .json: checkpoint not found")
        meta = CheckpointMeta.from_json(json.loads(sidecar.read_text(encoding="utf-8")))
        if meta.model_kind != "sem-cnn":
            raise ValueError(f"{sidecar}: a {meta.model_kind!r} checkpoint, not an SEM classifier")
        return meta

    def _set_model(self, checkpoint: str, run: RunRecord | None, meta, evaluation: dict | None) -> None:
        if meta is None:
            try:
                meta = self._load_meta(checkpoint)
            except (ValueError, OSError) as exc:
                self.show_message(f"Cannot use the checkpoint {checkpoint}: {exc}", "error")
                return
        self.model_checkpoint = str(checkpoint)
        self.model_meta = meta
        self.model_run = run
        share = (meta.extra or {}).get("share_threshold")
        if share:
            self.set_share_threshold(float(share))
        crop = (meta.extra or {}).get("crop_bottom")
        if crop is not None and int(crop) != self.crop_spin.value():
            self.crop_spin.setValue(int(crop))  # the model saw images cropped like this (reloads after a pause)
        self._drop_predictions()
        if evaluation is not None:
            evaluation.setdefault("class_names", list(meta.class_names))
        self._show_evaluation(evaluation)
        self._update_model_label()
        self.update_buttons()

    def _update_model_label(self) -> None:
        if self.model_checkpoint is None:
            self.model_label.setText("<b>Model:</b> none — train one, or reopen a run from the Runs dock.")
            self.model_label.setToolTip("")
            return
        meta = self.model_meta
        hp = meta.hyperparameters if meta is not None else {}
        arch = f"CNN_{hp.get('depth', '?')}" + (" + FC 40" if hp.get("fc40") else "")
        run = f"run #{self.model_run.id}" if self.model_run is not None else Path(self.model_checkpoint).name
        parent = (f" (from #{self.model_run.parent_id})" if self.model_run is not None and self.model_run.parent_id
                  else "")
        classes = "/".join(meta.class_names) if meta is not None else "?"
        self.model_label.setText(f"<b>Model:</b> {run}{parent} · {arch} · {classes}")
        self.model_label.setToolTip(self.model_checkpoint)

    # ------------------------------------------------------------------ inference
    def _evaluate_clicked(self) -> None:
        if self.evaluate_button.isEnabled():
            self.evaluate()

    def _targets(self) -> list[str]:
        selected = [it.data(ROLE_PATH) for it in self.thumb_list.selectedItems() if not it.isHidden()]
        if len(selected) > 1:
            return selected
        return [self.shown_path] if self.shown_path else selected

    def evaluate(self, paths: list[str] | None = None, *, auto: bool = False) -> Job | None:
        """Classify images with the current model (kind "task"); default: the selection or the shown image."""
        if self.model_checkpoint is None:
            if not auto:
                self.show_message("No model yet: train one or reopen a run.", "warning")
            return None
        if not self.services.is_torch_ready:
            return None
        paths = [str(p) for p in (paths if paths is not None else self._targets())]
        if not paths:
            if not auto:
                self.show_message("Select or open images to classify.", "warning")
            return None
        if self.job_running("predict"):
            self._pending_auto = paths[0] if auto else None
            return None
        from studio.sem.jobs import SemPredictConfig, predict_sem

        cfg = SemPredictConfig(model=self.model_checkpoint, images=paths, crop_bottom=self.crop_spin.value(),
                               patch_threshold=PATCH_THRESHOLD, share_threshold=self.share_threshold)
        label = Path(paths[0]).name if len(paths) == 1 else f"{len(paths)} images"
        job = self.submit(predict_sem, cfg, name=f"Classify {label}", kind="task", role="predict",
                           on_done=self._predictions_done)
        self.predict_job = job
        if not auto:
            self.set_status(f"Classifying {label}…")
        self._update_verdict()
        return job

    def _maybe_auto_classify(self) -> None:
        path = self.shown_path
        if (path and self.auto_check.isChecked() and self.model_checkpoint and self.services.is_torch_ready
                and path not in self.predictions):
            self.evaluate([path], auto=True)

    def _predictions_done(self, job: Job) -> None:
        if job.result is None:
            return
        errors = []
        for p in job.result.images:
            self.predictions[p.path] = p
            if p.error:
                errors.append(p.error)
            self._refresh_item(p.path)
        if errors:
            self.show_message("Could not classify: " + "; ".join(errors), "error")
        n = len(job.result.images)
        if n > 1:
            ok = [p for p in job.result.images if not p.error]
            defective = sum(1 for p in ok if self._verdict_of(p.path)[0])
            self.set_status(f"Classified {n} images: {defective} defective, {len(ok) - defective} homogeneous.")
        else:
            self.set_status("Ready.")
        if self.shown_path in {p.path for p in job.result.images}:
            self._apply_prediction()
        else:
            self._update_verdict()
        pending, self._pending_auto = self._pending_auto, None
        if pending and pending == self.shown_path and pending not in self.predictions:
            self.evaluate([pending], auto=True)

    def _drop_predictions(self) -> None:
        self.predictions.clear()
        self.view.set_cell_values(None)
        self._refresh_all_items()
        self._update_verdict()

    # ------------------------------------------------------------------ evaluation
    def _counted_cell(self, path: str) -> tuple[int, int] | None:
        """(row, col) of the representative patch the shown evaluation counted for this test image, if any."""
        for entry in (self.evaluation or {}).get("images") or []:
            rep = entry.get("representative")
            if rep and str(entry.get("path", "")) == path:
                return int(rep["row"]), int(rep["col"])
        return None

    def _show_evaluation(self, ev: dict | None) -> None:
        self.evaluation = ev
        self.metrics_table.setRowCount(0)
        self.misclassified_list.clear()
        self.roc_plot.clear()
        self._misclassified = set()
        if not ev:
            self.eval_caption.setText("No evaluation for this model.")
            self._fill_confusion()
            self._fill_filter()
            return
        metrics = ev.get("metrics") or {}
        report = ev.get("report") or {}
        patch = report.get("patch") or {}
        names = list(ev.get("class_names") or list((patch.get("per_class") or {}).keys()))
        images = ev.get("images") or []
        self.eval_caption.setText(
            f"Test split: {len(images)} images · training patches: {report.get('patch_mode', '?')} · defect class "
            f"{report.get('positive', '?')} positive · defective from "
            f"{_share_percent(float(report.get('share_threshold') or M.DEFAULT_SHARE_THRESHOLD))} of patches")

        t = self.metrics_table
        rows: list[tuple[str, list[str] | str]] = []
        for name in names:
            pc = (patch.get("per_class") or {}).get(name, {})
            rows.append((name, [_pct(pc.get("precision")), _pct(pc.get("recall")), _pct(pc.get("f_score")),
                                str(pc.get("support", "–"))]))
        avg = patch.get("average") or {}
        if avg:
            rows.append(("Average", [_pct(avg.get("precision")), _pct(avg.get("recall")), _pct(avg.get("f_score")),
                                     ""]))
        rows.append(("Accuracy", _pct(metrics.get("test/accuracy", patch.get("accuracy")))))
        auc = metrics.get("test/auc")
        rows.append(("AUC", "–" if auc is None or not math.isfinite(float(auc)) else f"{float(auc):.3f}"))
        rows.append(("Image accuracy", _pct(metrics.get("test/image_accuracy"))))
        if "train/accuracy" in metrics:  # representative patches: the model's calls on its own training patches
            rows.append(("Train accuracy", _pct(metrics["train/accuracy"])))
        if "train/loss" in metrics:
            rows.append(("Train loss", f"{float(metrics['train/loss']):.4f}"))
        t.setRowCount(len(rows))
        t.setVerticalHeaderLabels([r[0] for r in rows])
        for i, (_, values) in enumerate(rows):
            if isinstance(values, str):
                t.setSpan(i, 0, 1, 4)
                item = QtWidgets.QTableWidgetItem(values)
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
                t.setItem(i, 0, item)
            else:
                for j, v in enumerate(values):
                    item = QtWidgets.QTableWidgetItem(v)
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
                    t.setItem(i, j, item)
        t.resizeRowsToContents()

        roc = ev.get("roc") or {}
        fpr, tpr = roc.get("fpr") or [], roc.get("tpr") or []
        self.roc_plot.plot([0, 1], [0, 1], pen=pg.mkPen((150, 150, 150), style=QtCore.Qt.PenStyle.DashLine))
        if fpr and tpr:
            self.roc_plot.plot(fpr, tpr, pen=pg.mkPen("#ff7f0e", width=2))
        auc_text = "–" if auc is None or not math.isfinite(float(auc)) else f"{float(auc):.3f}"
        self.roc_plot.setTitle(f"Test patches, AUC {auc_text}")

        for entry in images:
            wrong = misclassification_text(entry)
            if not wrong:
                continue
            path = str(entry.get("path", ""))
            self._misclassified.add(path)
            item = QtWidgets.QListWidgetItem(f"{Path(path).name}: {wrong}")
            item.setData(ROLE_PATH, path)
            item.setToolTip(f"{path}\n{wrong}")
            self.misclassified_list.addItem(item)
        if self.misclassified_list.count() == 0 and images:
            self.misclassified_list.addItem("All test images were classified correctly.")
        self.result_tabs.setTabText(3, f"Misclassified ({len(self._misclassified)})")
        self._fill_confusion()
        self._fill_filter()

    def _fill_confusion(self, *_args) -> None:
        t = self.confusion_table
        ev = self.evaluation or {}
        level = self.confusion_combo.currentData() or "patch"
        rep = ((ev.get("report") or {}).get(level)) or {}
        cm = rep.get("confusion")
        names = list(ev.get("class_names") or (rep.get("per_class") or {}).keys())
        if cm is None or not names:
            t.setRowCount(0)
            t.setColumnCount(0)
            return
        cm = np.asarray(cm)
        t.setRowCount(len(names))
        t.setColumnCount(len(names))
        t.setHorizontalHeaderLabels([f"→ {n}" for n in names])
        t.setVerticalHeaderLabels(names)
        for i in range(len(names)):
            for j in range(len(names)):
                item = QtWidgets.QTableWidgetItem(str(int(cm[i, j])))
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
                if i == j:
                    item.setBackground(QtGui.QColor(46, 125, 50, 90))
                elif cm[i, j]:
                    item.setBackground(QtGui.QColor(198, 40, 40, 70))
                t.setItem(i, j, item)

    def _misclassified_clicked(self, item: QtWidgets.QListWidgetItem) -> None:
        path = item.data(ROLE_PATH)
        if path:
            self.show_image(path)

    # ===================================================================== jobs
    def _on_metric(self, job, name, value, step, epoch, wall) -> None:
        if job is self.train_job and name in CURVE_KEYS:
            self.curve.add_point(name, step, value, epoch, wall)

    def job_ended(self, job: Job, role: str) -> None:
        if role == "predict" and job.status != "done":
            self._update_verdict()
        if role == "train":
            self.curve.flush()

    # ============================================================ relabel / add images
    def ask_folder(self, title: str, start: str) -> str:
        return QtWidgets.QFileDialog.getExistingDirectory(self, title, start)

    def ask_class(self, paths: list[str], allow_unlabelled: bool = True) -> str | None:
        """A class name, "" for "open as unlabelled", or None when cancelled."""
        names = list(self.dataset.class_names) if self.dataset is not None else []
        options = [f"Add to class {n} (copy into the dataset)" for n in names]
        if allow_unlabelled:
            options.append("Open as unlabelled images (no copy)")
        choice, ok = QtWidgets.QInputDialog.getItem(self, "Add images", f"{len(paths)} image(s):", options, 0, False)
        if not ok:
            return None
        i = options.index(choice)
        return names[i] if i < len(names) else ""

    def _can_edit_dataset(self) -> bool:
        if self.dataset is None:
            self.show_message("Open a dataset first.", "warning")
            return False
        if self.dataset.source != "folder":
            self.show_message("Relabelling and adding images work on folder datasets only (one sub-folder per class). "
                              f"This dataset is a CSV list ({self.dataset_source}); change its labels in the CSV and "
                              "open it again.", "warning")
            return False
        if self.job_running("load"):
            self.show_message("Wait until the dataset has loaded.", "warning")
            return False
        return True

    def _ensure_user_copy(self) -> bool:
        """The cached sample is never modified: copy it to a folder of the user's first."""
        if not self.dataset_is_sample:
            root = Path(self.dataset.root).resolve()
            samples = (studio_home() / "samples").resolve()
            if samples not in root.parents:
                return True
        root = Path(self.dataset.root)
        if not self.confirm("Copy the sample dataset",
                            f"The sample dataset is Inspection Studio's cached copy ({root}), which stays as it is. "
                            "To relabel or add images it is first copied to a folder of yours, and the workbench "
                            "switches to that copy.\n\nChoose the folder next. Continue?"):
            return False
        folder = self.ask_folder("Copy the sample dataset into…", data_folder(self.services.settings))
        if not folder:
            return False
        target = _unique_path(Path(folder) / root.name)
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            shutil.copytree(root, target, ignore=shutil.ignore_patterns("labels.csv", "manifest.json", ".*"))
        except OSError as exc:
            self.show_message(f"Could not copy the sample dataset to {target}: {exc}", "error")
            return False
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
        self._relocate_dataset(target)
        self._copy_note = (f"The sample dataset was copied to {target}; changes go to this copy (the cached sample "
                           "is unchanged).")
        self.show_message(self._copy_note, "info")
        return True

    def _with_copy_note(self, text: str) -> str:
        note, self._copy_note = self._copy_note, ""
        return f"{note} {text}" if note else text

    def _relocate_dataset(self, new_root: Path) -> None:
        ds = self.dataset
        old_root = Path(ds.root)
        mapping = {str(p): str(new_root / Path(p).relative_to(old_root)) for p in ds.paths}
        new = dataclasses.replace(ds, root=Path(new_root), paths=[Path(mapping[str(p)]) for p in ds.paths],
                                  labels=ds.labels.copy(), problems=list(ds.problems), sizes=list(ds.sizes),
                                  bit_depths=list(ds.bit_depths))
        new._cache = ds._cache  # same pixels, same indices
        self._relocated = mapping
        self.dataset = new
        self.dataset_source = str(new_root)
        self.dataset_is_sample = False
        for old, path in mapping.items():
            self._rekey(old, path)
        self._reindex()
        self._rebuild_list()
        self._update_summary()

    def _rekey(self, old: str, new: str) -> None:
        for store in (self.thumbs, self.predictions, self._thumb_errors):
            if old in store:
                store[new] = store.pop(old)
        if new in self.predictions:
            self.predictions[new].path = new
        if self.shown_path == old:
            self.shown_path = new
        item = self.items.pop(old, None)
        if item is not None:
            item.setData(ROLE_PATH, new)
            self.items[new] = item

    def move_to_class(self, paths: list[str], class_name: str) -> list[str]:
        """Move dataset images into another class folder (after confirmation); returns the new paths.

        Never overwrites: a name already taken in the target folder gets a ``_2`` … suffix.
        """
        if not self._can_edit_dataset():
            return []
        ds = self.dataset
        if class_name not in ds.class_names:
            self.show_message(f"No class {class_name!r} in this dataset ({', '.join(ds.class_names)}).", "warning")
            return []
        target = ds.class_names.index(class_name)
        paths = [str(p) for p in paths if str(p) in self._index and int(ds.labels[self._index[str(p)]]) != target]
        if not paths:
            self.show_message(f"Nothing to move: the images are already in {class_name}.", "info")
            return []
        if not self._ensure_user_copy():
            return []
        ds = self.dataset
        paths = [self._relocated.get(p, p) for p in paths]
        if not self.confirm("Move to class", f"Move {len(paths)} image(s) to class {class_name}?\n\nThe files are "
                                             f"moved into {Path(ds.root) / class_name}. Retrain to use the new "
                                             "labels."):
            return []
        root = Path(ds.root)
        folder = root / class_name
        moved: list[str] = []
        for p in paths:
            if p not in self._index:
                continue
            i = self._index[p]
            dest = _unique_path(folder / Path(p).name)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                if dest.exists():  # raced in since _unique_path
                    raise FileExistsError(f"{dest} already exists")
                shutil.move(p, dest)
            except OSError as exc:
                self.show_message(f"Could not move {p} to {dest}: {exc}", "error")
                break
            ds.paths[i] = dest
            ds.labels[i] = target
            self._rekey(p, str(dest))
            self._index[str(dest)] = self._index.pop(p)
            moved.append(str(dest))
        for p in moved:
            self.items[p].setData(ROLE_KIND, "dataset")
            self._refresh_item(p)
        self._apply_filter()
        self._update_summary()
        if self.shown_path in moved:
            self.show_image(self.shown_path)
        if moved:
            renamed = sum(1 for p in moved if not any(Path(p).name == Path(o).name for o in paths))
            extra = f" ({renamed} renamed to avoid overwriting a file)" if renamed else ""
            self.show_message(self._with_copy_note(f"Moved {len(moved)} image(s) to {class_name}{extra}. Retrain to "
                                                   "use the new labels."), "info")
        return moved

    def add_images_to_class(self, paths: list[str], class_name: str) -> list[str]:
        """Copy image files into a class folder of the dataset (after confirmation); returns the new paths."""
        if not self._can_edit_dataset():
            return []
        ds = self.dataset
        if class_name not in ds.class_names:
            self.show_message(f"No class {class_name!r} in this dataset ({', '.join(ds.class_names)}).", "warning")
            return []
        paths = [str(p) for p in paths if _is_image_file(str(p))]
        if not paths:
            self.show_message("No image files to add.", "warning")
            return []
        if not self._ensure_user_copy():
            return []
        ds = self.dataset
        if not self.confirm("Add images", f"Copy {len(paths)} image(s) into {Path(ds.root) / class_name}?\n\n"
                                          "Existing files are never overwritten (a suffix is added)."):
            return []
        folder = Path(ds.root) / class_name
        label = ds.class_names.index(class_name)
        added, problems = [], []
        for src in paths:
            try:
                arr, _scale = read_image(src, ds.crop_bottom)
            except ImageLoadError as exc:
                problems.append(str(exc))
                continue
            dest = _unique_path(folder / Path(src).name)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
            except OSError as exc:
                problems.append(f"{src}: cannot copy to {dest} ({exc})")
                continue
            ds.paths.append(dest)
            ds.labels = np.append(ds.labels, label).astype(np.int64)
            ds.sizes.append((int(arr.shape[0]), int(arr.shape[1])))
            ds.bit_depths.append(16 if arr.dtype == np.uint16 else 32 if arr.dtype == np.float32 else 8)
            self._index[str(dest)] = len(ds.paths) - 1
            if os.path.abspath(src) in self.loose:
                self.loose.remove(os.path.abspath(src))
                old = self.items.pop(os.path.abspath(src), None)
                if old is not None:
                    self.thumb_list.takeItem(self.thumb_list.row(old))
            self._add_item(str(dest))
            added.append(str(dest))
        for text in problems:
            ds.problems.append(LoadProblem(Path(text.split(":")[0]), text))
        self._queue_thumbs(added)
        self._update_problems()
        self._update_summary()
        self._fill_filter()
        msg = f"Added {len(added)} image(s) to {class_name}. Retrain to use them."
        if problems:
            msg += f" {len(problems)} skipped: " + "; ".join(problems)
        self.show_message(self._with_copy_note(msg), "warning" if problems else "info")
        return added

    def _add_images_dialog(self) -> None:
        if not self._can_edit_dataset():
            return
        pattern = " ".join(f"*{e}" for e in SUPPORTED_EXTENSIONS)
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Images to add to the dataset", self._start_folder(),
                                                          f"SEM images ({pattern})")
        if not paths:
            return
        choice = self.ask_class(paths, allow_unlabelled=False)
        if choice:
            self.add_images_to_class(paths, choice)

    def _on_files_dropped(self, paths: list[str]) -> None:
        images = [p for p in paths if _is_image_file(p)]
        rest = [p for p in paths if p not in images]
        if rest:
            self.open_paths(rest)
        if not images:
            return
        if self.dataset is not None and self.dataset.source == "folder" and not self.job_running("load"):
            choice = self.ask_class(images)
            if choice is None:
                return
            if choice:
                self.add_images_to_class(images, choice)
                return
        self.open_images(images)

    def _thumb_menu(self, pos: QtCore.QPoint) -> None:
        item = self.thumb_list.itemAt(pos)
        if item is None:
            return
        if not item.isSelected():
            self.thumb_list.setCurrentItem(item)
        paths = [it.data(ROLE_PATH) for it in self.thumb_list.selectedItems()] or [item.data(ROLE_PATH)]
        menu = QtWidgets.QMenu(self)
        classify = menu.addAction(f"Classify {len(paths)} image(s)", lambda: self.evaluate(paths))
        classify.setEnabled(self.model_checkpoint is not None and self.services.is_torch_ready
                            and not self.job_running("predict"))
        in_dataset = [p for p in paths if p in self._index]
        if self.dataset is not None and in_dataset:
            sub = menu.addMenu("Move to class")
            for name in self.dataset.class_names:
                sub.addAction(name, lambda n=name: self.move_to_class(in_dataset, n))
        menu.addAction("Copy path", lambda: QtWidgets.QApplication.clipboard().setText("\n".join(paths)))
        menu.exec(self.thumb_list.viewport().mapToGlobal(pos))

    # ===================================================================== export
    def current_predictions(self):
        """A :class:`studio.sem.jobs.SemPredictions` of every classified image, verdicts at the current threshold."""
        from studio.sem.jobs import SemPredictions

        out = []
        for path, pred in self.predictions.items():
            pred = dataclasses.replace(pred)
            verdict = self._verdict_of(path)
            if verdict is not None:
                pred.defective, pred.defect_share = verdict[0], verdict[3]
                pred.verdict = "defective" if verdict[0] else "homogeneous"
            out.append(pred)
        names = list(self.model_meta.class_names) if self.model_meta is not None else []
        return SemPredictions(images=out, class_names=names, share_threshold=self.share_threshold)

    def export_predictions_csv(self, path: str | os.PathLike) -> int:
        """Per-image predictions as CSV (``studio.sem.jobs.predictions_csv``); raises OSError."""
        from studio.sem.jobs import predictions_csv

        if not self.predictions:
            raise ValueError("no predictions yet: classify some images first")
        return predictions_csv(self.current_predictions(), path)

    def export_overlay_png(self, path: str | os.PathLike) -> None:
        """The shown image with its grid, overlay and verdict, at full resolution; raises OSError."""
        if self.view.image() is None:
            raise ValueError("no image is shown")
        verdict = self._verdict_of(self.shown_path or "")
        caption = f"{Path(self.shown_path or '').name}: "
        caption += self._verdict_sentence(*verdict) if verdict is not None else "not classified"
        colour = (DEFECT_RGB if verdict[0] else OK_RGB) if verdict is not None else (40, 40, 40)
        self.view.export_png(path, caption, colour)

    def _export_csv_dialog(self) -> None:
        if not self.predictions:
            self.show_message("Nothing to export yet: classify some images (Evaluate).", "warning")
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export predictions as CSV",
                                                        os.path.join(self._start_folder(), "sem_predictions.csv"),
                                                        "CSV (*.csv)")
        if path:
            if not path.lower().endswith(".csv"):
                path += ".csv"
            self._export_guarded(path, self.export_predictions_csv)

    def _export_png_dialog(self) -> None:
        if self.view.image() is None:
            self.show_message("Nothing to export yet: show an image first.", "warning")
            return
        stem = Path(self.shown_path or "image").stem
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export image with overlay as PNG",
                                                        os.path.join(self._start_folder(), f"{stem}_overlay.png"),
                                                        "PNG image (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            self._export_guarded(path, self.export_overlay_png)

    def _export_guarded(self, path: str, exporter) -> bool:
        try:
            exporter(path)
        except OSError as exc:
            QtWidgets.QMessageBox.warning(self, "Export failed", f"Could not write {path}:\n{exc.strerror or exc}")
            return False
        except ValueError as exc:
            self.show_message(str(exc), "warning")
            return False
        self._remember_folder(path)
        self.set_status(f"Exported {path}")
        return True

    # ===================================================================== misc UI
    def update_buttons(self) -> None:
        ready = self.services.is_torch_ready
        training = self.job_running("train")
        loading = self.job_running("load")
        predicting = self.job_running("predict")
        has_model = self.model_checkpoint is not None
        self.train_button.setEnabled(ready and self.dataset is not None and not training and not loading)
        self.retrain_button.setEnabled(ready and self.dataset is not None and has_model and not training
                                       and not loading)
        self.evaluate_button.setEnabled(ready and has_model and not training and not predicting
                                        and bool(self._targets()))
        self.stop_button.setEnabled(bool(self._active))
        self.add_button.setEnabled(self.dataset is not None and not loading)
        if not ready:
            tip = "Available once torch has loaded"
            for b in (self.train_button, self.evaluate_button):
                b.setStatusTip(tip)

# ------------------------------------------------------------------------ preview
def main(argv: list[str] | None = None) -> int:
    """``python -m studio.gui.sem_workbench [PATH…]``: just this workbench in a window."""
    return preview_main(SemWorkbench, argv)


if __name__ == "__main__":
    raise SystemExit(main())
