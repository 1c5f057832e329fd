"""The main window: workbench tabs, Jobs and Runs docks, menus, status bar.

Actions are created in one place (:meth:`MainWindow._build_actions`) and routed to
the current workbench, so every workbench gets the same File menu, shortcuts,
drag and drop and Recent list.
"""
from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from studio import __version__
from studio.engine import RunRecord
from studio.gui.jobs import Services
from studio.gui.settings_dialog import SettingsDialog, theme_name
from studio.gui.theme import apply_theme
from studio.gui.workbench import Workbench
from studio.gui.workbenches import WorkbenchSpec, find, registered

MAX_RECENT = 10
NARROW_WINDOW = 1500  # px; below this the Runs dock starts tabbed with the Jobs dock


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, services: Services, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.services = services
        self.setWindowTitle("Inspection Studio")
        self.setAcceptDrops(True)
        self.resize(1400, 880)
        self.save_layout_on_close = True  # False for `studio --screenshot`: it must not change the saved layout
        self.workbenches: dict[str, Workbench] = {}
        self.start_page = None

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setDocumentMode(True)
        specs = registered()
        if specs:
            for spec in specs:
                self._add_workbench(spec)
            self.setCentralWidget(self.tabs)
        else:
            from studio.gui.start_page import StartPage

            self.start_page = StartPage(services)
            self.start_page.reopen_requested.connect(self.reopen_run)
            self.start_page.open_sample_requested.connect(self.open_sample_for)
            self.setCentralWidget(self.start_page)

        from studio.gui.jobs_dock import JobsDock
        from studio.gui.runs_dock import RunsDock

        self.jobs_dock = JobsDock(services, self)
        self.jobs_dock.setObjectName("jobs_dock")
        self.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.runs_dock = RunsDock(services, self)
        self.runs_dock.setObjectName("runs_dock")
        self.runs_dock.reopen_requested.connect(self.reopen_run)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, self.runs_dock)

        self.device_label = QtWidgets.QLabel("Device: loading torch…")
        self.device_label.setObjectName("device_label")
        self.statusBar().addPermanentWidget(self.device_label)
        services.device_changed.connect(self._show_device)
        services.bridge.job_finished.connect(self._job_finished)

        self._layout_restored = False
        self.actions_by_name: dict[str, QtGui.QAction] = {}
        self._build_actions()
        self._build_menus()
        self._restore_state()
        self._update_actions()
        self.tabs.currentChanged.connect(lambda _: self._update_actions())

    # -------------------------------------------------------------- tabs
    def _add_workbench(self, spec: WorkbenchSpec) -> None:
        try:
            widget = spec.load()(self.services, self)
        except Exception as exc:  # a broken workbench must not stop the others
            import traceback

            traceback.print_exc()
            widget = QtWidgets.QLabel(f"The {spec.title} workbench could not start:\n{type(exc).__name__}: {exc}")
            widget.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        else:
            self.workbenches[spec.key] = widget
        self.tabs.addTab(widget, spec.title)

    def current_workbench(self) -> Workbench | None:
        widget = self.tabs.currentWidget() if self.workbenches else None
        return widget if isinstance(widget, Workbench) else None

    def show_tab(self, name: str) -> bool:
        """Switch to a workbench by key or title; ``start`` names the start page."""
        if name.strip().lower() in ("start", "home", "start page") and self.start_page is not None:
            return True
        spec = find(name)
        if spec is None or spec.key not in self.workbenches:
            return False
        self.tabs.setCurrentWidget(self.workbenches[spec.key])
        return True

    def tab_names(self) -> list[str]:
        return [s.title for s in registered()] or ["Start"]

    # ----------------------------------------------------------- actions
    def _action(self, name: str, text: str, slot, shortcut=None, tip: str = "") -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
        action.setStatusTip(tip or text.replace("…", ""))
        action.triggered.connect(slot)
        self.actions_by_name[name] = action
        return action

    def _build_actions(self) -> None:
        K = QtGui.QKeySequence.StandardKey
        self._action("open", "&Open…", self.open_dialog, K.Open, "Open a file or folder in the current workbench")
        self._action("open_sample", "Open &sample dataset", self.open_sample, "Ctrl+Shift+O",
                     "Load the current workbench's synthetic sample dataset")
        self._action("export", "&Export…", self.export, "Ctrl+E", "Export the current result")
        self._action("settings", "Se&ttings…", self.show_settings, "Ctrl+,")
        self._action("quit", "&Quit", self.close, K.Quit)
        self._action("cancel_all", "&Cancel all jobs", self.cancel_all_jobs, "Ctrl+Shift+X")
        self._action("toggle_theme", "&Dark theme", self.toggle_theme, "Ctrl+Shift+T")
        self.actions_by_name["toggle_theme"].setCheckable(True)
        self.actions_by_name["toggle_theme"].setChecked(theme_name(self.services.settings) == "dark")
        self._action("about", "&About Inspection Studio", self.show_about)
        self._action("shortcuts", "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action("engine_check", "&Engine check…", self.show_engine_check,
                     tip="Train a small model on two spirals to check the device, jobs and run history")
        for i, spec in enumerate(registered()[:9]):
            self._action(f"tab_{spec.key}", spec.title, lambda _=False, k=spec.key: self.show_tab(k), f"Ctrl+{i + 1}")

    def _build_menus(self) -> None:
        a = self.actions_by_name
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(a["open"])
        file_menu.addAction(a["open_sample"])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(a["export"])
        file_menu.addSeparator()
        file_menu.addAction(a["settings"])
        file_menu.addSeparator()
        file_menu.addAction(a["quit"])

        view = bar.addMenu("&View")
        jobs_toggle = self.jobs_dock.toggleViewAction()
        jobs_toggle.setShortcut("Ctrl+J")
        runs_toggle = self.runs_dock.toggleViewAction()
        runs_toggle.setShortcut("Ctrl+Shift+R")
        view.addAction(jobs_toggle)
        view.addAction(runs_toggle)
        view.addSeparator()
        for spec in registered()[:9]:
            view.addAction(a[f"tab_{spec.key}"])
        view.addSeparator()
        view.addAction(a["toggle_theme"])

        jobs = bar.addMenu("&Jobs")
        jobs.addAction(a["cancel_all"])

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(a["shortcuts"])
        help_menu.addAction(a["engine_check"])
        help_menu.addAction(a["about"])

    def _update_actions(self) -> None:
        has = self.current_workbench() is not None
        for name in ("open", "open_sample", "export"):
            self.actions_by_name[name].setEnabled(has)
        self.recent_menu.setEnabled(bool(self.recent_files()))

    # ----------------------------------------------------------- file ops
    def open_dialog(self) -> None:
        wb = self.current_workbench()
        if wb is not None:
            wb.open_dialog()

    def open_sample(self) -> None:
        wb = self.current_workbench()
        if wb is not None:
            wb.open_sample()

    def open_sample_for(self, key: str) -> None:
        if self.show_tab(key):
            self.open_sample()

    def export(self) -> None:
        wb = self.current_workbench()
        if wb is not None:
            wb.export()

    def open_paths(self, paths: list[str]) -> bool:
        wb = self.current_workbench()
        if wb is None:
            self.statusBar().showMessage("There is no workbench to open files in yet.", 5000)
            return False
        wb.open_paths(paths)
        for p in paths:
            self.add_recent(p, wb.key)
        return True

    # Recent files: "key|path" strings, newest first.
    def recent_files(self) -> list[tuple[str, str]]:
        raw = self.services.settings.value("recent/files", []) or []
        if isinstance(raw, str):
            raw = [raw]
        out = []
        for entry in raw:
            key, _, path = str(entry).partition("|")
            if path:
                out.append((key, path))
        return out

    def add_recent(self, path: str, key: str) -> None:
        entries = [f"{key}|{os.path.abspath(path)}"]
        entries += [f"{k}|{p}" for k, p in self.recent_files() if p != os.path.abspath(path)]
        self.services.settings.setValue("recent/files", entries[:MAX_RECENT])
        self._update_actions()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for key, path in self.recent_files():
            action = self.recent_menu.addAction(f"{Path(path).name}  —  {path}")
            action.triggered.connect(lambda _=False, k=key, p=path: self._open_recent(k, p))
        if self.recent_files():
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", lambda: (self.services.settings.setValue("recent/files", []),
                                                              self._update_actions()))

    def _open_recent(self, key: str, path: str) -> None:
        if not os.path.exists(path):
            QtWidgets.QMessageBox.warning(self, "Open Recent", f"{path} no longer exists.")
            return
        if self.show_tab(key):
            self.open_paths([path])

    # Drag and drop onto the window goes to the current workbench.
    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and self.current_workbench() is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths and self.open_paths(paths):
            event.acceptProposedAction()

    # --------------------------------------------------------------- runs
    def reopen_run(self, run: RunRecord) -> None:
        wb = self.workbenches.get(run.workbench)
        if wb is not None:
            self.tabs.setCurrentWidget(wb)
            wb.reopen_run(run)
            return
        self.runs_dock.show()
        self.runs_dock.select_runs([run.id])
        self.statusBar().showMessage(f"Run #{run.id} ({run.workbench}/{run.model}) is shown in the Runs dock.", 5000)

    def _job_finished(self, job) -> None:
        if job.status == "failed":
            self.statusBar().showMessage(f"{job.name} failed: {job.error}", 10000)
            self.jobs_dock.show()

    def cancel_all_jobs(self) -> None:
        for job in self.services.pool.jobs:
            if job.status in ("queued", "running"):
                job.cancel()

    # ----------------------------------------------------------- settings
    def show_settings(self) -> None:
        dialog = SettingsDialog(self.services, self)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            dialog.apply()
            self.apply_theme(theme_name(self.services.settings))

    def apply_theme(self, theme: str) -> None:
        app = QtWidgets.QApplication.instance()
        theme = apply_theme(app, theme)
        self.services.settings.setValue("ui/theme", theme)
        self.actions_by_name["toggle_theme"].setChecked(theme == "dark")

    def toggle_theme(self) -> None:
        self.apply_theme("light" if theme_name(self.services.settings) == "dark" else "dark")

    def _show_device(self, device: str) -> None:
        from studio.engine.device import describe_device

        self.device_label.setText(f"Device: {describe_device(device)}")
        self.device_label.setToolTip(f"Jobs run on {device}. Change it in File ▸ Settings.")
        if self.services.device_note:
            self.statusBar().showMessage(f"Device: {self.services.device_note}.", 15000)

    # -------------------------------------------------------------- about
    def versions(self) -> dict[str, str]:
        def v(dist: str) -> str:
            try:
                return metadata.version(dist)
            except metadata.PackageNotFoundError:
                return "not installed"

        import PySide6

        return {"Inspection Studio": __version__, "Python": platform.python_version(),
                "Qt": QtCore.qVersion(), "PySide6": PySide6.__version__, "pyqtgraph": v("pyqtgraph"),
                "NumPy": v("numpy"), "PyTorch": v("torch"), "torchvision": v("torchvision"),
                "torchaudio": v("torchaudio"),
                "Device": self.services.device() if self.services.is_torch_ready else "(torch loading)"}

    def show_about(self) -> None:
        rows = "".join(f"<tr><td>{k}</td><td><b>{val}</b></td></tr>" for k, val in self.versions().items())
        QtWidgets.QMessageBox.about(
            self, "About Inspection Studio",
            "<h3>Inspection Studio</h3><p>Workbenches for spectral unmixing, building segmentation, audio "
            f"enhancement and SEM defect classification on one training engine.</p><table>{rows}</table>"
            f"<p>Run history: {self.services.registry.path}</p>")

    def show_engine_check(self) -> None:
        """The start page (samples, recent runs, engine check) in a window of its own."""
        if self.start_page is not None:
            return
        from studio.gui.start_page import StartPage

        dialog = QtWidgets.QDialog(self)
        dialog.setWindowTitle("Engine check")
        page = StartPage(self.services, dialog)
        page.reopen_requested.connect(self.reopen_run)
        page.open_sample_requested.connect(lambda key: (dialog.close(), self.open_sample_for(key)))
        QtWidgets.QVBoxLayout(dialog).addWidget(page)
        dialog.resize(1100, 650)
        dialog.show()
        self.engine_check_dialog = dialog

    def show_shortcuts(self) -> None:
        lines = [f"<tr><td>{a.shortcut().toString(QtGui.QKeySequence.SequenceFormat.NativeText)}</td>"
                 f"<td>{a.text().replace('&', '')}</td></tr>"
                 for a in self.actions_by_name.values() if not a.shortcut().isEmpty()]
        lines += ["<tr><td>Ctrl+J</td><td>Jobs dock</td></tr>", "<tr><td>Ctrl+Shift+R</td><td>Runs dock</td></tr>"]
        QtWidgets.QMessageBox.information(self, "Keyboard shortcuts", f"<table>{''.join(lines)}</table>")

    # ------------------------------------------------------------ closing
    def _restore_state(self) -> None:
        s = self.services.settings
        geometry = s.value("window/geometry")
        state = s.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self._layout_restored = bool(self.restoreState(state))

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        if not self._layout_restored:
            self._layout_restored = True
            self._first_start_layout()
            QtCore.QTimer.singleShot(0, self._first_start_layout)  # again once Qt has laid the window out

    def _first_start_layout(self) -> None:
        """First start: a slim Jobs dock and a Runs dock that leaves the workbench room."""
        if self.width() < NARROW_WINDOW and self.workbenches:
            # Laptop screens: the Runs dock shares the bottom area with Jobs (drag it out at will).
            if self.runs_dock not in self.tabifiedDockWidgets(self.jobs_dock):
                self.tabifyDockWidget(self.jobs_dock, self.runs_dock)
                self.jobs_dock.raise_()
            self.resizeDocks([self.jobs_dock, self.runs_dock], [170, 170], QtCore.Qt.Orientation.Vertical)
        else:
            self.resizeDocks([self.jobs_dock], [130], QtCore.Qt.Orientation.Vertical)
            self.resizeDocks([self.runs_dock], [330], QtCore.Qt.Orientation.Horizontal)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        running = [j for j in self.services.pool.jobs if j.status in ("queued", "running")]
        if running and not os.environ.get("STUDIO_NO_CLOSE_PROMPT"):
            answer = QtWidgets.QMessageBox.question(
                self, "Quit", f"{len(running)} job(s) are still running. Cancel them and quit?\n"
                "Each training keeps its last complete checkpoint.")
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        if self.save_layout_on_close:
            s = self.services.settings
            s.setValue("window/geometry", self.saveGeometry())
            s.setValue("window/state", self.saveState())
        self.services.pool.shutdown(cancel=True, wait=True)
        event.accept()
