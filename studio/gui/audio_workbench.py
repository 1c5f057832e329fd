"""Audio Enhancement workbench (paper 003, Kim et al.: dual-stage dynamic time-frequency
masks for noisy sound-event classification).

Layout (DESIGN.md): inputs on the left, views in the centre, curves and results on
the right.

* Left -- the dataset (a folder in the UrbanSound8K layout or with one sub-folder per
  class, or the generated sample), its clips with their class and fold, and the
  files that could not be used; a single recording (any length: pick its 4 s
  segment); the noise (the five generators, or a noise recording) and the SNR slider
  (−5…30 dB); the model (CNN-FC, SFE, DFE, DCL, DSL of section 4, epochs, and the
  trained CNN-FC an enhancer trains through); Train, Evaluate, Stop; the trained
  models, each ticked to be shown in the centre.
* Centre -- the paper's Fig. 3 for the chosen clip, noise and SNR: mel images of the
  clean and the noisy clip, and for each shown enhancer its mask and the enhanced
  features, all on one colour scale; the clean and noisy waveforms (play buttons
  when the machine has an audio output); the predicted class probabilities of the
  noisy input and of each model's enhanced input.  Moving the SNR slider or changing
  the noise or the clip recomputes them in a short background job
  (``studio.audio.jobs.inspect_clip``), debounced, one at a time, the latest wins.
* Right -- live training curves; the noise × SNR grid (Table 2) as a heat map that
  fills in while an evaluation streams ``grid/{noise}/{snr}``; the clean dev/test
  accuracy of every evaluated model (Table 1); per-class accuracy and the confusion
  matrix of the model chosen above the tabs.

Exports: enhanced features (.npy), result tables (CSV) and figures (PNG).

Everything slow runs as a job of the shared pool; ``studio.audio`` modules that
import torch are imported inside job functions or after torch has loaded, so the
window shows before torch is imported.  Run ``python -m studio.gui.audio_workbench``
to open just this workbench.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters.*)
from PySide6 import QtCore, QtGui, QtWidgets

from studio.engine import Job, RunRecord, RunSpec
from studio.gui.audio_player import AudioPlayer, playback_status
from studio.gui.heatmap_table import HeatmapTable, percent, signed_percent
from studio.gui.jobs import Services
from studio.gui.live_curve import LiveCurvePlot
from studio.gui.mel_view import MelImageGrid
from studio.gui.probability_bars import ProbabilityBars
from studio.gui.workbench import Workbench, breakable, preview_main

__all__ = ["AudioWorkbench", "MODEL_LABELS", "load_dataset_job", "load_clip_job", "inspect_job", "main"]

PAPER = "Kim et al. (paper 003)"
#: The models of section 4 (keys equal studio.audio.models.MODEL_KINDS; a test checks).
MODEL_LABELS = {"cnn": "CNN-FC", "sfe": "SFE", "dfe": "DFE", "dcl": "DCL", "dsl": "DSL"}
MODEL_TIPS = {
    "cnn": "CNN-FC classifier (section 4.2): five 3×3 convolutions, three max-pools, softmax. Train it first.",
    "sfe": "Static feature enhancement (section 4.2): one mask network, trained through the frozen CNN-FC",
    "dfe": "Dynamic filter enhancement (sections 3.1, 4.1): filters generated per input",
    "dcl": "Dynamic cascade learning (section 3.3a): a second generator on the first one's output",
    "dsl": "Dynamic dual-stage learning (section 3.3b): two stages sharing one generator, end to end",
}
ENHANCERS = ("sfe", "dfe", "dcl", "dsl")
#: Noise generators (equal to studio.audio.noise.NOISE_TYPES; a test checks).
NOISE_KINDS = ("white", "pink", "brown", "babble", "factory")
NOISE_FILE = "file"
SNR_MIN, SNR_MAX, SNR_DEFAULT = -5, 30, 5
PAPER_SNRS = (20, 15, 10, 5, 0)
SAMPLE_RATE = 16000  # studio.audio.io.SAMPLE_RATE (a test checks)
SEGMENT_SECONDS = 4.0  # studio.audio.io.SEGMENT_SECONDS (a test checks)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
AUDIO_FILTER = "Audio (*.wav *.flac *.ogg);;All files (*)"
INSPECT_DELAY_MS = 120
ROLE_CLIP = QtCore.Qt.ItemDataRole.UserRole
ROLE_KEY = QtCore.Qt.ItemDataRole.UserRole
CLEAN_COLOUR, NOISY_COLOUR = "#1e88e5", "#9e9e9e"


# ------------------------------------------------------------------------ jobs
def load_dataset_job(ctx, options: dict[str, Any]) -> dict[str, Any]:
    """``options``: ``sample`` (a preset name) or ``path``; the dataset, its folder and each clip's split."""
    from studio.audio.jobs import open_dataset

    sample = options.get("sample")
    ds = open_dataset(None if sample else options["path"], sample or "small", ctx)
    splits: dict[str, str] = {}
    for name in ("train", "dev", "test"):
        try:
            splits.update((str(c.path), name) for c in ds.split(name))
        except (ValueError, NotImplementedError):  # a split the dataset cannot make: the column stays empty
            pass
    return {"dataset": ds, "root": str(ds.root), "splits": splits}


def load_clip_job(ctx, options: dict[str, Any]) -> dict[str, Any]:
    """Segment ``options['segment']`` (4 s, 16 kHz mono) of ``options['path']``, read window by window."""
    import soundfile as sf

    from studio.audio.jobs import read_segment

    path = options["path"]
    k = int(options.get("segment", 0))
    ctx.progress(0, 1, "reading")
    try:
        info = sf.info(path)
        duration, original_rate = float(info.duration), int(info.samplerate)
    except Exception:  # noqa: BLE001 - read_segment below names the file and the problem
        duration, original_rate = math.nan, 0
    segment = read_segment(path, k)
    segments = max(1, math.ceil(duration / SEGMENT_SECONDS)) if math.isfinite(duration) else k + 1
    ctx.progress(1, 1, "")
    return {"waveform": np.asarray(segment, dtype=np.float32), "segment": k, "segments": segments,
            "duration": duration, "original_rate": original_rate}


def inspect_job(ctx, options: dict[str, Any]) -> dict[str, Any]:
    """Fig. 3 for one clip (``inspect_clip``: mel images, masks, probabilities and the noisy waveform)."""
    from studio.audio.jobs import inspect_clip

    inspection = inspect_clip(list(options["models"]), np.asarray(options["waveform"], dtype=np.float32),
                              options["noise"], float(options["snr"]), seed=int(options.get("seed", 0)))
    return {"inspection": inspection, "options": options}


def is_curve_metric(name: str) -> bool:
    """Per-step losses and accuracies go in the live curve (not learning rates, not per-epoch repeats)."""
    return (name.endswith("loss") and not name.endswith("epoch_loss")) or name.endswith("accuracy")


def parse_grid_metric(name: str) -> tuple[str, str] | None:
    """``grid/{noise}/{snr}`` -> (noise, snr); a noise file's name may itself hold slashes."""
    if not name.startswith("grid/"):
        return None
    noise, sep, snr = name[len("grid/"):].rpartition("/")
    return (noise, snr) if sep and noise else None


def snr_label(snr: Any) -> str:
    """20 -> '20', 5.0 -> '5', 2.5 -> '2.5' (one spelling for headers and metric names)."""
    try:
        v = float(snr)
    except (TypeError, ValueError):
        return str(snr)
    return f"{v:g}"


def noise_label(noise: str) -> str:
    """The name a noise has in results: the generator's name, or a noise file's stem (as studio.audio.jobs)."""
    return noise if noise in NOISE_KINDS else Path(noise).stem


@dataclass
class TrainedModel:
    """A model the workbench can show: trained here, or reopened from a run."""

    kind: str
    checkpoint: str
    run_id: int | None = None
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        name = MODEL_LABELS.get(self.kind, self.kind)
        return f"{name} #{self.run_id}" if self.run_id is not None else f"{name} ({Path(self.checkpoint).name})"


# ------------------------------------------------------------------ workbench
class AudioWorkbench(Workbench):
    key = "audio"
    title = "Audio Enhancement"
    quiet_roles = ("inspect",)

    #: What "Open sample dataset" generates (studio.audio.synthetic.sample_dataset's preset).
    sample_preset = "small"
    #: Extra AudioTrainConfig fields for every training (tests shrink the networks: {"width": 0.25}).
    train_options: dict[str, Any] = {}

    def __init__(self, services: Services, parent: QtWidgets.QWidget | None = None):
        super().__init__(services, parent)
        self.dataset = None  # studio.audio.io.AudioDataset
        self.dataset_root: str | None = None
        self.dataset_is_sample = False
        self.clip_path: str | None = None
        self.clip_class: str = ""
        self.clip_segment = 0
        self.clip_segments = 1
        self.waveform: np.ndarray | None = None  # clean 4 s segment at 16 kHz
        self.noisy: np.ndarray | None = None
        self.noise_file: str | None = None
        self.inspection = None  # studio.audio.jobs.ClipInspection
        self.inspected_options: dict[str, Any] | None = None
        self._inspect_pending = False
        self.models: dict[str, TrainedModel] = {}  # label -> model, in training order
        self.evaluations: dict[str, dict[str, Any]] = {}  # model label -> evaluate_audio result
        self.train_job: Job | None = None
        self.eval_job: Job | None = None
        self._eval_label = ""
        self.player = AudioPlayer(self)

        left = self._build_left()
        centre = self._build_centre()
        right = self._build_right()
        self.lay_out_panels(left, centre, right, sizes=(300, 600, 340))

        self._inspect_timer = QtCore.QTimer(self)
        self._inspect_timer.setSingleShot(True)
        self._inspect_timer.setInterval(INSPECT_DELAY_MS)
        self._inspect_timer.timeout.connect(self.inspect)
        self.add_shortcuts((("Ctrl+.", self.stop), ("Ctrl+T", self._train_clicked), ("F5", self._evaluate_clicked),
                          ("Ctrl+P", self.play_noisy), ("Ctrl+Shift+P", self.play_clean)))
        services.bridge.metric.connect(self._on_metric)
        self._refresh_classifiers()
        self._kind_changed()
        self.show_initial_state()

    # =================================================================== building
    def _build_left(self) -> QtWidgets.QWidget:
        # ---- dataset
        data_box = QtWidgets.QGroupBox("Dataset")
        dl = QtWidgets.QVBoxLayout(data_box)
        row = QtWidgets.QHBoxLayout()
        self.open_folder_button = QtWidgets.QPushButton("Folder…")
        self.open_folder_button.setToolTip("Open a dataset: the UrbanSound8K layout (audio/fold1…fold10 and "
                                           "metadata/UrbanSound8K.csv) or a folder with one sub-folder per class")
        self.open_folder_button.clicked.connect(self._open_folder_dialog)
        self.sample_button = QtWidgets.QPushButton("Sample")
        self.sample_button.setToolTip("The generated sample dataset: UrbanSound8K's ten classes synthesised "
                                      "(siren sweeps, dog barks, drilling…) in ten folds (generated once, cached)")
        self.sample_button.clicked.connect(self.open_sample)
        self.open_file_button = QtWidgets.QPushButton("File…")
        self.open_file_button.setToolTip("Open one recording (WAV, FLAC, OGG; any rate, depth and channels); "
                                         "long recordings are shown 4 s at a time")
        self.open_file_button.clicked.connect(self._open_file_dialog)
        for b in (self.open_folder_button, self.sample_button, self.open_file_button):
            row.addWidget(b)
        dl.addLayout(row)
        self.summary_label = QtWidgets.QLabel("No dataset. Open a folder, the sample, or a single file.")
        self.summary_label.setWordWrap(True)
        dl.addWidget(self.summary_label)
        self.class_filter = QtWidgets.QComboBox()
        self.class_filter.setToolTip("Show the clips of one class")
        self.class_filter.setVisible(False)
        self.class_filter.currentIndexChanged.connect(self._apply_filter)
        dl.addWidget(self.class_filter)
        self.clip_list = QtWidgets.QTreeWidget()
        self.clip_list.setColumnCount(3)
        self.clip_list.setHeaderLabels(["Clip", "Class", "Fold / split"])
        self.clip_list.headerItem().setToolTip(2, "UrbanSound8K fold and the paper's split: folds 1–8 train, "
                                                  "9 dev, 10 test (folder per class: a seeded split)")
        self.clip_list.setRootIsDecorated(False)
        self.clip_list.setUniformRowHeights(True)
        self.clip_list.setMinimumHeight(120)
        self.clip_list.header().setStretchLastSection(False)
        self.clip_list.header().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.clip_list.header().setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.clip_list.header().setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.clip_list.currentItemChanged.connect(self._clip_item_changed)
        dl.addWidget(self.clip_list, 1)
        self.problems_button = QtWidgets.QToolButton()
        self.problems_button.setCheckable(True)
        self.problems_button.setVisible(False)
        self.problems_button.toggled.connect(lambda on: self.problems_list.setVisible(on))
        dl.addWidget(self.problems_button)
        self.problems_list = QtWidgets.QListWidget()
        self.problems_list.setVisible(False)
        self.problems_list.setMaximumHeight(110)
        self.problems_list.setWordWrap(True)
        dl.addWidget(self.problems_list)

        # ---- noise
        noise_box = QtWidgets.QGroupBox("Noise (test input only)")
        nl = QtWidgets.QGridLayout(noise_box)
        self.noise_combo = QtWidgets.QComboBox()
        for kind in NOISE_KINDS:
            self.noise_combo.addItem(kind, kind)
        self.noise_combo.addItem("Open noise file…", NOISE_FILE)
        self.noise_combo.setToolTip("Generated white, pink, brown, babble-like or factory-like noise, or a noise "
                                    "recording (e.g. a NOISEX-92 file)")
        self.noise_combo.setCurrentIndex(self.noise_combo.findData("pink"))  # Fig. 3: 5 dB pink noise
        self._noise_index = self.noise_combo.currentIndex()
        self.noise_combo.activated.connect(self._noise_chosen)
        nl.addWidget(QtWidgets.QLabel("Type"), 0, 0)
        nl.addWidget(self.noise_combo, 0, 1, 1, 2)
        self.snr_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.snr_slider.setRange(SNR_MIN, SNR_MAX)
        self.snr_slider.setValue(SNR_DEFAULT)
        self.snr_slider.setTickInterval(5)
        self.snr_slider.setTickPosition(QtWidgets.QSlider.TickPosition.TicksBelow)
        self.snr_slider.setToolTip("Signal-to-noise ratio of the mix, by signal power (paper: 20, 15, 10, 5, 0 dB)")
        self.snr_slider.valueChanged.connect(self._snr_changed)
        self.snr_label = QtWidgets.QLabel()
        self.snr_label.setMinimumWidth(self.snr_label.fontMetrics().horizontalAdvance("−5 dB") + 6)
        nl.addWidget(QtWidgets.QLabel("SNR"), 1, 0)
        nl.addWidget(self.snr_slider, 1, 1)
        nl.addWidget(self.snr_label, 1, 2)
        self._snr_changed(self.snr_slider.value(), inspect=False)

        # ---- model
        model_box = QtWidgets.QGroupBox("Model (section 4)")
        ml = QtWidgets.QGridLayout(model_box)
        self.kind_combo = QtWidgets.QComboBox()
        for kind, name in MODEL_LABELS.items():
            self.kind_combo.addItem(name, kind)
            self.kind_combo.setItemData(self.kind_combo.count() - 1, MODEL_TIPS[kind],
                                        QtCore.Qt.ItemDataRole.ToolTipRole)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.epochs_spin = QtWidgets.QSpinBox()
        self.epochs_spin.setRange(0, 10000)
        self.epochs_spin.setValue(0)
        self.epochs_spin.setSpecialValueText("default")
        self.epochs_spin.setToolTip("Training epochs; 'default' lets the model use its own number")
        self.classifier_combo = QtWidgets.QComboBox()
        self.classifier_combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.classifier_combo.setMinimumContentsLength(8)
        self.classifier_combo.setToolTip("The trained CNN-FC an enhancer is trained through (kept frozen)")
        self.classifier_combo.currentIndexChanged.connect(self.update_buttons)
        ml.addWidget(QtWidgets.QLabel("Kind"), 0, 0)
        ml.addWidget(self.kind_combo, 0, 1)
        ml.addWidget(QtWidgets.QLabel("Epochs"), 0, 2)
        ml.addWidget(self.epochs_spin, 0, 3)
        ml.addWidget(QtWidgets.QLabel("Classifier"), 1, 0)
        ml.addWidget(self.classifier_combo, 1, 1, 1, 3)
        self.continue_check = QtWidgets.QCheckBox("Retrain from the selected model's weights")
        self.continue_check.setToolTip("Start from the selected trained model's checkpoint (same kind) instead of "
                                       "from scratch; the new run records it as its parent")
        self.continue_check.toggled.connect(self.update_buttons)
        ml.addWidget(self.continue_check, 2, 0, 1, 4)
        self.train_button = QtWidgets.QPushButton("Train")
        self.train_button.setToolTip("Train the chosen model on the dataset's training folds (Ctrl+T)")
        self.train_button.clicked.connect(self._train_clicked)
        self.evaluate_button = QtWidgets.QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Accuracy of the selected trained model on the clean dev and test folds "
                                        "(Table 1) and on the test fold with each noise at 20…0 dB (Table 2) (F5)")
        self.evaluate_button.clicked.connect(self._evaluate_clicked)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("Cancel this workbench's jobs (a training keeps its last checkpoint) (Ctrl+.)")
        self.stop_button.clicked.connect(self.stop)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.train_button, self.evaluate_button, self.stop_button):
            buttons.addWidget(b)
        ml.addLayout(buttons, 3, 0, 1, 4)
        self.models_list = QtWidgets.QListWidget()
        self.models_list.setToolTip("Trained models: ticked ones are shown in the centre; the selected one is "
                                    "evaluated")
        self.models_list.setMaximumHeight(96)
        self.models_list.itemChanged.connect(self._model_ticked)
        self.models_list.currentItemChanged.connect(lambda *_: self.update_buttons())
        ml.addWidget(self.models_list, 4, 0, 1, 4)
        self.model_label = QtWidgets.QLabel("No trained model: train a CNN-FC first, then the enhancers.")
        self.model_label.setWordWrap(True)
        ml.addWidget(self.model_label, 5, 0, 1, 4)

        panel = QtWidgets.QWidget()
        pl = QtWidgets.QVBoxLayout(panel)
        pl.setContentsMargins(0, 0, 4, 0)
        pl.addWidget(data_box, 1)
        pl.addWidget(noise_box)
        pl.addWidget(model_box)
        pl.addWidget(self.status_widgets())
        self.left_panel = self.scroll_panel(panel, 240)
        return self.left_panel

    def _build_centre(self) -> QtWidgets.QWidget:
        centre = QtWidgets.QWidget()
        cl = QtWidgets.QVBoxLayout(centre)
        cl.setContentsMargins(2, 0, 2, 0)
        bar = QtWidgets.QHBoxLayout()
        self.clip_label = QtWidgets.QLabel("No clip.")
        self.clip_label.setWordWrap(True)
        bar.addWidget(self.clip_label, 1)
        self.segment_spin = QtWidgets.QSpinBox()
        self.segment_spin.setRange(1, 1)
        self.segment_spin.setPrefix("segment ")
        self.segment_spin.setToolTip("Which 4 s window of a long recording to show")
        self.segment_spin.setVisible(False)
        self.segment_spin.valueChanged.connect(self._segment_changed)
        bar.addWidget(self.segment_spin)
        self.play_clean_button = QtWidgets.QPushButton("▶ Clean")
        self.play_noisy_button = QtWidgets.QPushButton("▶ Noisy")
        self.play_clean_button.clicked.connect(self.play_clean)
        self.play_noisy_button.clicked.connect(self.play_noisy)
        self.playback_available = False
        self.playback_note = "Checking for an audio output…"
        for b in (self.play_clean_button, self.play_noisy_button):
            b.setToolTip(self.playback_note)
            bar.addWidget(b)
        QtCore.QTimer.singleShot(0, self._probe_playback)  # QtMultimedia loads after the window shows
        cl.addLayout(bar)

        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.mel_grid = MelImageGrid(columns=2, placeholder="Open a dataset folder, the sample or a recording, then pick "
                                                            "a clip: its mel features appear here (Fig. 3).")
        self.mel_grid.setToolTip("Mel features (40 bands × frames), min-max per clip, all on one colour scale: "
                                 "clean, noisy, then each shown model's mask and enhanced features (Fig. 3)")
        self.mel_grid.setMinimumHeight(160)
        split.addWidget(self.mel_grid)
        lower = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.wave_plot = pg.PlotWidget()
        self.wave_plot.setTitle(f"<span style='color:{CLEAN_COLOUR}'>■ clean</span> "
                                f"<span style='color:{NOISY_COLOUR}'>■ noisy</span>", size="9pt")
        self.wave_plot.setLabel("bottom", "time (s)")
        self.wave_plot.getPlotItem().setDownsampling(auto=True, mode="peak")
        self.wave_plot.getPlotItem().setClipToView(True)
        self.noisy_curve = self.wave_plot.plot(pen=pg.mkPen(NOISY_COLOUR, width=1))
        self.clean_curve = self.wave_plot.plot(pen=pg.mkPen(CLEAN_COLOUR, width=1))
        self.wave_plot.setMinimumWidth(90)
        lower.addWidget(self.wave_plot)
        self.prob_bars = ProbabilityBars(title="Class probabilities")
        self.prob_bars.setMinimumWidth(120)
        lower.addWidget(self.prob_bars)
        lower.setSizes([240, 360])
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([420, 260])
        cl.addWidget(split, 1)
        return centre

    def _build_right(self) -> QtWidgets.QWidget:
        panel = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(panel)
        rl.setContentsMargins(4, 0, 0, 0)
        self.curve = LiveCurvePlot(title="Training")
        self.curve.setMinimumHeight(200)
        rl.addWidget(self.curve, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Results of"))
        self.results_combo = QtWidgets.QComboBox()
        self.results_combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.results_combo.setMinimumContentsLength(8)
        self.results_combo.setToolTip("Which evaluated model the grid, per-class and confusion tabs show")
        self.results_combo.currentIndexChanged.connect(self._show_selected_results)
        row.addWidget(self.results_combo, 1)
        rl.addLayout(row)
        row = QtWidgets.QHBoxLayout()
        self.compare_check = QtWidgets.QCheckBox("Grid as difference to")
        self.compare_check.setToolTip("Show the noise × SNR grid as accuracy minus the accuracy of another "
                                      "evaluated model, in percentage points (red: higher accuracy than that "
                                      "model, blue: lower), e.g. DSL against CNN-FC as Table 2 compares them")
        self.compare_check.toggled.connect(self._show_selected_results)
        self.baseline_combo = QtWidgets.QComboBox()
        self.baseline_combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.baseline_combo.setMinimumContentsLength(8)
        self.baseline_combo.currentIndexChanged.connect(self._show_selected_results)
        row.addWidget(self.compare_check)
        row.addWidget(self.baseline_combo, 1)
        rl.addLayout(row)
        self.result_tabs = QtWidgets.QTabWidget()
        self.grid_table = HeatmapTable(formatter=percent, corner="noise \\ SNR (dB)")
        self.grid_table.setToolTip(f"Accuracy (%) on the test fold with noise mixed in at each SNR (Table 2 of "
                                   f"{PAPER}); fills in while the evaluation runs")
        self.grid_table.set_axes(list(NOISE_KINDS), [snr_label(s) for s in PAPER_SNRS])
        self.clean_table = HeatmapTable(formatter=percent, corner="model")
        self.clean_table.setToolTip(f"Accuracy (%) on the clean development and test folds (Table 1 of {PAPER})")
        self.clean_table.set_axes([], ["dev", "test"])
        self.class_table = HeatmapTable(formatter=percent, corner="class")
        self.class_table.setToolTip("Per-class accuracy (%) on the clean test fold")
        self.confusion_table = HeatmapTable(formatter="{:.0f}".format, corner="true \\ predicted")
        self.confusion_table.setToolTip("Confusion matrix on the clean test fold (rows: true class; columns: "
                                        "predicted class by number; colour: share of the row)")
        self.confusion_table.horizontalHeader().setMinimumSectionSize(26)
        for table, name in ((self.grid_table, "Noise × SNR"), (self.clean_table, "Clean"),
                            (self.class_table, "Per class"), (self.confusion_table, "Confusion")):
            self.result_tabs.addTab(table, name)
        rl.addWidget(self.result_tabs, 1)
        self.results_note = QtWidgets.QLabel("No results yet: train a model, then Evaluate.")
        self.results_note.setWordWrap(True)
        rl.addWidget(self.results_note)
        self.right_panel = self.scroll_panel(panel, 250)
        return self.right_panel

    # ================================================================ Workbench hooks
    def on_torch_ready(self) -> None:
        super().on_torch_ready()
        if self.waveform is not None and self.inspection is None:
            self.schedule_inspect()

    def open_paths(self, paths: list[str]) -> None:
        folders = [p for p in paths if os.path.isdir(p)]
        files = [p for p in paths if os.path.isfile(p)]
        other = [p for p in paths if p not in folders and p not in files]
        if folders:
            self.open_dataset_path(folders[0])
        if files:
            self.open_file(files[0])
        notes = []
        if len(folders) > 1 or len(files) > 1:
            notes.append("Several paths given; opened the first folder and the first file only.")
        if other:
            notes.append("Not found: " + ", ".join(other))
        if notes:
            self.show_message(" ".join(notes), "warning")

    def open_dialog(self) -> None:
        menu = QtWidgets.QMenu(self)
        menu.addAction("Dataset folder…", self._open_folder_dialog)
        menu.addAction("Recording…", self._open_file_dialog)
        menu.addAction("Noise recording…", self._open_noise_dialog)
        menu.exec(QtGui.QCursor.pos())

    def open_sample(self) -> Job:
        return self._load({"sample": self.sample_preset}, label="the sample dataset")

    def export(self) -> None:
        self.export_menu().exec(QtGui.QCursor.pos())

    def export_menu(self) -> QtWidgets.QMenu:
        """File ▸ Export: enhanced features (.npy), result tables (CSV), figures (PNG); each asks for a file."""
        menu = QtWidgets.QMenu(self)
        insp = self.inspection
        for label, kind in self._shown_models():
            if kind not in ENHANCERS:
                continue
            enhanced = self._per_model(label).get("enhanced")
            menu.addAction(f"Enhanced features, {label} (.npy)…",
                           lambda label=label: self._export_dialog(f"Enhanced features ({label})",
                                                                   safe_name(f"{self._clip_stem()}-{label}-"
                                                                             "enhanced.npy"),
                                                                   "NumPy (*.npy)",
                                                                   lambda p, l=label: self.export_features(p, l))
                           ).setEnabled(enhanced is not None)
        menu.addAction("Noisy features (.npy)…", lambda: self._export_dialog(
            "Noisy features", f"{self._clip_stem()}-noisy.npy", "NumPy (*.npy)",
            lambda p: self.export_features(p, "noisy"))).setEnabled(insp is not None)
        menu.addSeparator()
        for table, what in ((self.grid_table, "Noise × SNR grid"), (self.clean_table, "Clean accuracy table"),
                            (self.class_table, "Per-class accuracy"), (self.confusion_table, "Confusion matrix")):
            stem = what.lower().replace(" × ", "-x-").replace(" ", "-").replace("×", "x")
            menu.addAction(f"{what} (CSV)…", lambda t=table, w=what, s=stem: self._export_dialog(
                w, f"{s}.csv", "CSV (*.csv)", t.export_csv)).setEnabled(table.filled_count() > 0)
        menu.addSeparator()
        menu.addAction("Mel images (PNG)…", lambda: self._export_dialog(
            "Mel images", f"{self._clip_stem()}-mel.png", "PNG (*.png)", self.mel_grid.export_png)).setEnabled(
            bool(self.mel_grid.titles()))
        menu.addAction("Waveform (PNG)…", lambda: self._export_dialog(
            "Waveform", f"{self._clip_stem()}-waveform.png", "PNG (*.png)", self.export_waveform_png)).setEnabled(
            self.waveform is not None)
        menu.addAction("Class probabilities (PNG)…", lambda: self._export_dialog(
            "Class probabilities", f"{self._clip_stem()}-probabilities.png", "PNG (*.png)",
            self.prob_bars.export_png)).setEnabled(bool(self.prob_bars.series()))
        menu.addAction("Noise × SNR heat map (PNG)…", lambda: self._export_dialog(
            "Noise × SNR heat map", "noise-x-snr.png", "PNG (*.png)", self.grid_table.export_png)).setEnabled(
            self.grid_table.filled_count() > 0)
        return menu

    def reopen_run(self, run: RunRecord) -> None:
        """A model run adds its model (and its curves); an evaluation run shows its tables."""
        if run.workbench != self.key:
            self.show_message(f"Run #{run.id} belongs to the {run.workbench} workbench.", "warning")
            return
        folder = Path(run.dir)
        if run.model in MODEL_LABELS:
            if not run.checkpoint:
                self.show_message(f"Run #{run.id} has no checkpoint (status {run.status}).", "error")
                return
            self.curve.clear()
            for name in filter(is_curve_metric, self.services.registry.metric_names(run.id)):
                s = self.services.registry.metric_series(run.id, name)
                if s["step"]:
                    self.curve.set_series(name, s["step"], s["value"], s["epoch"], s["wall"])
            self.curve.flush()
            self.add_model(TrainedModel(run.model, run.checkpoint, run.id, dict(run.final_metrics or {})))
        elif run.model.startswith("eval-"):
            label = (run.config or {}).get("label") or f"run #{run.id}"
            result = None
            target = folder / "evaluation.json"
            if target.is_file():
                try:
                    result = json.loads(target.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    self.show_message(f"{target}: cannot read the evaluation ({exc})", "error")
                    return
            else:  # cancelled or failed midway: the grid cells it streamed are in the registry
                grid: dict[str, dict[str, float]] = {}
                for name in self.services.registry.metric_names(run.id):
                    cell = parse_grid_metric(name)
                    values = self.services.registry.metric_series(run.id, name)["value"]
                    if cell and values:
                        grid.setdefault(cell[0], {})[cell[1]] = values[-1]
                result = {"grid": grid}
            self.show_evaluation(label, result)
        else:
            self.show_message(f"Run #{run.id} ({run.model}) is not an audio model or evaluation.", "warning")
            return
        self.show_message(f"Reopened run #{run.id} ({run.model}, {run.status}).", "info")

    # ===================================================================== dataset
    def _open_folder_dialog(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open audio dataset folder", self._start_folder())
        if path:
            self.open_dataset_path(path)

    def _open_file_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open recording", self._start_folder(), AUDIO_FILTER)
        if path:
            self.open_file(path)

    def open_dataset_path(self, path: str) -> Job:
        self._remember_folder(path)
        return self._load({"path": str(path)}, label=os.path.basename(os.path.normpath(path)) or str(path))

    def _load(self, options: dict[str, Any], *, label: str) -> Job:
        self.show_message("")
        job = self.submit(load_dataset_job, options, name=f"Audio: open {label}", kind="task", role="load",
                          on_done=lambda job: self._dataset_loaded(job, options))
        self.set_status(f"Opening {label}…")
        return job

    def _dataset_loaded(self, job: Job, options: dict[str, Any]) -> None:
        ds, root = job.result["dataset"], job.result["root"]
        if not ds.clips:
            problems = "; ".join(ds.problems[:3])
            self.show_message(f"{options.get('path') or root}: no usable audio clips found"
                              + (f" ({problems})" if problems else "") + ". Expected the UrbanSound8K layout "
                              "(audio/fold1…fold10, metadata/UrbanSound8K.csv) or one sub-folder per class.",
                              "error")
            self.set_status("No dataset opened.")
            return
        self.set_dataset(ds, root, is_sample=bool(options.get("sample")), splits=job.result.get("splits"))

    def set_dataset(self, ds, root: str, is_sample: bool = False, splits: dict[str, str] | None = None) -> None:
        """Show a loaded ``AudioDataset``; ``splits`` maps a clip's path to train/dev/test (the paper's split)."""
        splits = splits or {}
        self.dataset = ds
        self.dataset_root = root
        self.dataset_is_sample = is_sample
        name = "Sample dataset" if is_sample else Path(root).name
        counts = {k: list(splits.values()).count(k) for k in ("train", "dev", "test")}
        split_text = f" · train {counts['train']} / dev {counts['dev']} / test {counts['test']}" if splits else ""
        self.summary_label.setText(f"<b>{breakable(name)}</b>: {len(ds.clips)} clips, {len(ds.classes)} classes"
                                   f"{split_text}")
        self.summary_label.setToolTip(f"{root}\n{ds.summary()}")
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem(f"All classes ({len(ds.clips)})", -1)
        counts = np.bincount([c.label for c in ds.clips], minlength=len(ds.classes))
        for i, name_ in enumerate(ds.classes):
            self.class_filter.addItem(f"{name_} ({counts[i]})", i)
        self.class_filter.blockSignals(False)
        self.class_filter.setVisible(True)
        self.clip_list.blockSignals(True)
        self.clip_list.clear()
        items = []
        for clip in ds.clips:
            where = splits.get(str(clip.path), "")
            if clip.fold is not None:
                where = f"{clip.fold} {where}".strip()
            item = QtWidgets.QTreeWidgetItem([Path(clip.path).name, ds.classes[clip.label], where])
            item.setData(0, ROLE_CLIP, str(clip.path))
            item.setToolTip(0, str(clip.path))
            items.append(item)
        self.clip_list.addTopLevelItems(items)
        self.clip_list.blockSignals(False)
        self.problems_list.clear()
        self.problems_list.addItems([str(p) for p in ds.problems])
        n = len(ds.problems)
        self.problems_button.setVisible(bool(n))
        self.problems_button.setText(f"{n} file{'s' if n != 1 else ''} skipped — show")
        self.problems_button.setChecked(False)
        self.set_status(f"Opened {name}: {len(ds.clips)} clips.")
        if n:
            self.show_message(f"{n} file{'s' if n != 1 else ''} could not be used (see the list under the clips).",
                              "warning")
        self._refresh_classifiers()
        self.update_buttons()
        if items:
            self.clip_list.setCurrentItem(items[0])

    def _apply_filter(self, *_args) -> None:
        wanted = self.class_filter.currentData()
        if self.dataset is None:
            return
        names = self.dataset.classes
        for i in range(self.clip_list.topLevelItemCount()):
            item = self.clip_list.topLevelItem(i)
            item.setHidden(wanted not in (None, -1) and item.text(1) != names[wanted])

    def clip_paths(self) -> list[str]:
        return [self.clip_list.topLevelItem(i).data(0, ROLE_CLIP) for i in range(self.clip_list.topLevelItemCount())]

    def select_clip(self, index: int) -> None:
        self.clip_list.setCurrentItem(self.clip_list.topLevelItem(index))

    def _clip_item_changed(self, current: QtWidgets.QTreeWidgetItem | None, _previous=None) -> None:
        if current is not None:
            self.open_clip(current.data(0, ROLE_CLIP), current.text(1))

    # ======================================================================= clip
    def open_file(self, path: str) -> Job | None:
        """A single recording (not part of a dataset); long ones are shown one 4 s segment at a time."""
        if os.path.isdir(path):
            return self.open_dataset_path(path)
        self._remember_folder(path)
        self.clip_list.blockSignals(True)
        self.clip_list.setCurrentItem(None)
        self.clip_list.blockSignals(False)
        return self.open_clip(path, "")

    def open_clip(self, path: str, class_name: str = "", segment: int = 0) -> Job:
        self.show_message("")
        return self.submit(load_clip_job, {"path": str(path), "segment": int(segment)},
                           name=f"Audio: read {Path(path).name}", kind="task", role="clip",
                           on_done=lambda job, p=str(path), c=class_name: self._clip_loaded(job, p, c))

    def _clip_loaded(self, job: Job, path: str, class_name: str) -> None:
        r = job.result
        self.clip_path, self.clip_class = path, class_name
        self.clip_segment, self.clip_segments = int(r["segment"]), int(r["segments"])
        self.waveform = r["waveform"]
        self.noisy = None
        self.segment_spin.blockSignals(True)
        self.segment_spin.setRange(1, max(1, self.clip_segments))
        self.segment_spin.setValue(self.clip_segment + 1)
        self.segment_spin.setSuffix(f" / {self.clip_segments}")
        self.segment_spin.blockSignals(False)
        self.segment_spin.setVisible(self.clip_segments > 1)
        dur = r.get("duration")
        rate = r.get("original_rate")
        facts = []
        if dur is not None and math.isfinite(dur):
            facts.append(f"{dur:.1f} s")
        if rate:
            facts.append(f"{rate} Hz" + (" → 16 kHz" if rate != SAMPLE_RATE else ""))
        self.clip_label.setText(f"<b>{breakable(Path(path).name)}</b>"
                                + (f" · class <b>{class_name}</b>" if class_name else " · class unknown")
                                + (f" · {', '.join(facts)}" if facts else ""))
        self.clip_label.setToolTip(path)
        self._draw_waveforms()
        self.update_buttons()
        self.schedule_inspect()

    def _segment_changed(self, value: int) -> None:
        if self.clip_path:
            self.open_clip(self.clip_path, self.clip_class, value - 1)

    # ====================================================================== noise
    def noise(self) -> str:
        """The noise ``inspect_clip`` and the evaluation use: a generator's name or a noise file."""
        data = self.noise_combo.currentData()
        return self.noise_file if data == NOISE_FILE and self.noise_file else data

    def snr(self) -> int:
        return self.snr_slider.value()

    def set_snr(self, db: int) -> None:
        self.snr_slider.setValue(int(db))

    def set_noise(self, kind: str) -> None:
        """A generator's name, or a path to a noise recording."""
        if kind in NOISE_KINDS:
            self.noise_combo.setCurrentIndex(self.noise_combo.findData(kind))
            self._noise_index = self.noise_combo.currentIndex()
            self.schedule_inspect()
        else:
            self.use_noise_file(kind)

    def _snr_changed(self, value: int, inspect: bool = True) -> None:
        self.snr_label.setText(f"{value} dB".replace("-", "−"))
        if inspect:
            self.schedule_inspect()

    def _noise_chosen(self, index: int) -> None:
        if self.noise_combo.itemData(index) == NOISE_FILE:
            if not self._open_noise_dialog():
                self.noise_combo.setCurrentIndex(self._noise_index)
            return
        self._noise_index = index
        self.schedule_inspect()

    def _open_noise_dialog(self) -> bool:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open noise recording", self._start_folder(),
                                                        AUDIO_FILTER)
        return bool(path) and self.use_noise_file(path)

    def use_noise_file(self, path: str) -> bool:
        if not os.path.isfile(path):
            self.show_message(f"{path}: no such noise file.", "error")
            return False
        self.noise_file = str(path)
        i = self.noise_combo.findData(NOISE_FILE)
        self.noise_combo.setItemText(i, f"File: {Path(path).name}")
        self.noise_combo.setItemData(i, f"{path} (choose again to open another file)",
                                     QtCore.Qt.ItemDataRole.ToolTipRole)
        self.noise_combo.setCurrentIndex(i)
        self._noise_index = i
        self.schedule_inspect()
        return True

    # ==================================================================== inspect
    def schedule_inspect(self) -> None:
        """Recompute the centre after a short pause (slider drags give one job, not thirty)."""
        if self.waveform is not None:
            self._inspect_timer.start()

    def inspect_options(self) -> dict[str, Any]:
        return {"waveform": self.waveform, "noise": self.noise(), "snr": self.snr(),
                "models": [m.checkpoint for _, m in self._shown_models(objects=True)],
                "labels": [label for label, _ in self._shown_models()], "seed": 0}

    def inspect(self) -> Job | None:
        """inspect_clip for the current clip, noise, SNR and shown models; one job at a time, the latest wins."""
        if self.waveform is None:
            return None
        if not self.services.is_torch_ready:
            self.set_status("Waiting for torch to load before computing the mel features…")
            return None
        if self.job_running("inspect"):
            self._inspect_pending = True
            return None
        self._inspect_pending = False
        options = self.inspect_options()
        try:
            return self.submit(inspect_job, options, name="Audio: mel features of the clip", kind="task",
                               role="inspect", on_done=self._inspected)
        except RuntimeError:  # the pool is shutting down (the window is closing)
            return None

    def inspection_is_current(self) -> bool:
        """The centre shows the current clip, noise, SNR and shown models (nothing pending)."""
        o = self.inspected_options
        return (o is not None and not self._inspect_timer.isActive() and not self.job_running("inspect")
                and o["waveform"] is self.waveform and o["noise"] == self.noise() and o["snr"] == self.snr()
                and o["labels"] == [label for label, _ in self._shown_models()])

    def _inspected(self, job: Job) -> None:
        if self._inspect_pending:
            return  # settings changed meanwhile: job_ended starts the next one; skip drawing a stale state
        self.show_inspection(job.result)

    def show_inspection(self, result: dict[str, Any]) -> None:
        insp = result["inspection"]
        options = result["options"]
        self.inspection = insp
        self.inspected_options = options
        noisy = getattr(insp, "noisy_wave", None)
        self.noisy = None if noisy is None else np.asarray(noisy, dtype=np.float32)
        labels = dict(zip(options["models"], options["labels"]))
        self._per_model_by_label = {}
        for key, d in (getattr(insp, "per_model", None) or {}).items():
            label = labels.get(str(d.get("path", key))) or labels.get(key) or self._label_for_key(key)
            self._per_model_by_label[label] = d
        snr = f"{options['snr']} dB".replace("-", "−")
        noisy_title = f"noisy ({noise_label(options['noise'])}, {snr})"
        panels: list[tuple[str, np.ndarray]] = [("clean", insp.clean_mel), (noisy_title, insp.noisy_mel)]
        for label in options["labels"]:
            d = self._per_model_by_label.get(label, {})
            if self._kind_of(label, d) not in ENHANCERS:
                continue  # a classifier has no mask: its input is the noisy image
            if d.get("mask") is not None:
                panels.append((f"{label} mask", d["mask"]))
            if d.get("enhanced") is not None:
                panels.append((f"{label} enhanced", d["enhanced"]))
        self.mel_grid.set_panels(panels)
        classes = list(getattr(insp, "classes", None) or [])
        series = []
        if insp.noisy_probs is not None and classes and np.size(insp.noisy_probs) == len(classes):
            series.append(("noisy", np.asarray(insp.noisy_probs)))
        for label in options["labels"]:
            d = self._per_model_by_label.get(label, {})
            if d.get("probs") is not None and np.size(d["probs"]) == len(classes) and \
                    self._kind_of(label, d) in ENHANCERS:
                series.append((label, np.asarray(d["probs"])))
        self.prob_bars.set_series(classes, series, true_class=self.clip_class or None)
        if series:
            self.prob_bars.getPlotItem().setTitle("Class probabilities", size="9pt")
            self.prob_bars.setToolTip("\n".join(f"{name}: {classes[int(np.argmax(p))]} {100 * float(np.max(p)):.0f} %"
                                                for name, p in series)
                                      + (f"\ntrue class: {self.clip_class}" if self.clip_class else ""))
        else:
            hint = "tick a trained model" if self.models else "train a CNN-FC"
            self.prob_bars.getPlotItem().setTitle(f"Class probabilities: {hint}", size="9pt")
            self.prob_bars.setToolTip("")
        self._draw_waveforms()

    def _kind_of(self, label: str, d: dict[str, Any]) -> str:
        return str(d.get("kind") or (self.models[label].kind if label in self.models else ""))

    def _label_for_key(self, key: str) -> str:
        for label, m in self.models.items():
            if key in (m.checkpoint, m.kind, label):
                return label
        return str(key)

    def _per_model(self, label: str) -> dict[str, Any]:
        return getattr(self, "_per_model_by_label", {}).get(label, {})

    def _draw_waveforms(self) -> None:
        if self.waveform is None:
            self.clean_curve.setData([], [])
            self.noisy_curve.setData([], [])
            return
        t = np.arange(len(self.waveform), dtype=np.float32) / SAMPLE_RATE
        self.clean_curve.setData(t, self.waveform)
        if self.noisy is not None and len(self.noisy) == len(self.waveform):
            self.noisy_curve.setData(t, self.noisy)
        else:
            self.noisy_curve.setData([], [])

    # ======================================================================= play
    def _probe_playback(self) -> None:
        ok, why = playback_status()
        self.playback_available, self.playback_note = ok, why
        for b, what in ((self.play_clean_button, "the clean clip (Ctrl+Shift+P)"),
                        (self.play_noisy_button, "the noisy mix (Ctrl+P)")):
            b.setToolTip(f"Play {what} on {why}" if ok else why)
        self.update_buttons()

    def play_clean(self) -> None:
        self._play(self.waveform, "clean")

    def play_noisy(self) -> None:
        self._play(self.noisy, "noisy")

    def _play(self, samples: np.ndarray | None, what: str) -> None:
        if not self.playback_available:
            self.show_message(self.playback_note, "warning")
            return
        if samples is None:
            self.show_message(f"No {what} audio yet: open a clip first.", "warning")
            return
        try:
            self.player.play(samples, SAMPLE_RATE)
        except Exception as exc:  # noqa: BLE001 - a sound device problem must not take the app down
            self.show_message(f"Could not play the {what} clip: {exc}", "error")

    # ===================================================================== models
    def _kind_changed(self, *_args) -> None:
        kind = self.kind_combo.currentData()
        self.kind_combo.setToolTip(MODEL_TIPS.get(kind, ""))
        self.classifier_combo.setEnabled(kind in ENHANCERS)
        self.update_buttons()

    def _refresh_classifiers(self) -> None:
        """Trained CNN-FCs an enhancer can train through: this session's and completed runs in the registry."""
        current = self.classifier_combo.currentData()
        entries: dict[str, str] = {}
        for label, m in self.models.items():
            if m.kind == "cnn":
                entries[m.checkpoint] = label
        try:
            runs = self.services.registry.list_runs(workbench=self.key, limit=50)
        except Exception:  # noqa: BLE001 - a registry problem only hides older runs
            runs = []
        for run in runs:
            if run.model == "cnn" and run.status == "completed" and run.checkpoint and run.checkpoint not in entries:
                entries[run.checkpoint] = f"CNN-FC #{run.id}"
        self.classifier_combo.blockSignals(True)
        self.classifier_combo.clear()
        for checkpoint, label in entries.items():
            self.classifier_combo.addItem(label, checkpoint)
            self.classifier_combo.setItemData(self.classifier_combo.count() - 1, checkpoint,
                                              QtCore.Qt.ItemDataRole.ToolTipRole)
        if not entries:
            self.classifier_combo.addItem("none: train a CNN-FC first", None)
        i = self.classifier_combo.findData(current) if current else -1
        self.classifier_combo.setCurrentIndex(i if i >= 0 else 0)
        self.classifier_combo.blockSignals(False)

    def _train_clicked(self) -> None:
        if self.train_button.isEnabled():
            self.train()

    def train_config(self, init: TrainedModel | None = None):
        from studio.audio.jobs import AudioTrainConfig

        kind = self.kind_combo.currentData()
        return AudioTrainConfig(data=None if self.dataset_is_sample else self.dataset_root,
                                sample_preset=self.sample_preset, model=kind,
                                epochs=self.epochs_spin.value() or None,
                                classifier=self.classifier_combo.currentData() if kind in ENHANCERS else None,
                                init_checkpoint=init.checkpoint if init is not None else None,
                                **self.train_options)

    def train(self) -> Job | None:
        """Train the chosen kind on the open dataset (a run of this workbench)."""
        if not self.services.is_torch_ready:
            self.show_message("Torch is still loading; try again in a moment.", "warning")
            return None
        if self.dataset is None:
            self.show_message("Open a dataset first (a folder or the sample).", "warning")
            return None
        if self.job_running("train"):
            self.show_message("A training is already running; Stop it first.", "warning")
            return None
        kind = self.kind_combo.currentData()
        if kind in ENHANCERS and not self.classifier_combo.currentData():
            self.show_message(f"{MODEL_LABELS[kind]} is trained through a frozen CNN-FC: train a CNN-FC first.",
                              "warning")
            return None
        init = None
        if self.continue_check.isChecked():
            init = self.selected_model()
            if init is None or init.kind != kind:
                self.show_message(f"To retrain from weights, select a trained {MODEL_LABELS[kind]} in the list "
                                  "(or untick 'Retrain from the selected model's weights').", "warning")
                return None
        from studio.audio.jobs import train_audio

        cfg = self.train_config(init)
        self.show_message("")
        self.curve.clear()
        what = f"Retrain {init.label}" if init is not None else f"Train {MODEL_LABELS[kind]}"
        job = self.submit(train_audio, cfg, name=f"Audio: {what}", kind="train", role="train",
                          on_done=lambda job, k=kind: self._trained(job, k),
                          run=RunSpec(self.key, kind, dataclasses.asdict(cfg),
                                      parent_id=init.run_id if init is not None else None))
        self.train_job = job
        run = f" as run #{job.run.id}" if job.run is not None else ""
        self.set_status(f"{what}: running on {job.device}{run}…")
        return job

    def _trained(self, job: Job, kind: str) -> None:
        result = job.result
        checkpoint = getattr(result, "checkpoint", None) or (job.run.checkpoint if job.run is not None else None)
        if not checkpoint:
            self.show_message("The training finished without a checkpoint; the model cannot be used.", "error")
            return
        metrics = dict(getattr(result, "metrics", None) or {})
        model = TrainedModel(kind, str(checkpoint), job.run.id if job.run is not None else None, metrics)
        self.add_model(model)
        self.set_status(f"{model.label} trained in {job.elapsed():.0f} s{self._accuracy_text(metrics)}.")

    @staticmethod
    def _accuracy_text(metrics: dict[str, Any]) -> str:
        """': dev 61.0 %, test 58.0 %' from a training's final metrics ('' when it reports none)."""
        parts = [f"{what} {percent(float(metrics[key]))} %" for what, key in
                 (("dev", "dev/accuracy"), ("test", "test/accuracy"), ("validation", "val/accuracy"))
                 if isinstance(metrics.get(key), (int, float)) and math.isfinite(float(metrics[key]))][:2]
        return (": " + ", ".join(parts)) if parts else ""

    def add_model(self, model: TrainedModel) -> None:
        """Add (or replace) a trained model; it is ticked, so the centre shows it."""
        label = model.label
        self.models[label] = model
        self.models_list.blockSignals(True)
        for i in range(self.models_list.count()):
            if self.models_list.item(i).data(ROLE_KEY) == label:
                self.models_list.takeItem(i)
                break
        item = QtWidgets.QListWidgetItem(label)
        item.setData(ROLE_KEY, label)
        item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(QtCore.Qt.CheckState.Checked)
        item.setToolTip(f"{MODEL_TIPS.get(model.kind, model.kind)}\n{model.checkpoint}"
                        f"\nclean accuracy{self._accuracy_text(model.metrics) or ': not reported'}")
        self.models_list.addItem(item)
        self.models_list.setCurrentItem(item)
        self.models_list.blockSignals(False)
        self._refresh_classifiers()
        if model.kind == "cnn":
            i = self.classifier_combo.findData(model.checkpoint)
            if i >= 0:
                self.classifier_combo.setCurrentIndex(i)
        self._update_model_label()
        self.update_buttons()
        self.schedule_inspect()

    def _update_model_label(self) -> None:
        if not self.models:
            self.model_label.setText("No trained model: train a CNN-FC first, then the enhancers.")
            return
        shown = [label for label, _ in self._shown_models()]
        self.model_label.setText(f"{len(self.models)} trained; shown: {', '.join(shown) or 'none'}.")

    def _model_ticked(self, _item: QtWidgets.QListWidgetItem) -> None:
        self._update_model_label()
        self.schedule_inspect()

    def _shown_models(self, objects: bool = False) -> list[tuple[str, Any]]:
        out = []
        for i in range(self.models_list.count()):
            item = self.models_list.item(i)
            label = item.data(ROLE_KEY)
            if item.checkState() == QtCore.Qt.CheckState.Checked and label in self.models:
                m = self.models[label]
                out.append((label, m if objects else m.kind))
        return out

    def selected_model(self) -> TrainedModel | None:
        item = self.models_list.currentItem()
        return self.models.get(item.data(ROLE_KEY)) if item is not None else None

    # ================================================================= evaluation
    def _evaluate_clicked(self) -> None:
        if self.evaluate_button.isEnabled():
            self.evaluate()

    def evaluate_config(self, model: TrainedModel, snrs=PAPER_SNRS, noises=None):
        """All five generators and the opened noise file (if any) at the paper's SNRs, on the test fold."""
        from studio.audio.jobs import AudioEvalConfig

        if noises is None:
            noises = tuple(NOISE_KINDS) + ((self.noise_file,) if self.noise_file else ())
        return AudioEvalConfig(model=model.checkpoint, data=None if self.dataset_is_sample else self.dataset_root,
                               noises=tuple(noises), snrs=tuple(snrs))

    def evaluate(self, model: TrainedModel | None = None, snrs=PAPER_SNRS, noises=None) -> Job | None:
        """Table 1 and Table 2 for one trained model; the heat map fills in as the cells arrive."""
        model = model or self.selected_model()
        if model is None:
            self.show_message("Train a model (or reopen one from the Runs dock) and select it first.", "warning")
            return None
        if self.dataset is None:
            self.show_message("Open the dataset to evaluate on first.", "warning")
            return None
        if self.job_running("evaluate"):
            self.show_message("An evaluation is already running; Stop it first.", "warning")
            return None
        cfg = self.evaluate_config(model, snrs, noises)
        label = model.label
        self._eval_label = label
        self.evaluations[label] = {"grid": {}}
        self._set_results_choice(label)
        self.grid_table.set_axes([noise_label(n) for n in cfg.noises], [snr_label(s) for s in cfg.snrs])
        self.result_tabs.setCurrentWidget(self.grid_table)
        self.show_message("")
        run_config = {**dataclasses.asdict(cfg), "label": label}
        from studio.audio.jobs import evaluate_audio

        job = self.submit(evaluate_audio, cfg, name=f"Audio: evaluate {label}", kind="train", role="evaluate",
                          on_done=lambda job, l=label: self.show_evaluation(l, job.result),
                          run=RunSpec(self.key, f"eval-{model.kind}", run_config))
        self.eval_job = job
        self.results_note.setText(f"Evaluating {label}: {len(cfg.noises)} noises × {len(cfg.snrs)} SNRs on the "
                                  f"test fold…")
        return job

    def show_evaluation(self, label: str, result: dict[str, Any]) -> None:
        """Keep an evaluate_audio result and show it (clean table row, grid, per class, confusion)."""
        self.evaluations[label] = dict(result or {})
        clean = (result or {}).get("clean") or {}
        if clean:
            for split in ("dev", "test"):
                if split in clean:
                    self.clean_table.set_value(label, split, clean[split])
        self._set_results_choice(label)
        self._show_selected_results()

    def grid_baseline(self) -> str:
        """The evaluated model the grid is shown relative to ('' when it shows plain accuracies)."""
        if not self.compare_check.isChecked():
            return ""
        baseline = self.baseline_combo.currentText()
        return baseline if baseline and baseline != self.results_combo.currentText() else ""

    def _set_results_choice(self, label: str) -> None:
        if self.baseline_combo.findText(label) < 0:
            self.baseline_combo.blockSignals(True)
            self.baseline_combo.addItem(label)
            self.baseline_combo.blockSignals(False)
        self.results_combo.blockSignals(True)
        if self.results_combo.findText(label) < 0:
            self.results_combo.addItem(label)
        self.results_combo.setCurrentIndex(self.results_combo.findText(label))
        self.results_combo.blockSignals(False)

    def _show_selected_results(self, *_args) -> None:
        label = self.results_combo.currentText()
        ev = self.evaluations.get(label) or {}
        grid = ev.get("grid") or {}
        noises = list(grid)
        snrs: list[str] = []
        for cells in grid.values():
            snrs += [snr_label(s) for s in cells if snr_label(s) not in snrs]
        baseline = self.grid_baseline()
        base = {noise_label(n): {snr_label(k): v for k, v in cells.items()}
                for n, cells in ((self.evaluations.get(baseline) or {}).get("grid") or {}).items()}
        if baseline:
            self.grid_table.set_style("CET-D1A", (-0.25, 0.25), signed_percent)
        else:
            self.grid_table.set_style("viridis", (0.0, 1.0), percent)
        if noises:
            snrs.sort(key=lambda s: -float(s) if _is_number(s) else math.inf)
            self.grid_table.set_axes([noise_label(n) for n in noises], snrs)
            for n, cells in grid.items():
                for s, acc in cells.items():
                    if baseline:  # Δ accuracy; a cell the baseline lacks stays empty
                        ref = base.get(noise_label(n), {}).get(snr_label(s))
                        acc = None if ref is None or acc is None else acc - ref
                    self.grid_table.set_value(noise_label(n), snr_label(s), acc)
        elif not (self.eval_job is not None and self.job_running("evaluate") and label == self._eval_label):
            self.grid_table.clear_values()
        classes = list(ev.get("classes") or [])
        per_class = ev.get("per_class")
        if per_class is not None and classes and len(per_class) == len(classes):
            self.class_table.set_matrix(np.asarray(per_class, dtype=float).reshape(-1, 1), classes, ["accuracy"])
        else:
            self.class_table.set_axes([], [])
        cm = ev.get("confusion")
        if cm is not None and classes and np.shape(cm) == (len(classes), len(classes)):
            cm = np.asarray(cm, dtype=float)
            rows = cm.sum(axis=1, keepdims=True)
            shares = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
            self.confusion_table.set_matrix(cm, [f"{i} {c}" for i, c in enumerate(classes)],
                                            [str(i) for i in range(len(classes))], shades=shares)
            for j, c in enumerate(classes):
                self.confusion_table.horizontalHeaderItem(j).setToolTip(f"predicted {c}")
        else:
            self.confusion_table.set_axes([], [])
        clean = ev.get("clean") or {}
        parts = [f"clean dev {percent(clean['dev'])} %" if "dev" in clean else "",
                 f"test {percent(clean['test'])} %" if "test" in clean else ""]
        parts = [p for p in parts if p]
        self.results_note.setText(f"<b>{label}</b>: " + (", ".join(parts) if parts else "noise × SNR grid only")
                                  + f" · accuracies in % ({PAPER}, Tables 1 and 2)" if label else
                                  "No results yet: train a model, then Evaluate.")

    # ======================================================================= jobs
    def _on_metric(self, job, name, value, step, epoch, wall) -> None:
        entry = self._active.get(job.id)
        if entry is None:
            return
        role = entry[1]
        cell = parse_grid_metric(name)
        if role == "evaluate" and cell is not None:
            noise, snr = cell
            grid = self.evaluations.setdefault(self._eval_label, {}).setdefault("grid", {})
            grid.setdefault(noise, {})[snr] = value
            if self.results_combo.currentText() == self._eval_label:
                if self.grid_baseline():
                    self._show_selected_results()
                else:
                    self.grid_table.set_value(noise_label(noise), snr_label(snr), value)
        elif role == "evaluate" and name in ("clean/dev", "clean/test"):
            split = name.split("/")[1]
            self.evaluations.setdefault(self._eval_label, {}).setdefault("clean", {})[split] = value
            if math.isfinite(value):
                self.clean_table.set_value(self._eval_label, split, value)
        elif role == "train" and is_curve_metric(name):
            self.curve.add_point(name, step, value, epoch, wall)

    def job_ended(self, job: Job, role: str) -> None:
        if role == "train":
            self.curve.flush()
            self._refresh_classifiers()
        if role == "inspect" and self._inspect_pending:
            self.inspect()
        if role == "evaluate" and job.status != "done":
            self.results_note.setText(f"Evaluation of {self._eval_label} {job.status}: the grid shows the cells "
                                      "done so far.")

    def update_buttons(self) -> None:
        ready = self.services.is_torch_ready
        training = self.job_running("train")
        loading = self.job_running("load")
        kind = self.kind_combo.currentData()
        needs_classifier = kind in ENHANCERS and not self.classifier_combo.currentData()
        self.train_button.setEnabled(ready and self.dataset is not None and not training and not loading
                                     and not needs_classifier)
        self.train_button.setToolTip(
            f"{MODEL_LABELS.get(kind, kind)} needs a trained CNN-FC: train one first" if needs_classifier else
            "Train the chosen model on the dataset's training folds (Ctrl+T)")
        self.evaluate_button.setEnabled(ready and self.dataset is not None and self.selected_model() is not None
                                        and not self.job_running("evaluate") and not loading)
        self.stop_button.setEnabled(bool(self._active))
        has_clip = self.waveform is not None
        self.play_clean_button.setEnabled(self.playback_available and has_clip)
        self.play_noisy_button.setEnabled(self.playback_available and self.noisy is not None)

    # ===================================================================== exports
    def _clip_stem(self) -> str:
        return Path(self.clip_path).stem if self.clip_path else "clip"

    def export_features(self, path: str, which: str) -> None:
        """``which``: "clean", "noisy" or a model label (its enhanced features), as (40, frames) float32."""
        if self.inspection is None:
            raise ValueError("no clip has been inspected yet")
        if which == "clean":
            a = self.inspection.clean_mel
        elif which == "noisy":
            a = self.inspection.noisy_mel
        else:
            d = self._per_model(which)
            a = d.get("enhanced") if self._kind_of(which, d) in ENHANCERS else None
            if a is None:
                raise ValueError(f"{which} has no enhanced features for this clip")
        from studio.audio.jobs import write_features

        write_features(path, a)

    def export_waveform_png(self, path: str) -> None:
        exporter = pg.exporters.ImageExporter(self.wave_plot.getPlotItem())
        if not exporter.export(path):
            raise OSError(f"could not write image {path}")

    def _export_dialog(self, title: str, default: str, filters: str, exporter) -> bool:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, f"Export {title}",
                                                        os.path.join(self._start_folder(), default), filters)
        if not path:
            return False
        try:
            exporter(path)
        except (OSError, ValueError) as exc:
            self.show_message(f"Could not write {path}: {exc}", "error")
            return False
        self.set_status(f"Wrote {path}.")
        return True


def safe_name(name: str) -> str:
    """A file name without spaces or characters file systems dislike ('SFE #2' -> 'SFE_2')."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "export"


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# ------------------------------------------------------------------------ preview
def main(argv: list[str] | None = None) -> int:
    """``python -m studio.gui.audio_workbench [FOLDER | FILE…]``: just this workbench in a window."""
    return preview_main(AudioWorkbench, argv)


if __name__ == "__main__":
    raise SystemExit(main())
