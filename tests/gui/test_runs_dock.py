"""Tests for studio.gui.runs_dock.RunsDock with real training runs (pytest-qt, offscreen)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import csv  # noqa: E402

import pytest  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from studio.engine import RunSpec  # noqa: E402
from tests.gui.conftest import small_selfcheck  # noqa: E402
from studio.engine.jobs import FINISHED  # noqa: E402
from studio.engine.selfcheck import train_selfcheck  # noqa: E402
from studio.gui.jobs_dock import JobsDock  # noqa: E402
from studio.gui.live_curve import LiveCurvePlot  # noqa: E402
from studio.gui.runs_dock import RunsDock, format_final_metrics  # noqa: E402

LEFT = QtCore.Qt.MouseButton.LeftButton
YES = QtWidgets.QMessageBox.StandardButton.Yes
NO = QtWidgets.QMessageBox.StandardButton.No


@pytest.fixture
def dock(qtbot, services):
    d = RunsDock(services)
    qtbot.addWidget(d)
    d.resize(900, 800)
    d.show()
    return d


def submit(services, cfg, model="selfcheck-mlp", workbench="engine"):
    return services.submit(train_selfcheck, cfg, name=model, workbench=workbench, device="cpu",
                           run=RunSpec(workbench, model, cfg.to_dict()))


def listed_status(dock, run_id) -> str:
    item = dock.item_for(run_id)
    return "" if item is None else item.text(3)


def finish(qtbot, dock, job, timeout=15000):
    """Wait for the job, then for the dock's automatic refresh to show its final status."""
    qtbot.waitUntil(lambda: job.status in FINISHED, timeout=timeout)
    assert job.status == "done", job.traceback
    qtbot.waitUntil(lambda: listed_status(dock, job.run.id) == "completed", timeout=2000)


# ----------------------------------------------------------- with the jobs dock
def test_real_run_shows_in_both_docks_and_its_curve_matches_the_registry(qtbot, services, dock):
    jobs = JobsDock(services)
    qtbot.addWidget(jobs)
    assert dock.windowTitle() == "Runs"
    assert isinstance(dock.plot, LiveCurvePlot)

    job = submit(services, small_selfcheck())
    run_id = job.run.id
    qtbot.waitUntil(lambda: jobs.row_for(job) >= 0 and jobs.status_text(job) == "done", timeout=15000)
    assert jobs.progress_bar(job).value() == 100
    qtbot.waitUntil(lambda: listed_status(dock, run_id) == "completed", timeout=2000)  # no Refresh pressed

    item = dock.item_for(run_id)
    assert [item.text(c) for c in (0, 1, 2, 4)] == [str(run_id), "engine", "selfcheck-mlp", "cpu"]
    assert "val/loss" in item.text(7) and item.text(6).endswith("s")

    dock.select_runs([run_id])
    assert dock.selected_run_ids() == [run_id]
    names = [dock.metric_combo.itemText(i) for i in range(dock.metric_combo.count())]
    assert names == services.registry.metric_names(run_id)
    assert dock.metric_combo.currentText() == "val/loss"
    dock.metric_combo.setCurrentText("train/loss")
    key = f"#{run_id} engine/selfcheck-mlp"
    assert dock.plot.series_keys() == [key]
    series = services.registry.metric_series(run_id, "train/loss")
    assert len(series["step"]) == 3 * 8
    assert dock.plot.series_data(key)["step"] == series["step"]
    assert dock.plot.series_data(key)["value"] == series["value"]


# --------------------------------------------------------------------- live run
def test_points_of_a_running_run_arrive_live(qtbot, services, dock):
    job = submit(services, small_selfcheck(epochs=300, delay=0.02))
    run_id = job.run.id
    qtbot.waitUntil(lambda: job.status == "running" and job.done >= 5, timeout=10000)
    qtbot.waitUntil(lambda: listed_status(dock, run_id) == "running", timeout=2000)
    dock.select_runs([run_id])
    dock.metric_combo.setCurrentText("train/loss")
    assert dock.metric_combo.currentText() == "train/loss"
    key = dock.series_key(run_id)
    assert key in dock.plot.series_keys()
    # registry points plus the streamed ones not yet written (queued events may still be in flight)
    qtbot.waitUntil(lambda: len(dock.plot.series_data(key)["step"]) >= 5, timeout=2000)
    n0 = len(dock.plot.series_data(key)["step"])

    qtbot.waitUntil(lambda: len(dock.plot.series_data(key)["step"]) >= n0 + 10, timeout=5000)
    assert job.status == "running"
    steps = dock.plot.series_data(key)["step"]
    assert steps == list(range(1, len(steps) + 1)), "every step once, in order"

    job.cancel()
    qtbot.waitUntil(lambda: listed_status(dock, run_id) == "cancelled", timeout=3000)
    registry_steps = services.registry.metric_series(run_id, "train/loss")["step"]
    assert dock.plot.series_data(key)["step"] == registry_steps


def test_selecting_a_queued_run_fills_the_metric_list_as_it_starts(qtbot, services, dock, monkeypatch):
    blocker = submit(services, small_selfcheck(epochs=300, delay=0.02), model="blocker")
    waiting = submit(services, small_selfcheck(epochs=300, delay=0.02), model="waiting")  # queued behind it
    qtbot.waitUntil(lambda: listed_status(dock, waiting.run.id) == "queued", timeout=2000)
    dock.select_runs([waiting.run.id])
    assert dock.metric_combo.count() == 0

    # a queued (or running) run cannot be deleted
    warnings = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]) or None)
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: pytest.fail("must not ask about deleting an active run"))
    assert dock.delete_selected() == []
    assert len(warnings) == 1 and f"#{waiting.run.id}" in warnings[0]
    services.registry.get(waiting.run.id)  # still there

    blocker.cancel()
    qtbot.waitUntil(lambda: dock.metric_combo.currentText() == "train/loss", timeout=5000)
    key = dock.series_key(waiting.run.id)
    qtbot.waitUntil(lambda: key in dock.plot.series_keys() and len(dock.plot.series_data(key)["step"]) >= 5,
                    timeout=5000)
    assert waiting.status == "running"
    waiting.cancel()
    qtbot.waitUntil(lambda: listed_status(dock, waiting.run.id) == "cancelled", timeout=3000)


# ------------------------------------------------------- overlay, delete, export
@pytest.fixture
def two_runs(qtbot, services, dock):
    a = submit(services, small_selfcheck(seed=1))
    b = submit(services, small_selfcheck(epochs=2, seed=2))
    finish(qtbot, dock, a)
    finish(qtbot, dock, b)
    return a.run.id, b.run.id


def test_overlay_of_two_runs(services, dock, two_runs):
    a, b = two_runs
    assert dock.run_ids()[:2] == [b, a]  # newest first
    dock.select_runs([a, b])
    assert set(dock.selected_run_ids()) == {a, b}
    assert dock.metric_combo.currentText() == "val/loss"
    assert len(dock.plot.series_keys()) == 2
    for run_id in (a, b):
        key = dock.series_key(run_id)
        assert key in dock.plot.series_keys()
        assert dock.plot.series_data(key)["value"] == services.registry.metric_series(run_id, "val/loss")["value"]
    assert len(dock.plot.series_data(dock.series_key(a))["step"]) == 3
    assert len(dock.plot.series_data(dock.series_key(b))["step"]) == 2

    dock.metric_combo.setCurrentText("train/loss")
    assert [len(dock.plot.series_data(dock.series_key(r))["step"]) for r in (a, b)] == [24, 16]

    assert not dock.reopen_button.isEnabled() and not dock.export_button.isEnabled()
    assert dock.delete_button.isEnabled()
    dock.select_runs([])
    assert dock.plot.series_keys() == [] and dock.metric_combo.count() == 0
    assert not dock.delete_button.isEnabled()


def test_reopen_emits_the_record(qtbot, dock, two_runs):
    a, _b = two_runs
    dock.select_runs([a])
    assert dock.reopen_button.isEnabled()
    with qtbot.waitSignal(dock.reopen_requested, timeout=1000) as blocker:
        qtbot.mouseClick(dock.reopen_button, LEFT)
    record = blocker.args[0]
    assert record.id == a and record.status == "completed" and record.checkpoint


def test_delete_asks_first_and_keeps_files_by_default(qtbot, services, dock, two_runs, monkeypatch):
    a, b = two_runs
    folder = services.registry.get(a).dir
    assert folder.is_dir()  # the checkpoint lives there
    questions = []

    def answer(*replies):
        replies = list(replies)

        def question(parent, title, text, *args, **kwargs):
            questions.append(text)
            return replies.pop(0)
        monkeypatch.setattr(QtWidgets.QMessageBox, "question", question)

    dock.select_runs([a])
    answer(NO)
    assert dock.delete_selected() == []
    assert len(questions) == 1 and f"#{a} engine/selfcheck-mlp" in questions[0]
    services.registry.get(a)
    assert a in dock.run_ids()

    questions.clear()
    answer(YES, NO)  # delete the run, keep its folder
    assert dock.delete_selected() == [a]
    assert "Also delete the run folders (checkpoints)?" in questions[1]
    with pytest.raises(KeyError):
        services.registry.get(a)
    assert a not in dock.run_ids() and dock.selected_run_ids() == []
    assert folder.is_dir()

    folder_b = services.registry.get(b).dir
    dock.select_runs([b])
    answer(YES, YES)
    with qtbot.waitSignal(dock.runs_deleted, timeout=1000):
        qtbot.mouseClick(dock.delete_button, LEFT)
    assert b not in dock.run_ids()
    assert not folder_b.exists()


def test_export_csv(qtbot, services, dock, two_runs, tmp_path, monkeypatch):
    a, _b = two_runs
    dock.select_runs([a])
    target = tmp_path / "metrics.csv"
    assert dock.export_selected(target) == str(target)
    with open(target, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["metric", "step", "epoch", "wall_s", "value"]
    n_points = sum(len(services.registry.metric_series(a, n)["step"]) for n in services.registry.metric_names(a))
    assert len(rows) - 1 == n_points
    assert {r[0] for r in rows[1:]} == set(services.registry.metric_names(a))

    # through the file dialog: the suffix is added and the folder remembered
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "via-dialog"), "CSV files (*.csv)"))
    qtbot.mouseClick(dock.export_button, LEFT)
    assert (tmp_path / "via-dialog.csv").is_file()
    assert services.settings.value("runs/export_dir") == str(tmp_path)

    # a file that cannot be written is reported, naming it
    warnings = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]))
    bad = tmp_path / "missing-folder" / "m.csv"
    assert dock.export_selected(bad) is None
    assert len(warnings) == 1 and str(bad) in warnings[0]


def test_workbench_filter_and_refresh(qtbot, services, dock):
    reg = services.registry
    r1 = reg.create_run("engine", "mlp", status="completed")
    r2 = reg.create_run("sem", "resnet", status="failed")
    reg.update(r2.id, message="out of memory", final_metrics={"val/accuracy": 0.8125, "epochs": 3})
    assert dock.run_ids() == []  # not created through a job: only Refresh shows them
    qtbot.mouseClick(dock.refresh_button, LEFT)
    assert dock.run_ids() == [r2.id, r1.id]
    assert [dock.filter_combo.itemText(i) for i in range(dock.filter_combo.count())] == ["All", "engine", "sem"]
    item = dock.item_for(r2.id)
    assert item.toolTip(3) == "out of memory"
    assert item.text(7) == "val/accuracy 0.812 · epochs 3"

    dock.select_runs([r1.id])
    dock.filter_combo.setCurrentText("sem")
    assert dock.run_ids() == [r2.id]
    assert dock.selected_run_ids() == []
    dock.filter_combo.setCurrentText("All")
    assert dock.run_ids() == [r2.id, r1.id]

    # a run added by a job shows up without Refresh
    job = submit(services, small_selfcheck(epochs=1))
    qtbot.waitUntil(lambda: job.run.id in dock.run_ids(), timeout=2000)
    finish(qtbot, dock, job)


def test_format_final_metrics():
    assert format_final_metrics({}) == ""
    text = format_final_metrics({"train/loss": 0.123456, "val/loss": 0.5, "val/accuracy": 0.875, "note": "x",
                                 "lr": 1e-3})
    assert text == "val/loss 0.5 · val/accuracy 0.875 · train/loss 0.123"
