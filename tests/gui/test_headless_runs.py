"""Runs made with ``studio-cli`` open in the GUI, and a model trained in the GUI predicts headless.

Both sides use the registry under ``$STUDIO_HOME`` (set per test by tests/conftest.py):
the CLI writes its runs there, the GUI's Runs dock lists them, and each workbench's
reopen path (``reopen_run``, what the dock's Reopen button triggers) loads the
checkpoint the CLI wrote.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from studio.cli import main as cli  # noqa: E402
from studio.engine.jobs import FINISHED  # noqa: E402
from studio.gui.runs_dock import RunsDock  # noqa: E402
from tests.gui.workbench_helpers import idle, show_workbench  # noqa: E402


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def listed_and_reopened(qtbot, services, run_id: int, workbench: str):
    """The Runs dock lists the run with its status; its Reopen button emits the record."""
    dock = RunsDock(services)
    qtbot.addWidget(dock)
    item = dock.item_for(run_id)
    assert item is not None, "the headless run is not in the Runs dock"
    assert [item.text(0), item.text(1), item.text(3)] == [str(run_id), workbench, "completed"]
    dock.select_runs([run_id])
    with qtbot.waitSignal(dock.reopen_requested, timeout=2000) as blocker:
        dock.reopen_selected()
    record = blocker.args[0]
    assert record.id == run_id and record.checkpoint
    return record


@pytest.fixture(scope="module")
def sem_data(tmp_path_factory) -> Path:
    from studio.sem.synthetic import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("sem") / "d", n_hnf=6, n_nhnf=6, size=256, seed=0)


def test_sem_cli_run_reopens_in_the_gui_and_a_gui_model_predicts_headless(qtbot, services, sem_data, tmp_path,
                                                                           capsys):
    from studio.gui.sem_workbench import SemWorkbench

    # headless training -> Runs dock -> Reopen -> the workbench classifies with that checkpoint
    assert cli(["sem", "train", "--data", str(sem_data), "--iters", "3", "--batch", "8", "--depth", "2",
                "--out", str(tmp_path / "cli-run"), "--device", "cpu", "--json", "-q"]) == 0
    trained = last_json(capsys)
    record = listed_and_reopened(qtbot, services, trained["run_id"], "sem")
    wb = show_workbench(qtbot, services, SemWorkbench)
    wb.auto_check.setChecked(False)
    wb.reopen_run(record)
    assert wb.model_checkpoint == record.checkpoint and wb.model_meta.hyperparameters["depth"] == 2
    image = str(sem_data / "NHNF" / "NHNF_001.png")
    wb.open_dataset_path(str(sem_data))
    qtbot.waitUntil(lambda: wb.dataset is not None and idle(wb), timeout=15000)
    job = wb.evaluate([image])
    qtbot.waitUntil(lambda: job.status in FINISHED, timeout=15000)
    assert job.status == "done", job.traceback
    assert cli(["sem", "predict", "--model", str(tmp_path / "cli-run"), image, "--device", "cpu", "--json",
                "-q"]) == 0
    headless = last_json(capsys)["predictions"][0]
    gui = job.result.images[0]
    assert headless["probabilities"] == pytest.approx(gui.probabilities, abs=1e-6)

    # a model trained in the GUI -> studio-cli sem predict with its run folder
    wb.depth_spin.setValue(1)
    wb.batch_spin.setValue(8)
    wb.set_length(3, iterations=True)
    job = wb.start_training()
    qtbot.waitUntil(lambda: job.status in FINISHED and idle(wb), timeout=30000)
    assert job.status == "done", job.traceback
    run = services.registry.get(job.run.id)
    assert cli(["sem", "predict", "--model", str(run.dir), image, "--device", "cpu", "--json", "-q"]) == 0
    headless = last_json(capsys)
    assert headless["status"] == "done" and headless["predictions"][0]["verdict"] in ("defective", "homogeneous")
    gui_job = wb.evaluate([image])
    qtbot.waitUntil(lambda: gui_job.status in FINISHED, timeout=15000)
    assert headless["predictions"][0]["probabilities"] == pytest.approx(gui_job.result.images[0].probabilities,
                                                                        abs=1e-6)


def test_segmentation_cli_run_reopens_in_the_gui(qtbot, services, tmp_path, capsys, monkeypatch):
    from studio.gui.segmentation_workbench import SegmentationWorkbench
    from studio.segmentation.synthetic import write_dataset

    monkeypatch.setattr(SegmentationWorkbench, "count_complexity", False)
    data = write_dataset(tmp_path / "data", preset="tiny", seed=1)
    assert cli(["seg", "train", "--data", str(data), "--iters", "2", "--batch", "2", "--base-width", "4",
                "--val-every", "1", "--variant", "alpha0.5", "--out", str(tmp_path / "run"), "--device", "cpu",
                "--json", "-q"]) == 0
    trained = last_json(capsys)
    record = listed_and_reopened(qtbot, services, trained["run_id"], "segmentation")
    wb = show_workbench(qtbot, services, SegmentationWorkbench)
    wb.reopen_run(record)
    assert wb.model_checkpoint == record.checkpoint and wb.model_variant == "alpha0.5"
    assert wb.table_row("alpha0.5")["mIoU"] == f"{trained['metrics']['test/miou']:.4f}"


def test_audio_cli_model_and_evaluation_reopen_in_the_gui(qtbot, services, tmp_path, capsys):
    from studio.audio.synthetic import generate_dataset
    from studio.gui.audio_workbench import AudioWorkbench

    data = generate_dataset(tmp_path / "us8k", per_class=10, classes=["car_horn", "siren"], max_seconds=0.5)
    run_dir = tmp_path / "cnn"
    assert cli(["audio", "train", "--data", str(data), "--model", "cnn", "--epochs", "1", "--width", "0.125",
                "--batch", "8", "--out", str(run_dir), "--device", "cpu", "--json", "-q"]) == 0
    trained = last_json(capsys)
    assert cli(["audio", "evaluate", "--model", str(run_dir), "--noise", "white", "--snr", "10",
                "--out", str(tmp_path / "eval"), "--device", "cpu", "--json", "-q"]) == 0
    evaluated = last_json(capsys)
    record = listed_and_reopened(qtbot, services, trained["run_id"], "audio")
    wb = show_workbench(qtbot, services, AudioWorkbench)
    wb.reopen_run(record)
    assert [m.checkpoint for m in wb.models.values()] == [record.checkpoint]
    evaluation = services.registry.get(evaluated["run_id"])
    assert evaluation.model == "eval-cnn"  # the name the GUI gives its own evaluation runs
    wb.reopen_run(evaluation)
    label = evaluation.config["label"]
    assert wb.evaluations[label]["grid"]["white"]["10"] == pytest.approx(evaluated["grid"]["white"]["10"])


def test_unmixing_cli_cnn_reopens_in_the_gui(qtbot, services, tmp_path, capsys):
    from studio.gui.unmixing_workbench import UnmixingWorkbench

    assert cli(["unmix", "train-cnn", "--dataset", "quartz-3", "--spectra-per-mixture", "4", "--epochs", "1",
                "--out", str(tmp_path / "cnn"), "--device", "cpu", "--json", "-q"]) == 0
    trained = last_json(capsys)
    record = listed_and_reopened(qtbot, services, trained["run_id"], "unmixing")
    wb = show_workbench(qtbot, services, UnmixingWorkbench)
    wb.reopen_run(record)
    assert wb.cnn_checkpoint == record.checkpoint
    assert f"{trained['metrics']['test/delta_rmse']:.4f}" in wb.cnn_label.text()
    assert np.isfinite(trained["metrics"]["test/delta_rmse"])
