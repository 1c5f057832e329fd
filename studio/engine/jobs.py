"""Jobs: plain functions ``fn(ctx, config)`` run in the background by one shared pool.

The same function runs in the GUI (``studio.gui.jobs`` turns the events below into
queued Qt signals) and in ``studio-cli`` (a text progress bar).  The design follows
Orange3's ``TaskState`` (the function polls an interruption flag and never touches
Qt; progress is throttled) and ilastik's cancellation-token split (the GUI holds the
:class:`Job` handle and calls ``cancel()``; the function only sees ``ctx.check()``).

Scheduling (:class:`JobPool`):
- every device has one *lane*; ``kind="train"`` jobs run there one at a time, so two
  trainings never fight over one GPU's memory;
- every other job (``kind="task"``: loading, inference, export) runs on a small
  CPU thread pool.  A task for an accelerator takes that device's lane as a *short*
  request: a training job on the lane gives the device up at its next
  ``ctx.check()`` (every batch) until the waiting short requests are served;
- the first job sets torch's CPU thread count to leave one core to the GUI.

A job that raises is marked failed with its message and traceback; it never takes
the process down.  ``Cancelled`` (raised by ``ctx.check()``) marks it cancelled.
When a job records a run, the registry row follows the job's status.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from studio.engine.registry import RunRecord, RunRegistry

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
_RUN_STATUS = {DONE: "completed", FAILED: "failed", CANCELLED: "cancelled"}

PROGRESS_INTERVAL_S = 0.05
METRIC_FLUSH_INTERVAL_S = 0.5


class Cancelled(Exception):
    """Raised by ``ctx.check()`` after the user pressed Cancel."""


class UserError(ValueError):
    """A problem with the user's input or settings: shown as a message, no traceback."""


@dataclass
class JobEvent:
    """What listeners receive.  ``kind`` is status, progress, metric or log."""

    job: "Job"
    kind: str
    data: dict[str, Any]


@dataclass
class RunSpec:
    """Ask the pool to record the job as a run in the registry."""

    workbench: str
    model: str
    config: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    parent_id: int | None = None
    run_dir: str | None = None  # the run's folder; default runs/NNNNN in the Studio home


class DeviceLane:
    """Exclusive use of one device, with priority for short requests.

    A long holder (training) calls :meth:`yield_to_short` at batch boundaries; when a
    short request (inference) is waiting, the device is handed over and taken back
    once no short request waits.
    """

    def __init__(self, device: str):
        self.device = device
        self._cond = threading.Condition()
        self._busy = False
        self._waiting_short = 0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"studio-lane-{device}")

    @contextmanager
    def hold(self, short: bool = False) -> Iterator[None]:
        with self._cond:
            if short:
                self._waiting_short += 1
            try:
                while self._busy or (not short and self._waiting_short > 0):
                    self._cond.wait()
            finally:
                if short:
                    self._waiting_short -= 1
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def yield_to_short(self) -> None:
        with self._cond:
            if self._waiting_short == 0:
                return
            self._busy = False
            self._cond.notify_all()
            while self._busy or self._waiting_short > 0:
                self._cond.wait()
            self._busy = True


class Job:
    """The handle the caller keeps: status, progress, result, ``cancel()``."""

    def __init__(self, job_id: int, name: str, workbench: str, device: str, kind: str):
        self.id = job_id
        self.name = name
        self.workbench = workbench
        self.device = device
        self.kind = kind
        self.status = QUEUED
        self.done = 0
        self.total = 0
        self.message = ""
        self.error = ""
        self.user_error = False  # failed on bad input or settings (UserError/ValueError/OSError)
        self.traceback = ""
        self.result: Any = None
        self.run: RunRecord | None = None
        self.submitted = time.time()
        self.started: float | None = None
        self.finished: float | None = None
        self._cancel = threading.Event()
        self._finished = threading.Event()

    # ---------------------------------------------------------------- control
    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished; True if it did within ``timeout``."""
        return self._finished.wait(timeout)

    # ----------------------------------------------------------------- derived
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def eta(self) -> float | None:
        """Seconds left, from the rate so far; None when unknown."""
        if self.status != RUNNING or self.total <= 0 or self.done <= 0:
            return None
        return self.elapsed() * (self.total - self.done) / self.done

    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.name!r} {self.status} on {self.device}>"


class JobContext:
    """What a job function sees: progress, metrics, log, cancellation, device, run."""

    def __init__(self, job: Job, pool: "JobPool", lane: DeviceLane | None):
        self._job = job
        self._pool = pool
        self._lane = lane
        self._last_progress = 0.0
        self._metric_buffer: list[tuple[str, int, float | None, float, float]] = []
        self._last_flush = time.monotonic()
        self._t0 = time.time()
        self._final_metrics: dict[str, Any] = {}
        self._torch_device = None

    # ---------------------------------------------------------------- reports
    def progress(self, done: float, total: float, message: str = "") -> None:
        job = self._job
        job.done, job.total = done, total
        if message:
            job.message = message
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL_S or done >= total:
            self._last_progress = now
            self._pool._emit(job, "progress", {"done": done, "total": total, "message": job.message})

    def metric(self, name: str, value: float, step: int, epoch: float | None = None) -> None:
        value = float(value)
        wall = time.time() - self._t0
        self._pool._emit(self._job, "metric", {"name": name, "value": value, "step": int(step),
                                                "epoch": epoch, "wall": wall})
        if self._job.run is not None:
            self._metric_buffer.append((name, int(step), epoch, wall, value))
            if time.monotonic() - self._last_flush > METRIC_FLUSH_INTERVAL_S or len(self._metric_buffer) >= 500:
                self.flush_metrics()

    def log(self, text: str) -> None:
        self._pool._emit(self._job, "log", {"text": str(text)})

    def set_final_metrics(self, metrics: dict[str, Any]) -> None:
        """The numbers the run registry shows for this run."""
        self._final_metrics.update(metrics)

    def flush_metrics(self) -> None:
        if self._job.run is not None and self._metric_buffer and self._pool.registry is not None:
            buf, self._metric_buffer = self._metric_buffer, []
            self._pool.registry.add_metrics(self._job.run.id, buf)
        self._last_flush = time.monotonic()

    # ------------------------------------------------------------ cancellation
    def check(self) -> None:
        """Call once per batch: raises :class:`Cancelled`; lets waiting inference use the device."""
        if self._job.cancel_requested:
            raise Cancelled(f"{self._job.name} was cancelled")
        if self._lane is not None and self._job.kind == "train":
            self._lane.yield_to_short()
            if self._job.cancel_requested:
                raise Cancelled(f"{self._job.name} was cancelled")

    @property
    def cancelled(self) -> bool:
        return self._job.cancel_requested

    # ------------------------------------------------------------- resources
    @property
    def device(self):
        """The job's ``torch.device``."""
        if self._torch_device is None:
            import torch

            self._torch_device = torch.device(self._job.device)
        return self._torch_device

    @property
    def device_name(self) -> str:
        return self._job.device

    @property
    def run(self) -> RunRecord | None:
        return self._job.run

    @property
    def job(self) -> Job:
        return self._job


Listener = Callable[[JobEvent], None]


class StageContext:
    """A job context for one stage of a longer job: progress maps into [lo, hi] of the whole.

    Everything else (metric, log, check, device, run, …) is the wrapped context's.
    """

    def __init__(self, ctx, lo: float, hi: float, label: str):
        self._ctx, self._lo, self._hi, self._label = ctx, lo, hi, label

    def progress(self, done: float, total: float, message: str = "") -> None:
        frac = min(1.0, done / total) if total else 1.0
        label = f"{self._label}: {message}" if self._label and message else (message or self._label)
        self._ctx.progress(int(1000 * (self._lo + (self._hi - self._lo) * frac)), 1000, label)

    def __getattr__(self, name):  # metric, log, check, device, run, set_final_metrics, cancelled
        return getattr(self._ctx, name)


class JobPool:
    """The one pool of the application (the GUI and the CLI each make one)."""

    def __init__(self, registry: RunRegistry | None = None, cpu_workers: int | None = None,
                 configure_threads: bool = True):
        self.registry = registry
        self._cpu = ThreadPoolExecutor(max_workers=cpu_workers or max(2, min(4, (os.cpu_count() or 2))),
                                       thread_name_prefix="studio-cpu")
        self._lanes: dict[str, DeviceLane] = {}
        self._listeners: list[Listener] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._jobs: list[Job] = []
        self._configure_threads = configure_threads
        self._threads_configured = False
        self._closed = False

    # -------------------------------------------------------------- listeners
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, job: Job, kind: str, data: dict[str, Any]) -> None:
        event = JobEvent(job, kind, data)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break the job
                traceback.print_exc()

    # ------------------------------------------------------------------ lanes
    def lane(self, device: str) -> DeviceLane:
        with self._lock:
            if device not in self._lanes:
                self._lanes[device] = DeviceLane(device)
            return self._lanes[device]

    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs)

    # ----------------------------------------------------------------- submit
    def submit(
        self,
        fn: Callable[[JobContext, Any], Any],
        config: Any = None,
        *,
        name: str | None = None,
        workbench: str = "",
        device: str = "cpu",
        kind: str = "train",
        run: RunSpec | None = None,
    ) -> Job:
        """Queue ``fn(ctx, config)``.  ``device`` must already be resolved (see engine.device)."""
        if kind not in ("train", "task"):
            raise ValueError(f"job kind must be 'train' or 'task', not {kind!r}")
        if self._closed:  # before a run is registered: a refused job must not leave a run behind
            raise RuntimeError("the job pool is shut down (the application is closing)")
        job = Job(next(self._ids), name or getattr(fn, "__name__", "job"), workbench, device, kind)
        if run is not None and self.registry is not None:
            job.run = self.registry.create_run(run.workbench, run.model, run.config, name=run.name,
                                               device=device, parent_id=run.parent_id, run_dir=run.run_dir)
        with self._lock:
            self._jobs.append(job)
        self._emit(job, "status", {"status": QUEUED})
        if kind == "train":
            lane = self.lane(device)
            lane.executor.submit(self._execute, job, fn, config, lane, False)
        else:
            lane = None if device == "cpu" else self.lane(device)
            self._cpu.submit(self._execute, job, fn, config, lane, True)
        return job

    def run(self, fn: Callable[[JobContext, Any], Any], config: Any = None, **kwargs: Any) -> Job:
        """Submit and wait (the CLI's way).  Ctrl+C cancels the job and waits for it to stop.

        The first SIGINT only sets the job's cancel flag from a signal handler: letting
        Python raise KeyboardInterrupt inside ``Event.wait`` can leave the event's lock
        held (the exception may land between a ``with`` block's ``__enter__`` and its
        ``try``), after which the waiting CLI and the finishing worker both hang.  A
        second Ctrl+C raises KeyboardInterrupt as usual (stop waiting).
        """
        import signal
        import threading

        job = self.submit(fn, config, **kwargs)
        previous = None
        if threading.current_thread() is threading.main_thread():
            def cancel_on_sigint(signum, frame):
                if job.cancel_requested:
                    raise KeyboardInterrupt
                job.cancel()

            previous = signal.signal(signal.SIGINT, cancel_on_sigint)
        try:
            while not job.wait(0.1):
                pass
        except KeyboardInterrupt:
            job.cancel()
            job.wait()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return job

    def _execute(self, job: Job, fn: Callable, config: Any, lane: DeviceLane | None, short: bool) -> None:
        if job.cancel_requested:
            self._finish(job, CANCELLED, None, "cancelled before it started", "")
            return
        if self._configure_threads and not self._threads_configured:
            from studio.engine.device import configure_cpu_threads

            configure_cpu_threads()
            self._threads_configured = True
        ctx = JobContext(job, self, lane)
        job.status = RUNNING
        job.started = time.time()
        if job.run is not None and self.registry is not None:
            self.registry.mark_started(job.run.id, job.device)
            job.run.status = "running"
        self._emit(job, "status", {"status": RUNNING})
        status, result, error, tb = DONE, None, "", ""
        try:
            if lane is not None and not (short and job.device == "cpu"):
                with lane.hold(short=short):
                    result = fn(ctx, config)
            else:
                result = fn(ctx, config)
        except Cancelled:
            status, error = CANCELLED, "cancelled by the user"
        except Exception as exc:  # noqa: BLE001 - a job must never take the app down
            status = FAILED
            job.user_error = isinstance(exc, (UserError, ValueError, OSError)) and bool(str(exc))
            error = str(exc) if job.user_error else f"{type(exc).__name__}: {exc}"
            tb = traceback.format_exc()
        finally:
            try:
                ctx.flush_metrics()
            except Exception:  # noqa: BLE001
                tb += "\n(while saving metrics)\n" + traceback.format_exc()
        final = dict(ctx._final_metrics)
        if not final and isinstance(getattr(result, "metrics", None), dict):
            final = dict(result.metrics)
        self._finish(job, status, result, error, tb, final)

    def _finish(self, job: Job, status: str, result: Any, error: str, tb: str,
                final: dict[str, Any] | None = None) -> None:
        job.result, job.error, job.traceback = result, error, tb
        job.finished = time.time()
        if job.started is None:
            job.started = job.finished
        if job.run is not None and self.registry is not None:
            try:
                self.registry.mark_finished(job.run.id, _RUN_STATUS[status], message=error,
                                            final_metrics=final or None)
                job.run = self.registry.get(job.run.id)
            except Exception:  # noqa: BLE001
                job.traceback += "\n(while updating the run registry)\n" + traceback.format_exc()
        job.status = status
        self._emit(job, "status", {"status": status, "error": error})
        job._finished.set()

    @property
    def closed(self) -> bool:
        """True after :meth:`shutdown`: :meth:`submit` refuses new jobs."""
        return self._closed

    def shutdown(self, cancel: bool = True, wait: bool = True) -> None:
        self._closed = True
        if cancel:
            for job in self._jobs:
                if job.status not in FINISHED:
                    job.cancel()
        self._cpu.shutdown(wait=wait, cancel_futures=cancel)
        for lane in list(self._lanes.values()):
            lane.executor.shutdown(wait=wait, cancel_futures=cancel)
