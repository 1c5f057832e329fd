"""The start page, shown when no workbench is registered.

It lists the workbenches' sample datasets and the recent runs, and has the engine
check: a real small training (two-spiral MLP, ``studio.engine.selfcheck``) with a
live curve, so a new installation shows at once that jobs, the device, the curves
and the run registry work.
"""
from __future__ import annotations

import time

from PySide6 import QtCore, QtWidgets

from studio.engine import Job, RunSpec
from studio.gui.jobs import Services
from studio.gui.live_curve import LiveCurvePlot
from studio.gui.workbenches import registered


class StartPage(QtWidgets.QWidget):
    open_sample_requested = QtCore.Signal(str)  # workbench key
    reopen_requested = QtCore.Signal(object)  # RunRecord

    def __init__(self, services: Services, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.services = services
        self.job: Job | None = None

        title = QtWidgets.QLabel("<h2>Inspection Studio</h2>"
                                 "<p>Spectra, aerial images, audio and SEM micrographs next to what a model "
                                 "predicts — and retraining from here.</p>")
        title.setWordWrap(True)

        samples = QtWidgets.QGroupBox("Sample datasets")
        sl = QtWidgets.QVBoxLayout(samples)
        specs = registered()
        if not specs:
            note = QtWidgets.QLabel("No workbench is installed yet. The engine check trains a real model on a "
                                    "synthetic two-spiral dataset.")
            note.setWordWrap(True)
            sl.addWidget(note)
        for spec in specs:
            button = QtWidgets.QPushButton(f"Open {spec.title} sample")
            button.setToolTip(spec.sample_description)
            button.clicked.connect(lambda _=False, k=spec.key: self.open_sample_requested.emit(k))
            sl.addWidget(button)

        recent = QtWidgets.QGroupBox("Recent runs")
        rl = QtWidgets.QVBoxLayout(recent)
        self.recent_list = QtWidgets.QTreeWidget()
        self.recent_list.setHeaderLabels(["#", "Workbench", "Model", "Status", "When", "Result"])
        self.recent_list.setRootIsDecorated(False)
        self.recent_list.itemDoubleClicked.connect(self._reopen)
        rl.addWidget(self.recent_list)

        check = QtWidgets.QGroupBox("Engine check")
        cl = QtWidgets.QGridLayout(check)
        self.epochs = QtWidgets.QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(20)
        self.optimizer = QtWidgets.QComboBox()
        from studio.engine.training import OPTIMIZERS

        self.optimizer.addItems(list(OPTIMIZERS))
        self.optimizer.setCurrentText("adam")
        self.train_button = QtWidgets.QPushButton("Train")
        self.train_button.setToolTip("Train a small MLP on two spirals (Ctrl+T)")
        self.train_button.setShortcut("Ctrl+T")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.train_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop_training)
        self.result_label = QtWidgets.QLabel("Waiting for torch…")
        self.curve = LiveCurvePlot(title="Engine check: loss and accuracy")
        cl.addWidget(QtWidgets.QLabel("Epochs"), 0, 0)
        cl.addWidget(self.epochs, 0, 1)
        cl.addWidget(QtWidgets.QLabel("Optimizer"), 0, 2)
        cl.addWidget(self.optimizer, 0, 3)
        cl.addWidget(self.train_button, 0, 4)
        cl.addWidget(self.stop_button, 0, 5)
        cl.addWidget(self.result_label, 1, 0, 1, 6)
        cl.addWidget(self.curve, 2, 0, 1, 6)
        self.train_button.setEnabled(services.is_torch_ready)

        left = QtWidgets.QVBoxLayout()
        left.addWidget(title)
        left.addWidget(samples)
        left.addWidget(recent, 1)
        layout = QtWidgets.QHBoxLayout(self)
        layout.addLayout(left, 2)
        layout.addWidget(check, 3)

        services.torch_ready.connect(self._torch_ready)
        services.bridge.metric.connect(self._on_metric)
        services.bridge.job_finished.connect(self._on_finished)
        self.refresh_recent()

    # ------------------------------------------------------------------ runs
    def refresh_recent(self) -> None:
        self.recent_list.clear()
        for run in self.services.registry.list_runs(limit=12):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
            result = ", ".join(f"{k} {v:.3g}" for k, v in list(run.final_metrics.items())[:2]
                               if isinstance(v, (int, float)))
            item = QtWidgets.QTreeWidgetItem([str(run.id), run.workbench, run.model, run.status, when, result])
            item.setData(0, QtCore.Qt.ItemDataRole.UserRole, run.id)
            self.recent_list.addTopLevelItem(item)
        for col in range(5):
            self.recent_list.resizeColumnToContents(col)

    def _reopen(self, item: QtWidgets.QTreeWidgetItem) -> None:
        run_id = item.data(0, QtCore.Qt.ItemDataRole.UserRole)
        self.reopen_requested.emit(self.services.registry.get(int(run_id)))

    # ---------------------------------------------------------------- engine
    def _torch_ready(self) -> None:
        self.train_button.setEnabled(self.job is None)
        self.result_label.setText(f"Ready on {self.services.device()}.")

    def start_training(self) -> Job:
        from studio.engine.selfcheck import SelfCheckConfig, train_selfcheck
        from studio.engine.training import FitConfig

        cfg = SelfCheckConfig(fit=FitConfig(optimizer=self.optimizer.currentText(),
                                            lr=1e-2 if self.optimizer.currentText() != "sgd" else 0.1,
                                            epochs=self.epochs.value(), batch_size=64))
        self.curve.clear()
        self.job = self.services.submit(train_selfcheck, cfg, name="Engine check (spiral MLP)", workbench="engine",
                                        run=RunSpec("engine", "selfcheck-mlp", cfg.to_dict()))
        self.train_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.result_label.setText(f"Training on {self.job.device}…")
        self.refresh_recent()
        return self.job

    def stop_training(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _on_metric(self, job, name, value, step, epoch, wall) -> None:
        if job is self.job and name in ("train/loss", "val/loss", "val/accuracy"):
            self.curve.add_point(name, step, value, epoch, wall)

    def _on_finished(self, job) -> None:
        self.refresh_recent()
        if job is not self.job:
            return
        self.train_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if job.status == "done":
            m = job.result.metrics
            self.result_label.setText(f"Done in {job.elapsed():.1f} s on {job.device}: validation accuracy "
                                      f"{m.get('val/accuracy', float('nan')):.3f} (run #{job.run.id}).")
        else:
            self.result_label.setText(f"{job.status.capitalize()}: {job.error}")
        self.job = None
