"""The desktop entry, the icon and the bundle entry point (the bundle build itself: packaging/check_bundle.py)."""
import configparser
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_desktop_entry_names_an_existing_icon_and_executable():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(ROOT / "resources" / "inspection-studio.desktop", encoding="utf-8")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Name"] == "Inspection Studio" and d["Terminal"] == "false"
    assert d["Exec"].split()[0] == "inspection-studio" and d["Categories"].endswith(";")
    assert (ROOT / "resources" / "icons" / f"{d['Icon']}.svg").is_file()


def test_icon_pngs_are_renderings_of_the_svg(qapp):
    from PySide6 import QtGui, QtSvg

    assert QtSvg.QSvgRenderer(str(ROOT / "resources" / "icons" / "inspection-studio.svg")).isValid()
    for size in (256, 512):
        image = QtGui.QImage(str(ROOT / "resources" / "icons" / f"inspection-studio-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.pixelColor(0, 0).alpha() == 0  # transparent corner of the rounded square
        assert image.pixelColor(size // 2, size // 8).alpha() == 255


def test_gui_finds_its_window_icon():
    from studio.gui.app import application_icon_path

    assert application_icon_path() == ROOT / "resources" / "icons" / "inspection-studio-256.png"


def test_bundle_entry_runs_the_cli_by_argument(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["inspection-studio", "cli", "--version"])
    try:
        runpy.run_path(str(ROOT / "packaging" / "entry.py"), run_name="__main__")
    except SystemExit as exc:
        assert exc.code == 0
    assert "studio 0.1.0" in capsys.readouterr().out


def test_bundle_entry_import_check_loads_every_workbench(monkeypatch, capsys):
    from studio.gui.workbenches import WORKBENCHES

    monkeypatch.setattr("sys.argv", ["inspection-studio", "--check-imports"])
    try:
        runpy.run_path(str(ROOT / "packaging" / "entry.py"), run_name="__main__")
    except SystemExit as exc:
        assert exc.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(WORKBENCHES) and all(line.startswith("ok ") for line in lines)
