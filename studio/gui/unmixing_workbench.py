"""Spectral Unmixing workbench (paper 000, Anastasiadis & Heizmann).

Layout (DESIGN.md): inputs on the left, views in the centre, curves and results on
the right.

* Left -- the dataset (one of the three sample sets quartz-3, quartz-4, colour-4, or
  a CSV/.npy/.npz/.mat/HDF5 file; a .mat or HDF5 file whose variables are not
  obvious opens a dialog to map them), its split (section 4.1), the generator
  (N_m / N_k of section 3: epochs, Train generator), the generation (strategy
  "normal" or "mean only", step size s, spectra per vector: Generate), the 1D-CNN
  (section 4.3: trained on the original or the augmented set) and the paper-style
  evaluation; Stop.
* Centre, "Generated vs measured" -- the core view: pick an abundance vector (a
  triangle for three materials, linked sliders and a table of the dataset's
  mixtures for any number), and see the measured spectra of that mixture and the
  spectra the generator makes for it, each as mean ± std with a few individual
  spectra, with Δ_AMN (eq. 12); beside them the measured covariance K_a (eq. 9) and
  the generated K̂ as images on one colour scale.
* Centre, "Cube" -- open a cube (ENVI, .npy, .mat, HDF5) or the sample cube, choose
  endmembers (the dataset's pure spectra, a file, or pixels picked by clicking),
  unmix with FCLS, ELMM, least squares, NNLS or the trained CNN, see one abundance
  map per material; click a pixel for its spectrum against the reconstruction M·a.
* Right -- live loss curves of the running training, and the results table laid out
  like the paper (rows FCLS, ELMM, CNN original, CNN + normal augmentation per step,
  CNN + mean only; Δ_RMSE and Δ_GAMN).

Everything slow is a job of the shared pool (``studio.unmixing.jobs``); this module
imports torch-using modules only inside methods that run after torch has loaded.
Run ``python -m studio.gui.unmixing_workbench`` to open just this workbench.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from studio.engine import Job, RunRecord, RunSpec
from studio.gui.abundance_picker import AbundancePicker, format_vector
from studio.gui.jobs import Services
from studio.gui.live_curve import LiveCurvePlot
from studio.gui.spectra_plot import SpectraPlot
from studio.gui.workbench import Workbench, breakable, preview_main

__all__ = ["UnmixingWorkbench", "load_dataset_job", "load_cube_job", "main"]

PAPER = "Anastasiadis & Heizmann (paper 000)"
SAMPLES = ("quartz-3", "quartz-4", "colour-4")
SPECTRA_FILTER = "Spectra (*.csv *.npy *.npz *.mat *.h5 *.hdf5);;All files (*)"
CUBE_FILTER = "Cubes (*.hdr *.npy *.mat *.h5 *.hdf5);;All files (*)"
MEASURED, GENERATED = "measured", "generated"
MEASURED_COLOUR, GENERATED_COLOUR = "#1e88e5", "#e53935"
SHOWN_SAMPLES = 5
MAP_COLOURS = pg.colormap.get("viridis")


# ------------------------------------------------------------------------ jobs
def load_dataset_job(ctx, options: dict[str, Any]):
    """Load a sample dataset by name or a spectra file (``options``: sample | path, mapping, renormalise)."""
    from studio.unmixing import io, synthetic

    ctx.progress(0, 1, "reading spectra")
    if options.get("sample"):
        ds = synthetic.make_sample(options["sample"], spectra_per_mixture=options.get("spectra_per_mixture", 400),
                                   seed=options.get("seed", 0))
    else:
        ds = io.load_spectra(options["path"], mapping=options.get("mapping"),
                             renormalise=options.get("renormalise", False))
    ctx.progress(1, 1, f"{len(ds)} spectra")
    return ds


def load_cube_job(ctx, options: dict[str, Any]):
    """A cube from a file, or the sample cube with its true abundances and endmembers."""
    from studio.unmixing import io, synthetic

    ctx.progress(0, 1, "reading cube")
    if options.get("sample"):
        cube, truth, endmembers, names = synthetic.make_sample_cube(options["sample"], seed=options.get("seed", 0))
        return {"cube": cube, "truth": truth, "endmembers": endmembers, "materials": names}
    return {"cube": io.load_cube(options["path"], axis_order=options.get("axis_order"))}


def is_curve_metric(name: str) -> bool:
    """Per-step losses go in the live curve (not learning rates, not the per-epoch repeats)."""
    return name.endswith("loss") and not name.endswith("epoch_loss")


class _MatrixPair(pg.GraphicsLayoutWidget):
    """Two matrices side by side on one colour scale, with a colour bar (K_a and K̂)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.items: list[pg.ImageItem] = []
        self.plots: list[pg.PlotItem] = []
        for col, title in enumerate(("measured K_a (eq. 9)", "generated K̂")):
            plot = self.addPlot(row=0, col=col, title=title)
            plot.setAspectLocked(True)
            plot.invertY(True)
            plot.hideAxis("bottom")
            plot.hideAxis("left")
            item = pg.ImageItem(axisOrder="row-major")
            plot.addItem(item)
            self.items.append(item)
            self.plots.append(plot)
        self.bar = pg.ColorBarItem(colorMap=pg.colormap.get("CET-D1"), interactive=False, width=12)
        self.bar.setImageItem(self.items, insert_in=self.plots[1])
        self.matrices: list[np.ndarray | None] = [None, None]

    def set_matrices(self, measured: np.ndarray | None, generated: np.ndarray | None) -> None:
        self.matrices = [measured, generated]
        shown = [m for m in self.matrices if m is not None]
        lim = max((float(np.abs(m).max()) for m in shown), default=1.0) or 1.0
        for item, m in zip(self.items, self.matrices):
            if m is None:
                item.clear()
            else:
                item.setImage(np.asarray(m, dtype=np.float32), levels=(-lim, lim))
        self.bar.setLevels((-lim, lim))


class _AbundanceMaps(pg.GraphicsLayoutWidget):
    """One image per material; a click reports the pixel (row, col)."""

    pixel_clicked = QtCore.Signal(int, int)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.images: list[pg.ImageItem] = []
        self.plots: list[pg.PlotItem] = []
        self.marker_items: list[pg.ScatterPlotItem] = []

    def set_maps(self, maps: np.ndarray, names: list[str], title_suffix: str = "") -> None:
        self.clear()
        self.images, self.plots, self.marker_items = [], [], []
        P = maps.shape[2]
        cols = 2 if P <= 4 else 3
        for p in range(P):
            plot = self.addPlot(row=p // cols, col=p % cols, title=f"{names[p]}{title_suffix}")
            plot.setAspectLocked(True)
            plot.invertY(True)
            item = pg.ImageItem(maps[:, :, p].astype(np.float32), axisOrder="row-major", levels=(0, 1))
            item.setColorMap(MAP_COLOURS)
            plot.addItem(item)
            marker = pg.ScatterPlotItem(size=10, pen=pg.mkPen("r", width=2), brush=None, symbol="+")
            plot.addItem(marker)
            item.mouseClickEvent = lambda ev, it=item: self._clicked(ev, it)
            self.images.append(item)
            self.plots.append(plot)
            self.marker_items.append(marker)

    def show_image(self, image: np.ndarray, title: str) -> None:
        """A single-band preview (before unmixing)."""
        self.clear()
        plot = self.addPlot(title=title)
        plot.setAspectLocked(True)
        plot.invertY(True)
        item = pg.ImageItem(image.astype(np.float32), axisOrder="row-major")
        plot.addItem(item)
        marker = pg.ScatterPlotItem(size=10, pen=pg.mkPen("r", width=2), brush=None, symbol="+")
        plot.addItem(marker)
        item.mouseClickEvent = lambda ev, it=item: self._clicked(ev, it)
        self.images, self.plots, self.marker_items = [item], [plot], [marker]

    def mark(self, row: int, col: int) -> None:
        for m in self.marker_items:
            m.setData([col + 0.5], [row + 0.5])

    def _clicked(self, ev, item: pg.ImageItem) -> None:
        pos = ev.pos()
        self.pixel_clicked.emit(int(pos.y()), int(pos.x()))
        ev.accept()


class UnmixingWorkbench(Workbench):
    key = "unmixing"
    title = "Spectral Unmixing"
    quiet_roles = ("preview",)

    #: What "Open sample" generates (the paper's 400 spectra per mixture); tests shrink it.
    sample_options: dict[str, Any] = {"spectra_per_mixture": 400, "seed": 0}

    def __init__(self, services: Services, parent: QtWidgets.QWidget | None = None):
        super().__init__(services, parent)
        self.dataset = None  # studio.unmixing.io.SpectralDataset
        self.dataset_label = ""
        self.sample_name: str | None = None
        self.vectors = np.zeros((0, 0))  # distinct abundance vectors (G, P)
        self.group_index = np.zeros(0, dtype=int)  # (N,)
        self.vector_is_train = np.zeros(0, dtype=bool)  # (G,)
        self.picked: np.ndarray | None = None
        self.delta_amn: float | None = None
        self.cube = None  # studio.unmixing.io.SpectralCube
        self.cube_truth: np.ndarray | None = None
        self.endmembers: np.ndarray | None = None  # (L, P)
        self.endmember_names: list[str] = []
        self.endmember_source = ""
        self.picked_pixels: list[tuple[int, int]] = []
        self.abundance_maps: np.ndarray | None = None  # (rows, cols, P)
        self.maps_method = ""
        self.pixel: tuple[int, int] | None = None
        self._load_options: dict[int, dict[str, Any]] = {}

        left = self._build_left()
        centre = self._build_centre()
        right = self._build_right()
        self.lay_out_panels(left, centre, right, sizes=(320, 700, 400))
        self.add_shortcuts((("Ctrl+.", self.stop),))
        services.bridge.metric.connect(self._on_metric)
        self._clear_models()
        self.show_initial_state()

    # =================================================================== building
    def _build_left(self) -> QtWidgets.QWidget:
        data_box = QtWidgets.QGroupBox("Dataset")
        dl = QtWidgets.QVBoxLayout(data_box)
        row = QtWidgets.QHBoxLayout()
        self.sample_combo = QtWidgets.QComboBox()
        self.sample_combo.addItems(SAMPLES)
        self.sample_combo.setToolTip("The three sample datasets mirror the paper's (section 4.1): 91 bands "
                                     "450–810 nm, 400 spectra per mixture")
        self.sample_button = QtWidgets.QPushButton("Open sample")
        self.sample_button.clicked.connect(self.open_sample)
        self.file_button = QtWidgets.QPushButton("File…")
        self.file_button.setToolTip("Open spectra: CSV, .npy/.npz, MATLAB .mat (v5 or v7.3), HDF5")
        self.file_button.clicked.connect(self.open_dialog)
        row.addWidget(self.sample_combo, 1)
        row.addWidget(self.sample_button)
        row.addWidget(self.file_button)
        dl.addLayout(row)
        self.summary_label = QtWidgets.QLabel("No dataset. Open a sample or a spectra file.")
        self.summary_label.setWordWrap(True)
        dl.addWidget(self.summary_label)

        gen_box = QtWidgets.QGroupBox("Generator N_m, N_k (section 3)")
        gl = QtWidgets.QGridLayout(gen_box)
        self.epochs_m = QtWidgets.QSpinBox()
        self.epochs_k = QtWidgets.QSpinBox()
        for spin, tip in ((self.epochs_m, "N_m"), (self.epochs_k, "N_k")):
            spin.setRange(1, 100000)
            spin.setValue(2000)
            spin.setToolTip(f"Epochs of {tip} (paper: 2000 for the quartz sets, 3000 N_m / 4000 N_k for colour-4)")
        self.gen_lr = QtWidgets.QDoubleSpinBox()
        self.gen_lr.setDecimals(4)
        self.gen_lr.setRange(1e-4, 1.0)
        self.gen_lr.setSingleStep(0.001)
        self.gen_lr.setValue(0.01)
        self.gen_lr.setToolTip("Adam learning rate (paper: 0.01)")
        gl.addWidget(QtWidgets.QLabel("Epochs N_m"), 0, 0)
        gl.addWidget(self.epochs_m, 0, 1)
        gl.addWidget(QtWidgets.QLabel("N_k"), 0, 2)
        gl.addWidget(self.epochs_k, 0, 3)
        gl.addWidget(QtWidgets.QLabel("LR"), 1, 0)
        gl.addWidget(self.gen_lr, 1, 1)
        self.train_gen_button = QtWidgets.QPushButton("Train generator")
        self.train_gen_button.setToolTip("Train N_m and N_k on the training mixtures' means and covariances "
                                         "(eqs. 8, 9, 11) (Ctrl+T)")
        self.train_gen_button.clicked.connect(self.train_generator)
        gl.addWidget(self.train_gen_button, 1, 2, 1, 2)
        self.generator_label = QtWidgets.QLabel("Generator: not trained.")
        self.generator_label.setWordWrap(True)
        gl.addWidget(self.generator_label, 2, 0, 1, 4)

        aug_box = QtWidgets.QGroupBox("Augmentation (section 3.3)")
        al = QtWidgets.QGridLayout(aug_box)
        self.strategy_combo = QtWidgets.QComboBox()
        self.strategy_combo.addItem("normal: sample N(m̂, K̂)", "normal")
        self.strategy_combo.addItem("mean only", "mean")
        self.step_spin = QtWidgets.QDoubleSpinBox()
        self.step_spin.setDecimals(4)
        self.step_spin.setRange(0.01, 0.5)
        self.step_spin.setSingleStep(0.025)
        self.step_spin.setValue(0.1)
        self.step_spin.setToolTip("Step size s: every simplex vector on this grid not in the training set is generated")
        self.per_vector_spin = QtWidgets.QSpinBox()
        self.per_vector_spin.setRange(1, 5000)
        self.per_vector_spin.setValue(400)
        self.per_vector_spin.setToolTip("Spectra generated per abundance vector (the paper: 400). For the CNN's "
                                        "training set at most 5 generated per measured spectrum: on a fine grid "
                                        "fewer per vector, so the measured spectra are not drowned out")
        al.addWidget(QtWidgets.QLabel("Strategy"), 0, 0)
        al.addWidget(self.strategy_combo, 0, 1, 1, 3)
        al.addWidget(QtWidgets.QLabel("Step s"), 1, 0)
        al.addWidget(self.step_spin, 1, 1)
        al.addWidget(QtWidgets.QLabel("Per vector"), 1, 2)
        al.addWidget(self.per_vector_spin, 1, 3)
        self.generate_button = QtWidgets.QPushButton("Generate")
        self.generate_button.clicked.connect(self.generate)
        al.addWidget(self.generate_button, 2, 0, 1, 4)
        self.generated_label = QtWidgets.QLabel("")
        self.generated_label.setWordWrap(True)
        al.addWidget(self.generated_label, 3, 0, 1, 4)

        cnn_box = QtWidgets.QGroupBox("1D-CNN unmixing (section 4.3)")
        cl = QtWidgets.QGridLayout(cnn_box)
        self.cnn_data_combo = QtWidgets.QComboBox()
        self.cnn_data_combo.addItem("original training set", "original")
        self.cnn_data_combo.addItem("original + generated", "augmented")
        self.cnn_epochs = QtWidgets.QSpinBox()
        self.cnn_epochs.setRange(1, 10000)
        self.cnn_epochs.setValue(81)
        self.cnn_epochs.setToolTip("Paper: quartz-3 81 (original) / 251 (augmented), quartz-4 21 / 41, colour-4 21 / 31")
        cl.addWidget(QtWidgets.QLabel("Train on"), 0, 0)
        cl.addWidget(self.cnn_data_combo, 0, 1, 1, 3)
        cl.addWidget(QtWidgets.QLabel("Epochs"), 1, 0)
        cl.addWidget(self.cnn_epochs, 1, 1)
        self.train_cnn_button = QtWidgets.QPushButton("Train CNN")
        self.train_cnn_button.clicked.connect(self.train_cnn)
        cl.addWidget(self.train_cnn_button, 1, 2, 1, 2)
        self.cnn_label = QtWidgets.QLabel("CNN: not trained.")
        self.cnn_label.setWordWrap(True)
        cl.addWidget(self.cnn_label, 2, 0, 1, 4)

        eval_box = QtWidgets.QGroupBox("Paper table (Table 1, Table 2, Fig. 3)")
        el = QtWidgets.QGridLayout(eval_box)
        self.scale_spin = QtWidgets.QDoubleSpinBox()
        self.scale_spin.setDecimals(3)
        self.scale_spin.setRange(0.001, 1.0)
        self.scale_spin.setSingleStep(0.05)
        self.scale_spin.setValue(0.05)
        self.scale_spin.setToolTip("Fraction of the paper's epochs for every network of the table (1 = the paper)")
        el.addWidget(QtWidgets.QLabel("Epochs ×"), 0, 0)
        el.addWidget(self.scale_spin, 0, 1)
        self.evaluate_button = QtWidgets.QPushButton("Evaluate all methods")
        self.evaluate_button.setToolTip("FCLS, ELMM, CNN original, CNN + normal augmentation, CNN + mean only on the "
                                        "test mixtures of this dataset (F5)")
        self.evaluate_button.clicked.connect(self.evaluate)
        el.addWidget(self.evaluate_button, 0, 2)
        self.all_samples_check = QtWidgets.QCheckBox("All three sample datasets")
        self.all_samples_check.setToolTip("Evaluate quartz-3, quartz-4 and colour-4 in one job (the paper's table)")
        self.all_samples_check.toggled.connect(self.update_buttons)
        el.addWidget(self.all_samples_check, 1, 0, 1, 3)

        actions = QtWidgets.QWidget()
        al2 = QtWidgets.QVBoxLayout(actions)
        al2.setContentsMargins(0, 0, 0, 0)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("Cancel this workbench's running jobs (a training keeps its last checkpoint) "
                                    "(Ctrl+.)")
        self.stop_button.clicked.connect(self.stop)
        al2.addWidget(self.stop_button)
        al2.addWidget(self.status_widgets())

        panel = QtWidgets.QWidget()
        pl = QtWidgets.QVBoxLayout(panel)
        pl.setContentsMargins(0, 0, 4, 0)
        for w in (data_box, gen_box, aug_box, cnn_box, eval_box, actions):
            pl.addWidget(w)
        pl.addStretch(1)
        self.left_panel = self.scroll_panel(panel, 240)
        return self.left_panel

    def _build_centre(self) -> QtWidgets.QWidget:
        self.centre_tabs = QtWidgets.QTabWidget()
        # ---- generated vs measured
        compare = QtWidgets.QWidget()
        cl = QtWidgets.QHBoxLayout(compare)
        cl.setContentsMargins(2, 2, 2, 2)
        self.picker = AbundancePicker()
        self.picker.changed.connect(self.show_vector)
        self.picker.setMinimumWidth(150)
        cl.addWidget(self.picker, 0)
        views = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        top = QtWidgets.QWidget()
        tl = QtWidgets.QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        self.vector_label = QtWidgets.QLabel("Pick an abundance vector.")
        self.vector_label.setWordWrap(True)
        tl.addWidget(self.vector_label)
        self.spectra_plot = SpectraPlot(title="Measured and generated spectra (mean ± std)")
        tl.addWidget(self.spectra_plot, 1)
        views.addWidget(top)
        self.cov_view = _MatrixPair()
        views.addWidget(self.cov_view)
        views.setSizes([420, 260])
        cl.addWidget(views, 1)
        self.centre_tabs.addTab(compare, "Generated vs measured")

        # ---- cube
        cube = QtWidgets.QWidget()
        ql = QtWidgets.QVBoxLayout(cube)
        ql.setContentsMargins(2, 2, 2, 2)
        bar = QtWidgets.QHBoxLayout()
        self.open_cube_button = QtWidgets.QPushButton("Open cube…")
        self.open_cube_button.setToolTip("ENVI (.hdr + binary, BSQ/BIL/BIP), .npy, .mat or HDF5 cube")
        self.open_cube_button.clicked.connect(self._open_cube_dialog)
        self.sample_cube_button = QtWidgets.QPushButton("Sample cube")
        self.sample_cube_button.setToolTip("A 64×64 cube of colour-4 mixtures with known abundances")
        self.sample_cube_button.clicked.connect(self.open_sample_cube)
        self.endmember_combo = QtWidgets.QComboBox()
        self.endmember_combo.addItem("Endmembers: dataset's pure spectra", "dataset")
        self.endmember_combo.addItem("Endmembers: from file…", "file")
        self.endmember_combo.addItem("Endmembers: picked pixels", "pixels")
        self.endmember_combo.activated.connect(self._endmember_source_chosen)
        self.endmember_combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.endmember_combo.setMinimumContentsLength(10)
        self.pick_pixel_button = QtWidgets.QPushButton("Add pixel")
        self.pick_pixel_button.setToolTip("Add the clicked pixel's spectrum as an endmember (one click per material)")
        self.pick_pixel_button.clicked.connect(self.add_pixel_endmember)
        self.method_combo = QtWidgets.QComboBox()
        for text, data in (("FCLS", "fcls"), ("ELMM", "elmm"), ("Least squares", "ls"), ("NNLS", "nnls"),
                           ("1D-CNN", "cnn")):
            self.method_combo.addItem(text, data)
        self.method_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.method_combo.setMinimumContentsLength(6)
        self.unmix_button = QtWidgets.QPushButton("Unmix")
        self.unmix_button.clicked.connect(self.unmix_cube)
        for w in (self.open_cube_button, self.sample_cube_button):
            bar.addWidget(w)
        bar.addStretch(1)
        ql.addLayout(bar)
        bar1 = QtWidgets.QHBoxLayout()
        bar1.addWidget(self.endmember_combo, 1)
        bar1.addWidget(self.pick_pixel_button)
        ql.addLayout(bar1)
        bar2 = QtWidgets.QHBoxLayout()
        for w in (self.method_combo, self.unmix_button):
            bar2.addWidget(w)
        bar2.addStretch(1)
        ql.addLayout(bar2)
        self.cube_label = QtWidgets.QLabel("No cube. Open one, or the sample cube.")
        self.cube_label.setWordWrap(True)
        ql.addWidget(self.cube_label)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.maps_view = _AbundanceMaps()
        self.maps_view.pixel_clicked.connect(self.show_pixel)
        split.addWidget(self.maps_view)
        pix = QtWidgets.QWidget()
        pxl = QtWidgets.QVBoxLayout(pix)
        pxl.setContentsMargins(0, 0, 0, 0)
        self.pixel_label = QtWidgets.QLabel("Click a pixel to see its spectrum and abundances.")
        self.pixel_label.setWordWrap(True)
        pxl.addWidget(self.pixel_label)
        self.pixel_plot = SpectraPlot(title="Pixel spectrum and reconstruction M·a")
        pxl.addWidget(self.pixel_plot, 1)
        split.addWidget(pix)
        split.setSizes([460, 260])
        ql.addWidget(split, 1)
        self.centre_tabs.addTab(cube, "Cube")
        return self.centre_tabs

    def _build_right(self) -> QtWidgets.QWidget:
        panel = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(panel)
        rl.setContentsMargins(4, 0, 0, 0)
        self.curve = LiveCurvePlot(title="Training loss")
        rl.addWidget(self.curve, 1)
        results_title = QtWidgets.QLabel(f"<b>Results</b> (Δ_RMSE eq. 13, Δ_GAMN eq. 12; {PAPER})")
        results_title.setWordWrap(True)
        rl.addWidget(results_title)
        self.results: dict[str, dict[str, tuple[float, float | None]]] = {}  # dataset -> method -> values
        self.results_table = QtWidgets.QTableWidget(0, 1)
        self.results_table.setHorizontalHeaderLabels(["Method"])
        self.results_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results_table.verticalHeader().setVisible(False)
        rl.addWidget(self.results_table, 1)
        self.results_note = QtWidgets.QLabel("No results yet: Evaluate all methods, or train a CNN.")
        self.results_note.setWordWrap(True)
        rl.addWidget(self.results_note)
        self.right_panel = self.scroll_panel(panel, 250)
        return self.right_panel

    # ================================================================ Workbench hooks
    def open_paths(self, paths: list[str]) -> None:
        cubes = [p for p in paths if p.lower().endswith(".hdr")]
        spectra = [p for p in paths if p not in cubes]
        if cubes:
            self.open_cube(cubes[0])
        if spectra:
            self.open_spectra(spectra[0])
        if len(spectra) > 1 or len(cubes) > 1:
            self.show_message("Several files given; opened the first spectra file and the first cube only.",
                              "warning")

    def open_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open spectra", self._start_folder(), SPECTRA_FILTER)
        if path:
            self.open_spectra(path)

    def open_sample(self) -> None:
        name = self.sample_combo.currentText()
        self._load({"sample": name, **self.sample_options}, label=f"the {name} sample")

    def export(self) -> None:
        menu = QtWidgets.QMenu(self)
        menu.addAction("Generated spectra (CSV / .npy)…", self._export_generated_dialog).setEnabled(
            self.generated is not None)
        menu.addAction("Abundance maps (TIFF / .npy)…", self._export_maps_dialog).setEnabled(
            self.abundance_maps is not None)
        menu.addAction("Results table (CSV)…", self._export_results_dialog).setEnabled(
            self.results_table.rowCount() > 0)
        menu.addAction("Spectra plot (PNG)…", lambda: self._export_plot_dialog("png")).setEnabled(
            bool(self.spectra_plot.group_names()))
        menu.addAction("Spectra plot (CSV)…", lambda: self._export_plot_dialog("csv")).setEnabled(
            bool(self.spectra_plot.group_names()))
        menu.exec(QtGui.QCursor.pos())

    # ===================================================================== dataset
    def open_spectra(self, path: str, mapping: dict[str, str] | None = None) -> Job:
        self._remember_folder(path)
        return self._load({"path": path, "mapping": mapping}, label=os.path.basename(path))

    def _load(self, options: dict[str, Any], *, label: str) -> Job:
        self.show_message("")
        job = self.submit(load_dataset_job, options, name=f"Unmixing: load {label}", kind="task", role="load",
                          on_done=lambda job: self._dataset_loaded(job, options))
        self._load_options[job.id] = options
        return job

    def job_ended(self, job: Job, role: str) -> None:
        options = self._load_options.pop(job.id, None)
        if options and options.get("path") and not options.get("mapping") and job.status == "failed" \
                and job.user_error:
            self._maybe_map_variables(options["path"])
        if role == "train":
            self.curve.flush()

    def _maybe_map_variables(self, path: str) -> None:
        """A .mat/HDF5/.npz file whose variables were not recognised: let the user map them."""
        if not path.lower().endswith((".mat", ".h5", ".hdf5", ".npz")):
            return
        from studio.unmixing import io

        try:
            variables = io.list_variables(path)
        except Exception:  # noqa: BLE001 - the load error is already shown
            return
        if not variables:
            return
        mapping = self.ask_mapping(path, variables)
        if mapping:
            self.open_spectra(path, mapping)

    def ask_mapping(self, path: str, variables: list[tuple[str, tuple[int, ...]]]) -> dict[str, str] | None:
        dialog = QtWidgets.QDialog(self)
        dialog.setWindowTitle("Map variables")
        form = QtWidgets.QFormLayout(dialog)
        form.addRow(QtWidgets.QLabel(f"{os.path.basename(path)}: which variable holds what?"))
        combos: dict[str, QtWidgets.QComboBox] = {}
        for role, required in (("spectra", True), ("wavelengths", False), ("abundances", False),
                               ("materials", False)):
            combo = QtWidgets.QComboBox()
            if not required:
                combo.addItem("(none)", "")
            for name, shape in variables:
                combo.addItem(f"{name}  {'×'.join(map(str, shape))}", name)
            combos[role] = combo
            form.addRow(role + (" *" if required else ""), combo)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return {role: c.currentData() for role, c in combos.items() if c.currentData()}

    def _dataset_loaded(self, job: Job, options: dict[str, Any]) -> None:
        self.set_dataset(job.result, sample=options.get("sample"))

    def set_dataset(self, ds, sample: str | None = None) -> None:
        from studio.unmixing import synthetic

        self.dataset = ds
        self.sample_name = sample
        self.dataset_label = sample or Path(ds.source or ds.name).name
        self._clear_models()
        self.spectra_plot.clear()
        self.cov_view.set_matrices(None, None)
        if ds.abundances is None:
            self.vectors = np.zeros((0, 0))
            self.group_index = np.zeros(len(ds), dtype=int)
            self.vector_is_train = np.zeros(0, dtype=bool)
            self.picker.set_points([], np.zeros((0, 0)), [])
            self.spectra_plot.set_group(MEASURED, ds.wavelengths, ds.spectra, colour=MEASURED_COLOUR)
            split_text = "no abundance labels: the spectra can be unmixed, not used for training"
        else:
            self.vectors, self.group_index = ds.groups()
            try:
                self.vector_is_train = synthetic.paper_split(self.vectors, sample or ds.name)
                split_text = "split of section 4.1"
            except ValueError:
                self.vector_is_train = self._default_split(self.vectors)
                split_text = "split: every third mixture is a test mixture (seeded)"
            kinds = ["train" if t else "test" for t in self.vector_is_train]
            self.picker.set_points(ds.materials, self.vectors, kinds)
            n_train = int(self.vector_is_train.sum())
            split_text += f": {n_train} training / {len(self.vectors) - n_train} test mixtures"
        self._apply_paper_defaults()
        lo, hi = float(ds.wavelengths.min()), float(ds.wavelengths.max())
        warn = ("<br><span style='color:#f39c12'>" + "<br>".join(map(breakable, ds.warnings)) + "</span>"
                if ds.warnings else "")
        self.summary_label.setText(
            f"<b>{breakable(self.dataset_label)}</b>: {len(ds)} spectra × {ds.n_bands} bands "
            f"({lo:.0f}–{hi:.0f} nm)<br>{len(self.vectors)} mixtures of "
            f"{', '.join(ds.materials) or '—'}<br>{split_text}{warn}")
        if len(self.vectors):
            first_test = int(np.flatnonzero(~self.vector_is_train)[0]) if (~self.vector_is_train).any() else 0
            self.picker.set_value(self.vectors[first_test])
        self.set_status(f"Loaded {self.dataset_label}.")
        self.update_buttons()

    @staticmethod
    def _default_split(vectors: np.ndarray) -> np.ndarray:
        """Files other than the samples: pure spectra always train; of the rest every third is test (seeded)."""
        rng = np.random.default_rng(0)
        is_train = np.ones(len(vectors), dtype=bool)
        mixed = np.flatnonzero(vectors.max(axis=1) < 1 - 1e-6)
        test = rng.permutation(mixed)[: len(mixed) // 3]
        is_train[test] = False
        return is_train

    def _apply_paper_defaults(self) -> None:
        """Epochs of section 4 for the sample datasets (N_m, N_k and the CNN)."""
        colour = (self.sample_name or "").startswith("colour")
        self.epochs_m.setValue(3000 if colour else 2000)
        self.epochs_k.setValue(4000 if colour else 2000)
        self.step_spin.setValue(0.0625 if self.dataset is not None and self.dataset.n_materials == 3 else 0.1)

    def _clear_models(self) -> None:
        self.augmenter = None
        self.augmenter_checkpoint: str | None = None
        self.generated = None  # SpectralDataset of generated spectra (the augmentation)
        self.cnn_checkpoint: str | None = None
        self.generator_label.setText("Generator: not trained.")
        self.generated_label.setText("")
        self.cnn_label.setText("CNN: not trained.")

    # ============================================================ the core view
    def measured_spectra(self, a: np.ndarray) -> np.ndarray | None:
        """The dataset's spectra of the mixture ``a`` (None when ``a`` is not one of its vectors)."""
        if self.dataset is None or not len(self.vectors):
            return None
        hit = np.flatnonzero(np.all(np.abs(self.vectors - a) < 1e-6, axis=1))
        if not len(hit):
            return None
        return self.dataset.spectra[self.group_index == hit[0]]

    def show_vector(self, a: np.ndarray) -> None:
        """Draw the measured and (with a trained generator) the generated spectra of ``a``."""
        if self.dataset is None:
            return
        self.picked = np.asarray(a, dtype=float)
        measured = self.measured_spectra(self.picked)
        wl = self.dataset.wavelengths
        if measured is not None:
            self.spectra_plot.set_group(MEASURED, wl, measured, n_samples=SHOWN_SAMPLES, colour=MEASURED_COLOUR)
        else:
            self.spectra_plot.remove_group(MEASURED)
        self.spectra_plot.remove_group(GENERATED)
        self.delta_amn = None
        measured_cov = np.cov(measured, rowvar=False) if measured is not None and len(measured) > 1 else None
        self.cov_view.set_matrices(measured_cov, None)
        self._describe_vector(measured)
        if self.augmenter is not None and self.services.is_torch_ready:
            self._preview_generated(self.picked)

    def _describe_vector(self, measured: np.ndarray | None) -> None:
        a = self.picked
        names = self.dataset.materials if self.dataset is not None else []
        parts = [f"{n} {v:.3f}" for n, v in zip(names, a) if v > 0]
        row = self.picker.row_of(a)
        if row is not None:
            kind = "training" if self.vector_is_train[row] else "test"
            where = f"a {kind} mixture, {len(measured)} measured spectra"
        else:
            where = "not a mixture of the dataset: generated spectra only"
        gen = ""
        if self.augmenter is None:
            gen = " · train the generator to compare generated spectra"
        elif self.delta_amn is not None:
            gen = f" · Δ_AMN = {self.delta_amn:.4f} (eq. 12)"
        self.vector_label.setText(f"<b>{' + '.join(parts) or format_vector(a)}</b> — {where}{gen}")

    def _preview_generated(self, a: np.ndarray) -> None:
        from studio.unmixing.jobs import preview_vector_job

        cfg = {"augmenter": self.augmenter, "vector": a, "n": self.per_vector_spin.value(),
               "strategy": self.strategy_combo.currentData(), "measured": self.measured_spectra(a)}
        self.submit(preview_vector_job, cfg, name="Unmixing: generate for one vector", kind="task", role="preview",
                    on_done=lambda job, a=a.copy(): self._show_generated(a, job.result))

    def _show_generated(self, a: np.ndarray, result: dict[str, Any]) -> None:
        if self.picked is None or not np.allclose(a, self.picked) or self.dataset is None:
            return  # the user picked another vector meanwhile
        self.spectra_plot.set_group(GENERATED, self.dataset.wavelengths, result["spectra"], n_samples=SHOWN_SAMPLES,
                                    colour=GENERATED_COLOUR)
        self.delta_amn = result.get("delta_amn")
        self.cov_view.set_matrices(self.cov_view.matrices[0], result["covariance"])
        self._describe_vector(self.measured_spectra(a))

    # ==================================================================== cube
    def _open_cube_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open cube", self._start_folder(), CUBE_FILTER)
        if path:
            self.open_cube(path)

    def open_cube(self, path: str) -> Job:
        self._remember_folder(path)
        self.centre_tabs.setCurrentIndex(1)
        return self.submit(load_cube_job, {"path": path}, name=f"Unmixing: load cube {os.path.basename(path)}",
                           kind="task", role="load", on_done=self._cube_loaded)

    def open_sample_cube(self) -> Job:
        self.centre_tabs.setCurrentIndex(1)
        return self.submit(load_cube_job, {"sample": "colour-4", "seed": 0}, name="Unmixing: sample cube",
                           kind="task", role="load", on_done=self._cube_loaded)

    def _cube_loaded(self, job: Job) -> None:
        result = job.result
        self.cube = result["cube"]
        self.cube_truth = result.get("truth")
        self.abundance_maps = None
        self.picked_pixels = []
        if result.get("endmembers") is not None:
            self.endmembers = np.asarray(result["endmembers"])
            self.endmember_names = list(result["materials"])
            self.endmember_source = "the sample cube's pure materials"
        elif self.endmembers is None or self.endmembers.shape[0] != self.cube.data.shape[2]:
            self._endmembers_from_dataset(quiet=True)
        r, c, L = self.cube.data.shape
        self.maps_view.show_image(self.cube.data.mean(axis=2), f"{self.cube.name}: mean over {L} bands")
        self._describe_cube()
        self.update_buttons()

    def _describe_cube(self) -> None:
        if self.cube is None:
            return
        r, c, L = self.cube.data.shape
        em = (f"{len(self.endmember_names)} endmembers ({', '.join(self.endmember_names)}) from "
              f"{self.endmember_source}" if self.endmembers is not None else "no endmembers yet")
        maps = f" · showing {self.maps_method} abundances" if self.abundance_maps is not None else ""
        self.cube_label.setText(f"<b>{breakable(self.cube.name)}</b>: {r}×{c} pixels × {L} bands · {em}{maps}")

    def _endmember_source_chosen(self, index: int) -> None:
        source = self.endmember_combo.itemData(index)
        if source == "dataset":
            self._endmembers_from_dataset()
        elif source == "file":
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Endmembers", self._start_folder(),
                                                            "Endmembers (*.csv *.npy);;All files (*)")
            if path:
                self.load_endmembers(path)
        else:
            self._endmembers_from_pixels()

    def _endmembers_from_dataset(self, quiet: bool = False) -> bool:
        if self.dataset is None or self.dataset.abundances is None:
            if not quiet:
                self.show_message("Open a labelled dataset first: its pure spectra are the endmembers.", "warning")
            return False
        try:
            self.endmembers = self.dataset.pure_endmembers()
        except ValueError as exc:
            if not quiet:
                self.show_message(str(exc), "error")
            return False
        self.endmember_names = list(self.dataset.materials)
        self.endmember_source = f"the pure spectra of {self.dataset_label}"
        self._describe_cube()
        self.update_buttons()
        return True

    def load_endmembers(self, path: str) -> bool:
        from studio.unmixing import io

        try:
            self.endmembers, self.endmember_names = io.load_endmembers(path)
        except (ValueError, OSError) as exc:
            self.show_message(str(exc), "error")
            return False
        self.endmember_source = os.path.basename(path)
        self._describe_cube()
        self.update_buttons()
        return True

    def add_pixel_endmember(self) -> None:
        if self.cube is None or self.pixel is None:
            self.show_message("Click a pixel of the cube first.", "warning")
            return
        if self.pixel not in self.picked_pixels:
            self.picked_pixels.append(self.pixel)
        self.endmember_combo.setCurrentIndex(self.endmember_combo.findData("pixels"))
        self._endmembers_from_pixels()

    def _endmembers_from_pixels(self) -> None:
        if self.cube is None or not self.picked_pixels:
            self.show_message("Click a pixel, then 'Use pixel as endmember'; repeat for each material.", "info")
            return
        from studio.unmixing.jobs import pixel_endmembers

        self.endmembers, self.endmember_names = pixel_endmembers(self.cube.data, self.picked_pixels, self.cube.name)
        self.endmember_source = "picked pixels"
        self._describe_cube()
        self.update_buttons()

    def unmix_cube(self) -> Job | None:
        from studio.unmixing.jobs import UnmixArrays, unmix_arrays_job

        if self.cube is None:
            self.show_message("Open a cube first.", "warning")
            return None
        method = self.method_combo.currentData()
        if method == "cnn" and not self.cnn_checkpoint:
            self.show_message("Train the 1D-CNN first (or choose FCLS / ELMM).", "warning")
            return None
        if method != "cnn" and self.endmembers is None:
            self.show_message("Choose endmembers first.", "warning")
            return None
        cfg = UnmixArrays(spectra=self.cube.pixels(), method=method,
                          endmembers=None if method == "cnn" else self.endmembers,
                          materials=None if method == "cnn" else self.endmember_names,
                          model=self.cnn_checkpoint if method == "cnn" else None, source=self.cube.name)
        return self.submit(unmix_arrays_job, cfg, name=f"Unmixing: {self.method_combo.currentText()} on the cube",
                           kind="task", role="unmix", on_done=lambda job, m=method: self._cube_unmixed(job, m))

    def _cube_unmixed(self, job: Job, method: str) -> None:
        r, c, _ = self.cube.data.shape
        A = np.asarray(job.result["abundances"])
        names = list(job.result["materials"])
        if method == "cnn":
            self.endmember_names = names
        self.abundance_maps = A.reshape(r, c, -1)
        self.maps_method = self.method_combo.itemText(self.method_combo.findData(method))
        suffix = ""
        if self.cube_truth is not None and self.cube_truth.shape == self.abundance_maps.shape:
            rmse = float(np.sqrt(np.mean((self.abundance_maps - self.cube_truth) ** 2)))
            suffix = f" — Δ_RMSE against the true abundances {rmse:.4f}"
        self.maps_view.set_maps(self.abundance_maps, names)
        self._describe_cube()
        self.set_status(f"{self.maps_method}: {r * c} pixels unmixed{suffix}.")
        if self.pixel is not None:
            self.show_pixel(*self.pixel)

    def show_pixel(self, row: int, col: int) -> None:
        if self.cube is None:
            return
        r, c, _ = self.cube.data.shape
        if not (0 <= row < r and 0 <= col < c):
            return
        self.pixel = (row, col)
        self.maps_view.mark(row, col)
        y = self.cube.data[row, col].astype(np.float64)
        wl = self.cube.wavelengths
        self.pixel_plot.clear()
        self.pixel_plot.set_group("measured", wl, y, colour=MEASURED_COLOUR)
        text = f"Pixel ({row}, {col})"
        if self.abundance_maps is not None:
            a = self.abundance_maps[row, col]
            names = self.endmember_names if len(self.endmember_names) == len(a) else [f"m{i + 1}" for i in
                                                                                      range(len(a))]
            text += ": " + ", ".join(f"{n} {v:.3f}" for n, v in zip(names, a))
            if self.endmembers is not None and self.endmembers.shape == (len(y), len(a)):
                recon = self.endmembers @ a
                self.pixel_plot.set_group("reconstruction M·a", wl, recon, colour=GENERATED_COLOUR)
                text += f" · reconstruction RMSE {float(np.sqrt(np.mean((recon - y) ** 2))):.4f}"
            if self.cube_truth is not None and self.cube_truth.shape[:2] == (r, c):
                text += " · true " + ", ".join(f"{v:.3f}" for v in self.cube_truth[row, col])
        self.pixel_label.setText(text)

    # ==================================================================== exports
    def export_generated(self, path: str) -> None:
        from studio.unmixing.jobs import write_generated

        write_generated(path, self.generated)

    def export_maps(self, path: str) -> None:
        from studio.unmixing import io

        names = self.endmember_names if len(self.endmember_names) == self.abundance_maps.shape[2] else \
            [f"m{i + 1}" for i in range(self.abundance_maps.shape[2])]
        io.save_abundance_maps(path, self.abundance_maps, names)

    def export_results_csv(self, path: str) -> None:
        """The results table as CSV (``studio.unmixing.jobs.results_csv``, as ``unmix evaluate --csv``)."""
        from studio.unmixing.jobs import results_csv

        results_csv(self.results, path)

    def _ask_save(self, title: str, default: str, filters: str) -> str:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, title, os.path.join(self._start_folder(), default),
                                                        filters)
        return path

    def _export_guarded(self, path: str, exporter) -> bool:
        if not path:
            return False
        try:
            exporter(path)
        except (OSError, ValueError) as exc:
            self.show_message(f"Could not write {path}: {exc}", "error")
            return False
        self.set_status(f"Wrote {path}.")
        return True

    def _export_generated_dialog(self) -> None:
        path = self._ask_save("Export generated spectra", f"{self.dataset_label}-generated.csv",
                              "CSV (*.csv);;NumPy (*.npy)")
        self._export_guarded(path, self.export_generated)

    def _export_maps_dialog(self) -> None:
        path = self._ask_save("Export abundance maps", f"{self.cube.name if self.cube else 'cube'}-abundances.tif",
                              "TIFF, one float32 page per material (*.tif *.tiff);;NumPy (*.npy)")
        self._export_guarded(path, self.export_maps)

    def _export_results_dialog(self) -> None:
        path = self._ask_save("Export results table", f"{self.dataset_label}-results.csv", "CSV (*.csv)")
        self._export_guarded(path, self.export_results_csv)

    def _export_plot_dialog(self, kind: str) -> None:
        path = self._ask_save("Export spectra plot", f"spectra.{kind}", f"{kind.upper()} (*.{kind})")
        exporter = self.spectra_plot.export_png if kind == "png" else self.spectra_plot.export_csv
        self._export_guarded(path, exporter)

    # ====================================================================== misc
    def _on_metric(self, job, name, value, step, epoch, wall) -> None:
        entry = self._active.get(job.id)
        if entry is not None and entry[1] == "train" and is_curve_metric(name):
            self.curve.add_point(name, step, value, epoch, wall)

    def update_buttons(self) -> None:
        ready = self.services.is_torch_ready
        busy_train = self.job_running("train")
        loading = self.job_running("load")
        labelled = self.dataset is not None and self.dataset.abundances is not None
        self.train_gen_button.setEnabled(ready and labelled and not busy_train and not loading)
        self.generate_button.setEnabled(ready and getattr(self, "augmenter", None) is not None and not busy_train)
        self.train_cnn_button.setEnabled(ready and labelled and not busy_train and not loading)
        self.evaluate_button.setEnabled(ready and (labelled or self.all_samples_check.isChecked()) and not busy_train
                                        and not loading)
        self.unmix_button.setEnabled(ready and self.cube is not None and not self.job_running("unmix"))
        self.pick_pixel_button.setEnabled(self.cube is not None)
        self.stop_button.setEnabled(bool(self._active))


    # =================================================================== models
    def dataset_ref(self) -> str:
        """What the jobs open again: the sample's name or the file's path."""
        return self.sample_name or self.dataset.source

    def _spectra_per_mixture(self) -> int:
        return int(self.sample_options.get("spectra_per_mixture", 400))

    def train_generator(self) -> Job | None:
        """Section 3: train N_m and N_k on the training mixtures (a run of this workbench)."""
        if self.dataset is None or self.dataset.abundances is None:
            self.show_message("Open a labelled dataset first.", "warning")
            return None
        from studio.unmixing.augmentation import MomentTrainConfig
        from studio.unmixing.jobs import AugmentConfig, train_augmenter_job

        cfg = AugmentConfig(dataset=self.dataset_ref(), spectra_per_mixture=self._spectra_per_mixture(),
                            mean_epochs=self.epochs_m.value(), cov_epochs=self.epochs_k.value(),
                            moments=MomentTrainConfig(lr=self.gen_lr.value()), strategy=None)
        self.show_message("")
        self.curve.clear()
        job = self.submit(train_augmenter_job, cfg, name=f"Unmixing: train N_m, N_k on {self.dataset_label}",
                          kind="train", role="train", on_done=self._generator_trained,
                          run=RunSpec(self.key, "gp-augmenter", cfg.to_dict()))
        self.set_status(f"Training N_m ({cfg.mean_epochs} epochs) and N_k ({cfg.cov_epochs} epochs) on {job.device}…")
        return job

    def _generator_trained(self, job: Job) -> None:
        result = job.result
        path = result.get("checkpoint")
        if not path:
            self.show_message("The generator finished without a checkpoint; it cannot be used.", "error")
            return
        self.set_augmenter(path, job.run)
        info = result.get("training", {})
        self.set_status(f"Generator trained in {job.elapsed():.0f} s: final logistic loss N_m "
                        f"{info.get('mean', {}).get('final_epoch_loss', float('nan')):.4f}, N_k "
                        f"{info.get('cov', {}).get('final_epoch_loss', float('nan')):.4f}.")

    def set_augmenter(self, path: str, run: RunRecord | None = None) -> bool:
        from studio.unmixing.augmentation import GPAugmenter

        try:
            augmenter = GPAugmenter.load(path)
        except (ValueError, OSError) as exc:
            self.show_message(f"{path}: cannot load the generator ({exc})", "error")
            return False
        if self.dataset is not None and augmenter.bands != self.dataset.n_bands:
            self.show_message(f"{path}: the generator was trained on {augmenter.bands} bands, the dataset has "
                              f"{self.dataset.n_bands}.", "error")
            return False
        self.augmenter = augmenter
        self.augmenter_checkpoint = str(path)
        info = augmenter.info or {}
        epochs = f"N_m {info.get('mean', {}).get('epochs', '?')} / N_k {info.get('cov', {}).get('epochs', '?')} epochs"
        where = f"run #{run.id}" if run is not None else Path(path).name
        self.generator_label.setText(f"Generator: trained ({epochs}), {where}.")
        self.update_buttons()
        if self.picked is not None:
            self.show_vector(self.picked)
        return True

    def generate(self) -> Job | None:
        """Section 3.3: spectra for every grid vector of step s that is not a training vector."""
        if self.augmenter_checkpoint is None:
            self.show_message("Train the generator first.", "warning")
            return None
        from studio.unmixing.jobs import GenerateConfig, generate_job

        cfg = GenerateConfig(augmenter=self.augmenter_checkpoint, step=self.step_spin.value(),
                             strategy=self.strategy_combo.currentData(), n_per_vector=self.per_vector_spin.value())
        return self.submit(generate_job, cfg, name=f"Unmixing: generate ({cfg.strategy}, s={cfg.step:g})",
                           kind="task", role="generate", on_done=self._generated)

    def _generated(self, job: Job) -> None:
        self.generated = job.result["dataset"]
        self.generated_label.setText(f"Generated {job.result['spectra']} spectra for {job.result['vectors']} new "
                                     f"abundance vectors ({self.strategy_combo.currentText()}, "
                                     f"s = {self.step_spin.value():g}). File ▸ Export saves them.")
        self.update_buttons()

    def train_cnn(self) -> Job | None:
        """Section 4.3: the 1D-CNN on the original or the augmented training set, scored on the test set."""
        if self.dataset is None or self.dataset.abundances is None:
            self.show_message("Open a labelled dataset first.", "warning")
            return None
        from studio.unmixing.jobs import CnnTrainConfig, train_cnn_job

        augmentation = "none"
        if self.cnn_data_combo.currentData() == "augmented":
            if self.augmenter_checkpoint is None:
                self.show_message("Train the generator first, or train the CNN on the original set.", "warning")
                return None
            augmentation = self.strategy_combo.currentData()
        cfg = CnnTrainConfig(dataset=self.dataset_ref(), spectra_per_mixture=self._spectra_per_mixture(),
                             augmentation=augmentation, step=self.step_spin.value(),
                             augmenter=self.augmenter_checkpoint if augmentation != "none" else None,
                             n_per_vector=self.per_vector_spin.value(), epochs=self.cnn_epochs.value())
        self.show_message("")
        self.curve.clear()
        label = "original" if augmentation == "none" else f"{augmentation} s={cfg.step:g}"
        return self.submit(train_cnn_job, cfg, name=f"Unmixing: train 1D-CNN ({label})", kind="train", role="train",
                           on_done=lambda job, label=label: self._cnn_trained(job, label),
                           run=RunSpec(self.key, f"cnn1d-{augmentation}", cfg.to_dict()))

    def _cnn_trained(self, job: Job, label: str) -> None:
        m = job.result["metrics"]
        run = job.run
        self.cnn_checkpoint = run.checkpoint if run is not None and run.checkpoint else None
        rmse = m.get("test/delta_rmse", float("nan"))
        generated = (f" ({m['new_vectors']} new vectors × {m['generated_per_vector']} generated)"
                     if m.get("new_vectors") else "")
        self.cnn_label.setText(f"CNN ({label}): test Δ_RMSE {rmse:.4f} after {m.get('epochs')} epochs on "
                               f"{m.get('train_spectra')} spectra{generated}" + (f", run #{run.id}." if run else "."))
        self.add_result(self.dataset_label, f"CNN {label}" + (f" (run #{run.id})" if run else ""), rmse, None)
        self.update_buttons()

    def evaluate(self) -> Job | None:
        """Every method of the paper's table on this dataset's test mixtures (networks at ``Epochs ×``)."""
        if not self.all_samples_check.isChecked() and (self.dataset is None or self.dataset.abundances is None):
            self.show_message("Open a labelled dataset first, or tick 'All three sample datasets'.", "warning")
            return None
        from studio.unmixing.jobs import EvaluateConfig, evaluate_job

        datasets = list(SAMPLES) if self.all_samples_check.isChecked() else [self.dataset_ref()]
        cfg = EvaluateConfig(datasets=datasets, spectra_per_mixture=self._spectra_per_mixture(),
                             epochs_scale=self.scale_spin.value(), n_per_vector=self.per_vector_spin.value(),
                             gamn_per_vector=min(400, self.per_vector_spin.value()))
        self.show_message("")
        self.curve.clear()
        what = "the three sample datasets" if len(datasets) > 1 else self.dataset_label
        return self.submit(evaluate_job, cfg, name=f"Unmixing: evaluate all methods on {what}",
                           kind="train", role="train", on_done=self._evaluated,
                           run=RunSpec(self.key, "paper-table", cfg.to_dict()))

    def _evaluated(self, job: Job) -> None:
        self.show_results(job.result)

    def show_results(self, result: dict[str, Any]) -> None:
        """Put an evaluate_job result (one or more datasets) into the table, one column pair per dataset."""
        for name, d in result.get("datasets", {}).items():
            self.results.pop(name, None)
            for r in d["rows"]:
                self.add_result(name, r["method"], r["delta_rmse"], r.get("delta_gamn"))
        lines = []
        for name, c in result.get("checks", {}).items():
            parts = [f"{'✓' if ok else '✗'} {k.replace('_', ' ')}" for k, ok in c.items()]
            lines.append(f"{name}: " + "; ".join(parts))
        scale = result.get("epochs_scale")
        self.results_note.setText(("Paper's findings, computed: " + " · ".join(lines) if lines else "")
                                  + (f"<br>Networks trained at {scale:g} × the paper's epochs." if scale else ""))

    def add_result(self, dataset: str, method: str, delta_rmse: float, delta_gamn: float | None) -> None:
        """One cell pair of the table (rows: methods; columns: Δ_RMSE and Δ_GAMN per dataset, as the paper)."""
        self.results.setdefault(dataset, {})[method] = (float(delta_rmse),
                                                        None if delta_gamn is None else float(delta_gamn))
        self._render_results()

    def _render_results(self) -> None:
        t = self.results_table
        datasets = list(self.results)
        methods: list[str] = []
        for rows in self.results.values():
            methods += [m for m in rows if m not in methods]
        t.clear()
        t.setColumnCount(1 + 2 * len(datasets))
        t.setHorizontalHeaderLabels(["Method"] + [f"{d} {q}" for d in datasets for q in ("Δ_RMSE", "Δ_GAMN")])
        t.setRowCount(len(methods))
        for r, m in enumerate(methods):
            t.setItem(r, 0, QtWidgets.QTableWidgetItem(m))
            for k, d in enumerate(datasets):
                values = self.results[d].get(m, (None, None))
                for c, v in enumerate(values):
                    item = QtWidgets.QTableWidgetItem("" if v is None else f"{v:.4f}")
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                    t.setItem(r, 1 + 2 * k + c, item)
        t.resizeColumnsToContents()

    def reopen_run(self, run: RunRecord) -> None:
        """Generator runs reload N_m/N_k; CNN runs the CNN; table runs their table."""
        if run.workbench != self.key:
            self.show_message(f"Run #{run.id} belongs to the {run.workbench} workbench.", "warning")
            return
        self.curve.clear()
        for name in filter(is_curve_metric, self.services.registry.metric_names(run.id)):
            series = self.services.registry.metric_series(run.id, name)
            if series["step"]:
                self.curve.set_series(name, series["step"], series["value"], series["epoch"], series["wall"])
        self.curve.flush()
        folder = Path(run.dir)
        if run.model == "paper-table" and (folder / "evaluation.json").is_file():
            import json

            try:
                self.show_results(json.loads((folder / "evaluation.json").read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                self.show_message(f"{folder / 'evaluation.json'}: cannot read the table ({exc})", "error")
                return
        elif run.model == "gp-augmenter":
            if not self.set_augmenter(run.checkpoint or str(folder / "augmenter"), run):
                return
        elif run.model.startswith("cnn1d"):
            if not run.checkpoint:
                self.show_message(f"Run #{run.id} has no checkpoint.", "error")
                return
            self.cnn_checkpoint = run.checkpoint
            rmse = (run.final_metrics or {}).get("test/delta_rmse")
            self.cnn_label.setText(f"CNN: run #{run.id} ({run.model})"
                                   + (f", test Δ_RMSE {rmse:.4f}." if isinstance(rmse, (int, float)) else "."))
            self.update_buttons()
        self.show_message(f"Reopened run #{run.id} ({run.model}, {run.status}).", "info")

# ------------------------------------------------------------------------ preview
def main(argv: list[str] | None = None) -> int:
    """``python -m studio.gui.unmixing_workbench [FILE…]``: just this workbench in a window."""
    return preview_main(UnmixingWorkbench, argv)


if __name__ == "__main__":
    raise SystemExit(main())
