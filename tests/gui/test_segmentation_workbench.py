"""Building Segmentation workbench (pytest-qt, offscreen): the "tiny" sample (160² scenes), 2-iteration trainings."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from studio.gui.mask_view import PREDICTED  # noqa: E402
from studio.gui.segmentation_workbench import SegmentationWorkbench  # noqa: E402
from studio.gui.workbenches import find  # noqa: E402
from tests.gui.workbench_helpers import idle, show_workbench  # noqa: E402

WAIT = 60_000


@pytest.fixture
def bench(qtbot, services, monkeypatch):
    monkeypatch.setattr(SegmentationWorkbench, "count_complexity", False)
    return show_workbench(qtbot, services, SegmentationWorkbench)



def open_tiny_sample(qtbot, wb) -> None:
    wb.sample_combo.addItem("tiny")  # the domain's test preset: 4/1/1 scenes of 160²
    wb.sample_combo.setCurrentText("tiny")
    wb.open_sample()
    qtbot.waitUntil(lambda: wb.dataset is not None and idle(wb) and wb.shown_path is not None, timeout=WAIT)


def tiny_training(wb) -> None:
    wb.iters_spin.setValue(2)
    wb.batch_spin.setValue(2)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_registered_as_the_segmentation_tab():
    spec = find("Building Segmentation")
    assert spec is not None and spec.key == "segmentation" and spec.load() is SegmentationWorkbench


def test_open_sample_train_predict_correct_undo_retrain_evaluate_reopen(qtbot, bench, services, studio_home):
    open_tiny_sample(qtbot, bench)
    assert {e.split for e in bench.entries.values()} == {"train", "val", "test"}
    assert bench.image_list.topLevelItemCount() == 6
    assert bench.view.image_shape() == (160, 160) and bench.view.truth() is not None
    assert bench.model_checkpoint is None and "untrained" in bench.model_label.text()
    assert not bench.predict_button.isEnabled()  # an untrained model is never used
    dataset_files = digest(Path(bench.dataset_root))

    # train a few iterations: points arrive in the live curve, the table gets a row
    bench.variant_combo.setCurrentText("alpha0.5")
    assert [s.value() for s in bench.alpha_spins] == [0.5] * 4
    bench.bn_combo.setCurrentIndex(bench.bn_combo.findData("constant"))  # Table II's initialisation
    tiny_training(bench)
    job = bench.train()
    assert job is not None and job.run is not None
    qtbot.waitUntil(lambda: job.status in ("done", "failed") and idle(bench), timeout=WAIT)
    assert job.status == "done", job.error
    bench.curve.flush()
    assert bench.curve.series_data("train/loss")["step"], "no loss points reached the curve"
    assert bench.model_checkpoint and bench.model_variant == "alpha0.5"
    row = bench.table_row("alpha0.5 · BN 1")  # its own row, apart from Table I's N(0, 1) runs
    assert row["mIoU"] and 0.0 <= float(row["mIoU"]) <= 1.0
    assert row["Params"] == f"{job.result.params / 1e6:.2f} M"  # the network that was trained

    # the shown image was segmented after training: overlay shown, compared with the truth
    qtbot.waitUntil(lambda: bench.shown_path in bench.predictions and idle(bench), timeout=WAIT)
    assert bench.view.has_mask() and bench.view.mode == "compare"
    assert bench.view.overlay_item.isVisible() and bench.view.overlay_item.image is not None
    assert bench.image_metrics.get(bench.shown_path), "no per-image metrics after predict"
    assert bench.items[bench.shown_path].text(2) != ""
    predicted = bench.view.mask()

    # paint a correction, see it in the overlay, undo it with Ctrl+Z
    bench.view.set_tool("brush")
    bench.view.set_brush_size(9)
    assert bench.view.paint_stroke([(20.0, 20.0), (60.0, 20.0)], erase=predicted[20, 40])
    assert not np.array_equal(bench.view.mask(), predicted)
    assert bench.shown_path in bench.edited and "✎" in bench.items[bench.shown_path].text(0)
    bench.view.set_mode("prediction")
    assert (bench.view.labels() == PREDICTED).sum() == bench.view.mask().sum()
    bench.view.setFocus()
    QTest.keyClick(bench.view, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(bench.view.mask(), predicted), "Ctrl+Z did not restore the predicted mask"

    # a correction that stays: add it to the training set (a new PNG, dataset untouched), retrain from it
    assert bench.view.paint_stroke([(80.0, 80.0), (120.0, 90.0)], erase=False)
    corrected = bench.view.mask()
    saved = bench.add_to_training_set()
    assert saved is not None and saved.is_file() and studio_home in saved.parents
    assert np.array_equal(np.asarray(Image.open(saved)) > 0, corrected)
    assert bench.extra_samples == [(bench.shown_path, str(saved))]
    assert digest(Path(bench.dataset_root)) == dataset_files, "the dataset's files changed"
    again = bench.add_to_training_set()  # a second save never overwrites the first
    assert again != saved and saved.is_file() and len(bench.extra_samples) == 1
    parent_run, parent_checkpoint = bench.model_run, bench.model_checkpoint
    retrain = bench.retrain(from_checkpoint=True)
    assert retrain is not None and retrain.run is not None
    cfg = retrain.run.config
    assert cfg["init_checkpoint"] == parent_checkpoint
    assert [list(s) for s in cfg.get("extra_samples", [])] == [[bench.shown_path, str(again)]]
    qtbot.waitUntil(lambda: retrain.status in ("done", "failed") and idle(bench), timeout=WAIT)
    assert retrain.status == "done", retrain.error
    assert bench.model_run.parent_id == parent_run.id
    # the hand-corrected mask was not replaced by the new model's prediction
    assert np.array_equal(bench.view.mask(), corrected)

    # export: PNG and GeoTIFF of the shown mask
    out = studio_home / "exports"
    out.mkdir()
    bench.export_mask(out / "m.png", "png")
    bench.export_mask(out / "m.tif", "geotiff")
    assert np.array_equal(np.asarray(Image.open(out / "m.png")) > 0, corrected)
    assert (out / "m.tif").stat().st_size > 0

    # evaluate the current model on the test split: per-image metrics in the list
    ev = bench.evaluate()
    assert ev is not None
    qtbot.waitUntil(lambda: ev.status in ("done", "failed") and idle(bench), timeout=WAIT)
    assert ev.status == "done", ev.error
    test_paths = [p for p, e in bench.entries.items() if e.split == "test"]
    assert test_paths and all(bench.image_metrics.get(p) for p in test_paths)
    assert "mIoU" in bench.status_text()

    # Runs dock ▸ Reopen the first run in a fresh workbench: model, settings, curves, table row
    run = services.registry.get(job.run.id)
    other = SegmentationWorkbench(services)
    qtbot.addWidget(other)
    other.reopen_run(run)
    assert other.model_checkpoint == run.checkpoint and other.model_variant == "alpha0.5"
    assert other.bn_combo.currentData() == "constant" and other.iters_spin.value() == 2
    assert other.table_row("alpha0.5 · BN 1")["mIoU"] != ""
    other.curve.flush()
    assert other.curve.series_keys()

    # the corrections list survives a restart: opening the same dataset again restores it; Clear empties it
    corrections = list(bench.extra_samples)
    open_tiny_sample(qtbot, other)
    assert other.extra_samples == corrections and "1 corrected mask" in other.corrections_label.text()
    other.clear_corrections()
    assert other.extra_samples == [] and Path(corrections[0][1]).is_file()
    third = SegmentationWorkbench(services)
    qtbot.addWidget(third)
    open_tiny_sample(qtbot, third)
    assert third.extra_samples == []


def test_repeat_runs_fill_the_box_plot(qtbot, bench):
    open_tiny_sample(qtbot, bench)
    tiny_training(bench)
    job = bench.repeat_runs(2)
    assert job is not None
    qtbot.waitUntil(lambda: job.status in ("done", "failed") and idle(bench), timeout=WAIT)
    assert job.status == "done", job.error
    assert bench.box_plot.group_names() == ["baseline"]
    assert len(bench.box_plot.values("baseline")) == 2


def test_complexity_of_every_variant_before_training(qtbot, services, monkeypatch):
    from studio.gui import segmentation_workbench as module

    counted = []

    def fake_complexity(model, size=250):  # the real count is the domain's test; here: the table is filled
        counted.append(size)
        return sum(p.numel() for p in model.parameters()), 1.25

    monkeypatch.setattr("studio.segmentation.models.model_complexity", fake_complexity)
    wb = module.SegmentationWorkbench(services)
    qtbot.addWidget(wb)
    services.mark_torch_ready()
    assert not wb.active_jobs(), "counted before the tab was shown"
    wb.show()
    from studio.segmentation.models import VARIANTS

    qtbot.waitUntil(lambda: len(wb.complexity) == len(VARIANTS) and idle(wb), timeout=WAIT)
    assert set(counted) == {250} and len(counted) == len(VARIANTS)
    assert wb.table_row("baseline")["Params"] == f"{wb.complexity['baseline'][0] / 1e6:.2f} M"
    assert wb.table_row("gating")["GFLOPs"] == "1.25" and wb.table_row("gating")["mIoU"] == ""
    # counted once per install: a new workbench reads the cache
    again = module.SegmentationWorkbench(services)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(lambda: len(again.complexity) == len(VARIANTS), timeout=WAIT)
    assert len(counted) == len(VARIANTS) and again.complexity == wb.complexity


def test_bad_datasets_show_a_message_and_the_app_keeps_running(qtbot, bench, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    job = bench.open_dataset(str(empty))
    qtbot.waitUntil(lambda: job.status in ("done", "failed") and idle(bench), timeout=WAIT)
    assert job.status == "failed" and job.user_error
    assert str(empty) in bench.message_text() and bench.message_label.property("level") == "error"

    # a dataset with one good pair and one mask of the wrong size: the good image loads, the bad one is listed
    root = tmp_path / "ds"
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, mask_size in (("good", 64), ("bad", 40)):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(root / "images" / f"{name}.png")
        Image.fromarray(np.zeros((mask_size, mask_size), np.uint8)).save(root / "masks" / f"{name}.png")
    job = bench.open_dataset(str(root))
    qtbot.waitUntil(lambda: bench.dataset is not None and idle(bench), timeout=WAIT)
    assert job.status == "done"
    assert [e.name for e in bench.entries.values()] == ["good"]
    assert bench.problems_label.isVisibleTo(bench) and "bad" in bench.problems_label.toolTip()

    # an unreadable image opened on its own: a message naming it, nothing shown, still responsive
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a tiff")
    bench.open_images([str(broken)])
    qtbot.waitUntil(lambda: idle(bench), timeout=WAIT)
    assert "broken.tif" in bench.message_text()
    bench.image_list.setCurrentItem(bench.items[str(root / "images" / "good.png")])
    qtbot.waitUntil(lambda: idle(bench) and bench.shown_path == str(root / "images" / "good.png"), timeout=WAIT)
    assert bench.view.image_shape() == (64, 64)


def test_fits_a_1200_px_window_without_sideways_scrolling(qtbot, services, monkeypatch):
    from studio.gui.main_window import MainWindow

    monkeypatch.setattr(SegmentationWorkbench, "count_complexity", False)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    assert window.show_tab("Building Segmentation")
    window.show()
    qtbot.waitExposed(window)
    (wb,) = window.findChildren(SegmentationWorkbench)
    qtbot.waitUntil(lambda: wb._sized and sum(wb.splitter.sizes()) > 0, timeout=5000)
    QtWidgets.QApplication.processEvents()
    assert window.width() == 1200, "a minimum size pushed the window wider than 1200 px"
    assert not wb.left_panel.horizontalScrollBar().isVisible()
    assert min(wb.splitter.sizes()) >= 230


def test_geotiff_export_keeps_the_inputs_georeferencing(qtbot, bench, tmp_path):
    import tifffile

    from studio.segmentation import io

    src = tmp_path / "tile.tif"
    tie = (0.0, 0.0, 0.0, 330000.0, 4690000.0, 0.0)
    tifffile.imwrite(src, np.random.default_rng(1).integers(0, 65535, (96, 128), dtype=np.uint16),
                     extratags=[(33550, 12, 3, (1.0, 1.0, 0.0), True), (33922, 12, 6, tie, True)])
    bench.open_images([str(src)])
    qtbot.waitUntil(lambda: bench.shown_path == str(src) and idle(bench), timeout=WAIT)
    assert bench.view.image_shape() == (96, 128) and bench.view.display_image().dtype == np.uint8
    # no model: paint a mask by hand (an untrained model is never run), then export it
    assert bench.view.paint_stroke([(10.0, 10.0), (60.0, 40.0)], erase=False)
    assert bench.export_png_button.isEnabled()
    out = tmp_path / "out" / "tile_mask.tif"
    bench.export_mask(out, "geotiff")
    assert np.array_equal(tifffile.imread(out) > 0, bench.view.mask())
    assert io.geo_tags(out) == io.geo_tags(src) and len(io.geo_tags(src)) == 2


def test_rows_and_boxes_are_named_by_variant_bn_init_and_own_weights():
    from studio.gui.segmentation_workbench import variant_label

    assert variant_label("alpha0.5", "normal", [0.5] * 4, [1.0] * 4) == "alpha0.5"
    assert variant_label("baseline", "constant") == "baseline · BN 1"
    assert variant_label("fused", "normal", [1, 1, 1, 1], None) == "fused · α 1/1/1/1"  # its own α is 0.5
    assert variant_label("beta0.1", "normal", None, [0.1, 0.2, 0.1, 0.1]) == "beta0.1 · β 0.1/0.2/0.1/0.1"


def test_a_checkpoint_of_another_workbench_is_refused(qtbot, bench, tmp_path):
    import json

    (tmp_path / "model.json").write_text(json.dumps({"model_kind": "sem-cnn", "hyperparameters": {}}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert not bench._set_model(str(tmp_path / "model.safetensors"), "baseline", None)
    assert "sem-cnn" in bench.message_text() and bench.model_checkpoint is None
    assert not bench._set_model(str(tmp_path / "missing" / "model.safetensors"), "baseline", None)
    assert bench.model_checkpoint is None and not bench.predict_button.isEnabled()
