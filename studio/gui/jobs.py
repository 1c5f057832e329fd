"""The Qt side of the engine's jobs: pool events become queued Qt signals.

The engine calls listeners from worker threads; :class:`JobBridge` re-emits each
:class:`~studio.engine.jobs.JobEvent` as a Qt signal of an object that lives in the
GUI thread, so Qt queues it and every slot runs in the GUI thread.  No workbench has
thread code of its own: they submit through :class:`Services` and listen here.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6 import QtCore

from studio.engine import Job, JobEvent, JobPool, RunRegistry, RunSpec


class JobBridge(QtCore.QObject):
    """Re-emits pool events in the GUI thread."""

    event = QtCore.Signal(object)  # JobEvent
    job_added = QtCore.Signal(object)  # Job
    job_finished = QtCore.Signal(object)  # Job
    metric = QtCore.Signal(object, str, float, int, object, float)  # job, name, value, step, epoch, wall

    def __init__(self, pool: JobPool, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.pool = pool
        self._relay.connect(self._dispatch, QtCore.Qt.ConnectionType.QueuedConnection)
        pool.subscribe(self._relay.emit)

    _relay = QtCore.Signal(object)

    @QtCore.Slot(object)
    def _dispatch(self, ev: JobEvent) -> None:
        self.event.emit(ev)
        if ev.kind == "status":
            status = ev.data["status"]
            if status == "queued":
                self.job_added.emit(ev.job)
            elif status in ("done", "failed", "cancelled"):
                self.job_finished.emit(ev.job)
        elif ev.kind == "metric":
            d = ev.data
            self.metric.emit(ev.job, d["name"], d["value"], d["step"], d["epoch"], d["wall"])

    def detach(self) -> None:
        self.pool.unsubscribe(self._relay.emit)


class Services(QtCore.QObject):
    """What every window part shares: registry, pool, bridge, settings and the device."""

    device_changed = QtCore.Signal(str)
    torch_ready = QtCore.Signal()
    torch_failed = QtCore.Signal(str)

    def __init__(self, registry: RunRegistry, pool: JobPool, settings: QtCore.QSettings,
                 parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.registry = registry
        self.pool = pool
        self.settings = settings
        self.bridge = JobBridge(pool, self)
        self.is_torch_ready = False
        self.torch_error = ""
        self.torch_import_seconds: float | None = None
        self._device: str | None = None
        self._session_device: str | None = None
        self.device_note = ""  # why the device differs from the one asked for

    # --------------------------------------------------------------- device
    @property
    def device_preference(self) -> str:
        if self._session_device:
            return self._session_device
        return str(self.settings.value("engine/device", "auto"))

    def set_session_device(self, pref: str) -> None:
        """A device for this session only (``studio --device``), not saved."""
        self._session_device = pref
        self._device = None

    def set_device_preference(self, pref: str) -> None:
        self.settings.setValue("engine/device", pref)
        self._session_device = None
        self._device = None
        if self.is_torch_ready:
            self.device_changed.emit(self.device())

    def device(self) -> str:
        """The concrete device jobs use now (falls back to auto when the saved one is gone)."""
        if self._device is None:
            from studio.engine.device import DeviceUnavailable, resolve_device

            try:
                self._device = resolve_device(self.device_preference)
                self.device_note = ""
            except DeviceUnavailable as exc:
                self._device = resolve_device("auto")
                self.device_note = f"{exc}; using {self._device}"
        return self._device

    def mark_torch_ready(self) -> None:
        from studio.engine.device import configure_cpu_threads

        configure_cpu_threads()  # leave one core to the GUI; the status bar then shows the real count
        self.is_torch_ready = True
        self.torch_ready.emit()
        self.device_changed.emit(self.device())

    # --------------------------------------------------------------- submit
    def submit(self, fn: Callable, config: Any = None, *, name: str, workbench: str, kind: str = "train",
               run: RunSpec | None = None, device: str | None = None) -> Job:
        return self.pool.submit(fn, config, name=name, workbench=workbench, kind=kind, run=run,
                                device=device or self.device())
