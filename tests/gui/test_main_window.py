import os
import subprocess
import sys
import time

import pytest
from PySide6 import QtCore, QtWidgets

from studio.gui import workbenches
from studio.gui.main_window import MainWindow
from studio.gui.workbench import Workbench


@pytest.fixture
def no_workbenches(monkeypatch):
    """The start page only appears when no workbench is registered."""
    monkeypatch.setattr(workbenches, "WORKBENCHES", [])


@pytest.fixture
def window(qtbot, services, no_workbenches):
    w = MainWindow(services)
    qtbot.addWidget(w)
    w.show()
    services.mark_torch_ready()
    return w


def test_start_page_without_workbenches_and_device_in_status_bar(window, services):
    assert window.start_page is not None and window.centralWidget() is window.start_page
    assert window.device_label.text().startswith("Device: cpu")
    assert not window.actions_by_name["open"].isEnabled()  # nothing to open files in yet
    titles = [m.title().replace("&", "") for m in window.menuBar().findChildren(QtWidgets.QMenu)
              if m.parent() is window.menuBar()]
    assert titles[:2] == ["File", "View"] and "Help" in titles


def test_engine_check_streams_into_curve_and_registry(qtbot, window, services):
    page = window.start_page
    page.epochs.setValue(3)
    job = page.start_training()
    qtbot.waitUntil(lambda: job.status == "done", timeout=30000)
    qtbot.waitUntil(lambda: not page.stop_button.isEnabled(), timeout=5000)
    page.curve.flush()
    n_curve = len(page.curve.series_data("train/loss")["step"])
    n_registry = len(services.registry.metric_series(job.run.id, "train/loss")["step"])
    assert n_curve == n_registry > 0
    assert "validation accuracy" in page.result_label.text()
    assert page.recent_list.topLevelItemCount() == 1


def test_failing_job_does_not_take_the_app_down(qtbot, window, services):
    def broken(ctx, cfg):
        raise RuntimeError("sensor cable unplugged")

    job = services.submit(broken, None, name="broken", workbench="engine", device="cpu")
    qtbot.waitUntil(lambda: job.status == "failed", timeout=5000)
    qtbot.waitUntil(lambda: "sensor cable unplugged" in window.statusBar().currentMessage(), timeout=2000)
    assert window.isVisible()
    ok = services.submit(lambda ctx, cfg: 1, None, name="fine", workbench="engine", device="cpu")
    qtbot.waitUntil(lambda: ok.status == "done", timeout=5000)


def test_settings_and_theme_persist(qtbot, window, services):
    window.apply_theme("light")
    assert services.settings.value("ui/theme") == "light"
    assert not window.actions_by_name["toggle_theme"].isChecked()
    window.toggle_theme()
    assert services.settings.value("ui/theme") == "dark"
    services.set_device_preference("cpu")
    services.settings.sync()
    again = QtCore.QSettings(services.settings.fileName(), QtCore.QSettings.Format.IniFormat)
    assert again.value("engine/device") == "cpu" and again.value("ui/theme") == "dark"


def test_settings_dialog_applies_choices(qtbot, window, services, tmp_path):
    from studio.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(services, window)
    qtbot.addWidget(dialog)
    assert dialog.device_combo.findText("cpu") >= 0
    dialog.device_combo.setCurrentText("cpu")
    dialog.folder_edit.setText(str(tmp_path))
    dialog.theme_combo.setCurrentText("light")
    dialog.apply()
    assert services.device_preference == "cpu" and services.settings.value("paths/data_folder") == str(tmp_path)


class FakeWorkbench(Workbench):
    key = "sem"
    title = "SEM Defects"
    opened: list = []

    def open_paths(self, paths):
        FakeWorkbench.opened.extend(paths)


def test_registered_workbenches_become_tabs_in_design_order(qtbot, services, monkeypatch, tmp_path):
    monkeypatch.setattr(workbenches, "WORKBENCHES", [
        workbenches.WorkbenchSpec("sem", "SEM Defects", "tests.gui.test_main_window:FakeWorkbench"),
        workbenches.WorkbenchSpec("unmixing", "Spectral Unmixing", "tests.gui.test_main_window:FakeWorkbench"),
    ])
    w = MainWindow(services)
    qtbot.addWidget(w)
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == ["Spectral Unmixing", "SEM Defects"]
    assert w.show_tab("sem") and w.tabs.currentIndex() == 1
    assert not w.show_tab("nope")
    target = tmp_path / "a.tif"
    target.write_bytes(b"x")
    FakeWorkbench.opened.clear()
    assert w.open_paths([str(target)])
    assert FakeWorkbench.opened == [str(target)]
    assert w.recent_files()[0] == ("sem", str(target))


def test_about_lists_versions(window):
    v = window.versions()
    assert v["PyTorch"].startswith("2.11") and v["PySide6"] and v["Device"] == "cpu"


def test_screenshot_command_renders_the_loaded_window(tmp_path, studio_home):
    target = tmp_path / "shot.png"
    env = {**os.environ, "STUDIO_HOME": str(studio_home), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-m", "studio", "--screenshot", str(target), "--size", "1200x800"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PySide6 import QtGui

    image = QtGui.QImage(str(target))
    assert (image.width(), image.height()) == (1200, 800)
    bad = subprocess.run([sys.executable, "-m", "studio", "--screenshot", str(target), "--tab", "Nope"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no tab named" in bad.stderr


def test_window_paints_before_torch_has_loaded(studio_home):
    env = {**os.environ, "STUDIO_HOME": str(studio_home), "QT_QPA_PLATFORM": "offscreen",
           "STUDIO_STARTUP_PROBE": "1", "STUDIO_EXIT_AFTER_PAINT": "1"}
    out = subprocess.run([sys.executable, "-m", "studio"], env=env, capture_output=True, text=True, timeout=120)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("FIRST_PAINT"))
    assert line.endswith("torch_ready=0"), line


def test_engine_check_is_reachable_when_workbenches_exist(qtbot, services, monkeypatch):
    monkeypatch.setattr(workbenches, "WORKBENCHES", [
        workbenches.WorkbenchSpec("sem", "SEM Defects", "tests.gui.test_main_window:FakeWorkbench")])
    w = MainWindow(services)
    qtbot.addWidget(w)
    services.mark_torch_ready()
    assert w.start_page is None
    w.actions_by_name["engine_check"].trigger()
    from studio.gui.start_page import StartPage

    (start,) = w.engine_check_dialog.findChildren(StartPage)
    assert w.engine_check_dialog.isVisible() and start.train_button.isEnabled()


def test_unavailable_device_falls_back_with_a_message(qtbot, services, no_workbenches):
    services.set_session_device("cuda:3")
    w = MainWindow(services)
    qtbot.addWidget(w)
    services.mark_torch_ready()
    assert services.device() == "cpu"
    assert "not available" in w.statusBar().currentMessage() and "using cpu" in w.statusBar().currentMessage()
