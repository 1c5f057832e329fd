"""Dark and light themes: Qt's Fusion style with a palette, and matching plot colours."""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets

THEMES = ("dark", "light")


def _dark_palette() -> QtGui.QPalette:
    p = QtGui.QPalette()
    c = QtGui.QColor
    role = QtGui.QPalette.ColorRole
    p.setColor(role.Window, c(45, 47, 51))
    p.setColor(role.WindowText, c(225, 225, 225))
    p.setColor(role.Base, c(32, 33, 36))
    p.setColor(role.AlternateBase, c(40, 42, 46))
    p.setColor(role.ToolTipBase, c(60, 63, 65))
    p.setColor(role.ToolTipText, c(230, 230, 230))
    p.setColor(role.Text, c(225, 225, 225))
    p.setColor(role.Button, c(53, 55, 59))
    p.setColor(role.ButtonText, c(225, 225, 225))
    p.setColor(role.BrightText, c(255, 80, 80))
    p.setColor(role.Highlight, c(42, 130, 218))
    p.setColor(role.HighlightedText, c(255, 255, 255))
    p.setColor(role.Link, c(90, 170, 255))
    p.setColor(role.PlaceholderText, c(140, 140, 140))
    disabled = QtGui.QPalette.ColorGroup.Disabled
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(disabled, r, c(120, 120, 120))
    return p


def plot_colours(theme: str) -> tuple[str, str]:
    """(background, foreground) for pyqtgraph plots."""
    return ("#202124", "#d0d0d0") if theme == "dark" else ("#ffffff", "#303030")


def apply_theme(app: QtWidgets.QApplication, theme: str) -> str:
    theme = theme if theme in THEMES else "dark"
    app.setStyle("Fusion")
    app.setPalette(_dark_palette() if theme == "dark" else app.style().standardPalette())
    bg, fg = plot_colours(theme)
    import pyqtgraph as pg

    pg.setConfigOptions(background=bg, foreground=fg, antialias=True)
    for widget in app.allWidgets():
        if isinstance(widget, pg.PlotWidget):
            widget.setBackground(bg)
            for axis in ("left", "bottom", "right", "top"):
                item = widget.getPlotItem().getAxis(axis)
                item.setPen(fg)
                item.setTextPen(fg)
    return theme
