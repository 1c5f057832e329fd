"""The base class of every workbench tab (inputs left, views centre, metrics right).

Besides the hooks the main window's menus and docks call, the base holds what every
workbench needs the same way, so no workbench writes it again:

- job tracking: :meth:`submit` sends a job function to the shared pool under a
  *role* ("train", "load", "predict", …) with an optional ``on_done`` callback that
  runs in the GUI thread when the job succeeds; :meth:`stop` cancels this
  workbench's jobs; failures and cancellations are reported under the buttons, and
  :meth:`job_ended` lets a workbench react to any end;
- the status widgets (:meth:`status_widgets`): a progress bar for the running job,
  a status line, and a message label (red for errors) that replaces any traceback
  dialog for user errors;
- :func:`preview_main`, the ``python -m studio.gui.<workbench>`` window (Orange3's
  habit: every widget can be previewed on its own).
"""
from __future__ import annotations

import os
import re
import sys
import traceback
from typing import Any, Callable

from PySide6 import QtCore, QtGui, QtWidgets

from studio.engine import Job, RunRecord, RunSpec
from studio.gui.jobs import Services
from studio.gui.settings_dialog import data_folder

ERROR_COLOUR = "#e53935"
WARNING_COLOUR = "#f39c12"


def breakable(text: str) -> str:
    """Let a word-wrapped label break long paths and names (zero-width spaces after - _ / \\ .)."""
    return re.sub(r"([-_/\\.])(?=\S)", "\\1\u200b", text)


class Workbench(QtWidgets.QWidget):
    """Workbenches override the hooks the main window's menus and docks call."""

    key = ""
    title = ""
    #: Roles whose progress messages do not replace the status line (e.g. background inference).
    quiet_roles: tuple[str, ...] = ()

    #: Set by the subclass when it lays out its three panels (left scroll area, centre, right).
    splitter: QtWidgets.QSplitter | None = None
    left_panel: QtWidgets.QScrollArea | None = None
    right_panel: QtWidgets.QWidget | None = None

    def __init__(self, services: Services, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.services = services
        self._sized = False
        self._active: dict[int, tuple[Job, str, Callable[[Job], None] | None]] = {}

        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setMaximumHeight(14)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setVisible(False)
        self.status_label = QtWidgets.QLabel()
        self.status_label.setWordWrap(True)
        self.message_label = QtWidgets.QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setVisible(False)

        services.torch_ready.connect(self.on_torch_ready)
        services.bridge.event.connect(self._on_job_event)
        services.bridge.job_finished.connect(self._on_job_finished)

    # Hooks (File menu, drag and drop, Runs dock).
    def open_paths(self, paths: list[str]) -> None:
        """Open files or folders (File ▸ Open…, drag and drop, Recent)."""

    def open_dialog(self) -> None:
        """Ask for a file or folder to open."""

    def open_sample(self) -> None:
        """Load the workbench's synthetic sample dataset."""

    def export(self) -> None:
        """Export the current result."""

    def reopen_run(self, run: RunRecord) -> None:
        """Load a run's model and settings (Runs dock ▸ Reopen)."""

    def on_torch_ready(self) -> None:
        """Called once torch has been imported: enables the model actions and says so.

        Workbenches that do more then call ``super().on_torch_ready()``."""
        self.update_buttons()
        if not self._active:
            self.set_status(f"Ready on {self.services.device()}.")

    def show_initial_state(self) -> None:
        """The end of a workbench's constructor: buttons enabled as the state allows, torch's loading named."""
        self.update_buttons()
        self.set_status("Waiting for torch to load…" if not self.services.is_torch_ready else "Ready.")

    def is_busy(self) -> bool:
        return bool(self._active)

    def update_buttons(self) -> None:
        """Enable or disable the workbench's actions (called whenever a job starts or ends)."""

    def job_ended(self, job: Job, role: str) -> None:
        """Called after a job of this workbench ended, whatever its status (after ``on_done``)."""

    # ---------------------------------------------------------------- folders
    def _start_folder(self) -> str:
        """Where this workbench's file dialogs open: the folder last used here, else the data folder."""
        return str(self.services.settings.value(f"{self.key}/last_folder", data_folder(self.services.settings)))

    def _remember_folder(self, path: str) -> None:
        """Remember the folder of an opened file (or the opened folder) for the next dialog."""
        folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        self.services.settings.setValue(f"{self.key}/last_folder", folder)

    # ---------------------------------------------------------------- layout
    @staticmethod
    def scroll_panel(content: QtWidgets.QWidget, min_width: int) -> QtWidgets.QScrollArea:
        """A side panel: ``content`` in a frameless scroll area, so a narrow window scrolls instead of clipping."""
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        scroll.setMinimumWidth(min_width)
        return scroll

    def lay_out_panels(self, left: QtWidgets.QWidget, centre: QtWidgets.QWidget, right: QtWidgets.QWidget,
                       sizes: tuple[int, int, int]) -> None:
        """The three panels (inputs, views, metrics) in a splitter filling the workbench; the centre stretches."""
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        for w in (left, centre, right):
            self.splitter.addWidget(w)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes(list(sizes))
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

    def add_shortcuts(self, pairs) -> None:
        """Keyboard shortcuts ``(sequence, slot)`` active while focus is inside this workbench."""
        for seq, slot in pairs:
            sc = QtGui.QShortcut(QtGui.QKeySequence(seq), self)
            sc.setContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized and self.splitter is not None:
            self._sized = True
            QtCore.QTimer.singleShot(0, self._initial_sizes)

    def _initial_sizes(self) -> None:
        """First show: the side panels get the width their controls need (at most 30 % / 40 %), the centre the rest."""
        total = sum(self.splitter.sizes())
        if total <= 0 or self.left_panel is None or self.right_panel is None:
            return
        inner = self.left_panel.widget()
        left_need = max(inner.sizeHint().width(), inner.minimumSizeHint().width()) \
            + self.left_panel.verticalScrollBar().sizeHint().width()
        left = max(self.left_panel.minimumWidth(), min(left_need, int(total * 0.3)))
        right_widget = self.right_panel.widget() if isinstance(self.right_panel, QtWidgets.QScrollArea) \
            else self.right_panel
        right_need = right_widget.minimumSizeHint().width() + 4
        right = max(self.right_panel.minimumWidth(), min(right_need, int(total * 0.4)))
        self.splitter.setSizes([left, max(total - left - right, 1), right])

    # ------------------------------------------------------------------ jobs
    def submit(self, fn: Callable, cfg: Any, *, name: str, kind: str, role: str,
               on_done: Callable[[Job], None] | None = None, run: RunSpec | None = None) -> Job:
        """Run ``fn(ctx, cfg)`` on the shared pool; ``on_done(job)`` runs in the GUI thread if it succeeds."""
        job = self.services.submit(fn, cfg, name=name, workbench=self.key, kind=kind, run=run)
        self._active[job.id] = (job, role, on_done)
        self.progress_bar.setVisible(True)
        self.progress_bar.setRange(0, 0)
        self.update_buttons()
        return job

    def job_running(self, role: str) -> bool:
        return any(r == role for _, r, _ in self._active.values())

    def active_jobs(self) -> list[Job]:
        return [j for j, _, _ in self._active.values()]

    def stop(self) -> None:
        """Cancel this workbench's running jobs (a training keeps its last checkpoint)."""
        for job in self.active_jobs():
            job.cancel()
        if self._active:
            self.set_status("Stopping…")

    def _on_job_event(self, ev) -> None:
        entry = self._active.get(ev.job.id)
        if entry is None or entry[0] is not ev.job or ev.kind != "progress":
            return
        done, total = ev.data.get("done", 0), ev.data.get("total", 0)
        if total and total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * min(1.0, done / total)))
        message = ev.data.get("message")
        if message and entry[1] not in self.quiet_roles:
            self.set_status(f"{ev.job.name}: {message}")

    def _on_job_finished(self, job: Job) -> None:
        entry = self._active.pop(job.id, None)
        if entry is None or entry[0] is not job:
            return
        _, role, on_done = entry
        if not self._active:
            self.progress_bar.setVisible(False)
        if job.status == "done":
            if on_done is not None and not self.services.pool.closed:  # closing: no follow-up job can start
                try:
                    on_done(job)
                except Exception as exc:  # noqa: BLE001 - a display problem must not take the app down
                    traceback.print_exc()
                    self.show_message(f"{job.name}: could not show the result ({type(exc).__name__}: {exc})",
                                      "error")
        elif job.status == "cancelled":
            extra = " Its last checkpoint is kept in the run's folder." if role == "train" and job.run else ""
            self.set_status(f"{job.name}: cancelled.{extra}")
        else:
            hint = "" if job.user_error else " (details in the Jobs dock)"
            self.show_message(f"{job.name} failed: {job.error}{hint}", "error")
            self.set_status(f"{job.name} failed.")
        self.job_ended(job, role)
        self.update_buttons()

    # ------------------------------------------------------------ messages
    def status_widgets(self) -> QtWidgets.QWidget:
        """The progress bar, status line and message label, stacked, for the workbench's left panel."""
        box = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.progress_bar, self.status_label, self.message_label):
            layout.addWidget(w)
        return box

    def set_status(self, text: str) -> None:
        self.status_label.setText(breakable(text))
        self.status_label.setToolTip(text)

    def status_text(self) -> str:
        return self.status_label.toolTip()

    def message_text(self) -> str:
        """The message shown under the buttons, as given (the label itself holds break hints)."""
        return self.message_label.toolTip()

    def show_message(self, text: str, level: str = "info") -> None:
        """A non-modal message under the buttons (red for errors); empty text hides it."""
        self.message_label.setText(breakable(text))
        self.message_label.setToolTip(text)
        self.message_label.setVisible(bool(text))
        colour = {"error": ERROR_COLOUR, "warning": WARNING_COLOUR}.get(level)
        self.message_label.setStyleSheet(f"color: {colour};" if colour else "")
        self.message_label.setProperty("level", level)

    def confirm(self, title: str, text: str) -> bool:
        answer = QtWidgets.QMessageBox.question(self, title, text)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes


def preview_main(workbench_cls: type[Workbench], argv: list[str] | None = None) -> int:
    """``python -m studio.gui.<module> [PATH…]``: just one workbench in a window, on its own pool."""
    argv = sys.argv[1:] if argv is None else argv
    from studio.engine import JobPool, RunRegistry
    from studio.gui.app import settings_for_home, start_torch_import
    from studio.gui.settings_dialog import theme_name
    from studio.gui.theme import apply_theme

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("Inspection Studio")
    settings = settings_for_home()
    apply_theme(app, theme_name(settings))
    registry = RunRegistry()
    pool = JobPool(registry)
    services = Services(registry, pool, settings)

    class Window(QtWidgets.QMainWindow):  # drops go to the workbench, as in the main window
        def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
            if event.mimeData().hasUrls():
                event.acceptProposedAction()

        def dropEvent(self, event: QtGui.QDropEvent) -> None:
            paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
            if paths:
                event.acceptProposedAction()
                bench.open_paths(paths)

    window = Window()
    window.setAcceptDrops(True)
    window.setWindowTitle(f"Inspection Studio — {workbench_cls.title}")
    bench = workbench_cls(services, window)
    window.setCentralWidget(bench)
    device = QtWidgets.QLabel("Device: loading torch…")
    window.statusBar().addPermanentWidget(device)
    services.device_changed.connect(lambda d: device.setText(f"Device: {d}"))
    window.resize(1500, 900)
    window.show()
    start_torch_import(services)
    if argv:
        bench.open_paths(argv)
    try:
        return app.exec()
    finally:
        pool.shutdown(cancel=True, wait=True)
