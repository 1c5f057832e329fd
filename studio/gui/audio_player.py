"""Play a short waveform through QtMultimedia, when the machine has an audio output.

QtMultimedia is imported lazily: it needs system libraries (PulseAudio, ALSA…)
that a headless test machine may lack, and importing it costs start-up time.
:func:`playback_status` says once per process whether playback is possible and, if
not, why (the text becomes the disabled play buttons' tooltip).  Playback writes
the samples to a temporary 16-bit WAV with ``soundfile`` and plays it with
``QSoundEffect`` on the default output; the files are removed when the player is
deleted.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PySide6 import QtCore

__all__ = ["AudioPlayer", "playback_status"]

_STATUS: tuple[bool, str] | None = None


def playback_status(refresh: bool = False) -> tuple[bool, str]:
    """``(True, output name)`` when there is an audio output, else ``(False, why not)``."""
    global _STATUS
    if _STATUS is not None and not refresh:
        return _STATUS
    try:
        from PySide6 import QtMultimedia
    except Exception as exc:  # noqa: BLE001 - missing system audio libraries raise ImportError/OSError
        _STATUS = (False, f"Playback is unavailable: Qt Multimedia could not be loaded ({exc}).")
        return _STATUS
    try:
        outputs = QtMultimedia.QMediaDevices.audioOutputs()
    except Exception as exc:  # noqa: BLE001
        _STATUS = (False, f"Playback is unavailable: the audio outputs could not be listed ({exc}).")
        return _STATUS
    if not outputs:
        _STATUS = (False, "Playback is unavailable: this machine has no audio output.")
        return _STATUS
    default = QtMultimedia.QMediaDevices.defaultAudioOutput()
    _STATUS = (True, (default if not default.isNull() else outputs[0]).description())
    return _STATUS


class AudioPlayer(QtCore.QObject):
    """Plays one waveform at a time (a new ``play`` stops the previous one)."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._effect = None
        self._folder = tempfile.TemporaryDirectory(prefix="studio-audio-")
        self._count = 0
        self.destroyed.connect(lambda *_: self._folder.cleanup())

    @property
    def available(self) -> bool:
        return playback_status()[0]

    def play(self, samples: np.ndarray, sample_rate: int) -> Path:
        """Write ``samples`` (float, [-1, 1]) to a temporary WAV and play it; returns the file."""
        ok, why = playback_status()
        if not ok:
            raise RuntimeError(why)
        import soundfile as sf
        from PySide6 import QtMultimedia

        self.stop()
        self._count += 1
        path = Path(self._folder.name) / f"clip-{self._count}.wav"
        x = np.clip(np.nan_to_num(np.asarray(samples, dtype=np.float32)), -1.0, 1.0)
        sf.write(os.fspath(path), x, int(sample_rate), subtype="PCM_16")
        effect = QtMultimedia.QSoundEffect(self)
        effect.setAudioDevice(QtMultimedia.QMediaDevices.defaultAudioOutput())
        effect.setSource(QtCore.QUrl.fromLocalFile(os.fspath(path)))
        effect.setVolume(0.8)
        effect.play()
        self._effect = effect
        return path

    def stop(self) -> None:
        if self._effect is not None:
            try:
                self._effect.stop()
            except RuntimeError:  # already deleted with its parent
                pass
            self._effect.deleteLater()
            self._effect = None
