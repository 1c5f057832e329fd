"""Shared set-up of the workbench GUI tests."""
from __future__ import annotations


def show_workbench(qtbot, services, cls):
    """A workbench of ``cls`` shown at 1400×850 with torch marked as loaded."""
    wb = cls(services)
    qtbot.addWidget(wb)
    wb.resize(1400, 850)
    wb.show()
    services.mark_torch_ready()
    return wb


def idle(wb) -> bool:
    """No job of the workbench is running."""
    return not wb.active_jobs()
