"""Render resources/icons/inspection-studio.svg to PNGs (256 and 512 px) with Qt's SVG renderer.

    python packaging/render_icon.py        # writes resources/icons/inspection-studio-{256,512}.png

The PNGs are committed; rerun after editing the SVG.  PyInstaller turns the PNG into the
Windows .ico / macOS .icns when Pillow is installed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"


def render(svg: Path, size: int, target: Path) -> None:
    from PySide6 import QtCore, QtGui, QtSvg

    renderer = QtSvg.QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QtGui.QImage(size, size, QtGui.QImage.Format.Format_ARGB32)
    image.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(target), "PNG"):
        raise SystemExit(f"{target}: could not be written")
    print(target)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtGui

    app = QtGui.QGuiApplication.instance() or QtGui.QGuiApplication(sys.argv[:1])  # noqa: F841
    svg = ICONS / "inspection-studio.svg"
    for size in (256, 512):
        render(svg, size, ICONS / f"inspection-studio-{size}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
