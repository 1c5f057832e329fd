"""The Audio workbench's shared widgets: heat-map table, mel image grid, probability bars, player probe."""
from __future__ import annotations

import csv
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from studio.gui import audio_player  # noqa: E402
from studio.gui.heatmap_table import HeatmapTable, percent, signed_percent  # noqa: E402
from studio.gui.mel_view import MelImageGrid  # noqa: E402
from studio.gui.probability_bars import ProbabilityBars  # noqa: E402


def _lightness(colour) -> float:
    return colour.lightnessF()


def test_heatmap_fills_cell_by_cell_and_grows(qtbot):
    t = HeatmapTable(formatter=percent, corner="noise \\ SNR")
    qtbot.addWidget(t)
    t.set_axes(["white", "pink"], ["20", "0"])
    assert t.filled_count() == 0 and np.isnan(t.values()).all()
    assert t.cell_colour(0, 0) is None  # empty cells are not coloured
    with qtbot.waitSignal(t.value_changed) as signal:
        t.set_value("pink", "0", 0.25)
    assert signal.args[:2] == [1, 1]
    assert t.item(1, 1).text() == "25.0" and t.value("pink", "0") == 0.25
    t.set_value("white", "20", 0.75)
    # viridis: higher accuracy is lighter, on the fixed (0, 1) levels
    assert _lightness(t.cell_colour(0, 0)) > _lightness(t.cell_colour(1, 1))
    low_before = t.cell_colour(1, 1).name()
    t.set_value("babble", "5", 0.5)  # unknown labels add a row and a column
    assert t.row_labels() == ["white", "pink", "babble"] and t.column_labels() == ["20", "0", "5"]
    assert t.rowCount() == 3 and t.columnCount() == 3 and t.filled_count() == 3
    assert t.cell_colour(1, 1).name() == low_before  # fixed levels: other cells keep their colour
    t.set_style("CET-D1A", (-0.25, 0.25), signed_percent)  # e.g. differences to a reference model
    assert t.item(1, 1).text() == "+25.0" and t.cell_colour(1, 1).name() != low_before
    t.set_style("viridis", (0.0, 1.0), percent)
    assert t.item(1, 1).text() == "25.0" and t.cell_colour(1, 1).name() == low_before
    t.set_value(0, 0, None)
    assert t.filled_count() == 2 and t.item(0, 0).text() == ""
    with pytest.raises(IndexError):
        t.set_value(7, 0, 0.1)


def test_heatmap_auto_levels_shades_and_csv(qtbot, tmp_path):
    t = HeatmapTable(levels=None, formatter="{:.0f}".format)
    qtbot.addWidget(t)
    cm = np.array([[8, 2], [1, 1]], dtype=float)
    shares = cm / cm.sum(axis=1, keepdims=True)
    t.set_matrix(cm, ["a", "b"], ["a", "b"], shades=shares)
    assert t.item(0, 0).text() == "8" and t.item(1, 0).text() == "1"
    # coloured by row share: 1 of 2 (0.5) in row b is lighter than 2 of 10 (0.2) in row a
    assert _lightness(t.cell_colour(1, 0)) > _lightness(t.cell_colour(0, 1))
    with pytest.raises(ValueError):
        t.set_matrix(np.zeros((2, 3)), ["a", "b"], ["a", "b"])
    with pytest.raises(ValueError):
        t.set_matrix(cm, ["a", "b"], ["a", "b"], shades=np.zeros(3))
    t.corner = "true \\ predicted"
    t.export_csv(tmp_path / "cm.csv")
    rows = list(csv.reader(open(tmp_path / "cm.csv", encoding="utf-8")))
    assert rows[0] == ["true \\ predicted", "a", "b"] and rows[1] == ["a", "8.0", "2.0"]
    t.export_png(tmp_path / "cm.png")
    assert (tmp_path / "cm.png").stat().st_size > 200


def test_mel_grid_updates_in_place_on_one_scale(qtbot, tmp_path):
    g = MelImageGrid(columns=2, placeholder="A long hint for the empty grid, longer than the widget is wide " * 3)
    qtbot.addWidget(g)
    g.resize(700, 400)
    g.show()
    rng = np.random.default_rng(0)
    clean, noisy = rng.random((40, 120)), rng.random((40, 120))
    g.set_panels([("clean", clean), ("noisy", noisy)])
    assert g.titles() == ["clean", "noisy"]
    item = g.image_item("noisy")
    assert item.image.shape == (120, 40)  # x = frame, y = mel band
    np.testing.assert_allclose(item.image.T, noisy.astype(np.float32))
    assert tuple(item.getLevels()) == (0.0, 1.0)
    g.set_panels([("clean", clean), ("noisy", noisy * 0.5)])
    assert g.image_item("noisy") is item  # same titles: updated in place
    np.testing.assert_allclose(g.array("noisy"), noisy * 0.5, rtol=1e-6)
    g.set_panels([("clean", clean), ("noisy", noisy), ("DSL mask", noisy), ("DSL enhanced", clean * noisy)])
    assert g.titles()[2:] == ["DSL mask", "DSL enhanced"]
    qtbot.wait(20)
    first_row = [g._plots[t].width() for t in g.titles()[:2]]
    assert sum(first_row) < g.width()  # the (long) empty-grid hint leaves no width behind in the layout
    with pytest.raises(ValueError):
        g.set_panels([("bad", np.zeros(5))])
    g.export_png(tmp_path / "mel.png")
    assert (tmp_path / "mel.png").stat().st_size > 1000
    g.clear_panels()
    assert g.titles() == []


def test_probability_bars(qtbot, tmp_path):
    b = ProbabilityBars()
    qtbot.addWidget(b)
    b.set_series(["siren", "dog_bark"], [("noisy", [0.3, 0.7]), ("DSL enhanced", [0.9, 0.1])])
    assert list(b.series()) == ["noisy", "DSL enhanced"] and b.classes() == ["siren", "dog_bark"]
    with pytest.raises(ValueError):
        b.set_series(["siren"], [("noisy", [0.3, 0.7])])
    b.export_png(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 500


def test_playback_probe_says_why_it_cannot_play(monkeypatch):
    ok, why = audio_player.playback_status(refresh=True)
    assert isinstance(ok, bool) and why
    if not ok:
        assert why.startswith("Playback is unavailable")
        with pytest.raises(RuntimeError, match="unavailable"):
            audio_player.AudioPlayer().play(np.zeros(100, np.float32), 16000)
