"""The Jobs dock: every job of this session with its progress, ETA, status and Cancel.

The dock only *reads* :class:`~studio.engine.jobs.Job` attributes and calls
``job.cancel()``; it has no thread logic of its own.  Events arrive through
``services.bridge.event`` (queued Qt signals, so every slot runs in the GUI thread):

* a *status* event updates that job's row at once (added, running, done, failed,
  cancelled);
* a *progress* event only marks the row dirty.  A 250 ms timer, running only while
  some job is queued or running, repaints the dirty rows and the elapsed / ETA text
  of running rows, so a job reporting hundreds of steps a second costs at most
  four row refreshes a second.

A failed job shows its message in the Status column (and its tooltip); the
traceback is only shown under **Details…**.

Run ``python -m studio.gui.jobs_dock`` for a standalone preview that submits an
engine self-check job (and one that fails) so something moves.
"""
from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

from studio.engine.jobs import CANCELLED, DONE, FAILED, FINISHED, QUEUED, RUNNING, Job, JobEvent

__all__ = ["JobsDock", "REFRESH_INTERVAL_MS", "format_duration"]

#: How often running rows (progress, elapsed, ETA) are repainted.
REFRESH_INTERVAL_MS = 250

COL_NAME, COL_WORKBENCH, COL_DEVICE, COL_PROGRESS, COL_ELAPSED, COL_ETA, COL_STATUS, COL_ACTIONS = range(8)
_HEADERS = ("Name", "Workbench", "Device", "Progress", "Elapsed", "ETA", "Status", "")


def format_duration(seconds: float | None) -> str:
    """``0:07``, ``12:34``, ``1:02:03``; empty for None / not finite."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    total = max(0, int(round(seconds)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _Row:
    """The widgets of one job's row."""

    __slots__ = ("job", "item", "bar", "cancel", "details", "shown_status")

    def __init__(self, job: Job, item: QtWidgets.QTreeWidgetItem, bar: QtWidgets.QProgressBar,
                 cancel: QtWidgets.QPushButton, details: QtWidgets.QPushButton):
        self.job = job
        self.item = item
        self.bar = bar
        self.cancel = cancel
        self.details = details
        self.shown_status = ""


class JobsDock(QtWidgets.QDockWidget):
    """Bottom dock listing the session's jobs (see the module docstring)."""

    def __init__(self, services, parent: QtWidgets.QWidget | None = None):
        super().__init__("Jobs", parent)
        self.setObjectName("JobsDock")
        self.services = services
        self._rows: dict[int, _Row] = {}
        self._dirty: set[int] = set()
        #: The last "Details…" message box opened (tests inspect it).
        self.details_box: QtWidgets.QMessageBox | None = None

        body = QtWidgets.QWidget(self)
        self.tree = QtWidgets.QTreeWidget(body)
        self.tree.setColumnCount(len(_HEADERS))
        self.tree.setHeaderLabels(list(_HEADERS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QtWidgets.QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_STATUS, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_ACTIONS, QtWidgets.QHeaderView.ResizeMode.Fixed)
        for col, width in ((COL_NAME, 200), (COL_WORKBENCH, 110), (COL_DEVICE, 70), (COL_PROGRESS, 140),
                           (COL_ELAPSED, 70), (COL_ETA, 70)):
            self.tree.setColumnWidth(col, width)

        self.summary_label = QtWidgets.QLabel(body)
        self.clear_button = QtWidgets.QPushButton("Clear finished", body)
        self.clear_button.setToolTip("Remove the finished jobs from this list")
        self.clear_button.clicked.connect(self.clear_finished)

        bottom = QtWidgets.QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.summary_label, 1)
        bottom.addWidget(self.clear_button)
        layout = QtWidgets.QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.tree, 1)
        layout.addLayout(bottom)
        self.setWidget(body)

        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(REFRESH_INTERVAL_MS)
        self._timer.timeout.connect(self._on_tick)

        services.bridge.event.connect(self._on_event)
        for job in services.pool.jobs:  # jobs submitted before the dock existed
            self._ensure_row(job)
            self._refresh_row(self._rows[job.id])
        self._update_summary()
        self._update_timer()

    # ------------------------------------------------------------ test API
    def jobs(self) -> list[Job]:
        """The jobs listed, top to bottom."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            job_id = self.tree.topLevelItem(i).data(COL_NAME, QtCore.Qt.ItemDataRole.UserRole)
            out.append(self._rows[job_id].job)
        return out

    def row_for(self, job: Job) -> int:
        """The row index of ``job``, or -1 when it is not listed."""
        row = self._rows.get(job.id)
        return -1 if row is None else self.tree.indexOfTopLevelItem(row.item)

    def status_text(self, job: Job) -> str:
        return self._row(job).item.text(COL_STATUS)

    def cancel_button(self, job: Job) -> QtWidgets.QPushButton:
        return self._row(job).cancel

    def details_button(self, job: Job) -> QtWidgets.QPushButton | None:
        """The "Details…" button of a failed job with a traceback, else None."""
        row = self._row(job)
        return None if row.details.isHidden() else row.details

    def progress_bar(self, job: Job) -> QtWidgets.QProgressBar:
        return self._row(job).bar

    def elapsed_text(self, job: Job) -> str:
        return self._row(job).item.text(COL_ELAPSED)

    def eta_text(self, job: Job) -> str:
        return self._row(job).item.text(COL_ETA)

    def _row(self, job: Job) -> _Row:
        try:
            return self._rows[job.id]
        except KeyError:
            raise KeyError(f"{job!r} is not listed in the Jobs dock") from None

    # -------------------------------------------------------------- actions
    def cancel_job(self, job: Job) -> None:
        if job.status in FINISHED:
            return
        job.cancel()
        row = self._rows.get(job.id)
        if row is not None:
            self._refresh_row(row)

    def show_details(self, job: Job) -> QtWidgets.QMessageBox:
        """Open (non-blocking) a message box with the error and the traceback under Details."""
        box = QtWidgets.QMessageBox(self)
        box.setIcon(QtWidgets.QMessageBox.Icon.Critical)
        box.setWindowTitle(f"Job failed: {job.name}")
        box.setText(f"{job.name} failed.")
        box.setInformativeText(job.error or "(no message)")
        box.setDetailedText(job.traceback or "(no traceback)")
        box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Close)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r, b=box: self._forget_box(b))
        self.details_box = box
        box.open()
        return box

    def _forget_box(self, box: QtWidgets.QMessageBox) -> None:
        if self.details_box is box:
            self.details_box = None

    def clear_finished(self) -> None:
        """Drop the rows of finished jobs (the run history keeps their runs)."""
        for job_id, row in list(self._rows.items()):
            if row.job.status in FINISHED:
                index = self.tree.indexOfTopLevelItem(row.item)
                if index >= 0:
                    self.tree.takeTopLevelItem(index)
                del self._rows[job_id]
                self._dirty.discard(job_id)
        self._update_summary()

    # --------------------------------------------------------------- events
    @QtCore.Slot(object)
    def _on_event(self, ev: JobEvent) -> None:
        job = ev.job
        if ev.kind == "status":
            row = self._ensure_row(job)
            self._dirty.discard(job.id)
            self._refresh_row(row)
            self._update_summary()
            self._update_timer()
        elif ev.kind == "progress":
            if job.id not in self._rows:
                self._ensure_row(job)
                self._update_summary()
            self._dirty.add(job.id)
            if not self._timer.isActive():
                self._timer.start()

    def _on_tick(self) -> None:
        for job_id, row in self._rows.items():
            if job_id in self._dirty or row.job.status == RUNNING:
                self._refresh_row(row)
        self._dirty.clear()
        self._update_timer()

    def _update_timer(self) -> None:
        active = any(r.job.status not in FINISHED for r in self._rows.values())
        if active and not self._timer.isActive():
            self._timer.start()
        elif not active and not self._dirty and self._timer.isActive():
            self._timer.stop()

    # ----------------------------------------------------------------- rows
    def _ensure_row(self, job: Job) -> _Row:
        row = self._rows.get(job.id)
        if row is not None:
            return row
        item = QtWidgets.QTreeWidgetItem()
        item.setData(COL_NAME, QtCore.Qt.ItemDataRole.UserRole, job.id)
        item.setText(COL_NAME, job.name)
        item.setToolTip(COL_NAME, f"job {job.id}: {job.name} ({job.kind})")
        item.setText(COL_WORKBENCH, job.workbench)
        item.setText(COL_DEVICE, job.device)
        for col in (COL_ELAPSED, COL_ETA):
            item.setTextAlignment(col, QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.tree.addTopLevelItem(item)

        bar = QtWidgets.QProgressBar()
        bar.setRange(0, 100)
        bar.setValue(0)
        bar.setTextVisible(True)
        bar.setFormat("%p%")
        bar.setMaximumHeight(self.tree.fontMetrics().height() + 6)
        self.tree.setItemWidget(item, COL_PROGRESS, bar)

        actions = QtWidgets.QWidget()
        box = QtWidgets.QHBoxLayout(actions)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        cancel = QtWidgets.QPushButton("Cancel", actions)
        cancel.setToolTip("Stop this job at its next batch")
        cancel.clicked.connect(lambda _checked=False, j=job: self.cancel_job(j))
        details = QtWidgets.QPushButton("Details…", actions)
        details.setToolTip("Show the error's traceback")
        details.clicked.connect(lambda _checked=False, j=job: self.show_details(j))
        details.hide()
        box.addWidget(cancel)
        box.addWidget(details)
        box.addStretch(1)
        self.tree.setItemWidget(item, COL_ACTIONS, actions)
        # room for both buttons, so a row that fails later still fits its Details… button
        needed = cancel.sizeHint().width() + details.sizeHint().width() + box.spacing() + 8
        if self.tree.columnWidth(COL_ACTIONS) < needed:
            self.tree.setColumnWidth(COL_ACTIONS, needed)

        row = _Row(job, item, bar, cancel, details)
        self._rows[job.id] = row
        self.tree.scrollToItem(item)
        return row

    def _refresh_row(self, row: _Row) -> None:
        job, item, bar = row.job, row.item, row.bar
        status = job.status  # read once: the worker thread may move it on
        finished = status in FINISHED

        # progress
        if status == RUNNING and job.total <= 0:
            if bar.maximum() != 0:
                bar.setRange(0, 0)  # busy indicator until the job reports a total
        else:
            if bar.maximum() != 100:
                bar.setRange(0, 100)
            value = 100 if status == DONE else int(job.fraction() * 100)
            if bar.value() != value:
                bar.setValue(value)
        tip = job.message or ""
        if job.total > 0:
            tip = f"{_num(job.done)} / {_num(job.total)}" + (f" · {tip}" if tip else "")
        bar.setToolTip(tip)

        # times
        item.setText(COL_ELAPSED, format_duration(job.elapsed()) if job.started is not None else "")
        eta = job.eta() if status == RUNNING else None
        item.setText(COL_ETA, "" if finished else (format_duration(eta) if eta is not None else "—"))

        # status
        if status == FAILED:
            text = f"failed: {job.error}" if job.error else "failed"
        elif status not in FINISHED and job.cancel_requested:
            text = "cancelling…"
        else:
            text = status
        item.setText(COL_STATUS, text)
        if status == FAILED:
            item.setToolTip(COL_STATUS, job.error or "failed")
            item.setForeground(COL_STATUS, QtGui.QBrush(QtGui.QColor("#d62728")))
        elif status == RUNNING and job.message:
            item.setToolTip(COL_STATUS, job.message)
        elif status == CANCELLED:
            item.setToolTip(COL_STATUS, job.error or "cancelled")
        else:
            item.setToolTip(COL_STATUS, text)

        if status != row.shown_status:
            row.shown_status = status
            row.cancel.setEnabled(not finished)
            row.details.setVisible(status == FAILED and bool(job.traceback or job.error))
        if job.cancel_requested and not finished:
            row.cancel.setEnabled(False)

    def _update_summary(self) -> None:
        counts = {QUEUED: 0, RUNNING: 0}
        finished = 0
        for row in self._rows.values():
            status = row.job.status
            if status in counts:
                counts[status] += 1
            else:
                finished += 1
        parts = []
        if counts[RUNNING]:
            parts.append(f"{counts[RUNNING]} running")
        if counts[QUEUED]:
            parts.append(f"{counts[QUEUED]} queued")
        if finished:
            parts.append(f"{finished} finished")
        self.summary_label.setText(" · ".join(parts) if parts else "No jobs yet")
        self.clear_button.setEnabled(finished > 0)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.3g}"


def _preview_widget(services) -> QtWidgets.QWidget:
    """The dock, an engine self-check job and a job that fails on purpose."""
    from studio.engine.selfcheck import SelfCheckConfig, train_selfcheck
    from studio.engine.training import FitConfig

    window = QtWidgets.QMainWindow()
    window.setWindowTitle("JobsDock preview")
    window.setCentralWidget(QtWidgets.QLabel("Jobs run in the dock below.", window))
    window.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, JobsDock(services, window))
    cfg = SelfCheckConfig(n_points=1200, fit=FitConfig(optimizer="adam", lr=1e-2, epochs=15, batch_size=64),
                          batch_delay_s=0.02)
    services.submit(train_selfcheck, cfg, name="engine self-check", workbench="engine", device="cpu")

    def fails(ctx, _cfg):
        import time

        for i in range(10):
            ctx.check()
            ctx.progress(i + 1, 20, f"step {i + 1}")
            time.sleep(0.1)
        raise RuntimeError("this preview job fails on purpose")

    services.submit(fails, None, name="failing job", workbench="engine", kind="task", device="cpu")
    return window


if __name__ == "__main__":
    from studio.gui.app import preview

    raise SystemExit(preview(_preview_widget))
