"""The base class of every workbench tab (inputs left, views centre, metrics right)."""
from __future__ import annotations

from PySide6 import QtWidgets

from studio.engine import RunRecord
from studio.gui.jobs import Services


class Workbench(QtWidgets.QWidget):
    """Workbenches override the hooks the main window's menus and docks call."""

    key = ""
    title = ""

    def __init__(self, services: Services, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.services = services
        services.torch_ready.connect(self.on_torch_ready)

    # Hooks (File menu, drag and drop, Runs dock).
    def open_paths(self, paths: list[str]) -> None:
        """Open files or folders (File ▸ Open…, drag and drop, Recent)."""

    def open_dialog(self) -> None:
        """Ask for a file or folder to open."""

    def open_sample(self) -> None:
        """Load the workbench's synthetic sample dataset."""

    def export(self) -> None:
        """Export the current result."""

    def reopen_run(self, run: RunRecord) -> None:
        """Load a run's model and settings (Runs dock ▸ Reopen)."""

    def on_torch_ready(self) -> None:
        """Called once torch has been imported; enable model actions here."""

    def is_busy(self) -> bool:
        return False
