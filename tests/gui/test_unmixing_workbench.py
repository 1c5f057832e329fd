"""Tests for the Spectral Unmixing workbench (pytest-qt, offscreen, tiny sample datasets)."""
from __future__ import annotations

import csv
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.io  # noqa: E402

from studio.gui.unmixing_workbench import GENERATED, MEASURED, UnmixingWorkbench  # noqa: E402
from studio.gui.workbenches import find  # noqa: E402
from tests.gui.workbench_helpers import idle, show_workbench  # noqa: E402

TINY = {"spectra_per_mixture": 12, "seed": 0}


@pytest.fixture
def bench(qtbot, services, monkeypatch):
    monkeypatch.setattr(UnmixingWorkbench, "sample_options", dict(TINY))
    return show_workbench(qtbot, services, UnmixingWorkbench)



def open_sample(qtbot, wb, name="quartz-3"):
    wb.sample_combo.setCurrentText(name)
    wb.open_sample()
    qtbot.waitUntil(lambda: wb.dataset is not None and idle(wb), timeout=60000)


def test_registered_as_the_unmixing_tab():
    spec = find("Spectral Unmixing")
    assert spec is not None and spec.key == "unmixing" and spec.load() is UnmixingWorkbench


def test_open_sample_pick_a_vector_draws_the_measured_band(qtbot, bench):
    open_sample(qtbot, bench, "quartz-3")
    assert len(bench.vectors) == 45
    assert int(bench.vector_is_train.sum()) == 15  # section 4.1
    assert not bench.picker.triangle.isHidden()  # three materials: the triangle
    a = bench.vectors[np.flatnonzero(~bench.vector_is_train)[3]]
    bench.picker.set_value(a)
    d = bench.spectra_plot.group_data(MEASURED)
    expected = bench.dataset.spectra[bench.group_index == bench.picker.row_of(a)]
    np.testing.assert_allclose(d["mean"], expected.mean(axis=0), rtol=1e-5)
    assert int(d["n"]) == 12
    assert bench.cov_view.matrices[0].shape == (91, 91)
    assert "test mixture" in bench.vector_label.text()
    # four materials: no triangle, sliders keep the sum at one
    open_sample(qtbot, bench, "colour-4")
    assert bench.picker.triangle.isHidden() and len(bench.vectors) == 56
    assert int(bench.vector_is_train.sum()) == 16


def test_train_generator_then_both_bands_and_delta_amn(qtbot, bench):
    open_sample(qtbot, bench, "quartz-4")
    bench.epochs_m.setValue(3)
    bench.epochs_k.setValue(2)
    bench.per_vector_spin.setValue(20)
    job = bench.train_generator()
    assert job is not None and job.run is not None
    qtbot.waitUntil(lambda: bench.augmenter is not None and idle(bench), timeout=60000)
    assert job.status == "done"
    assert bench.curve.series_keys(), "the training streamed no loss points into the curve"
    a = bench.vectors[np.flatnonzero(~bench.vector_is_train)[0]]
    bench.picker.set_value(a)
    qtbot.waitUntil(lambda: GENERATED in bench.spectra_plot.group_names() and idle(bench), timeout=60000)
    assert MEASURED in bench.spectra_plot.group_names()
    assert int(bench.spectra_plot.group_data(GENERATED)["n"]) == 20
    assert bench.delta_amn is not None and np.isfinite(bench.delta_amn) and bench.delta_amn > 0
    K = bench.cov_view.matrices[1]
    np.testing.assert_allclose(K, K.T, atol=1e-9)
    assert np.linalg.eigvalsh(K).min() > -1e-9
    assert "Δ_AMN" in bench.vector_label.text()
    # a vector that is not in the dataset: generated spectra only
    bench.picker.set_value(np.array([0.1, 0.3, 0.3, 0.3]))
    qtbot.waitUntil(lambda: GENERATED in bench.spectra_plot.group_names() and idle(bench), timeout=60000)
    assert MEASURED not in bench.spectra_plot.group_names()
    # generate the augmentation grid and export it
    job = bench.generate()
    qtbot.waitUntil(lambda: idle(bench), timeout=60000)
    assert job.status == "done" and bench.generated is not None and len(bench.generated) > 0
    # the CNN on the augmented set: 20 per vector asked, 270 × 20 > 5 × 192 measured, so 3 each
    bench.cnn_data_combo.setCurrentIndex(bench.cnn_data_combo.findData("augmented"))
    bench.cnn_epochs.setValue(1)
    job = bench.train_cnn()
    qtbot.waitUntil(lambda: job.finished is not None and idle(bench), timeout=60000)
    assert job.status == "done", job.traceback
    assert "on 1002 spectra (270 new vectors × 3 generated)" in bench.cnn_label.text()


def test_cube_fcls_maps_pixel_spectrum_and_export(qtbot, bench, tmp_path):
    job = bench.open_sample_cube()
    qtbot.waitUntil(lambda: bench.cube is not None and idle(bench), timeout=60000)
    assert job.status == "done" and bench.endmembers is not None
    bench.method_combo.setCurrentIndex(bench.method_combo.findData("fcls"))
    job = bench.unmix_cube()
    qtbot.waitUntil(lambda: bench.abundance_maps is not None and idle(bench), timeout=60000)
    maps = bench.abundance_maps
    assert maps.shape[:2] == bench.cube.data.shape[:2]
    np.testing.assert_allclose(maps.sum(axis=2), 1.0, atol=1e-6)
    assert maps.min() >= -1e-9
    assert len(bench.maps_view.images) == maps.shape[2]
    bench.show_pixel(5, 7)
    assert "Pixel (5, 7)" in bench.pixel_label.text() and "reconstruction" in bench.pixel_label.text()
    assert "reconstruction M·a" in bench.pixel_plot.group_names()
    bench.export_maps(str(tmp_path / "maps.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "maps.npy"), maps, rtol=1e-6)
    # picked pixels as endmembers
    bench.add_pixel_endmember()
    bench.show_pixel(20, 30)
    bench.add_pixel_endmember()
    assert bench.endmembers.shape == (bench.cube.data.shape[2], 2)


def test_bad_files_give_a_message_and_the_app_lives_on(qtbot, bench, tmp_path, monkeypatch):
    bad = tmp_path / "broken.csv"
    bad.write_text("450,460,470\n0.1,nan,0.3\n")
    bench.open_spectra(str(bad))
    qtbot.waitUntil(lambda: idle(bench), timeout=60000)
    assert "broken.csv" in bench.message_text() and bench.dataset is None
    # a .mat whose variables are not recognisable: the mapping dialog is offered
    mat = tmp_path / "odd.mat"
    rng = np.random.default_rng(0)
    scipy.io.savemat(mat, {"foo": rng.random((30, 20)), "bar": np.linspace(400, 700, 20)})
    asked = {}

    def fake_mapping(path, variables):
        asked["variables"] = dict(variables)
        return {"spectra": "foo", "wavelengths": "bar"}

    monkeypatch.setattr(bench, "ask_mapping", fake_mapping)
    bench.open_spectra(str(mat))
    qtbot.waitUntil(lambda: bench.dataset is not None and idle(bench), timeout=60000)
    assert set(asked["variables"]) == {"foo", "bar"}
    assert bench.dataset.spectra.shape == (30, 20) and bench.dataset.abundances is None


def test_results_table_exports_csv(qtbot, bench, tmp_path):
    bench.show_results({"datasets": {"quartz-4": {"rows": [
        {"method": "FCLS", "delta_rmse": 0.11, "delta_gamn": None},
        {"method": "CNN + normal (s=0.1)", "delta_rmse": 0.05, "delta_gamn": 0.09}]}},
        "checks": {"quartz-4": {"cnn_beats_fcls_and_elmm": True}}, "epochs_scale": 0.1})
    path = tmp_path / "t.csv"
    bench.export_results_csv(str(path))
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["Method", "quartz-4 Δ_RMSE", "quartz-4 Δ_GAMN"]
    assert rows[2][0] == "CNN + normal (s=0.1)" and float(rows[2][1]) == 0.05 and float(rows[2][2]) == 0.09
    assert rows[1][2] == ""  # FCLS generates nothing: no Δ_GAMN
    assert "cnn beats fcls and elmm" in bench.results_note.text()
    # a second dataset adds a column pair; methods stay one row each
    bench.add_result("colour-4", "FCLS", 0.3, None)
    assert bench.results_table.columnCount() == 5 and bench.results_table.rowCount() == 2
    assert bench.results_table.item(0, 3).text() == "0.3000"
