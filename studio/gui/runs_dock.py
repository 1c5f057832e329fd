"""The Runs dock: run history from the registry, overlaid curves, reopen, delete, export.

Top: every run of :class:`~studio.engine.registry.RunRegistry` (newest first, sortable,
filterable by workbench).  The list refreshes itself when a job that records a run
is added, starts or finishes (``services.bridge``), and on **Refresh**.

Below: one metric (a combo box of the union of the selected runs' metric names) of
every selected run in a :class:`~studio.gui.live_curve.LiveCurvePlot`, one series per
run keyed by the run's label (``"#12 engine/selfcheck-mlp"``).

Live runs: the engine writes metric points to the registry in batches (every half
second), but streams every point through ``services.bridge.metric`` at once.  The
dock keeps the streamed points of running runs in memory, so selecting a running
run shows the registry's points plus the newer streamed ones, and later points
are appended as they arrive.  A point is identified by its wall time (the same
float in the stream and in the registry), so nothing is drawn twice when a queued
signal arrives after the registry was read.  When the job finishes its series is
reloaded from the registry, which then holds every point.

Buttons: **Reopen** (``reopen_requested(RunRecord)``; exactly one run),
**Delete…** (asks first; the run folders with their checkpoints are only deleted
when the user says so in a second question, default No; a queued or running run is
refused), **Export CSV…** (one run's metrics through
:meth:`RunRegistry.export_metrics_csv`).

Run ``python -m studio.gui.runs_dock`` for a standalone preview of your history.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from studio.engine.registry import ACTIVE_STATUSES, RunRecord
from studio.gui.live_curve import LiveCurvePlot

__all__ = ["RunsDock", "format_final_metrics"]

COL_ID, COL_WORKBENCH, COL_MODEL, COL_STATUS, COL_DEVICE, COL_STARTED, COL_DURATION, COL_METRICS = range(8)
_HEADERS = ("#", "Workbench", "Model", "Status", "Device", "Started", "Duration", "Final metrics")
_ID_ROLE = QtCore.Qt.ItemDataRole.UserRole
_SORT_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1
_ALL = "All"
_PREFERRED_METRICS = ("val/loss", "train/loss")
_MAX_NAMED = 12  # runs named in the delete question before "… and N more"


def format_final_metrics(metrics: dict, limit: int = 3) -> str:
    """The first ``limit`` numbers of a run's final metrics, validation ones first."""
    numbers = [(k, v) for k, v in metrics.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    numbers.sort(key=lambda kv: (not kv[0].startswith("val/"), ))
    parts = []
    for key, value in numbers[:limit]:
        value = float(value)
        text = f"{value:.3g}" if math.isfinite(value) else str(value)
        parts.append(f"{key} {text}")
    return " · ".join(parts)


def _format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


class _RunItem(QtWidgets.QTreeWidgetItem):
    """Sorts by the value stored under ``_SORT_ROLE`` (numbers sort as numbers)."""

    def __lt__(self, other: QtWidgets.QTreeWidgetItem) -> bool:
        tree = self.treeWidget()
        col = tree.sortColumn() if tree is not None else 0
        a, b = self.data(col, _SORT_ROLE), other.data(col, _SORT_ROLE)
        if a is None or b is None or type(a) is not type(b):
            return self.text(col) < other.text(col)
        return a < b


class _LiveSeries:
    """Streamed points of one metric of a running run."""

    __slots__ = ("steps", "values", "epochs", "walls")

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.values: list[float] = []
        self.epochs: list[float | None] = []
        self.walls: list[float] = []


class RunsDock(QtWidgets.QDockWidget):
    """Right dock with the run history (see the module docstring)."""

    #: The user asked to reopen this run's model (a :class:`RunRecord`).
    reopen_requested = QtCore.Signal(object)
    #: Runs were deleted (a list of run ids).
    runs_deleted = QtCore.Signal(list)

    def __init__(self, services, parent: QtWidgets.QWidget | None = None):
        super().__init__("Runs", parent)
        self.setObjectName("RunsDock")
        self.services = services
        self.registry = services.registry
        self._items: dict[int, _RunItem] = {}
        self._records: dict[int, RunRecord] = {}
        self._plotted: dict[int, str] = {}  # run id -> series key of the current metric
        self._plotted_status: dict[int, str] = {}
        self._last_wall: dict[str, float] = {}  # series key -> wall of its last point
        self._live: dict[int, dict[str, _LiveSeries]] = {}  # running run id -> metric -> points
        self._metric = ""
        self._selected: set[int] = set()

        body = QtWidgets.QWidget(self)

        # ---- list -------------------------------------------------------------
        self.filter_combo = QtWidgets.QComboBox(body)
        self.filter_combo.addItem(_ALL)
        self.filter_combo.setToolTip("Show the runs of one workbench")
        self.filter_combo.currentTextChanged.connect(lambda _t: self.refresh())
        self.refresh_button = QtWidgets.QPushButton("Refresh", body)
        self.refresh_button.clicked.connect(self.refresh)

        self.tree = QtWidgets.QTreeWidget(body)
        self.tree.setColumnCount(len(_HEADERS))
        self.tree.setHeaderLabels(list(_HEADERS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(COL_ID, QtCore.Qt.SortOrder.DescendingOrder)
        for col, width in ((COL_ID, 44), (COL_WORKBENCH, 90), (COL_MODEL, 110), (COL_STATUS, 80),
                           (COL_DEVICE, 55), (COL_STARTED, 115), (COL_DURATION, 70)):
            self.tree.setColumnWidth(col, width)
        self.tree.itemSelectionChanged.connect(self._on_selection_changed)
        self.tree.itemDoubleClicked.connect(lambda *_: self.reopen_selected())

        self.reopen_button = QtWidgets.QPushButton("Reopen", body)
        self.reopen_button.setToolTip("Load this run's model and settings into its workbench")
        self.reopen_button.clicked.connect(self.reopen_selected)
        self.delete_button = QtWidgets.QPushButton("Delete…", body)
        self.delete_button.setToolTip("Delete the selected runs from the history")
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        self.export_button = QtWidgets.QPushButton("Export CSV…", body)
        self.export_button.setToolTip("Write every metric point of the selected run to a CSV file")
        self.export_button.clicked.connect(lambda: self.export_selected())

        # ---- overlay plot -----------------------------------------------------
        self.metric_combo = QtWidgets.QComboBox(body)
        self.metric_combo.setMinimumContentsLength(14)
        self.metric_combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.metric_combo.setToolTip("The metric drawn for every selected run")
        self.metric_combo.currentTextChanged.connect(self._on_metric_changed)
        self.plot = LiveCurvePlot(body)

        # ---- layout -----------------------------------------------------------
        top = QtWidgets.QWidget(body)
        top_layout = QtWidgets.QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(4)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Workbench:", top))
        row.addWidget(self.filter_combo, 1)
        row.addWidget(self.refresh_button)
        top_layout.addLayout(row)
        top_layout.addWidget(self.tree, 1)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.reopen_button)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        top_layout.addLayout(buttons)

        bottom = QtWidgets.QWidget(body)
        bottom_layout = QtWidgets.QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.setSpacing(4)
        metric_row = QtWidgets.QHBoxLayout()
        metric_row.addWidget(QtWidgets.QLabel("Metric:", bottom))
        metric_row.addWidget(self.metric_combo, 1)
        bottom_layout.addLayout(metric_row)
        bottom_layout.addWidget(self.plot, 1)

        self.splitter = splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical, body)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 400])
        layout = QtWidgets.QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.setWidget(body)
        # Runs list above the plot at the side of the window, beside it at the top or bottom.
        self.dockLocationChanged.connect(self._follow_dock_area)


        # ---- engine events ----------------------------------------------------
        self._refresh_timer = QtCore.QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(50)  # coalesce bursts of status events
        self._refresh_timer.timeout.connect(self.refresh)
        bridge = services.bridge
        bridge.job_added.connect(self._on_job_status)
        bridge.job_finished.connect(self._on_job_finished)
        bridge.event.connect(self._on_event)
        bridge.metric.connect(self._on_metric)

        self.refresh()

    # ------------------------------------------------------------ public API
    def _follow_dock_area(self, area: QtCore.Qt.DockWidgetArea) -> None:
        wide = area in (QtCore.Qt.DockWidgetArea.TopDockWidgetArea, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitter.setOrientation(QtCore.Qt.Orientation.Horizontal if wide else QtCore.Qt.Orientation.Vertical)

    def refresh(self) -> None:
        """Re-read the registry; keeps the selection and the plot of unchanged runs."""
        self._refresh_timer.stop()
        all_runs = self.registry.list_runs()
        self._update_filter_combo(sorted({r.workbench for r in all_runs}))
        wanted = self.filter_combo.currentText()
        runs = [r for r in all_runs if wanted == _ALL or r.workbench == wanted]

        before = self.selected_run_ids()
        tree = self.tree
        tree.blockSignals(True)
        tree.setSortingEnabled(False)
        try:
            ids = {r.id for r in runs}
            for run_id in [i for i in self._items if i not in ids]:
                item = self._items.pop(run_id)
                tree.takeTopLevelItem(tree.indexOfTopLevelItem(item))
            self._records = {}
            for record in runs:
                self._records[record.id] = record
                item = self._items.get(record.id)
                if item is None:
                    item = _RunItem()
                    item.setData(COL_ID, _ID_ROLE, record.id)
                    tree.addTopLevelItem(item)
                    self._items[record.id] = item
                self._fill_item(item, record)
        finally:
            tree.setSortingEnabled(True)
            tree.blockSignals(False)
        after = self.selected_run_ids()
        changed = [i for i in after if self._plotted_status.get(i) != self._records[i].status]
        if after != before or changed:
            self._on_selection_changed()
        else:
            self._update_buttons()

    def select_runs(self, ids) -> None:
        """Select exactly the listed runs (those shown by the filter)."""
        wanted = {int(i) for i in ids}
        tree = self.tree
        tree.blockSignals(True)
        try:
            tree.clearSelection()
            first = None
            for run_id in wanted:
                item = self._items.get(run_id)
                if item is not None:
                    item.setSelected(True)
                    first = first or item
            if first is not None:
                tree.scrollToItem(first)
        finally:
            tree.blockSignals(False)
        self._on_selection_changed()

    def selected_run_ids(self) -> list[int]:
        """Selected run ids, in list order."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.isSelected():
                out.append(int(item.data(COL_ID, _ID_ROLE)))
        return out

    def selected_runs(self) -> list[RunRecord]:
        return [self._records[i] for i in self.selected_run_ids() if i in self._records]

    def run_ids(self) -> list[int]:
        """The runs listed, in list order."""
        return [int(self.tree.topLevelItem(i).data(COL_ID, _ID_ROLE))
                for i in range(self.tree.topLevelItemCount())]

    def item_for(self, run_id: int) -> QtWidgets.QTreeWidgetItem | None:
        return self._items.get(run_id)

    def series_key(self, run: RunRecord | int) -> str:
        record = self._records[run] if isinstance(run, int) else run
        return record.label

    def reopen_selected(self) -> RunRecord | None:
        ids = self.selected_run_ids()
        if len(ids) != 1:
            return None
        try:
            record = self.registry.get(ids[0])
        except KeyError:
            self.refresh()
            return None
        self.reopen_requested.emit(record)
        return record

    def delete_selected(self, confirm: bool = True, delete_files: bool | None = None) -> list[int]:
        """Delete the selected runs after asking; returns the ids deleted.

        ``confirm=False`` skips the questions (and deletes the files only when
        ``delete_files`` is True).  A queued or running run is refused with a message.
        """
        records = self.selected_runs()
        if not records:
            return []
        fresh = []
        for record in records:
            try:
                fresh.append(self.registry.get(record.id))
            except KeyError:
                pass  # already gone
        active = [r for r in fresh if r.status in ACTIVE_STATUSES]
        if active:
            names = ", ".join(r.label for r in active)
            QtWidgets.QMessageBox.warning(
                self, "Run still running",
                f"{names} {'is' if len(active) == 1 else 'are'} still {active[0].status}. "
                "Cancel it in the Jobs dock first; nothing was deleted.",
            )
            return []
        if not fresh:
            self.refresh()
            return []

        Yes, No = QtWidgets.QMessageBox.StandardButton.Yes, QtWidgets.QMessageBox.StandardButton.No
        if confirm:
            labels = [r.label for r in fresh]
            listed = "\n".join(labels[:_MAX_NAMED])
            if len(labels) > _MAX_NAMED:
                listed += f"\n… and {len(labels) - _MAX_NAMED} more"
            what = "this run" if len(fresh) == 1 else f"these {len(fresh)} runs"
            answer = QtWidgets.QMessageBox.question(
                self, "Delete runs",
                f"Delete {what} and their metrics from the run history?\n\n{listed}",
                Yes | No, No,
            )
            if answer != Yes:
                return []
            if delete_files is None:
                folders = [r.dir for r in fresh if r.dir.is_dir()]
                delete_files = False
                if folders:
                    shown = "\n".join(str(f) for f in folders[:_MAX_NAMED])
                    if len(folders) > _MAX_NAMED:
                        shown += f"\n… and {len(folders) - _MAX_NAMED} more"
                    answer = QtWidgets.QMessageBox.question(
                        self, "Delete run folders",
                        f"Also delete the run folders (checkpoints)?\n\n{shown}\n\n"
                        "No keeps the files on disk.",
                        Yes | No, No,
                    )
                    delete_files = answer == Yes
        deleted, errors = [], []
        for record in fresh:
            try:
                self.registry.delete_run(record.id, delete_files=bool(delete_files))
                deleted.append(record.id)
            except Exception as exc:  # noqa: BLE001 - report, keep going with the others
                errors.append(f"{record.label}: {exc}")
        for run_id in deleted:
            self._live.pop(run_id, None)
        self.refresh()
        if errors:
            QtWidgets.QMessageBox.warning(self, "Delete failed",
                                          "Some runs could not be deleted:\n" + "\n".join(errors))
        if deleted:
            self.runs_deleted.emit(deleted)
        return deleted

    def export_selected(self, path: str | os.PathLike | None = None) -> str | None:
        """Write the selected run's metrics as CSV; asks for the file when ``path`` is None.

        Returns the path written, or None (cancelled, not exactly one run, or an error,
        which is shown in a message naming the file).
        """
        records = self.selected_runs()
        if len(records) != 1:
            return None
        record = records[0]
        if path is None:
            settings = self.services.settings
            folder = str(settings.value("runs/export_dir", "") or "") or str(Path.home())
            suggested = os.path.join(folder, f"run-{record.id}-{record.model}-metrics.csv".replace("/", "-"))
            path, _filter = QtWidgets.QFileDialog.getSaveFileName(
                self, "Export metrics as CSV", suggested, "CSV files (*.csv);;All files (*)")
            if not path:
                return None
            if not Path(path).suffix:
                path += ".csv"
            settings.setValue("runs/export_dir", str(Path(path).parent))
        path = str(path)
        try:
            self.registry.export_metrics_csv(record.id, path)
        except OSError as exc:
            QtWidgets.QMessageBox.warning(self, "Export failed",
                                          f"Could not write {path}:\n{exc.strerror or exc}")
            return None
        return path

    # --------------------------------------------------------------- events
    def _on_job_status(self, job) -> None:
        if job.run is not None:
            self._refresh_timer.start()

    def _on_job_finished(self, job) -> None:
        if job.run is None:
            return
        # Every point is in the registry now (the pool flushes before it reports).
        self._live.pop(job.run.id, None)
        self._refresh_timer.start()

    def _on_event(self, ev) -> None:
        if ev.kind == "status" and ev.data.get("status") == "running" and ev.job.run is not None:
            self._refresh_timer.start()

    def _on_metric(self, job, name: str, value: float, step: int, epoch, wall: float) -> None:
        run = job.run
        if run is None:
            return
        live = self._live.setdefault(run.id, {}).setdefault(name, _LiveSeries())
        live.steps.append(step)
        live.values.append(value)
        live.epochs.append(epoch)
        live.walls.append(wall)
        if run.id not in self._selected:
            return
        if self.metric_combo.findText(name) < 0:
            self._insert_metric_name(name)  # may select it and reload the plot
            return
        if name != self._metric or run.id not in self._plotted:
            return
        key = self._plotted[run.id]
        if wall <= self._last_wall.get(key, -math.inf):
            return  # already drawn (read from the registry)
        self._last_wall[key] = wall
        self.plot.add_point(key, step, value, epoch, wall)

    def _on_selection_changed(self) -> None:
        records = self.selected_runs()
        self._selected = {r.id for r in records}
        names: set[str] = set()
        for record in records:
            names.update(self.registry.metric_names(record.id))
            names.update(self._live.get(record.id, {}))
        current = self.metric_combo.currentText()
        ordered = sorted(names)
        self.metric_combo.blockSignals(True)
        try:
            self.metric_combo.clear()
            self.metric_combo.addItems(ordered)
            choice = current if current in names else _default_metric(ordered)
            self.metric_combo.setCurrentIndex(self.metric_combo.findText(choice) if choice else -1)
        finally:
            self.metric_combo.blockSignals(False)
        self._reload_plot()
        self._update_buttons()

    def _on_metric_changed(self, _text: str) -> None:
        self._reload_plot()

    # ------------------------------------------------------------------ plot
    def _reload_plot(self) -> None:
        self._metric = metric = self.metric_combo.currentText()
        self.plot.clear()
        self._plotted.clear()
        self._plotted_status.clear()
        self._last_wall.clear()
        self.plot.set_title(metric)
        for record in self.selected_runs():
            self._plotted_status[record.id] = record.status
            if not metric:
                continue
            key = self.series_key(record)
            self._plotted[record.id] = key
            series = self.registry.metric_series(record.id, metric)
            steps, values, epochs, walls = series["step"], series["value"], series["epoch"], series["wall"]
            live = self._live.get(record.id, {}).get(metric)
            if live is not None:
                last = walls[-1] if walls else -math.inf
                start = next((i for i, w in enumerate(live.walls) if w > last), len(live.walls))
                steps = steps + live.steps[start:]
                values = values + live.values[start:]
                epochs = epochs + live.epochs[start:]
                walls = walls + live.walls[start:]
            if not steps:
                continue
            self.plot.set_series(key, steps, values, epochs, walls)
            self._last_wall[key] = walls[-1]

    def _insert_metric_name(self, name: str) -> None:
        combo = self.metric_combo
        names = [combo.itemText(i) for i in range(combo.count())]
        index = sum(1 for n in names if n < name)
        had_choice = combo.currentIndex() >= 0
        combo.blockSignals(True)
        try:
            combo.insertItem(index, name)
            if not had_choice:
                combo.setCurrentIndex(-1)
        finally:
            combo.blockSignals(False)
        if not had_choice:
            choice = _default_metric(names + [name])
            combo.setCurrentIndex(combo.findText(choice))  # reloads the plot

    # ----------------------------------------------------------------- list
    def _fill_item(self, item: QtWidgets.QTreeWidgetItem, record: RunRecord) -> None:
        item.setText(COL_ID, str(record.id))
        item.setData(COL_ID, _SORT_ROLE, record.id)
        item.setToolTip(COL_ID, record.label + (f"\nparent run #{record.parent_id}" if record.parent_id else ""))
        item.setText(COL_WORKBENCH, record.workbench)
        item.setText(COL_MODEL, record.model + (f" ({record.name})" if record.name else ""))
        item.setText(COL_STATUS, record.status)
        item.setToolTip(COL_STATUS, record.message or record.status)
        item.setText(COL_DEVICE, record.device)
        when = record.started or record.created
        item.setText(COL_STARTED, time.strftime("%Y-%m-%d %H:%M", time.localtime(when)) if when else "")
        item.setData(COL_STARTED, _SORT_ROLE, float(when or 0.0))
        duration = record.duration()
        item.setText(COL_DURATION, _format_duration(duration))
        item.setData(COL_DURATION, _SORT_ROLE, float(duration if duration is not None else -1.0))
        item.setText(COL_METRICS, format_final_metrics(record.final_metrics))
        item.setToolTip(COL_METRICS, "\n".join(f"{k}: {v}" for k, v in record.final_metrics.items()))
        item.setTextAlignment(COL_ID, QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)

    def _update_filter_combo(self, workbenches: list[str]) -> None:
        combo = self.filter_combo
        current = combo.currentText() or _ALL
        present = [combo.itemText(i) for i in range(1, combo.count())]
        wanted = sorted(set(workbenches) | ({current} - {_ALL}))
        if present == wanted:
            return
        combo.blockSignals(True)
        try:
            combo.clear()
            combo.addItem(_ALL)
            combo.addItems(wanted)
            combo.setCurrentIndex(max(0, combo.findText(current)))
        finally:
            combo.blockSignals(False)

    def _update_buttons(self) -> None:
        n = len(self.selected_run_ids())
        self.reopen_button.setEnabled(n == 1)
        self.export_button.setEnabled(n == 1)
        self.delete_button.setEnabled(n >= 1)


def _default_metric(names) -> str:
    names = list(names)
    for preferred in _PREFERRED_METRICS:
        if preferred in names:
            return preferred
    return names[0] if names else ""


def _preview_widget(services) -> QtWidgets.QWidget:
    """The dock showing your run history (``$STUDIO_HOME`` or the user folder)."""
    window = QtWidgets.QMainWindow()
    window.setWindowTitle(f"RunsDock preview: {services.registry.path}")
    label = QtWidgets.QLabel("Reopen requests are shown here.", window)
    label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
    window.setCentralWidget(label)
    dock = RunsDock(services, window)
    dock.reopen_requested.connect(lambda r: label.setText(f"Reopen requested: {r.label}"))
    window.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
    return window


if __name__ == "__main__":
    from studio.gui.app import preview

    raise SystemExit(preview(_preview_widget))
