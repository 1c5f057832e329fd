"""Layering contracts (DESIGN.md "Layers"), checked like napari's import-linter contracts.

- Qt (PySide6, shiboken6) and pyqtgraph are imported only under studio/gui.
- engine imports no other studio package; a domain package never imports another
  domain package nor the GUI.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDIO = ROOT / "studio"
QT = {"PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "PySide2", "qtpy", "superqt"}
DOMAINS = {"unmixing", "segmentation", "audio", "sem"}


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def python_files(folder: Path):
    return [p for p in folder.rglob("*.py") if "__pycache__" not in p.parts]


def test_qt_only_under_gui():
    offenders = []
    for path in python_files(STUDIO):
        rel = path.relative_to(STUDIO)
        if rel.parts[0] == "gui":
            continue
        for mod in imported_modules(path):
            if mod.split(".")[0] in QT:
                offenders.append(f"{rel}: imports {mod}")
    assert not offenders, "Qt outside studio/gui:\n" + "\n".join(offenders)


def test_the_check_would_catch_a_leak(tmp_path):
    bad = tmp_path / "leaky.py"
    bad.write_text("def f():\n    from PySide6 import QtCore\n")
    assert "PySide6" in list(imported_modules(bad))


def test_arrows_point_down():
    offenders = []
    for path in python_files(STUDIO):
        rel = path.relative_to(STUDIO)
        top = rel.parts[0] if len(rel.parts) > 1 else None
        for mod in imported_modules(path):
            parts = mod.split(".")
            if parts[0] != "studio" or len(parts) < 2:
                continue
            target = parts[1]
            if top == "engine" and target != "engine":
                offenders.append(f"{rel}: engine imports {mod}")
            if top in DOMAINS and (target in DOMAINS - {top} or target in ("gui", "cli")):
                offenders.append(f"{rel}: {top} imports {mod}")
    assert not offenders, "\n".join(offenders)


def test_importing_engine_and_cli_loads_no_qt():
    code = (
        "import sys, importlib, pkgutil, studio, studio.cli, studio.engine\n"
        "for m in pkgutil.walk_packages(studio.__path__, 'studio.'):\n"
        "    if not m.name.startswith('studio.gui'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in %r)\n"
        "print(','.join(bad))\n" % (QT,)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"Qt modules loaded by non-GUI code: {out.stdout}"


def test_every_domain_package_has_the_same_module_shapes():
    required = {"__init__.py", "io.py", "synthetic.py", "models.py", "metrics.py", "jobs.py"}
    for name in sorted(DOMAINS):
        folder = STUDIO / name
        if folder.is_dir() and (folder / "jobs.py").exists():
            missing = required - {p.name for p in folder.iterdir()}
            assert not missing, f"studio/{name} lacks {sorted(missing)}"
