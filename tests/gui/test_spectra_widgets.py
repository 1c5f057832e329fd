"""The shared spectra plot (mean ± std bands) and the abundance picker."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from studio.gui.abundance_picker import AbundancePicker, LinkedSliders, TernaryView  # noqa: E402
from studio.gui.spectra_plot import SpectraPlot  # noqa: E402


def test_band_is_mean_plus_minus_std_and_exports(qtbot, tmp_path):
    w = SpectraPlot()
    qtbot.addWidget(w)
    x = np.linspace(450, 810, 91)
    rng = np.random.default_rng(0)
    y = 0.5 + 0.1 * rng.standard_normal((50, 91))
    w.set_group("measured", x, y, n_samples=4)
    d = w.group_data("measured")
    np.testing.assert_allclose(d["mean"], y.mean(axis=0))
    np.testing.assert_allclose(d["std"], y.std(axis=0, ddof=1))
    assert w.sample_count("measured") == 4
    upper = w._groups["measured"].upper.getData()[1]
    np.testing.assert_allclose(upper, y.mean(axis=0) + y.std(axis=0, ddof=1))
    w.set_group("generated", x, y[:3] + 0.1, n_samples=10)
    assert w.sample_count("generated") == 3
    w.export_csv(tmp_path / "s.csv")
    rows = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    assert rows.shape == (91, 5)
    np.testing.assert_allclose(rows[:, 3], y[:3].mean(axis=0) + 0.1, rtol=1e-5)
    w.resize(600, 400)
    w.show()
    w.export_png(tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000
    w.remove_group("generated")
    assert w.group_names() == ["measured"]
    with pytest.raises(ValueError):
        w.set_group("bad", x[:10], y)


def test_linked_sliders_keep_the_sum_at_one(qtbot):
    s = LinkedSliders()
    qtbot.addWidget(s)
    s.set_materials(["a", "b", "c", "d"])
    np.testing.assert_allclose(s.value(), 0.25)
    with qtbot.waitSignal(s.changed):
        s.sliders[0].setValue(700)
    a = s.value()
    assert a[0] == pytest.approx(0.7)
    assert a.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(a[1:], 0.1)  # the others shrink in proportion
    s.sliders[1].setValue(0)
    a = s.value()
    assert a.sum() == pytest.approx(1.0) and a[1] == 0
    assert a[2] == pytest.approx(a[3])


def test_ternary_click_snaps_to_a_dataset_vector(qtbot):
    t = TernaryView()
    qtbot.addWidget(t)
    t.resize(300, 260)
    t.points = np.array([[1.0, 0, 0], [0.5, 0.25, 0.25], [0, 0, 1.0]])
    t.kinds = ["train", "test", "train"]
    x, y = t.to_xy(t.points[1])
    with qtbot.waitSignal(t.picked) as sig:
        t.pick_at(x + 3, y - 2)
    np.testing.assert_allclose(sig.args[0], [0.5, 0.25, 0.25])
    # far from any dot: the barycentric coordinates of the click, on the simplex
    x, y = t.to_xy(np.array([0.2, 0.6, 0.2]))
    a = t.pick_at(x, y)
    np.testing.assert_allclose(a, [0.2, 0.6, 0.2], atol=1e-6)
    np.testing.assert_allclose(t.to_abundance(*t.to_xy(np.array([0.1, 0.3, 0.6]))), [0.1, 0.3, 0.6], atol=1e-9)


def test_picker_table_triangle_and_sliders_agree(qtbot):
    p = AbundancePicker()
    qtbot.addWidget(p)
    pts = np.array([[1, 0, 0, 0], [0.6, 0.4, 0, 0], [0.2, 0.2, 0.4, 0.2]], dtype=float)
    p.set_points(["q1", "q2", "q3", "q4"], pts, ["train", "train", "test"])
    assert p.triangle.isHidden()  # four materials: sliders and table only
    with qtbot.waitSignal(p.changed) as sig:
        p.table.selectRow(2)
    np.testing.assert_allclose(sig.args[0], pts[2])
    np.testing.assert_allclose(p.value(), pts[2])
    assert p.row_of(pts[1]) == 1 and p.row_of(np.array([0.25] * 4)) is None
    p.set_points(["a", "b", "c"], np.array([[1.0, 0, 0], [0, 1.0, 0]]), ["train", "test"])
    assert not p.triangle.isHidden()
