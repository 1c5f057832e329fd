"""Tests for studio.gui.jobs_dock.JobsDock with real jobs on a real pool (pytest-qt, offscreen)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from studio.engine import RunSpec  # noqa: E402
from tests.gui.conftest import small_selfcheck  # noqa: E402
from studio.engine.selfcheck import train_selfcheck  # noqa: E402
from studio.gui import jobs_dock as jobs_dock_module  # noqa: E402
from studio.gui.jobs_dock import JobsDock, format_duration  # noqa: E402

LEFT = QtCore.Qt.MouseButton.LeftButton


@pytest.fixture
def dock(qtbot, services):
    d = JobsDock(services)
    qtbot.addWidget(d)
    d.resize(1100, 300)
    d.show()
    return d


def submit_selfcheck(services, cfg, name="self-check", run=True):
    return services.submit(train_selfcheck, cfg, name=name, workbench="engine", device="cpu",
                           run=RunSpec("engine", "selfcheck-mlp", cfg.to_dict()) if run else None)


def shown_status(dock, job) -> str:
    """The Status text, or "" while the job's queued event has not reached the dock."""
    return dock.status_text(job) if dock.row_for(job) >= 0 else ""


# ------------------------------------------------------------------ happy path
def test_selfcheck_job_shows_progress_and_ends_done(qtbot, services, dock):
    assert dock.windowTitle() == "Jobs"
    job = submit_selfcheck(services, small_selfcheck())
    qtbot.waitUntil(lambda: dock.row_for(job) == 0, timeout=2000)
    item = dock.tree.topLevelItem(0)
    assert [item.text(c) for c in range(3)] == ["self-check", "engine", "cpu"]
    assert dock.cancel_button(job).isEnabled()

    qtbot.waitUntil(lambda: shown_status(dock, job) == "done", timeout=15000)
    assert job.status == "done", job.traceback
    bar = dock.progress_bar(job)
    assert bar.value() == 100 and bar.maximum() == 100
    assert not dock.cancel_button(job).isEnabled()
    assert dock.details_button(job) is None
    assert re.fullmatch(r"\d+:\d\d", dock.elapsed_text(job))
    assert dock.eta_text(job) == ""
    assert "1 finished" in dock.summary_label.text()


def test_jobs_submitted_before_the_dock_are_listed(qtbot, services):
    job = services.submit(lambda ctx, cfg: 42, None, name="early", workbench="engine", device="cpu", kind="task")
    assert job.wait(5)
    d = JobsDock(services)
    qtbot.addWidget(d)
    assert d.row_for(job) == 0
    assert d.status_text(job) == "done"


def test_progress_refresh_is_throttled(qtbot, services, dock, monkeypatch):
    calls = []
    original = dock._refresh_row
    monkeypatch.setattr(dock, "_refresh_row", lambda row: (calls.append(time.monotonic()), original(row)))
    events = []
    services.bridge.event.connect(lambda ev: events.append(ev.kind))

    def chatty(ctx, _cfg):
        n = 60
        for i in range(n):
            ctx.check()
            ctx.progress(i + 1, n, f"item {i + 1}")
            time.sleep(0.02)  # ~1.2 s of progress reports at up to 20/s (the engine's own throttle)
        return n

    t0 = time.monotonic()
    job = services.submit(chatty, None, name="chatty", workbench="engine", device="cpu", kind="task")
    qtbot.waitUntil(lambda: shown_status(dock, job) == "done", timeout=10000)
    seconds = time.monotonic() - t0
    assert events.count("progress") >= 15
    # status events (queued, running, done) refresh at once; progress at most every 250 ms
    assert len(calls) <= 3 + seconds * 1000 / jobs_dock_module.REFRESH_INTERVAL_MS + 2
    assert dock.progress_bar(job).value() == 100


# -------------------------------------------------------------------- cancel
def test_cancel_button_stops_a_running_job_within_one_second(qtbot, services, dock):
    job = submit_selfcheck(services, small_selfcheck(epochs=500, delay=0.02), name="long")
    qtbot.waitUntil(lambda: job.status == "running" and job.done >= 3, timeout=10000)
    qtbot.wait(300)  # at least one 250 ms refresh
    assert dock.status_text(job) == "running"
    assert 0 <= dock.progress_bar(job).value() < 100
    assert re.fullmatch(r"\d+:\d\d(:\d\d)?", dock.eta_text(job)), dock.eta_text(job)

    button = dock.cancel_button(job)
    assert button.isEnabled()
    qtbot.mouseClick(button, LEFT)
    assert job.cancel_requested
    qtbot.waitUntil(lambda: shown_status(dock, job) == "cancelled", timeout=1000)
    assert job.status == "cancelled"
    assert not button.isEnabled()
    assert services.registry.get(job.run.id).status == "cancelled"


def test_cancel_a_queued_job(qtbot, services, dock):
    first = submit_selfcheck(services, small_selfcheck(epochs=500, delay=0.02), name="first", run=False)
    second = submit_selfcheck(services, small_selfcheck(), name="second", run=False)  # waits on the cpu lane
    qtbot.waitUntil(lambda: dock.row_for(second) == 1, timeout=2000)
    assert dock.status_text(second) == "queued"
    qtbot.mouseClick(dock.cancel_button(second), LEFT)
    assert dock.status_text(second) == "cancelling…"
    qtbot.mouseClick(dock.cancel_button(first), LEFT)
    qtbot.waitUntil(lambda: shown_status(dock, second) == "cancelled", timeout=3000)
    assert dock.status_text(first) == "cancelled"


# ------------------------------------------------------------------- failure
def boom(ctx, _cfg):
    ctx.progress(1, 4, "about to fail")
    raise RuntimeError("boom")


def test_failed_job_shows_message_and_traceback_under_details(qtbot, services, dock):
    job = services.submit(boom, None, name="exploding", workbench="engine", device="cpu", kind="task")
    qtbot.waitUntil(lambda: shown_status(dock, job).startswith("failed"), timeout=5000)
    text = dock.status_text(job)
    assert "boom" in text and "RuntimeError" in text
    assert "Traceback" not in text
    item = dock.tree.topLevelItem(dock.row_for(job))
    assert "boom" in item.toolTip(6) and "Traceback" not in item.toolTip(6)
    assert not dock.cancel_button(job).isEnabled()

    details = dock.details_button(job)
    assert details is not None and details.isEnabled()
    qtbot.mouseClick(details, LEFT)
    box = dock.details_box
    assert isinstance(box, QtWidgets.QMessageBox) and box.isVisible()
    assert "Traceback" in box.detailedText()
    assert 'raise RuntimeError("boom")' in box.detailedText()
    assert "boom" in box.informativeText()
    box.done(0)

    # the application keeps working: a real training job after the failure runs fine
    good = submit_selfcheck(services, small_selfcheck(), name="after the failure")
    qtbot.waitUntil(lambda: shown_status(dock, good) == "done", timeout=15000)
    assert dock.progress_bar(good).value() == 100
    assert dock.details_button(good) is None
    assert dock.status_text(job).startswith("failed")


# -------------------------------------------------------------------- clear
def test_clear_finished_keeps_running_jobs(qtbot, services, dock):
    quick = services.submit(lambda ctx, cfg: 1, None, name="quick", workbench="engine", device="cpu", kind="task")
    bad = services.submit(boom, None, name="bad", workbench="engine", device="cpu", kind="task")
    long = submit_selfcheck(services, small_selfcheck(epochs=500, delay=0.02), name="long", run=False)
    qtbot.waitUntil(lambda: quick.status == "done" and bad.status == "failed" and long.status == "running",
                    timeout=10000)
    qtbot.waitUntil(lambda: shown_status(dock, bad).startswith("failed"), timeout=2000)
    assert dock.clear_button.isEnabled()
    qtbot.mouseClick(dock.clear_button, LEFT)
    assert dock.row_for(quick) == dock.row_for(bad) == -1
    assert dock.row_for(long) == 0 and dock.jobs() == [long]
    assert not dock.clear_button.isEnabled()
    long.cancel()
    qtbot.waitUntil(lambda: shown_status(dock, long) == "cancelled", timeout=2000)


def test_format_duration():
    assert format_duration(None) == ""
    assert format_duration(7.4) == "0:07"
    assert format_duration(754) == "12:34"
    assert format_duration(3723) == "1:02:03"
