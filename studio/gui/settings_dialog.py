"""Settings: device, data folder and theme, persisted with QSettings."""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from studio.gui.jobs import Services
from studio.gui.theme import THEMES


def data_folder(settings: QtCore.QSettings) -> str:
    return str(settings.value("paths/data_folder", str(Path.home())))


def theme_name(settings: QtCore.QSettings) -> str:
    value = str(settings.value("ui/theme", "dark"))
    return value if value in THEMES else "dark"


class SettingsDialog(QtWidgets.QDialog):
    def __init__(self, services: Services, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.services = services
        settings = services.settings
        form = QtWidgets.QFormLayout()

        self.device_combo = QtWidgets.QComboBox()
        choices = ["auto"]
        if services.is_torch_ready:
            from studio.engine.device import available_devices

            choices += available_devices()
        else:
            choices += ["cpu", "cuda", "mps"]
        pref = services.device_preference
        if pref not in choices:
            choices.append(pref)
        self.device_combo.addItems(choices)
        self.device_combo.setCurrentText(pref)
        self.device_combo.setToolTip("auto picks CUDA, then MPS, then the CPU")
        form.addRow("Device", self.device_combo)

        self.folder_edit = QtWidgets.QLineEdit(data_folder(settings))
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        form.addRow("Data folder", row)

        self.theme_combo = QtWidgets.QComboBox()
        self.theme_combo.addItems(list(THEMES))
        self.theme_combo.setCurrentText(theme_name(settings))
        form.addRow("Theme", self.theme_combo)

        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Data folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def apply(self) -> None:
        """Store the choices (the main window re-applies the theme)."""
        s = self.services.settings
        s.setValue("paths/data_folder", self.folder_edit.text())
        s.setValue("ui/theme", self.theme_combo.currentText())
        if self.device_combo.currentText() != self.services.device_preference:
            self.services.set_device_preference(self.device_combo.currentText())
        s.sync()
