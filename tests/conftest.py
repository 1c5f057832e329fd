"""Shared test set-up: offscreen Qt and a private Studio home for every test."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_TEST", "1")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def studio_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("STUDIO_HOME", str(home))
    return home
