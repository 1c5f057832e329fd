"""The one registration point of the workbenches.

Each workbench issue adds one :class:`WorkbenchSpec` to :data:`WORKBENCHES`.  The
main window builds a tab per entry, sorted by ``order`` (DESIGN.md: Spectral
Unmixing, Building Segmentation, Audio Enhancement, SEM Defects); with none, it
shows the start page.  ``factory`` is a dotted path imported when the tab is built,
so start-up does not pay for workbenches' imports.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

ORDER = {"unmixing": 0, "segmentation": 1, "audio": 2, "sem": 3}


@dataclass(frozen=True)
class WorkbenchSpec:
    key: str  # also the run registry's ``workbench`` column
    title: str  # tab title, and the ``--tab`` name
    factory: str  # "studio.gui.sem_workbench:SemWorkbench"; called with (services, parent)
    sample_description: str = ""

    @property
    def order(self) -> int:
        return ORDER.get(self.key, len(ORDER))

    def load(self) -> Callable:
        module, _, attr = self.factory.partition(":")
        return getattr(importlib.import_module(module), attr)


WORKBENCHES: list[WorkbenchSpec] = [
    WorkbenchSpec("unmixing", "Spectral Unmixing", "studio.gui.unmixing_workbench:UnmixingWorkbench",
                  sample_description="quartz-3, quartz-4 and colour-4: 45/56/56 synthetic powder mixtures × 400 "
                                     "spectra, 91 bands 450–810 nm, with the paper's splits (paper 000)"),
    WorkbenchSpec("segmentation", "Building Segmentation",
                  "studio.gui.segmentation_workbench:SegmentationWorkbench",
                  sample_description="generated aerial-like scenes at 1 m/px with building masks: 'small' (500², "
                                     "24/4/6) or 'paper' (1500², 137/4/10 like Massachusetts Buildings) (paper 002)"),
    WorkbenchSpec("audio", "Audio Enhancement", "studio.gui.audio_workbench:AudioWorkbench",
                  sample_description="UrbanSound8K's ten sound classes synthesised (siren sweeps, dog barks, "
                                     "drilling, street music…) in ten folds, 4 s clips at 16 kHz (paper 003)"),
    WorkbenchSpec("sem", "SEM Defects", "studio.gui.sem_workbench:SemWorkbench",
                  sample_description="160 synthetic SEM micrographs of electrospun fibre mats, 75 homogeneous and "
                                     "85 with beads and specks (paper 004)"),
]


def registered() -> list[WorkbenchSpec]:
    return sorted(WORKBENCHES, key=lambda s: s.order)


def find(name: str) -> WorkbenchSpec | None:
    """A workbench by key or title, case-insensitively (for ``--tab``)."""
    wanted = name.strip().lower()
    for spec in WORKBENCHES:
        if wanted in (spec.key.lower(), spec.title.lower()):
            return spec
    return None
