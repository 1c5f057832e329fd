"""GUI test fixtures: one set of Services (registry, pool, bridge, settings) per test."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_NO_CLOSE_PROMPT", "1")

import pytest  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from studio.engine import JobPool, RunRegistry  # noqa: E402
from studio.engine.selfcheck import SelfCheckConfig  # noqa: E402
from studio.engine.training import FitConfig  # noqa: E402
from studio.gui.jobs import Services  # noqa: E402


@pytest.fixture
def services(tmp_path):
    registry = RunRegistry()
    pool = JobPool(registry)
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    svc = Services(registry, pool, settings)
    yield svc
    pool.shutdown(cancel=True, wait=True)
    QtWidgets.QApplication.processEvents()  # deliver the last queued events while everything is alive
    svc.bridge.detach()


def small_selfcheck(epochs: int = 3, delay: float = 0.0, seed: int = 0) -> SelfCheckConfig:
    """A real but quick engine-check training (600 points, 8 batches an epoch)."""
    return SelfCheckConfig(n_points=600, fit=FitConfig(optimizer="adam", lr=1e-2, epochs=epochs, batch_size=64,
                                                       seed=seed), batch_delay_s=delay)
