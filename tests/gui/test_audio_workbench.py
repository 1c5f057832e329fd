"""Tests for the Audio Enhancement workbench (pytest-qt, offscreen, a tiny generated dataset).

The dataset is a folder per class with a few 1 s clips at 8 kHz written here with
soundfile (so reading also resamples); trainings run one or two epochs.
"""
from __future__ import annotations

import csv
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

from studio.gui import audio_player  # noqa: E402
from studio.gui.audio_workbench import (MODEL_LABELS, NOISE_KINDS, SAMPLE_RATE, SEGMENT_SECONDS,  # noqa: E402
                                        AudioWorkbench, is_curve_metric, noise_label, parse_grid_metric,
                                        safe_name)
from studio.gui.workbenches import find  # noqa: E402
from tests.gui.workbench_helpers import idle, show_workbench  # noqa: E402

WAIT = 60000


def write_tiny_dataset(root, per_class: int = 5, rate: int = 8000):
    """Three classes that differ in spectrum: a low tone, a high tone, clicks; seeded."""
    rng = np.random.default_rng(0)
    t = np.arange(rate) / rate
    makers = {
        "hum": lambda k: 0.5 * np.sin(2 * np.pi * (120 + 10 * k) * t),
        "whistle": lambda k: 0.4 * np.sin(2 * np.pi * (2500 + 50 * k) * t),
        "clicks": lambda k: np.where(rng.random(rate) > 0.995, 0.9, 0.0) + 0.01 * rng.standard_normal(rate),
    }
    for name, make in makers.items():
        folder = root / name
        folder.mkdir(parents=True)
        for k in range(per_class):
            x = make(k) + 0.02 * rng.standard_normal(rate)
            sf.write(folder / f"{name}_{k}.wav", x.astype(np.float32), rate, subtype="PCM_16")
    return root


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_dataset(tmp_path / "tiny")


@pytest.fixture
def bench(qtbot, services, monkeypatch):
    monkeypatch.setattr(AudioWorkbench, "train_options", {"width": 0.25})  # a quarter of the paper's channels
    return show_workbench(qtbot, services, AudioWorkbench)



def open_tiny(qtbot, wb, root):
    wb.open_dataset_path(str(root))
    qtbot.waitUntil(lambda: wb.dataset is not None and wb.inspection_is_current() and idle(wb), timeout=WAIT)


def wait_inspected(qtbot, wb, **expected):
    qtbot.waitUntil(lambda: idle(wb) and wb.inspection_is_current() and all(
        wb.inspected_options[k] == v for k, v in expected.items()), timeout=WAIT)


def test_registered_and_in_step_with_the_domain():
    spec = find("Audio Enhancement")
    assert spec is not None and spec.key == "audio" and spec.load() is AudioWorkbench
    from studio.audio import io, jobs, models, noise

    assert tuple(MODEL_LABELS) == tuple(models.MODEL_KINDS) and MODEL_LABELS == jobs.MODEL_LABELS
    for name in ("pink", "/data/NOISEX-92/f16.wav", "babble"):
        assert noise_label(name) == jobs.noise_label(name)
    assert tuple(NOISE_KINDS) == tuple(noise.NOISE_TYPES)
    assert SAMPLE_RATE == io.SAMPLE_RATE and SEGMENT_SECONDS == io.SEGMENT_SECONDS
    assert parse_grid_metric("grid/pink/5") == ("pink", "5")
    assert parse_grid_metric("grid//data/noise/f16.wav/0") == ("/data/noise/f16.wav", "0")
    assert parse_grid_metric("train/loss") is None
    assert is_curve_metric("train/loss") and is_curve_metric("val/accuracy") and is_curve_metric("stage2/val/loss")
    assert not is_curve_metric("lr") and not is_curve_metric("train/epoch_loss") and not is_curve_metric("grid/pink/5")


def test_open_dataset_change_snr_and_noise_updates_the_mel_images(qtbot, bench, tiny, tmp_path):
    open_tiny(qtbot, bench, tiny)
    assert bench.clip_list.topLevelItemCount() == 15
    assert sorted({bench.clip_list.topLevelItem(i).text(1) for i in range(15)}) == ["clicks", "hum", "whistle"]
    assert bench.waveform is not None and len(bench.waveform) == int(4.0 * SAMPLE_RATE)
    titles = bench.mel_grid.titles()
    assert titles[0] == "clean" and titles[1].startswith("noisy (pink, 5 dB")
    clean = bench.mel_grid.array("clean").copy()
    noisy5 = bench.mel_grid.array(titles[1]).copy()
    assert clean.shape[0] == 40 and np.isfinite(noisy5).all()
    assert bench.noisy is not None and bench.noisy.shape == bench.waveform.shape
    # a cleaner mix: the noisy image moves towards the clean one
    bench.set_snr(30)
    wait_inspected(qtbot, bench, snr=30)
    noisy30 = bench.mel_grid.array(bench.mel_grid.titles()[1])
    assert "30 dB" in bench.mel_grid.titles()[1]
    np.testing.assert_allclose(bench.mel_grid.array("clean"), clean)
    assert np.abs(noisy30 - clean).mean() < np.abs(noisy5 - clean).mean()
    # the measured SNR of the mix that is plotted and played is the one asked for
    residual = bench.noisy - bench.waveform
    snr = 10 * np.log10(np.sum(bench.waveform.astype(np.float64) ** 2) / np.sum(residual.astype(np.float64) ** 2))
    assert abs(snr - 30) < 0.1
    bench.set_noise("white")
    wait_inspected(qtbot, bench, noise="white")
    assert bench.mel_grid.titles()[1].startswith("noisy (white, 30 dB")
    # a noise recording the user opens (e.g. a NOISEX-92 file), at its own sample rate
    rng = np.random.default_rng(1)
    hum = 0.3 * np.sin(2 * np.pi * 50 * np.arange(22050) / 22050) + 0.05 * rng.standard_normal(22050)
    sf.write(tmp_path / "f16_cockpit.wav", hum.astype(np.float32), 22050)
    assert bench.use_noise_file(str(tmp_path / "f16_cockpit.wav"))
    wait_inspected(qtbot, bench, noise=str(tmp_path / "f16_cockpit.wav"))
    assert bench.mel_grid.titles()[1].startswith("noisy (f16_cockpit, 30 dB")
    assert "f16_cockpit" in bench.noise_combo.currentText()
    assert not bench.use_noise_file(str(tmp_path / "missing.wav")) and "missing.wav" in bench.message_text()
    bench.set_noise("white")
    wait_inspected(qtbot, bench, noise="white")
    # another clip
    bench.select_clip(7)
    qtbot.waitUntil(lambda: idle(bench) and bench.clip_path == bench.clip_paths()[7], timeout=WAIT)
    wait_inspected(qtbot, bench, noise="white")
    assert not np.allclose(bench.mel_grid.array("clean"), clean)


def test_open_sample_then_snr_updates_the_mel_images(qtbot, bench, monkeypatch):
    from studio.audio import synthetic

    monkeypatch.setitem(synthetic.PRESETS, "tiny", 1)  # one clip per class: generated in about a second
    monkeypatch.setattr(AudioWorkbench, "sample_preset", "tiny")
    bench.open_sample()
    qtbot.waitUntil(lambda: bench.dataset is not None and idle(bench), timeout=WAIT)
    assert bench.dataset_is_sample and bench.clip_list.topLevelItemCount() == 10
    assert bench.class_filter.count() == 11 and "siren (1)" in [bench.class_filter.itemText(i) for i in range(11)]
    wait_inspected(qtbot, bench)
    before = bench.mel_grid.array(bench.mel_grid.titles()[1]).copy()
    bench.set_snr(-5)
    wait_inspected(qtbot, bench, snr=-5)
    assert "−5 dB" in bench.mel_grid.titles()[1]
    assert not np.allclose(bench.mel_grid.array(bench.mel_grid.titles()[1]), before)


def test_short_training_streams_curve_points_then_enhancer_evaluation_and_exports(qtbot, bench, tiny, services,
                                                                                tmp_path, monkeypatch):
    open_tiny(qtbot, bench, tiny)
    assert not bench.train_button.isEnabled() or bench.kind_combo.currentData() == "cnn"
    bench.kind_combo.setCurrentIndex(bench.kind_combo.findData("sfe"))
    assert not bench.train_button.isEnabled()  # an enhancer needs a trained CNN-FC
    bench.kind_combo.setCurrentIndex(bench.kind_combo.findData("cnn"))
    bench.epochs_spin.setValue(2)
    job = bench.train()
    assert job is not None and job.run is not None
    qtbot.waitUntil(lambda: job.status in ("done", "failed", "cancelled") and idle(bench), timeout=WAIT)
    assert job.status == "done", job.error
    bench.curve.flush()
    n_curve = len(bench.curve.series_data("train/loss")["step"])
    assert n_curve == len(services.registry.metric_series(job.run.id, "train/loss")["step"]) > 0
    cnn_label = f"CNN-FC #{job.run.id}"
    assert f"dev {100 * job.result.metrics['dev/accuracy']:.1f} %" in bench.status_text()
    assert cnn_label in bench.models and bench.classifier_combo.currentText() == cnn_label
    wait_inspected(qtbot, bench)
    probs = bench.prob_bars.series()
    assert "noisy" in probs and abs(probs["noisy"].sum() - 1) < 1e-4
    # an enhancer through the frozen classifier: its mask and enhanced features join the grid
    bench.kind_combo.setCurrentIndex(bench.kind_combo.findData("sfe"))
    bench.epochs_spin.setValue(1)
    assert bench.train_button.isEnabled()
    job2 = bench.train()
    qtbot.waitUntil(lambda: job2.status in ("done", "failed", "cancelled") and idle(bench), timeout=WAIT)
    assert job2.status == "done", job2.error
    sfe_label = f"SFE #{job2.run.id}"
    wait_inspected(qtbot, bench)
    assert f"{sfe_label} mask" in bench.mel_grid.titles() and f"{sfe_label} enhanced" in bench.mel_grid.titles()
    mask = bench.mel_grid.array(f"{sfe_label} mask")
    assert mask.min() >= 0 and mask.max() <= 1
    assert sfe_label in bench.prob_bars.series()  # the class probabilities of its enhanced input
    # evaluate the enhancer on two noises × two SNRs: the heat map fills in from the streamed grid metrics
    bench.models_list.setCurrentRow(1)
    assert bench.selected_model().label == sfe_label
    ev = bench.evaluate(snrs=(5, 0), noises=("pink", "white"))
    qtbot.waitUntil(lambda: ev.status in ("done", "failed", "cancelled") and idle(bench), timeout=WAIT)
    assert ev.status == "done", ev.error
    assert bench.grid_table.filled_count() == 4 and bench.grid_table.row_labels() == ["pink", "white"]
    for noise, cells in ev.result["grid"].items():
        for snr, acc in cells.items():
            assert bench.grid_table.value(noise, f"{float(snr):g}") == pytest.approx(acc)
    streamed = [n for n in services.registry.metric_names(ev.run.id) if n.startswith("grid/")]
    assert len(streamed) == 4
    assert bench.clean_table.value(sfe_label, "test") == pytest.approx(ev.result["clean"]["test"])
    assert bench.confusion_table.rowCount() == len(ev.result["classes"])
    # exports
    bench.export_features(str(tmp_path / "enh.npy"), sfe_label)
    np.testing.assert_allclose(np.load(tmp_path / "enh.npy"), bench.mel_grid.array(f"{sfe_label} enhanced"))
    bench.grid_table.export_csv(tmp_path / "grid.csv")
    rows = list(csv.reader(open(tmp_path / "grid.csv", encoding="utf-8")))
    assert len(rows) == 3 and rows[0][1:] == ["5", "0"] and float(rows[1][1]) == pytest.approx(
        ev.result["grid"]["pink"][5])
    # the classifier alone on the same grid; then the enhancer's grid as a difference to it (Table 2's question)
    bench.models_list.setCurrentRow(0)
    ev_cnn = bench.evaluate(snrs=(5, 0), noises=("pink", "white"))
    qtbot.waitUntil(lambda: ev_cnn.status in ("done", "failed", "cancelled") and idle(bench), timeout=WAIT)
    assert ev_cnn.status == "done", ev_cnn.error
    assert bench.results_combo.currentText() == cnn_label
    bench.results_combo.setCurrentText(sfe_label)
    bench.baseline_combo.setCurrentText(cnn_label)
    bench.compare_check.setChecked(True)
    delta = ev.result["grid"]["pink"][0] - ev_cnn.result["grid"]["pink"][0]
    assert bench.grid_table.value("pink", "0") == pytest.approx(delta)
    assert bench.grid_table.item(0, 1).text() in (f"{100 * delta:+.1f}".replace("-", "−"),)
    bench.compare_check.setChecked(False)
    assert bench.grid_table.value("pink", "0") == pytest.approx(ev.result["grid"]["pink"][0])
    # the evaluation run reopens in a fresh workbench (Runs dock ▸ Reopen)
    other = AudioWorkbench(services)
    qtbot.addWidget(other)
    other.reopen_run(services.registry.get(ev.run.id))
    assert other.results_combo.currentText() == sfe_label and other.grid_table.filled_count() == 4
    assert other.grid_table.value("pink", "0") == pytest.approx(ev.result["grid"]["pink"][0])
    assert other.clean_table.value(sfe_label, "dev") == pytest.approx(ev.result["clean"]["dev"])
    # File ▸ Export: every action is enabled now and writes its file
    from PySide6 import QtWidgets

    out = tmp_path / "exports"
    out.mkdir()
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        staticmethod(lambda parent, title, default, filters: (str(out / os.path.basename(default)),
                                                                              filters)))
    actions = [a for a in bench.export_menu().actions() if not a.isSeparator()]
    assert all(a.isEnabled() for a in actions) and not any("CNN-FC" in a.text() for a in actions)
    for action in actions:
        if action.isEnabled():
            action.trigger()
    written = sorted(p.name for p in out.iterdir())
    assert f"{bench._clip_stem()}-{safe_name(sfe_label)}-enhanced.npy" in written, written
    assert len([n for n in written if n.endswith(".csv")]) == 4 and len([n for n in written if n.endswith(".png")]) == 4
    assert bench.message_label.isHidden() or bench.message_label.property("level") != "error", bench.message_text()


def test_reopen_runs_in_a_fresh_workbench(qtbot, bench, tiny, services):
    open_tiny(qtbot, bench, tiny)
    bench.epochs_spin.setValue(1)
    job = bench.train()
    qtbot.waitUntil(lambda: job.status in ("done", "failed", "cancelled") and idle(bench), timeout=WAIT)
    assert job.status == "done", job.error
    other = AudioWorkbench(services)
    qtbot.addWidget(other)
    other.reopen_run(services.registry.get(job.run.id))
    assert f"CNN-FC #{job.run.id}" in other.models
    other.curve.flush()
    assert other.curve.series_data("train/loss")["step"]
    assert "Reopened run" in other.message_text()
    other.reopen_run(services.registry.create_run("sem", "cnn2", {}))
    assert "belongs to the sem workbench" in other.message_text()
    # retrain from the reopened model's weights: a child run that starts from its checkpoint
    bench.add_model(other.models[f"CNN-FC #{job.run.id}"])
    bench.continue_check.setChecked(True)
    child = bench.train()
    assert child is not None and child.run.parent_id == job.run.id
    assert child.run.config["init_checkpoint"] == job.run.checkpoint
    qtbot.waitUntil(lambda: child.status in ("done", "failed", "cancelled") and idle(bench), timeout=WAIT)
    assert child.status == "done", child.error
    wait_inspected(qtbot, bench)


def test_play_buttons_disabled_without_an_audio_output(qtbot, services, monkeypatch, tiny):
    real_ok, real_why = audio_player.playback_status(refresh=True)
    monkeypatch.setattr(audio_player, "_STATUS", (False, "Playback is unavailable: this machine has no audio output."))
    wb = AudioWorkbench(services)
    qtbot.addWidget(wb)
    wb.show()
    services.mark_torch_ready()
    open_tiny(qtbot, wb, tiny)
    for button in (wb.play_clean_button, wb.play_noisy_button):
        assert not button.isEnabled()
        assert "no audio output" in button.toolTip()
    wb.play_noisy()  # the shortcut still answers, with a message
    assert "no audio output" in wb.message_text()
    if not real_ok:  # this machine (e.g. offscreen, no sound server): the real probe disables them too
        monkeypatch.setattr(audio_player, "_STATUS", (real_ok, real_why))
        again = AudioWorkbench(services)
        qtbot.addWidget(again)
        qtbot.waitUntil(lambda: again.play_clean_button.toolTip() == real_why, timeout=5000)
        assert not again.play_clean_button.isEnabled() and not again.play_noisy_button.isEnabled()


def test_bad_folder_and_bad_file_give_a_message_and_the_app_lives_on(qtbot, bench, tiny, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    job = bench.open_dataset_path(str(empty))
    qtbot.waitUntil(lambda: idle(bench), timeout=WAIT)
    assert bench.dataset is None
    assert bench.message_label.property("level") == "error" and "empty" in bench.message_text()
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio\n" * 20)
    job = bench.open_file(str(fake))
    qtbot.waitUntil(lambda: idle(bench), timeout=WAIT)
    assert job.status == "failed" and "notes.wav" in bench.message_text()
    assert bench.waveform is None
    (tiny / "hum" / "broken.wav").write_bytes(b"RIFF\x00\x00")  # a truncated file inside the dataset
    open_tiny(qtbot, bench, tiny)  # still working; the bad file is listed, the rest loads
    assert bench.isVisible() and bench.dataset is not None and bench.clip_list.topLevelItemCount() == 15
    assert bench.problems_button.isVisibleTo(bench) and bench.problems_button.text().startswith("1 file skipped")
    assert "broken.wav" in bench.problems_list.item(0).text()


def test_long_recording_is_shown_one_segment_at_a_time(qtbot, bench, tmp_path):
    rate = 22050
    t = np.arange(int(9.5 * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * 440 * t) * (t > 4.0)).astype(np.float32)  # silent first segment
    path = tmp_path / "long.flac"
    sf.write(path, np.stack([x, x], axis=1), rate)  # stereo FLAC at 22.05 kHz
    bench.open_file(str(path))
    qtbot.waitUntil(lambda: bench.inspection is not None and idle(bench), timeout=WAIT)
    assert bench.clip_segments == 3 and bench.segment_spin.isVisibleTo(bench)
    assert np.isfinite(bench.mel_grid.array("clean")).all()  # a silent segment gives no NaN
    bench.segment_spin.setValue(2)
    qtbot.waitUntil(lambda: bench.clip_segment == 1 and idle(bench), timeout=WAIT)
    wait_inspected(qtbot, bench)
    assert np.abs(bench.waveform).max() > 0.2
    assert "class unknown" in bench.clip_label.text()


def test_the_main_window_with_this_tab_fits_1200_px(qtbot, services):
    from studio.gui.main_window import MainWindow

    window = MainWindow(services)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    assert window.show_tab("Audio Enhancement")
    window.show()
    qtbot.wait(50)
    assert window.width() == 1200
