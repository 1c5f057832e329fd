"""Tests for the SEM Defects workbench (pytest-qt, offscreen, small synthetic datasets)."""
from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtGui, QtWidgets  # noqa: E402

from studio.engine.jobs import FINISHED  # noqa: E402
from studio.gui import sem_workbench as sw  # noqa: E402
from studio.gui.sem_workbench import SemWorkbench  # noqa: E402
from studio.sem.synthetic import generate_dataset  # noqa: E402
from tests.gui.workbench_helpers import idle, show_workbench  # noqa: E402

TINY_SAMPLE = {"sample_images": (4, 4), "sample_size": 256, "sample_seed": 0}


@pytest.fixture(scope="module")
def sem_data(tmp_path_factory) -> Path:
    """6 HNF + 6 NHNF images of 256x256 (2x2 patches each); copy it before changing it."""
    return generate_dataset(tmp_path_factory.mktemp("sem") / "d", n_hnf=6, n_nhnf=6, size=256, seed=0)


@pytest.fixture
def data_copy(sem_data, tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(sem_data, target)
    return target


@pytest.fixture
def bench(qtbot, services, monkeypatch):
    monkeypatch.setattr(SemWorkbench, "sample_options", dict(TINY_SAMPLE))
    return show_workbench(qtbot, services, SemWorkbench)



def load(qtbot, wb, path) -> None:
    wb.open_dataset_path(str(path))
    qtbot.waitUntil(lambda: wb.dataset is not None and idle(wb), timeout=15000)
    qtbot.waitUntil(lambda: wb.thumbnails_pending() == 0, timeout=10000)


def quick_settings(wb, iterations=6, batch=8, depth=5, fc40=True) -> None:
    wb.depth_spin.setValue(depth)
    wb.fc40_check.setChecked(fc40)
    wb.batch_spin.setValue(batch)
    wb.set_length(iterations, iterations=True)


def finish(qtbot, wb, job, timeout=30000) -> None:
    qtbot.waitUntil(lambda: job.status in FINISHED and job.id not in {j.id for j in wb.active_jobs()},
                    timeout=timeout)
    assert job.status == "done", job.traceback or job.error


def train(qtbot, wb, **kw):
    quick_settings(wb, **kw)
    job = wb.start_training()
    assert job is not None
    finish(qtbot, wb, job)
    return job


def wait_prediction(qtbot, wb, path) -> None:
    qtbot.waitUntil(lambda: str(path) in wb.predictions and idle(wb), timeout=15000)


# ------------------------------------------------------------------------- tests
def test_registered_as_the_sem_tab(qtbot, services):
    from studio.gui.main_window import MainWindow
    from studio.gui.workbenches import find

    spec = find("SEM Defects")
    assert spec is not None and spec.key == "sem" and "paper 004" in spec.sample_description
    w = MainWindow(services)
    qtbot.addWidget(w)
    assert isinstance(w.workbenches["sem"], SemWorkbench)
    assert w.show_tab("SEM Defects") and w.current_workbench() is w.workbenches["sem"]


def test_model_actions_wait_for_torch(qtbot, services, sem_data):
    wb = SemWorkbench(services)
    qtbot.addWidget(wb)
    load(qtbot, wb, sem_data)  # loading a dataset does not need torch in the GUI thread
    assert not wb.train_button.isEnabled() and not wb.evaluate_button.isEnabled()
    assert not wb.stop_button.isEnabled()
    services.mark_torch_ready()
    assert wb.train_button.isEnabled()


def test_paper_protocol_and_defaults():
    from studio.sem import jobs

    assert sw.PAPER_ITERATIONS == jobs.PAPER_ITERATIONS
    assert sw.DEFAULT_SHIFT == jobs.SemTrainConfig().shift
    assert sw.AVERAGE_FROM == jobs.SemTrainConfig().average_from
    assert (sw.BLUR_SIGMA_MAX, sw.NOISE_SIGMA_MAX) == (jobs.BLUR_SIGMA_MAX, jobs.NOISE_SIGMA_MAX)


def test_paper_protocol_button(bench, sem_data, qtbot):
    from studio.sem import jobs

    wb = bench
    assert wb.optimizer_combo.currentText() == "momentum"
    assert wb.lr_spin.value() == pytest.approx(1e-3) and wb.wd_spin.value() == pytest.approx(1e-4)
    assert wb.batch_spin.value() == 32 and wb.depth_spin.value() == 5 and wb.fc40_check.isChecked()
    assert wb.train_config().input_norm == jobs.SemTrainConfig().input_norm  # GUI and CLI defaults agree
    assert wb.train_config().augment == jobs.SemTrainConfig().augment
    assert wb.train_config().blur_noise == jobs.SemTrainConfig().blur_noise
    assert wb.train_config().shift == jobs.SemTrainConfig().shift
    assert wb.train_config().average_from == jobs.SemTrainConfig().average_from
    wb.patch_mode_combo.setCurrentIndex(0)
    assert not wb.shift_spin.isEnabled()  # shifts apply to representative patches only
    wb.paper_button.click()
    cfg = wb.train_config()
    assert cfg.patch_mode == "representative" and cfg.fit.iterations == 300 and cfg.fit.epochs is None
    assert wb.shift_spin.isEnabled()
    assert not cfg.augment and not cfg.blur_noise and cfg.shift == 0 and cfg.input_norm == "dataset"  # as published
    assert cfg.average_from is None and not wb.average_check.isChecked()
    assert cfg.fit.optimizer == "momentum" and cfg.fit.batch_size == 32 and cfg.depth == 5 and cfg.fc40
    wb.epochs_radio.setChecked(True)
    assert wb.length_spin.value() == 4  # epochs and iterations remember their own numbers
    wb.iterations_radio.setChecked(True)
    assert wb.length_spin.value() == 300
    wb.restore_config(jobs.SemTrainConfig(shift=8).to_dict())  # a run reopened
    assert wb.shift_spin.value() == 8 and wb.average_check.isChecked() and wb.blur_noise_check.isChecked()
    wb.restore_config({k: v for k, v in jobs.SemTrainConfig().to_dict().items()
                       if k not in ("shift", "average_from", "blur_noise")})
    assert wb.shift_spin.value() == 0 and not wb.average_check.isChecked()  # a run from before these options
    assert not wb.blur_noise_check.isChecked()


def test_open_sample_shows_counts_and_thumbnails(qtbot, bench, studio_home):
    wb = bench
    wb.open_sample()
    assert wb.stop_button.isEnabled()  # the loading job can be stopped
    qtbot.waitUntil(lambda: wb.dataset is not None and idle(wb), timeout=20000)
    qtbot.waitUntil(lambda: wb.thumbnails_pending() == 0, timeout=10000)
    assert wb.dataset_is_sample
    assert (studio_home / "samples") in Path(wb.dataset.root).parents
    text = wb.summary_label.text()
    assert "Sample" in text and "HNF</b> 4" in text and "NHNF</b> 4" in text
    assert wb.thumb_list.count() == 8
    assert all(p in wb.thumbs for p in wb.items)
    item = wb.thumb_list.item(5)
    path = item.data(sw.ROLE_PATH)
    assert path in item.toolTip() and "class: NHNF" in item.toolTip()
    assert not item.icon().isNull()
    assert wb.shown_path is not None and wb.view.grid_shape() == (2, 2)
    assert wb.train_button.isEnabled() and not wb.stop_button.isEnabled()
    wb.filter_combo.setCurrentIndex(wb.filter_combo.findData("class:HNF"))
    assert sum(not wb.thumb_list.item(i).isHidden() for i in range(8)) == 4


def test_bad_files_are_listed_not_fatal(qtbot, bench, data_copy):
    (data_copy / "HNF" / "broken.png").write_bytes(b"not an image at all")
    (data_copy / "NHNF" / "tiny.png").write_bytes((data_copy / "HNF" / "HNF_000.png").read_bytes()[:100])
    load(qtbot, bench, data_copy)
    assert bench.problems_button.isEnabled() and "2 skipped" in bench.problems_button.text()
    assert not bench.problems_list.isVisible()
    bench.problems_button.click()  # the collapsible list opens
    assert bench.problems_list.isVisible()
    texts = [bench.problems_list.item(i).text() for i in range(bench.problems_list.count())]
    assert any("broken.png" in t for t in texts) and any("tiny.png" in t for t in texts)
    assert bench.thumb_list.count() == 12


def test_one_class_folder_shows_a_message_and_the_app_lives_on(qtbot, bench, sem_data, tmp_path):
    one = tmp_path / "one"
    shutil.copytree(sem_data / "HNF", one / "HNF")
    job = bench.open_dataset_path(str(one))
    qtbot.waitUntil(lambda: job.status in FINISHED and idle(bench), timeout=10000)
    assert job.status == "failed"
    assert bench.message_label.isVisible() and "two classes" in bench.message_text()
    assert "e53935" in bench.message_label.styleSheet()  # red
    assert bench.dataset is None and bench.isVisible()
    assert QtWidgets.QApplication.activeModalWidget() is None  # no dialog
    load(qtbot, bench, sem_data)  # the next one works
    assert bench.dataset is not None and len(bench.dataset) == 12


def test_train_streams_curves_shows_metrics_and_retrains(qtbot, bench, sem_data, services):
    wb = bench
    load(qtbot, wb, sem_data)
    quick_settings(wb, iterations=6, batch=8)
    job = wb.start_training()
    assert job.kind == "train" and job.run is not None and job.run.workbench == "sem"
    assert not wb.train_button.isEnabled() and wb.stop_button.isEnabled()
    qtbot.waitUntil(lambda: "train/loss" in wb.curve.series_keys(), timeout=60000)
    assert len(wb.curve.series_data("train/loss")["step"]) >= 1  # points arrive while it trains
    finish(qtbot, wb, job)
    data = wb.curve.series_data("train/loss")
    assert data["step"] == list(range(1, 7))
    assert len(wb.curve.series_data("val/loss")["step"]) >= 1
    assert len(wb.curve.series_data("val/accuracy")["step"]) >= 1
    run = services.registry.get(job.run.id)
    assert run.status == "completed" and run.config["fit"]["iterations"] == 6
    assert wb.model_checkpoint and wb.model_run.id == job.run.id
    assert f"run #{job.run.id}" in wb.model_label.text()
    assert wb.train_button.isEnabled()
    calibrated = wb.model_meta.extra["share_threshold"]  # the training calibrated the verdict; the slider shows it
    assert wb.share_threshold == calibrated and "calibrated" in wb.status_text()  # exact, not the spin box's step
    assert wb.share_spin.value() == round(calibrated * 100, 2)
    headers = [wb.metrics_table.verticalHeaderItem(i).text() for i in range(wb.metrics_table.rowCount())]
    assert headers[:3] == ["HNF", "NHNF", "Average"] and "AUC" in headers and "Image accuracy" in headers
    assert wb.confusion_table.rowCount() == 2 and wb.confusion_table.columnCount() == 2
    total = sum(int(wb.confusion_table.item(i, j).text()) for i in range(2) for j in range(2))
    assert total == 4 * 4  # 4 test images (30 % of 12) x 4 patches
    n_wrong = sum(1 for e in job.result.test_images if not e["correct"])
    assert f"({n_wrong})" in wb.result_tabs.tabText(3)
    # the shown image is classified automatically after training
    wait_prediction(qtbot, wb, wb.shown_path)
    assert wb.verdict_text().startswith(("Defective", "Homogeneous"))
    assert not wb.stop_button.isEnabled()

    first = job.run.id
    checkpoint = wb.model_checkpoint
    again = wb.retrain(from_checkpoint=True)
    assert again.run.parent_id == first
    assert services.registry.get(again.run.id).config["init_checkpoint"] == checkpoint
    finish(qtbot, wb, again)
    assert wb.model_run.id == again.run.id and f"from #{first}" in wb.model_label.text()
    scratch = wb.retrain(from_checkpoint=False)
    assert scratch.run.parent_id == again.run.id
    assert services.registry.get(scratch.run.id).config["init_checkpoint"] is None
    finish(qtbot, wb, scratch)


def test_stop_cancels_training(qtbot, bench, sem_data):
    wb = bench
    load(qtbot, wb, sem_data)
    quick_settings(wb, iterations=100_000, batch=8)
    job = wb.start_training()
    qtbot.waitUntil(lambda: "train/loss" in wb.curve.series_keys(), timeout=60000)
    wb.stop_button.click()
    qtbot.waitUntil(lambda: job.status == "cancelled", timeout=15000)  # Cancel is checked every batch
    qtbot.waitUntil(lambda: idle(wb) and wb.train_button.isEnabled(), timeout=10000)
    assert not wb.stop_button.isEnabled() and "cancelled" in wb.status_text()
    assert wb.model_checkpoint is None  # a cancelled run does not replace the model


def test_inference_overlay_and_share_threshold(qtbot, bench, sem_data, services):
    wb = bench
    load(qtbot, wb, sem_data)
    wb.auto_check.setChecked(False)
    train(qtbot, wb)
    target = str(sem_data / "NHNF" / "NHNF_002.png")
    wb.show_image(target)
    assert "Not classified" in wb.verdict_text()
    job = wb.evaluate()
    assert job.kind == "task"
    wait_prediction(qtbot, wb, target)
    values = wb.view.cell_values()
    assert values.shape == (2, 2)
    pred = np.asarray(wb.predictions[target].patch_defect)
    np.testing.assert_allclose(values, pred, rtol=1e-6)
    rgba = wb.view.overlay_rgba()
    assert rgba.shape == (2, 2, 4) and np.array_equal(rgba[..., 3], np.round(pred * 255).astype(np.uint8))
    assert wb.view.overlay_item.isVisible()
    assert " of 4 patches (" in wb.verdict_text() and "above 0.5" in wb.verdict_text()

    # the verdict is re-decided from the stored probabilities, without a job
    wb.predictions[target].patch_defect = [[0.9, 0.2], [0.6, 0.1]]
    wb.show_image(target)
    n_jobs = len(services.pool.jobs)
    wb.set_share_threshold(0.25)
    assert wb.verdict_text().startswith("Defective — 2 of 4 patches (50%) above 0.5")
    wb.share_slider.setValue(150)  # half-percent steps
    assert wb.share_spin.value() == 75.0
    wb.set_share_threshold(0.125)
    assert wb.share_spin.value() == 12.5 and wb.share_slider.value() == 25
    assert wb.verdict_text().startswith("Defective — 2 of 4 patches (50%)") and "12.5 %" in wb.verdict_text()
    wb.set_share_threshold(0.75)
    assert wb.verdict_text().startswith("Homogeneous — 2 of 4 patches (50%) above 0.5")
    # a calibrated threshold off the slider's half-percent grid is used exactly, as the CLI does:
    # 7 of 64 patches = 10.9375 % is defective at 7/64 (shown as 10.94 %) and not at 11 % set by hand
    wb.predictions[target].patch_defect = [0.9] * 7 + [0.1] * 57
    wb.set_share_threshold(7 / 64)
    assert wb.share_spin.value() == 10.94 and wb.share_slider.value() == 22 and wb.share_threshold == 7 / 64
    assert wb.verdict_text().startswith("Defective — 7 of 64 patches") and "10.94 %" in wb.verdict_text()
    wb.share_slider.setValue(23)
    assert wb.share_threshold == 0.115 and wb.verdict_text().startswith("Homogeneous — 7 of 64 patches")
    wb.share_spin.setValue(11.0)
    assert wb.share_threshold == 0.11 and wb.verdict_text().startswith("Homogeneous — 7 of 64 patches")
    assert len(services.pool.jobs) == n_jobs
    wb.view.set_overlay_visible(False)
    assert not wb.view.overlay_item.isVisible()
    wb.view.set_overlay_opacity(0.3)
    assert wb.view.overlay_item.opacity() == pytest.approx(0.3)

    # Evaluate on a selection classifies every selected image
    for name in ("HNF/HNF_001.png", "HNF/HNF_003.png"):
        wb.items[str(sem_data / name)].setSelected(True)
    wb.items[target].setSelected(True)
    job = wb.evaluate()
    finish(qtbot, wb, job)
    assert len(job.result.images) == 3
    assert "model: " in wb.items[str(sem_data / "HNF/HNF_003.png")].toolTip()


def test_export_csv_and_png(qtbot, bench, sem_data, tmp_path, monkeypatch):
    wb = bench
    load(qtbot, wb, sem_data)
    train(qtbot, wb)
    wait_prediction(qtbot, wb, wb.shown_path)
    shown = wb.shown_path
    assert wb.export_predictions_csv(tmp_path / "pred.csv") == 1
    rows = list(csv.reader(open(tmp_path / "pred.csv", encoding="utf-8")))
    assert rows[0] == ["path", "verdict", "defect_share", "p_HNF", "p_NHNF", "error"]
    assert rows[1][0] == shown and rows[1][1] in ("defective", "homogeneous")
    wb.export_overlay_png(tmp_path / "overlay.png")
    image = QtGui.QImage(str(tmp_path / "overlay.png"))
    assert image.width() == 256 and image.height() > 256  # the image at full size plus the verdict strip

    warnings = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: warnings.append(a))
    bad = str(tmp_path / "missing" / "overlay.png")
    assert not wb._export_guarded(bad, wb.export_overlay_png)
    assert warnings and bad in warnings[0][2]


def test_open_paths_images_are_unlabelled(qtbot, bench, sem_data, tmp_path):
    wb = bench
    bad = tmp_path / "notes.txt"
    bad.write_text("x")
    wb.open_paths([str(sem_data / "HNF" / "HNF_000.png"), str(sem_data / "NHNF" / "NHNF_000.png"), str(bad)])
    qtbot.waitUntil(lambda: wb.thumbnails_pending() == 0, timeout=5000)
    assert wb.thumb_list.count() == 2 and len(wb.loose) == 2
    assert "class: Unlabelled" in wb.thumb_list.item(0).toolTip()
    assert wb.filter_combo.findData("loose") >= 0
    assert "notes.txt" in wb.message_text()
    assert wb.shown_path == str(sem_data / "HNF" / "HNF_000.png") and wb.view.grid_shape() == (2, 2)
    load(qtbot, wb, sem_data)  # a dataset keeps the loose images that are not part of it
    assert wb.thumb_list.count() == 12


def test_relabel_moves_the_file_and_never_overwrites(qtbot, bench, data_copy, monkeypatch):
    wb = bench
    load(qtbot, wb, data_copy)
    src = data_copy / "HNF" / "HNF_000.png"
    original = src.read_bytes()
    squatter = data_copy / "NHNF" / "HNF_000.png"  # a different file with the same name in the target
    squatter.write_bytes((data_copy / "NHNF" / "NHNF_000.png").read_bytes())
    squatter_bytes = squatter.read_bytes()

    asked = []
    monkeypatch.setattr(wb, "confirm", lambda title, text: asked.append(text) or False)
    assert wb.move_to_class([str(src)], "NHNF") == [] and src.exists()  # declined: nothing moves

    monkeypatch.setattr(wb, "confirm", lambda title, text: asked.append(text) or True)
    moved = wb.move_to_class([str(src)], "NHNF")
    assert len(asked) == 2 and "NHNF" in asked[1]
    dest = data_copy / "NHNF" / "HNF_000_2.png"
    assert moved == [str(dest)]
    assert not src.exists() and dest.read_bytes() == original and squatter.read_bytes() == squatter_bytes
    ds = wb.dataset
    i = ds.paths.index(dest)
    assert ds.class_names[ds.labels[i]] == "NHNF"
    assert "HNF</b> 5" in wb.summary_label.text() and "NHNF</b> 7" in wb.summary_label.text()
    assert "class: NHNF" in wb.items[str(dest)].toolTip()
    assert "renamed" in wb.message_text()

    # adding images copies them into a class folder, again without overwriting
    extra = data_copy.parent / "new.png"
    extra.write_bytes(original)
    added = wb.add_images_to_class([str(extra)], "HNF")
    assert added == [str(data_copy / "HNF" / "new.png")] and extra.exists()
    added = wb.add_images_to_class([str(extra)], "HNF")
    assert added == [str(data_copy / "HNF" / "new_2.png")]
    assert "HNF</b> 7" in wb.summary_label.text() and wb.thumb_list.count() == 14


def test_relabel_refused_for_csv_datasets(qtbot, bench, data_copy, monkeypatch):
    load(qtbot, bench, data_copy / "labels.csv")
    assert bench.dataset.source == "csv"
    monkeypatch.setattr(bench, "confirm", lambda *a: pytest.fail("must not ask"))
    src = data_copy / "HNF" / "HNF_001.png"
    assert bench.move_to_class([str(src)], "NHNF") == []
    assert src.exists() and "folder datasets only" in bench.message_text()


def test_relabelling_the_sample_works_on_a_copy(qtbot, bench, tmp_path, monkeypatch):
    wb = bench
    wb.open_sample()
    qtbot.waitUntil(lambda: wb.dataset is not None and idle(wb), timeout=20000)
    cache = Path(wb.dataset.root)
    cached_file = cache / "HNF" / "HNF_001.png"
    monkeypatch.setattr(wb, "confirm", lambda *a: True)
    monkeypatch.setattr(wb, "ask_folder", lambda *a: str(tmp_path / "mine"))
    (tmp_path / "mine").mkdir()
    moved = wb.move_to_class([str(cached_file)], "NHNF")
    copy = tmp_path / "mine" / cache.name
    assert moved == [str(copy / "NHNF" / "HNF_001.png")]
    assert cached_file.exists() and not (copy / "HNF" / "HNF_001.png").exists()
    assert not wb.dataset_is_sample and Path(wb.dataset.root) == copy
    assert "copied to" in wb.message_text() and "Moved 1 image(s) to NHNF" in wb.message_text()


def test_reopen_run_restores_the_model(qtbot, bench, sem_data, services):
    wb = bench
    load(qtbot, wb, sem_data)
    wb.patch_mode_combo.setCurrentIndex(wb.patch_mode_combo.findData("representative"))
    job = train(qtbot, wb, iterations=5, batch=4, depth=3, fc40=False)
    run = services.registry.get(job.run.id)

    other = SemWorkbench(services)
    qtbot.addWidget(other)
    assert other.model_checkpoint is None and other.depth_spin.value() == 5
    other.reopen_run(run)
    assert other.model_checkpoint and other.model_run.id == run.id
    assert other.model_meta.hyperparameters["depth"] == 3
    assert other.depth_spin.value() == 3 and not other.fc40_check.isChecked()
    assert other.iterations_radio.isChecked() and other.length_spin.value() == 5 and other.batch_spin.value() == 4
    assert other.patch_mode_combo.currentData() == "representative"
    assert other.metrics_table.rowCount() > 0 and other.confusion_table.rowCount() == 2
    assert len(other.curve.series_data("train/loss")["step"]) == 5
    assert f"run #{run.id}" in other.model_label.text()
    target = str(sem_data / "NHNF" / "NHNF_001.png")
    other.show_image(target)  # classified automatically with the reopened model
    wait_prediction(qtbot, other, target)
    assert np.asarray(other.predictions[target].patch_defect).shape == (2, 2)


def test_dropping_images_on_the_thumbnails_asks_for_a_class(qtbot, bench, data_copy, tmp_path, monkeypatch):
    wb = bench
    load(qtbot, wb, data_copy)
    new = tmp_path / "drop.png"
    new.write_bytes((data_copy / "NHNF" / "NHNF_001.png").read_bytes())
    monkeypatch.setattr(wb, "confirm", lambda *a: True)
    monkeypatch.setattr(wb, "ask_class", lambda paths, allow_unlabelled=True: "NHNF")
    wb.thumb_list.files_dropped.emit([str(new)])
    assert (data_copy / "NHNF" / "drop.png").exists() and "NHNF</b> 7" in wb.summary_label.text()
    monkeypatch.setattr(wb, "ask_class", lambda paths, allow_unlabelled=True: "")  # "open as unlabelled"
    wb.thumb_list.files_dropped.emit([str(new)])
    assert wb.loose == [str(new)] and not (data_copy / "NHNF" / "drop_2.png").exists()


def test_reopen_refuses_runs_without_a_checkpoint(bench, services):
    run = services.registry.create_run("sem", "cnn5-fc40", {})
    bench.reopen_run(run)
    assert bench.model_checkpoint is None and "no usable checkpoint" in bench.message_text()
    other = services.registry.create_run("audio", "dcl", {})
    bench.reopen_run(other)
    assert "audio" in bench.message_text()


def test_representative_evaluation_lists_wrong_patches_and_marks_the_counted_patch(qtbot, bench, sem_data):
    wb = bench
    load(qtbot, wb, sem_data)
    wb.patch_mode_combo.setCurrentIndex(wb.patch_mode_combo.findData("representative"))
    job = train(qtbot, wb)
    images = job.result.test_images
    assert images and all("representative" in e for e in images)
    listed = [e for e in images if not e["correct"] or not e["representative"]["correct"]]
    assert wb.result_tabs.tabText(3) == f"Misclassified ({len(listed)})"
    table = wb.metrics_table  # the fit on the training patches is shown beside the test figures
    row = [table.verticalHeaderItem(i).text() for i in range(table.rowCount())].index("Train accuracy")
    assert table.item(row, 0).text() == sw._pct(job.result.metrics["train/accuracy"])
    entry = images[0]
    wb.show_image(entry["path"])  # a test image: its representative patch is outlined
    assert wb.view.marked_cell() == (entry["representative"]["row"], entry["representative"]["col"])
    assert "representative patch" in wb.title_label.text()
    train_only = next(str(p) for p in wb.dataset.paths if str(p) not in {e["path"] for e in images})
    wb.show_image(train_only)
    assert wb.view.marked_cell() is None and "representative patch" not in wb.title_label.text()

    # the list names what was wrong: the counted patch, the whole-image verdict, or both
    path = entry["path"]
    wrong_patch = {"path": path, "label": "HNF", "predicted": "HNF", "defect_share": 0.0, "correct": True,
                   "representative": {"row": 1, "col": 0, "predicted": "NHNF", "defect_probability": 0.93,
                                      "correct": False}}
    wrong_image = {**wrong_patch, "predicted": "NHNF", "defect_share": 0.5, "correct": False,
                   "representative": {**wrong_patch["representative"], "predicted": "HNF", "correct": True}}
    assert sw.misclassification_text(wrong_patch) == "representative patch (1, 0) HNF → NHNF, P(defect) 93 %"
    assert sw.misclassification_text(wrong_image) == "image HNF → NHNF (50 % of patches defective)"
    assert sw.misclassification_text({**wrong_image, "representative": wrong_patch["representative"]}) == \
        "representative patch (1, 0) HNF → NHNF, P(defect) 93 %; image HNF → NHNF (50 % of patches defective)"
    assert sw.misclassification_text({**wrong_image, "correct": True, "representative": None}) == ""
    wb._show_evaluation({"metrics": {"test/accuracy": 0.5}, "report": {"patch_mode": "representative"},
                         "class_names": ["HNF", "NHNF"], "images": [wrong_patch]})
    assert wb.misclassified_list.count() == 1 and wb.result_tabs.tabText(3) == "Misclassified (1)"
    assert wb.misclassified_list.item(0).text().endswith("representative patch (1, 0) HNF → NHNF, P(defect) 93 %")
    wb._misclassified_clicked(wb.misclassified_list.item(0))
    assert wb.shown_path == path and wb.view.marked_cell() == (1, 0)
